"""Logpush shaping speed: filter + NDJSON encode + gzip, for one job and for ten jobs.

A synthetic 100k-record table (all 84 fields; realistic value spreads, many constant
columns as in real records). Figures are MiB/s of uncompressed NDJSON produced, so the
columns compare like with like. Baseline in the same run: ``to_pylist`` + a Python
predicate + ``orjson.dumps`` per dict + stdlib gzip at level 1.

    .venv/bin/python bench/bench_logpush_format.py [--records 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
from collections.abc import Callable
from typing import Any

if os.environ.get("MALLOC_TOP_PAD_") is None:  # glibc trimming makes the numbers noisy
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import numpy as np
import orjson
import pyarrow as pa

from netlogpush.dataset.fields import FIELD_NAMES
from netlogpush.dataset.records import make_table
from netlogpush.logpush.compress import gzip_bytes
from netlogpush.logpush.filter import Filter, parse_filter
from netlogpush.logpush.output_options import OutputOptions, encode_batch, parse_output_options

MiB = 1 << 20


def records(n: int, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    ip = lambda: pa.array([f"198.51.{a}.{b}" for a, b in rng.integers(0, 256, (n, 2))])  # noqa: E731
    systems = np.array(["dosd", "flowtrackd", "magic-firewall"])[rng.integers(0, 3, n)]
    proto = rng.choice([6, 17, 1], n, p=[0.6, 0.3, 0.1])
    cols: dict[str, Any] = {
        "ColoCode": "SJC",
        "ColoName": "sjc06",
        "ColoCity": "San Jose",
        "ColoCountry": "US",
        "Datetime": 1_750_000_000_000_000_000 + np.sort(rng.integers(0, 30 * 10**9, n)),
        "Direction": "ingress",
        "IPSourceAddress": ip(),
        "IPDestinationAddress": ip(),
        "IPProtocol": proto,
        "IPProtocolName": pa.array(
            np.where(proto == 6, "TCP", np.where(proto == 17, "UDP", "ICMP"))
        ),
        "MitigationSystem": pa.array(systems),
        "Outcome": pa.array(np.where(rng.random(n) < 0.2, "drop", "pass")),
        "SourcePort": rng.integers(1024, 65536, n),
        "DestinationPort": rng.choice([53, 80, 443, 8080, 123], n),
        "SourceASN": rng.integers(1, 70000, n),
        "SampleInterval": 10000,
        "IPTTL": rng.integers(30, 128, n),
        "IPTotalLength": rng.integers(40, 1500, n),
        "TCPFlags": rng.integers(0, 64, n),
        "TCPSequenceNumber": rng.integers(0, 2**32, n),
        "TCPWindowSize": rng.integers(0, 65536, n),
        "IPv4Identification": rng.integers(0, 65536, n),
        "IPv4Checksum": rng.integers(0, 65536, n),
        "SourceCountry": pa.array(np.array(["US", "CN", "DE", "BR"])[rng.integers(0, 4, n)]),
    }
    return make_table(cols, n)


def job(i: int, rng: np.random.Generator) -> tuple[OutputOptions, Filter | None]:
    if i == 0:
        names = list(FIELD_NAMES)
    else:
        k = int(rng.integers(10, 85))
        names = [FIELD_NAMES[j] for j in sorted(rng.choice(len(FIELD_NAMES), k, replace=False))]
    filters = [
        {"key": "MitigationSystem", "operator": "!eq", "value": "flowtrackd"},
        {"and": [{"key": "Outcome", "operator": "eq", "value": "drop"},
                 {"key": "DestinationPort", "operator": "in", "value": [53, 123]}]},
        {"or": [{"key": "SourceCountry", "operator": "in", "value": ["CN", "BR"]},
                {"key": "IPTTL", "operator": "lt", "value": 40}]},
        {"key": "IPProtocolName", "operator": "eq", "value": "TCP"},
    ]  # fmt: skip
    where = filters[i % len(filters)]
    return parse_output_options({"field_names": names}), parse_filter({"where": where})


def ours(table: pa.Table, opts: OutputOptions, flt: Filter | None) -> tuple[int, int]:
    raw = encode_batch(table, opts, where=flt)
    return len(raw), len(gzip_bytes(raw))


def baseline(
    rows: list[dict[str, Any]], opts: OutputOptions, flt: Filter | None
) -> tuple[int, int]:
    """Per record: a Python predicate, a dict of the job's fields, orjson, then gzip."""
    names = opts.names()
    pred = _python_predicate(flt)
    lines = [orjson.dumps({k: r[k] for k in names}) for r in rows if pred(r)]
    raw = b"\n".join(lines) + b"\n"
    return len(raw), len(gzip.compress(raw, compresslevel=1, mtime=0))


def _python_predicate(flt: Filter | None) -> Callable[[dict[str, Any]], bool]:
    from netlogpush.logpush.filter import Condition

    def ev(node: Any, r: dict[str, Any]) -> bool:
        if isinstance(node, Condition):
            v, x, op = r[node.field], node.value, node.operator
            neg = op.startswith("!")
            base = op.lstrip("!")
            res = {"eq": lambda: v == x, "lt": lambda: v < x, "in": lambda: v in x}[base]()
            return res != neg
        kids = (ev(c, r) for c in node.children)
        return all(kids) if node.op == "and" else any(kids)

    return (lambda r: True) if flt is None else (lambda r: ev(flt.where, r))


def timed(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    best, out = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    table = records(a.records)
    rng = np.random.default_rng(7)
    jobs = [job(i, rng) for i in range(10)]
    print(f"{a.records:,} records, 84 fields; best of {a.repeat}; MiB/s of uncompressed NDJSON out")

    for label, js in (("1 job (all fields)", jobs[:1]), ("10 jobs", jobs)):
        t, size = timed(lambda js=js: sum(ours(table, o, f)[0] for o, f in js), a.repeat)  # type: ignore[misc]
        zs = sum(ours(table, o, f)[1] for o, f in js)
        enc_only, _ = timed(
            lambda js=js: sum(len(encode_batch(table, o, where=f)) for o, f in js), a.repeat
        )  # type: ignore[misc]

        def base(js: Any = js) -> int:
            rows = table.to_pylist()
            return sum(baseline(rows, o, f)[0] for o, f in js)

        bt, bsize = timed(base, 1 if a.records > 20_000 else a.repeat)
        print(
            f"{label:>20}: netlogpush {size / MiB / t:7.1f} MiB/s ({t * 1e3:7.1f} ms, "
            f"filter+encode {enc_only * 1e3:6.1f} ms, gzip {(t - enc_only) * 1e3:6.1f} ms, "
            f"{size / MiB:.1f} MiB -> {zs / MiB:.1f} MiB gz) | baseline orjson+gzip "
            f"{bsize / MiB / bt:6.1f} MiB/s ({bt * 1e3:7.1f} ms) | x{bt / t:.1f}"
        )


if __name__ == "__main__":
    main()
