"""Enrichment speed: address lookups/s for 100k-row batches with ~10k distinct addresses.

    .venv/bin/python bench/bench_enrich.py [--rows 100000] [--distinct 10000] [--repeat 5]
                                           [--synthetic]

Databases: the npm ``@ip-location-db`` files when installed (./node_modules, .cache/ipdb,
/tmp/ipdb or ``$NETLOGPUSH_IPDB_PREFIX``): ``asn-ipv4-num.csv`` (412k ranges) and
``asn-ipv6.csv`` as the range-table case, ``geo-whois-asn-country.mmdb`` as the MaxMind DB
case. Without them, synthetic files of similar size are generated (an iptoasn TSV with
400k IPv4 + 100k IPv6 ranges and a 20k-network mmdb).

Figures (best of ``--repeat``; one lookup = one address, 2 per row):
  * ``Enricher.enrich``: the whole stage (site, Direction, dedup, lookups, gather).
  * baselines, same process, same addresses: what a straightforward implementation does,
    one lookup per row and address without dedup: ``bisect`` over Python lists for the range
    file, ``reader.get(str)`` for the mmdb.

Re-executes itself with ``MALLOC_TOP_PAD_`` set (docs/performance.md).
"""

from __future__ import annotations

import argparse
import bisect
import ipaddress
import os
import random
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if os.environ.get("MALLOC_TOP_PAD_") is None:
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import maxminddb
import numpy as np

from netlogpush.enrich import (
    EnrichConfig,
    Enricher,
    SiteConfig,
    find_ip_location_db,
    open_database,
)
from netlogpush.enrich.rangefile import RangeDatabase


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def synthetic_databases(tmp: Path) -> list[Path]:
    from mmdb_writer import MmdbU32, MMDBWriter
    from netaddr import IPSet

    rng = random.Random(3)
    tsv = tmp / "ip2asn-combined.tsv"
    starts = sorted(rng.sample(range(0, 2**32 - 4096, 4096), 400_000))
    with tsv.open("w") as f:
        for s in starts:
            e = s + rng.choice([255, 1023, 4095])
            f.write(
                f"{ipaddress.IPv4Address(s)}\t{ipaddress.IPv4Address(e)}\t"
                f"{rng.randrange(1, 400_000)}\tUS\tAS-{s % 9973}\n"
            )
        base6 = 0x2000 << 112
        for i in range(100_000):
            s = base6 + (i << 80)
            f.write(
                f"{ipaddress.IPv6Address(s)}\t{ipaddress.IPv6Address(s + 2**80 - 1)}\t"
                f"{rng.randrange(1, 400_000)}\tDE\tAS6-{i % 997}\n"
            )
    mmdb = tmp / "synthetic.mmdb"
    w = MMDBWriter(ip_version=6, database_type="GeoLite2-Country", ipv4_compatible=True)
    for s in rng.sample(range(0, 2**24), 20_000):
        w.insert_network(
            IPSet([f"{ipaddress.IPv4Address(s << 8)}/24"]),
            {"country": {"iso_code": "NL"}, "autonomous_system_number": MmdbU32(64500)},
        )
    w.to_db_file(str(mmdb))
    return [tsv, mmdb]


def make_batch(rows: int, distinct: int, v6_share: float, seed: int = 1):  # type: ignore[no-untyped-def]
    """rows packets whose src/dst come from ``distinct`` addresses, ``v6_share`` of them IPv6."""
    rng = np.random.default_rng(seed)
    n6 = int(rows * v6_share)
    ver = np.full(rows, 4, dtype=np.uint8)
    ver[:n6] = 6
    pool4 = rng.integers(1 << 24, 224 << 24, distinct, dtype=np.uint64).astype(np.uint32)
    pool6 = rng.integers(0, 256, (distinct, 16), dtype=np.uint8)
    pool6[:, 0] = 0x20  # global unicast 2000::/8 ... 20ff::
    pool6[:, 1] = rng.choice([0x01, 0x02, 0x04, 0x06, 0x0C], distinct)  # assigned /16s
    src4 = pool4[rng.integers(0, distinct, rows)]
    dst4 = pool4[rng.integers(0, distinct, rows)]
    src6 = pool6[rng.integers(0, distinct, rows)]
    dst6 = pool6[rng.integers(0, distinct, rows)]
    return ver, src4, dst4, src6, dst6


