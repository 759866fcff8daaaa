"""Analytics store speed: ingest rate, and the dashboard's query latency over 24 hours.

    .venv/bin/python bench/bench_analytics.py [--records 1000000] [--reps 20] [--data DIR]

Records: four 30 s scenarios (UDP flood, SYN flood, DNS amplification, NTP reflection, each
with 30k pps of benign traffic) run once through the real pipeline (inline, 1-in-10 sampling,
ASN/country data when installed, three firewall rules): ~1.5M records, cached in ``DIR``.
That base is tiled to ``--records`` records per day: each copy is stretched over its share of
the day, gets its own AttackIDs and, for attack samples, its own source addresses (spoofed
floods do not repeat their sources). The store file holds two days (the previous one for the
period-over-period figures), so ``--records 10000000`` writes 20M samples. It is built once
into ``DIR/analytics-<records>.duckdb`` through ``ingest_stream`` and reused.

Figures:
  * ingest, on min(records, 1M) records in 65,536-record batches into a new file: the store fed
    by ``StreamFeed`` from an embedded stream; ``ingest_stream`` directly; ``ingest`` with
    content keys; baseline: a plain DuckDB ``INSERT`` of the same Arrow batches into a table of
    the 84 columns (no keys, no aggregates), in the same process;
  * latency of each request of the dashboard's default view (all traffic, last 24 h, ranges
    ending at a non-round ``now``): p50 and p95 over ``--reps`` runs, and of the whole view
    (all requests one after another); baseline: the same queries with the aggregates switched
    off (samples only), which is how they ran before the aggregates existed. The two must
    return the same results; the script checks it.

``DIR`` defaults to /work/benchdata (outside the repository; 100M records need ~20 GB).
The script re-executes itself with ``MALLOC_TOP_PAD_`` set (docs/performance.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

if os.environ.get("MALLOC_TOP_PAD_") is None:
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import logging
import shutil

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from netlogpush.analytics import queries as Q
from netlogpush.analytics.feed import StreamFeed
from netlogpush.analytics.queries import Queries, View
from netlogpush.analytics.store import DAY_NS, HOUR_NS, AnalyticsStore
from netlogpush.config import Settings
from netlogpush.dataset.records import SCHEMA
from netlogpush.enrich import find_ip_location_db
from netlogpush.pipeline import pipeline_from_settings
from netlogpush.scenarios.catalog import write_scenario
from netlogpush.scenarios.mixed import CUSTOMER_PREFIXES
from netlogpush.sources.pcap import iter_batches
from netlogpush.stream import open_stream

BATCH = 131_072  # >= one DuckDB row group (store.ROW_GROUP_ROWS)
SCENARIOS = ("udp-flood", "syn-flood", "dns-amplification", "ntp-reflection")
END_NS = 1_800_000_000 * 1_000_000_000 // HOUR_NS * HOUR_NS  # the data's last instant
DT = SCHEMA.get_field_index("Datetime")


def base_records(data: Path) -> pa.Table:
    """The pipeline's records for the four scenarios, one after the other (cached)."""
    path = data / "analytics-base-v1.parquet"
    if path.exists():
        return pq.read_table(path)
    root = Path(__file__).resolve().parent.parent
    databases = find_ip_location_db([root / ".cache/ipdb", Path.cwd()])
    settings = Settings.model_validate(
        {
            "site": {"name": "ams01", "code": "AMS", "city": "Amsterdam", "country": "NL",
                     "latitude": 52.3105, "longitude": 4.7683},
            "customer_prefixes": list(CUSTOMER_PREFIXES),
            "databases": [str(d) for d in databases],
            "sampling": {"interval": 10, "seed": 1},
            "mitigation": {
                "mode": "inline",
                "firewall": {
                    "ruleset": {
                        "rules": [
                            {"action": "block", "expression": "tcp.dstport == 23",
                             "description": "block telnet"},
                            {"action": "block", "expression": "tcp.dstport in {139 445}",
                             "description": "block smb"},
                            {"action": "log", "expression": 'ip.proto == "icmp"',
                             "description": "log icmp"},
                        ]
                    }
                },
            },
        }
    )  # fmt: skip
    tables = []
    for i, name in enumerate(SCENARIOS):
        pcap = data / f"bench-{name}.pcap"
        started = time.perf_counter()
        write_scenario(name, pcap, seed=1, duration_s=30, benign_pps=30_000, snaplen=128)
        table = pa.concat_tables(pipeline_from_settings(settings).run(iter_batches(pcap)))
        shifted = pc.add(table.column("Datetime"), i * 30 * 1_000_000_000)
        tables.append(table.set_column(DT, "Datetime", shifted))
        pcap.unlink()
        pcap.with_name(pcap.name + ".truth.npz").unlink(missing_ok=True)
        print(
            f"  base: {name}: {table.num_rows:,} records in {time.perf_counter() - started:.0f} s"
        )
    base = pa.concat_tables(tables).sort_by("Datetime").combine_chunks()
    pq.write_table(base, path)
    return base


