"""The packet sample log: individual samples of the raw tier, newest first, and one by id.

Written like ``queries.py``: SQL text in DuckDB's dialect with inlined literals, so
``queries.render`` turns it into ClickHouse's. Only the ``records`` tier has samples; a time
range that was rolled up has none to show (docs/analytics.md).

Which samples a view lists follows the counting rule of ``queries.py``, so the log shows the
very samples the charts add up: in "all traffic", drops and passes at the last system; in a
system's tab, that system's samples. With ``attack_id``, the attack's samples: dosd's samples
carrying that AttackID, enforced or not, as the attack list counts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from netlogpush.analytics.queries import Counting, View
from netlogpush.analytics.store import AnalyticsStore
from netlogpush.dataset.records import SCHEMA
from netlogpush.dataset.timestamps import format_datetime

#: The columns of a row of the sample log, after its id; the Grafana and Splunk dashboards
#: (netlogpush.siem) show the same columns first.
LOG_COLUMNS: tuple[str, ...] = (
    "Datetime",
    "MitigationSystem",
    "Outcome",
    "Verdict",
    "IPProtocolName",
    "IPSourceAddress",
    "SourcePort",
    "IPDestinationAddress",
    "DestinationPort",
    "IPTotalLength",
    "SampleInterval",
    "TCPFlagsString",
    "RuleName",
    "AttackVector",
    "MitigationReason",
    "AttackID",
)
#: ``_id`` is a UHUGEINT (128-bit md5 or a caller's sequence number).
MAX_ID = (1 << 128) - 1


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _dropped(counting: Counting) -> str:
    return "Outcome = 'drop'" if counting == "outcome" else "Verdict = 'drop'"


def _labelled(v: View, attack_id: str | None) -> str:
    """The view's samples with the ``action`` column filters may test (as in queries.py)."""
    rng = f"Datetime >= {int(v.start_ns)} AND Datetime < {int(v.end_ns)}"
    dropped = _dropped(v.counting)
    if attack_id is not None:
        keep = f"MitigationSystem = 'dosd' AND AttackID = {_lit(attack_id)}"
    elif v.system is None:
        keep = f"({dropped}) OR MitigationSystem = {_lit(v.pass_stage)}"
    else:
        keep = f"MitigationSystem = {_lit(v.system)}"
    where = " AND ".join([f"({keep})", *(f"({f.sql()})" for f in v.filters)])
    return (
        f"(SELECT * FROM (SELECT *, CASE WHEN {dropped} THEN 'drop' ELSE 'pass' END AS action "
        f"FROM records WHERE {rng}) AS tagged WHERE {where}) AS labelled"
    )


def sql_sample_count(v: View, attack_id: str | None = None) -> str:
    return f"SELECT count(*) FROM {_labelled(v, attack_id)}"


def sql_samples(v: View, attack_id: str | None = None, limit: int = 50, offset: int = 0) -> str:
    """One page of the log, newest first (ties broken by id, so pages never overlap)."""
    cols = ", ".join(LOG_COLUMNS)
    return (
        f"SELECT CAST(_id AS VARCHAR), {cols} FROM {_labelled(v, attack_id)} "
        f"ORDER BY Datetime DESC, _id DESC LIMIT {int(limit)} OFFSET {int(offset)}"
    )


def sql_sample(sample_id: int) -> str:
    """Every field of one sample, in dataset order."""
    if not 0 <= sample_id <= MAX_ID:
        raise ValueError(f"a sample id is 0 to 2**128-1, not {sample_id}")
    cols = ", ".join(f.name for f in SCHEMA)
    # A literal past the signed 128-bit range would be read as a DOUBLE: cast it from text.
    return f"SELECT CAST(_id AS VARCHAR), {cols} FROM records WHERE _id = CAST('{int(sample_id)}' AS UHUGEINT)"


def all_sample_queries(v: View) -> dict[str, str]:
    """Every query of the module (used to check they transpile)."""
    return {
        "count": sql_sample_count(v),
        "page": sql_samples(v),
        "attack": sql_samples(v, "a31e2242e04b5de4a297eca3181250ef"),
        "one": sql_sample(MAX_ID),
    }


@dataclass(frozen=True)
class SamplePage:
    total: int
    rows: list[dict[str, Any]]


def _rfc3339(values: Sequence[int]) -> list[str]:
    text = format_datetime(pa.array(values, pa.int64()), "rfc3339ns")
    return [str(s) for s in text.to_pylist()]


class Samples:
    """The queries above on an ``AnalyticsStore``; a cursor per call, because the feed writes
    to the same DuckDB connection from another thread."""

    def __init__(self, store: AnalyticsStore) -> None:
        self.store = store

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.store.read(sql)

    def page(
        self, v: View, attack_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> SamplePage:
        total = int(self._rows(sql_sample_count(v, attack_id))[0][0])
        found = self._rows(sql_samples(v, attack_id, limit, offset))
        times = _rfc3339([int(r[1]) for r in found])
        rows = [
            {"id": str(r[0]), **dict(zip(LOG_COLUMNS, (t, *r[2:]), strict=True))}
            for r, t in zip(found, times, strict=True)
        ]
        return SamplePage(total, rows)

    def get(self, sample_id: int) -> dict[str, Any] | None:
        """All 84 fields of one sample in dataset order (Datetime as RFC 3339 with ns)."""
        found = self._rows(sql_sample(sample_id))
        if not found:
            return None
        row = found[0]
        fields = dict(zip(SCHEMA.names, row[1:], strict=True))
        fields["Datetime"] = _rfc3339([int(fields["Datetime"])])[0]
        return {"id": str(row[0]), "fields": fields}