def baseline_range(db: RangeDatabase, addrs4: list[int]) -> Callable[[], object]:
    starts = db.v4.starts.tolist()
    ends = db.v4.ends.tolist()
    asn = db.table.asn[db.v4.rows].tolist()

    def run() -> object:
        out = []
        for a in addrs4:
            i = bisect.bisect_right(starts, a) - 1
            out.append(asn[i] if i >= 0 and a <= ends[i] else 0)
        return out

    return run


def baseline_mmdb(path: Path, addrs4: list[int]) -> Callable[[], object]:
    reader = maxminddb.open_database(str(path))

    def run() -> object:
        ntoa = socket.inet_ntoa
        return [reader.get(ntoa(a.to_bytes(4, "big"))) for a in addrs4]

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--distinct", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--synthetic", action="store_true", help="ignore installed ip-location-db")
    args = ap.parse_args()

    prefixes = [
        Path(p)
        for p in (os.environ.get("NETLOGPUSH_IPDB_PREFIX", ""), ".cache/ipdb", "/tmp/ipdb")
        if p
    ]
    found = [] if args.synthetic else find_ip_location_db(prefixes)
    tmp = tempfile.TemporaryDirectory(prefix="bench-enrich-")
    if len(found) == 3:
        range_files, mmdb_files = found[:2], found[2:]
        source = "ip-location-db (npm)"
    else:
        t = time.perf_counter()
        tsv, mmdb = synthetic_databases(Path(tmp.name))
        range_files, mmdb_files = [tsv], [mmdb]
        source = f"synthetic (generated in {time.perf_counter() - t:.1f} s)"
    print(f"databases: {source}")
    for p in range_files + mmdb_files:
        t = time.perf_counter()
        db = open_database(p)
        print(f"  open {p.name}: {time.perf_counter() - t:.2f} s  [{db.description}]")
    print(
        f"batch: {args.rows:,} rows, {args.distinct:,} distinct addresses per family, "
        f"2 lookups per row; best of {args.repeat}"
    )

    site = SiteConfig(
        name="ams01", code="AMS", city="Amsterdam", country="NL", geohash="u173sdb4tryp"
    )
    cases = [
        ("range file", range_files),
        ("mmdb", mmdb_files),
        ("range file + mmdb", range_files + mmdb_files),
    ]
    lookups = 2 * args.rows
    for v6_share in (0.0, 0.2):
        batch = make_batch(args.rows, args.distinct, v6_share)
        print(f"\nIPv6 share {v6_share:.0%}:")
        for label, files in cases:
            e = Enricher.from_config(
                EnrichConfig(site=site, databases=files, customer_prefixes=["100.64.0.0/10"])
            )
            sec = best(lambda e=e, b=batch: e.enrich(*b), args.repeat)  # type: ignore[misc]
            print(
                f"  Enricher.enrich [{label:>18}]: {sec * 1e3:7.1f} ms  "
                f"{lookups / sec / 1e6:6.2f} M lookups/s  {args.rows / sec / 1e6:5.2f} M rows/s"
            )

    # Baselines: per-row, per-address lookups without dedup (IPv4 only, 2 x rows addresses).
    _, src4, dst4, _, _ = make_batch(args.rows, args.distinct, 0.0)
    addrs4 = np.concatenate([src4, dst4]).tolist()
    rdb = open_database(range_files[0])
    assert isinstance(rdb, RangeDatabase)
    print("\nbaselines (IPv4, no dedup, one Python lookup per address):")
    for label, fn in (
        ("bisect over lists", baseline_range(rdb, addrs4)),
        ("maxminddb reader.get", baseline_mmdb(mmdb_files[0], addrs4)),
    ):
        sec = best(fn, max(1, args.repeat // 2))
        print(f"  {label:>28}: {sec * 1e3:7.1f} ms  {lookups / sec / 1e6:6.2f} M lookups/s")
    tmp.cleanup()


if __name__ == "__main__":
    main()
