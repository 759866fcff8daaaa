"""The embedded analytics store: DuckDB, fed with record tables, idempotent, with roll-ups.

Three tiers hold disjoint time ranges, so a query reads their ``UNION ALL`` and never counts a
sample twice (``queries.py``):

* ``records``: every column of the dataset, one row per sample, plus ``_id`` (the sample's
  deterministic key) and ``_hour`` (hour bucket, the partition column used by retention);
* ``rollup_minute`` / ``rollup_hour``: packets, bytes and samples per time bucket and per
  ``ROLLUP_DIMENSIONS`` value combination, for data older than the raw (minute) retention.

Ingest is idempotent: rows are keyed by ``_id`` and written with ``INSERT OR IGNORE`` in one
transaction per call, so a batch delivered twice, or re-sent after a crash mid-ingest (the
open transaction is lost, nothing half-written survives), counts once. Samples older than the
compaction watermark are refused, because their raw tier is gone and a duplicate could no
longer be recognised there.

DuckDB has no physical partitions in a table; ``_hour`` plus inserting in time order gives
row groups with tight ``Datetime`` min/max (zone maps), which is what prunes a time range.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from netlogpush.dataset.records import SCHEMA

NS_PER_S = 1_000_000_000
MINUTE_NS = 60 * NS_PER_S
HOUR_NS = 3600 * NS_PER_S
DAY_NS = 24 * HOUR_NS

# Dimensions kept in the roll-ups: those the dashboard splits and filters by, without the
# per-address ones (IPs, source ports) whose cardinality would make a roll-up as large as the
# raw samples. Those read as "" / 0 for rolled-up time ranges (docs/analytics.md).
ROLLUP_DIMENSIONS: tuple[str, ...] = (
    "MitigationSystem",
    "Verdict",
    "Outcome",
    "Direction",
    "AttackID",
    "AttackVector",
    "RuleID",
    "RuleName",
    "MitigationReason",
    "ProtocolState",
    "IPProtocol",
    "IPProtocolName",
    "TCPFlags",
    "TCPFlagsString",
    "SourceASN",
    "SourceCountry",
    "DestinationPort",
    "IPDestinationSubnet",
    "ColoCode",
    "ColoCountry",
    "IPTotalLengthBuckets",
)
# Columns that only the raw tier has; the roll-up tiers present them as empty values.
RAW_ONLY_DIMENSIONS: tuple[str, ...] = (
    "IPSourceAddress",
    "IPSourceSubnet",
    "IPDestinationAddress",
    "SourcePort",
    "ColoName",
)

_INT_FIELDS = frozenset(f.name for f in SCHEMA if f.type == pa.int64())


def is_int_field(name: str) -> bool:
    return name in _INT_FIELDS


def _sql_type(field: pa.Field) -> str:
    return "BIGINT" if field.type == pa.int64() else "VARCHAR"


@dataclass(frozen=True)
class Retention:
    """How long each tier keeps data, in nanoseconds of record time."""

    raw_ns: int = 7 * DAY_NS
    minute_ns: int = 30 * DAY_NS
    hour_ns: int = 365 * DAY_NS

    def __post_init__(self) -> None:
        if not 0 < self.raw_ns <= self.minute_ns <= self.hour_ns:
            raise ValueError("retention must satisfy 0 < raw <= minute <= hour")


@dataclass(frozen=True)
class IngestResult:
    received: int
    inserted: int
    duplicates: int
    late: int  # older than the compaction watermark: refused


@dataclass(frozen=True)
class CompactResult:
    raw_rolled: int  # raw samples folded into minute buckets
    minute_rolled: int  # minute rows folded into hour buckets
    hour_deleted: int


# The key of a sample: md5 over every field, in SCHEMA order, as text. md5 rather than
# DuckDB's hash(): it is documented and stable across versions (keys are stored on disk) and
# 128 bits make a collision among billions of samples negligible.
_KEY_EXPR = "md5_number(concat_ws(chr(31), {}))".format(
    ", ".join(f'CAST("{f.name}" AS VARCHAR)' for f in SCHEMA)
)
_COLUMNS = ", ".join(f'"{f.name}"' for f in SCHEMA)
_DIMS = ", ".join(f'"{d}"' for d in ROLLUP_DIMENSIONS)


class AnalyticsStore:
    """A DuckDB database file (or in memory when ``path`` is None) holding the three tiers."""

    def __init__(self, path: str | Path | None = None, retention: Retention | None = None) -> None:
        self.retention = retention or Retention()
        self.con = duckdb.connect(":memory:" if path is None else str(path))
        self._create()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> AnalyticsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self) -> None:
        cols = ", ".join(f'"{f.name}" {_sql_type(f)} NOT NULL' for f in SCHEMA)
        self._q(
            f"CREATE TABLE IF NOT EXISTS records (_id UHUGEINT PRIMARY KEY, _hour BIGINT NOT NULL, {cols})"
        )
        dims = ", ".join(f'"{d}" {_sql_type(SCHEMA.field(d))} NOT NULL' for d in ROLLUP_DIMENSIONS)
        for tier in ("rollup_minute", "rollup_hour"):
            # No key: rows are additive, a bucket split over two compactions sums correctly.
            self._q(
                f"CREATE TABLE IF NOT EXISTS {tier} (Datetime BIGINT NOT NULL, {dims}, "
                "packets HUGEINT NOT NULL, bytes HUGEINT NOT NULL, samples BIGINT NOT NULL)"
            )
        self._q("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value BIGINT)")

    def _q(self, sql: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
        # Always drain: DuckDB 2 refuses further work on a connection whose last result was
        # not fetched to the end (even a DML statement's row count).
        return self.con.execute(sql, params).fetchall()

    def _meta(self, key: str) -> int:
        rows = self._q("SELECT value FROM meta WHERE key = ?", [key])
        return int(rows[0][0]) if rows else 0

    def _set_meta(self, key: str, value: int) -> None:
        self._q("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    @property
    def watermark_ns(self) -> int:
        """Samples before this time were rolled up; ingest refuses them."""
        return self._meta("raw_compacted_until")

    def ingest(self, table: pa.Table, ids: Any = None) -> IngestResult:
        """Add a record table (``records.SCHEMA``). ``ids``: optional per-row keys from the
        caller (e.g. the stream's sequence numbers, unsigned ints); by default a sample's key
        is the hash of all its fields, so an identical sample is the same sample."""
        if table.schema != SCHEMA:
            table = table.select(SCHEMA.names).cast(SCHEMA)
        if ids is not None:
            id_arr = pa.array(ids, pa.uint64())
            if len(id_arr) != table.num_rows:
                raise ValueError(f"{len(id_arr)} ids for {table.num_rows} records")
            table = table.append_column("_key", id_arr)
            key = "CAST(_key AS UHUGEINT)"
        else:
            key = _KEY_EXPR
        received = table.num_rows
        self.con.register("_incoming", table)
        try:
            self._q("BEGIN TRANSACTION")
            try:
                mark = self.watermark_ns
                # DuckDB answers an INSERT with the number of rows it wrote: duplicates excluded.
                written = self._q(
                    f"INSERT OR IGNORE INTO records SELECT {key}, "
                    f"Datetime - (Datetime % {HOUR_NS}), {_COLUMNS} FROM _incoming "
                    f"WHERE Datetime >= {mark} ORDER BY Datetime"
                )
                inserted = int(written[0][0])
                late_rows = self._q(f"SELECT count(*) FROM _incoming WHERE Datetime < {mark}")
                self._q("COMMIT")
            except BaseException:
                self._q("ROLLBACK")
                raise
        finally:
            self.con.unregister("_incoming")
        late = int(late_rows[0][0])
        return IngestResult(received, inserted, received - inserted - late, late)

    def compact(self, now_ns: int) -> CompactResult:
        """Apply retention at ``now_ns``: raw samples older than ``raw_ns`` become minute rows,
        minute rows older than ``minute_ns`` become hour rows, hour rows older than ``hour_ns``
        are deleted. One transaction, so a crash leaves either the old or the new state."""
        r = self.retention
        raw_cut = max(self.watermark_ns, (now_ns - r.raw_ns) // MINUTE_NS * MINUTE_NS)
        minute_cut = (now_ns - r.minute_ns) // HOUR_NS * HOUR_NS
        hour_cut = now_ns - r.hour_ns
        self._q("BEGIN TRANSACTION")
        try:
            self._q(
                f"INSERT INTO rollup_minute SELECT Datetime - (Datetime % {MINUTE_NS}) AS b, "
                f"{_DIMS}, sum(SampleInterval), sum(IPTotalLength * SampleInterval), count(*) "
                f"FROM records WHERE Datetime < {raw_cut} GROUP BY ALL"
            )
            raw_rolled = self._delete("records", raw_cut)
            self._q(
                f"INSERT INTO rollup_hour SELECT Datetime - (Datetime % {HOUR_NS}) AS b, "
                f"{_DIMS}, sum(packets), sum(bytes), sum(samples) "
                f"FROM rollup_minute WHERE Datetime < {minute_cut} GROUP BY ALL"
            )
            minute_rolled = self._delete("rollup_minute", minute_cut)
            hour_deleted = self._delete("rollup_hour", hour_cut)
            self._set_meta("raw_compacted_until", raw_cut)
            self._q("COMMIT")
        except BaseException:
            self._q("ROLLBACK")
            raise
        return CompactResult(raw_rolled, minute_rolled, hour_deleted)

    def _delete(self, table: str, before_ns: int) -> int:
        # DuckDB answers a DELETE with the number of rows it removed.
        return int(self._q(f"DELETE FROM {table} WHERE Datetime < {int(before_ns)}")[0][0])