def _spoof(addresses: pa.ChunkedArray, k: int) -> pa.Array:
    """IPv4 addresses moved by a per-copy offset (other addresses unchanged)."""
    text = addresses.combine_chunks()
    v4 = pc.match_substring_regex(text, r"^\d+\.\d+\.\d+\.\d+$")
    parts = pc.split_pattern(pc.if_else(v4, text, "0.0.0.0"), ".")
    flat = pc.cast(pc.list_flatten(parts), pa.int64()).to_numpy().reshape(-1, 4).astype(np.uint64)
    num = (flat[:, 0] << 24) | (flat[:, 1] << 16) | (flat[:, 2] << 8) | flat[:, 3]
    num = (num + np.uint64(k) * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)
    octets = [
        pa.array(((num >> np.uint64(s)) & np.uint64(255)).astype(np.int64)) for s in (24, 16, 8, 0)
    ]
    moved = pc.binary_join_element_wise(*(pc.cast(o, pa.string()) for o in octets), ".")
    return pc.if_else(v4, moved, text)


def tiles(
    base: pa.Table, n: int, start_ns: int, length_ns: int, tag: str = ""
) -> Iterator[pa.Table]:
    """``n`` records over [start_ns, start_ns + length_ns): copies of ``base``, each stretched
    over its share of the range, in batches of BATCH; copy k's AttackIDs end in ``-k{tag}``."""
    copies = -(-n // base.num_rows)
    slot = length_ns // copies
    times = base.column("Datetime").to_numpy()
    t0, span = int(times[0]), int(times[-1]) - int(times[0]) + 1
    attack = pc.not_equal(base.column("AttackID"), "")
    src = SCHEMA.get_field_index("IPSourceAddress")
    att = SCHEMA.get_field_index("AttackID")
    left = n
    for k in range(copies):
        t = base if left >= base.num_rows else base.slice(0, left)
        a = attack if t is base else attack.slice(0, left)
        stretched = (
            start_ns + k * slot + ((times[: t.num_rows] - t0) * (slot / span)).astype(np.int64)
        )
        ids = pc.if_else(a, pc.binary_join_element_wise(t.column("AttackID"), f"{k}{tag}", "-"), "")
        t = t.set_column(DT, "Datetime", pa.array(stretched))
        t = t.set_column(att, "AttackID", ids)
        t = t.set_column(
            src, "IPSourceAddress", pc.if_else(a, _spoof(t.column(src), k), t.column(src))
        )
        for off in range(0, t.num_rows, BATCH):
            yield t.slice(off, BATCH)
        left -= t.num_rows


# ---- ingest -----------------------------------------------------------------------------------


def ingest_figures(base: pa.Table, n: int, scratch: Path) -> None:
    batches = [b.combine_chunks() for b in tiles(base, n, END_NS - DAY_NS, DAY_NS)]
    total = sum(b.num_rows for b in batches)
    print(f"ingest, {total:,} records in {len(batches)} batches of {BATCH:,}, into a new file")

    def run(label: str, work: Callable[[], None], setup: Callable[[], None] | None = None) -> float:
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        if setup is not None:
            setup()
        started = time.perf_counter()
        work()
        rate = float(total) / (time.perf_counter() - started)
        print(f"  {label:<62} {rate:>12,.0f} records/s")
        return rate

    def plain() -> None:
        con = duckdb.connect(str(scratch / "plain.duckdb"))
        cols = ", ".join(
            f'"{f.name}" {"BIGINT" if f.type == pa.int64() else "VARCHAR"} NOT NULL' for f in SCHEMA
        )
        con.execute(f"CREATE TABLE records ({cols})")
        for b in batches:
            con.register("b", b)
            con.execute("INSERT INTO records SELECT * FROM b").fetchall()
            con.unregister("b")
        con.execute("CHECKPOINT")
        con.close()

    def direct() -> None:
        with AnalyticsStore(scratch / "a.duckdb") as store:
            seq = 1
            for b in batches:
                store.ingest_stream(b, np.arange(seq, seq + b.num_rows), "bench")
                seq += b.num_rows
            store.con.execute("CHECKPOINT")

    def keyed() -> None:
        with AnalyticsStore(scratch / "a.duckdb") as store:
            for b in batches:
                store.ingest(b)
            store.con.execute("CHECKPOINT")

    streams: list[object] = []

    def fill_stream() -> None:
        s = open_stream(scratch / "stream")
        for b in batches:
            s.append(b)
        streams.append(s)

    def fed() -> None:
        s = streams.pop()
        with AnalyticsStore(scratch / "a.duckdb") as store:
            feed = StreamFeed(s, store, batch_records=BATCH)  # type: ignore[arg-type]
            assert feed.drain() == total and feed.stats()["ingested"] == total
            store.con.execute("CHECKPOINT")
        s.close()  # type: ignore[attr-defined]

    base_rate = run("baseline: plain DuckDB INSERT, 84 columns, no keys", plain)
    for label, work, setup in (
        ("StreamFeed: stream fetch -> ingest_stream -> ack", fed, fill_stream),
        ("ingest_stream (stream sequence numbers), direct", direct, None),
        ("ingest() with content keys (md5 of all fields)", keyed, None),
    ):
        rate = run(label, work, setup)
        print(f"  {'':<62} {rate / base_rate:>12.2f}x baseline")
    shutil.rmtree(scratch, ignore_errors=True)


# ---- the dataset and the queries ----------------------------------------------------------------


def dataset(base: pa.Table, n: int, data: Path) -> Path:
    path = data / f"analytics-v4-{n}.duckdb"
    done = path.with_suffix(".complete")
    if path.exists() and done.exists():
        return path
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    print(f"building {path} ({2 * n:,} records over 48 h) through ingest_stream")
    started = time.perf_counter()
    seq = 1
    with AnalyticsStore(path) as store:
        for day in (2, 1):  # the previous day, then the 24 h of the view
            for b in tiles(base, n, END_NS - day * DAY_NS, DAY_NS, f"d{day}"):
                store.ingest_stream(b, np.arange(seq, seq + b.num_rows), "bench")
                seq += b.num_rows
                if seq // BATCH % 100 == 0:
                    rate = (seq - 1) / (time.perf_counter() - started)
                    print(f"  {seq - 1:>13,} records, {rate:,.0f}/s", flush=True)
        store.compact(END_NS)
        store.con.execute("CHECKPOINT")
    elapsed = time.perf_counter() - started
    print(f"  built: {seq - 1:,} records in {elapsed:.0f} s, {(seq - 1) / elapsed:,.0f} records/s "
          f"(ingest_stream at this size), {path.stat().st_size / 2**30:.1f} GiB")  # fmt: skip
    done.write_text(f"{seq - 1}\n")
    return path


def requests(q: Queries, v: View) -> dict[str, Callable[[], object]]:
    """The default view's dashboard requests (docs/dashboard contract: 24 h -> 10 min buckets)."""
    return {
        "timeseries (action, 10 min)": lambda: q.timeseries(v, 600, "action"),
        "summary (+ previous 24 h)": lambda: q.summary(v),
        "top source_asn": lambda: q.top(v, "source_asn"),
        "top source_country": lambda: q.top(v, "source_country"),
        "top destination_port": lambda: q.top(v, "destination_port"),
        "rules_hit": lambda: q.rules_hit(v),
        "atp_reasons": lambda: q.atp_reasons(v),
        "attacks": lambda: q.attacks(v),
    }


def latencies(q: Queries, reps: int) -> tuple[dict[str, list[float]], list[object]]:
    times: dict[str, list[float]] = {}
    first: list[object] = []
    for r in range(reps):
        now = END_NS + 7_777_777_777 + r * 1_234_567_891  # not on a minute: partial edges
        whole = time.perf_counter()
        for name, call in requests(q, View(now - DAY_NS, now)).items():
            started = time.perf_counter()
            out = call()
            times.setdefault(name, []).append(time.perf_counter() - started)
            if r == 0:
                first.append(out)
        times.setdefault("whole view", []).append(time.perf_counter() - whole)
    return times, first


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def query_figures(path: Path, reps: int, baseline_reps: int) -> None:
    with AnalyticsStore(path) as store:
        store.compact(END_NS)  # as the feed does every minute (a no-op on a fresh build)
        q = Queries(store)
        rows = store.con.execute("SELECT count(*) FROM records").fetchall()[0][0]
        print(f"dashboard default view (all traffic, 24 h) on {path.name}: {rows:,} samples")
        ours, results = latencies(q, reps)
        # The baseline: no aggregate to plan with, every query reads the samples.
        aggregates = getattr(Q, "AGGREGATES")  # noqa: B009
        setattr(Q, "AGGREGATES", ())  # noqa: B010
        try:
            base, expected = latencies(q, baseline_reps)
        finally:
            setattr(Q, "AGGREGATES", aggregates)  # noqa: B010
        assert results == expected, "the aggregates changed a result"
    print(f"  {'request':<30} {'p50 ms':>9} {'p95 ms':>9}   baseline (samples only): p50 / p95")
    for name in ours:
        print(
            f"  {name:<30} {pct(ours[name], 50):>9.1f} {pct(ours[name], 95):>9.1f}   "
            f"{pct(base[name], 50):>9.1f} / {pct(base[name], 95):.1f}"
        )
    print(f"  ({reps} runs; baseline {baseline_reps}; the same results both ways)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000, help="records per day")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--baseline-reps", type=int, default=5)
    parser.add_argument("--data", type=Path, default=Path("/work/benchdata"))
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--build-only", action="store_true", help="only build the store file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    args.data.mkdir(parents=True, exist_ok=True)
    base = base_records(args.data)
    print(f"base: {base.num_rows:,} pipeline records; load {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")  # fmt: skip
    if not args.skip_ingest:
        ingest_figures(base, min(args.records, 1_000_000), args.data / "scratch")
    path = dataset(base, args.records, args.data)
    if not args.build_only:
        query_figures(path, args.reps, args.baseline_reps)
    print(f"load at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
