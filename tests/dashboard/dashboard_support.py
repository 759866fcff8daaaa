"""Data for the dashboard tests (the server is netlogpush.testing.server; fixtures: conftest).

Records come from the real pipeline (inline mode, all three systems, enrichment from an
iptoasn file) over two generated attack scenarios; expectations are computed here again with
pyarrow/numpy from the records sent, independently of the SQL under test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from netlogpush.analytics.queries import DIMENSIONS, Filter, View
from netlogpush.analytics.store import NS_PER_S, AnalyticsStore
from netlogpush.config import Settings
from netlogpush.pipeline import pipeline_from_settings
from netlogpush.scenarios.catalog import write_scenario
from netlogpush.scenarios.mixed import CUSTOMER_PREFIXES
from netlogpush.sources.pcap import iter_batches

MINUTE = 60 * NS_PER_S
#: The injected "now": not on any bucket edge, so window alignment is exercised.
NOW = 1_767_225_600_000_000_000 + 3600 * NS_PER_S + 7 * NS_PER_S + 123_456_789
SAMPLE_INTERVAL = 20

ASN_TSV = (
    "1.0.0.0\t63.255.255.255\t64500\tUS\tALPHA\n"
    "64.0.0.0\t127.255.255.255\t64501\tDE\tBETA\n"
    "128.0.0.0\t191.255.255.255\t64502\tBR\tGAMMA\n"
    "2000::\t2fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\t64503\tJP\tDELTA\n"
)


def settings(tmp: Path) -> Settings:
    tsv = tmp / "ip2asn-combined.tsv"
    tsv.write_text(ASN_TSV)
    block_icmp = {"expression": 'ip.proto eq "icmp"', "description": "no icmp"}
    return Settings.model_validate(
        {
            "customer_prefixes": list(CUSTOMER_PREFIXES),
            "databases": [str(tsv)],
            "sampling": {"interval": SAMPLE_INTERVAL, "seed": 1},
            "mitigation": {
                "mode": "inline",
                "dosd": {"rules": {"syn-flood": {"action": "block"}}},
                "firewall": {"ruleset": {"rules": [block_icmp]}},
            },
        }
    )


def make_records(tmp: Path) -> pa.Table:
    """A SYN flood 50 minutes before NOW and a UDP flood 10 minutes before, through the real
    pipeline; each scenario is written to start where it should (no rebasing needed)."""
    tables = []
    for name, minutes_ago in (("syn-flood", 50), ("udp-flood", 10)):
        path = tmp / f"{name}.pcap"
        write_scenario(
            name,
            path,
            seed=3,
            duration_s=4,
            attack_start_s=1,
            attack_duration_s=2,
            benign_pps=3000,
            attack_pps=20000,
            start_ns=NOW - minutes_ago * MINUTE,
        )
        pipeline = pipeline_from_settings(settings(tmp))
        tables += list(pipeline.run(iter_batches(path)))
    return pa.concat_tables(tables)


def load(records: pa.Table, with_ids: bool = True) -> AnalyticsStore:
    """An in-memory store; ids 1..n (row order) unless ``with_ids`` is false (md5 keys)."""
    store = AnalyticsStore()
    ids = np.arange(1, records.num_rows + 1, dtype=np.uint64) if with_ids else None
    result = store.ingest(records, ids)
    assert result.inserted == records.num_rows
    return store


# --- the analytics rules again, in numpy ------------------------------------------------------


def _col(records: pa.Table, name: str) -> npt.NDArray[Any]:
    values: npt.NDArray[Any] = np.asarray(records.column(name).to_numpy(zero_copy_only=False))
    return values


def action(records: pa.Table, counting: str) -> npt.NDArray[Any]:
    dropped = _col(records, "Outcome" if counting == "outcome" else "Verdict") == "drop"
    return np.where(dropped, "drop", "pass")


def dim_values(records: pa.Table, dim: str, counting: str = "outcome") -> npt.NDArray[Any]:
    if dim == "action":
        return action(records, counting)
    return _col(records, DIMENSIONS[dim])


def filter_mask(records: pa.Table, filters: Sequence[Filter], counting: str) -> npt.NDArray[Any]:
    mask = np.ones(records.num_rows, bool)
    for f in filters:
        hit = np.isin(dim_values(records, f.dimension, counting), np.asarray(f.values, object))
        mask &= ~hit if f.exclude else hit
    return mask


def view_mask(records: pa.Table, v: View, attack_id: str | None = None) -> npt.NDArray[Any]:
    """Samples the view counts: in range, kept by the counting rule (or the attack's dosd
    samples), and passing the filters."""
    t = _col(records, "Datetime")
    system = _col(records, "MitigationSystem")
    dropped = action(records, v.counting) == "drop"
    if attack_id is not None:
        keep = (system == "dosd") & (_col(records, "AttackID") == attack_id)
    elif v.system is None:
        keep = dropped | (system == v.pass_stage)
    else:
        keep = system == v.system
    in_range = (t >= v.start_ns) & (t < v.end_ns)
    mask: npt.NDArray[Any] = in_range & keep & filter_mask(records, v.filters, v.counting)
    return mask


def packets(records: pa.Table, mask: npt.NDArray[Any]) -> int:
    return int(_col(records, "SampleInterval")[mask].astype(object).sum())


def nbytes(records: pa.Table, mask: npt.NDArray[Any]) -> int:
    si = _col(records, "SampleInterval")[mask].astype(object)
    ln = _col(records, "IPTotalLength")[mask].astype(object)
    return int((si * ln).sum())


def window(range_s: int, bucket_s: int) -> tuple[int, int]:
    """A relative range ends at the first bucket edge at or after now."""
    step = bucket_s * NS_PER_S
    end = -(-NOW // step) * step
    return end - range_s * NS_PER_S, end


def rfc3339_ns(ns: int) -> str:
    """Independent of dataset.timestamps: Python's datetime plus the nanosecond digits."""
    seconds, fraction = divmod(ns, NS_PER_S)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:09d}Z"


def column_list(records: pa.Table, name: str, mask: npt.NDArray[Any]) -> list[Any]:
    return list(pc.filter(records.column(name), pa.array(mask)).to_pylist())


Clock = Callable[[], int]
