"""Decode speed on one core: netlogpush beside dpkt and tshark, and NDJSON encoding speed.

    .venv/bin/python bench/bench_decode.py [--packets 1000000] [--seed 1] [--repeat 3]
        [--dpkt-packets 200000] [--tshark-packets 100000] [--records 200000] [--no-tshark]

The input is the seeded mixed capture of ``netlogpush.scenarios.mixed`` (TCP conversations
with options, UDP, DNS, ICMP, GRE, IPv6 extension headers, fragments, VLANs, 2 % malformed),
generated once and cached under ``/tmp/netlogpush-bench/`` (the name carries the generator's
source hash, so a changed generator makes a new file). The process is pinned to one CPU.

Figures, each in the same process on the same file (page-cached before timing):
  * netlogpush: pcap read + decode; decode alone (batches already in memory); read + decode +
    the 84-field records table (``Pipeline.process``);
  * dpkt (``bench/dpkt_baseline.py``): the same header fields per packet, on the first
    ``--dpkt-packets`` packets (its rate does not depend on the count);
  * ``tshark -T ek`` (all fields, output to /dev/null) on the first ``--tshark-packets``
    packets: its raw time, and that time scaled to the full capture;
  * NDJSON: ``encode_ndjson`` of full 84-field records beside ``orjson.dumps`` per record dict
    (the dicts are built before timing, which favours orjson).

Re-executes itself with ``MALLOC_TOP_PAD_`` set (docs/performance.md).
"""

from __future__ import annotations

import os
import sys

if os.environ.get("MALLOC_TOP_PAD_") is None:
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.execv(sys.executable, [sys.executable, *sys.argv])

import argparse
import hashlib
import shutil
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pyarrow as pa

import netlogpush.scenarios.mixed as mixed_module
import netlogpush.testing.packets as packets_module
from netlogpush.dataset.formats import encode_ndjson
from netlogpush.decode import FrameBatch, decode
from netlogpush.pipeline import Pipeline
from netlogpush.scenarios.mixed import write_mixed_pcap
from netlogpush.sources.pcap import iter_batches

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dpkt_baseline

CACHE = Path("/tmp/netlogpush-bench")


def cached_capture(packets: int, seed: int) -> Path:
    src = b"".join(Path(m.__file__ or "").read_bytes() for m in (mixed_module, packets_module))
    tag = hashlib.sha1(src).hexdigest()[:10]
    path = CACHE / f"mixed-{packets}-s{seed}-{tag}.pcap"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        write_mixed_pcap(tmp, packets, seed=seed)
        tmp.rename(path)
        print(
            f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - t0:.1f} s"
        )
    return path


def slice_capture(path: Path, packets: int) -> Path:
    """The first ``packets`` records of a classic pcap file, as its own file."""
    out = path.with_name(f"{path.stem}-first{packets}.pcap")
    if out.exists():
        return out
    with path.open("rb") as f:
        head = f.read(24)
        body = bytearray()
        for _ in range(packets):
            rec = f.read(16)
            if len(rec) < 16:
                break
            caplen = struct.unpack_from("<I", rec, 8)[0]
            body += rec + f.read(caplen)
    out.write_bytes(head + body)
    return out


def best(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dpkt-packets", type=int, default=200_000)
    ap.add_argument("--tshark-packets", type=int, default=100_000)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--no-tshark", action="store_true")
    args = ap.parse_args()

    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})  # one core, inherited by tshark
    path = cached_capture(args.packets, args.seed)
    path.read_bytes()  # page cache
    n = args.packets
    rows: list[tuple[str, int, float, str]] = []

    def read_decode() -> None:
        for batch in iter_batches(path):
            decode(batch)

    batches: list[FrameBatch] = list(iter_batches(path))

    def decode_only() -> None:
        for batch in batches:
            decode(batch)

    def read_decode_records() -> None:
        p = Pipeline(sample_interval=1)
        for batch in iter_batches(path):
            p.process(batch)

    rows.append(("netlogpush read + decode", n, best(args.repeat, read_decode), ""))
    rows.append(("netlogpush decode only", n, best(args.repeat, decode_only), ""))
    rows.append(
        ("netlogpush read + decode + 84-field table", n, best(args.repeat, read_decode_records), "")
    )
    batches.clear()

    m = min(args.dpkt_packets, n)
    t = best(1, lambda: dpkt_baseline.decode_file(path, m))
    rows.append(("dpkt read + decode (per-packet dicts)", m, t, f"first {m} packets"))

    if not args.no_tshark and shutil.which("tshark"):
        k = min(args.tshark_packets, n)
        sl = slice_capture(path, k)
        sl.read_bytes()

        def tshark() -> None:
            with open(os.devnull, "wb") as null:
                subprocess.run(
                    ["tshark", "-n", "-r", str(sl), "-T", "ek"],
                    stdout=null,
                    stderr=subprocess.DEVNULL,
                    check=True,
                )

        t = best(1, tshark)
        rows.append(
            (
                "tshark -T ek (all fields)",
                k,
                t,
                f"first {k}; x{n / k:.0f} = {t * n / k:.0f} s for {n}",
            )
        )

    # NDJSON: full records of the first --records packets.
    tables = []
    got = 0
    p = Pipeline(sample_interval=1)
    for batch in iter_batches(path):
        tb = p.process(batch)
        tables.append(tb)
        got += tb.num_rows
        if got >= args.records:
            break
    table = pa.concat_tables(tables).slice(0, args.records).combine_chunks()
    r = table.num_rows
    t_ours = best(args.repeat, lambda: encode_ndjson(table))
    dicts = table.to_pylist()

    def orjson_each() -> bytes:
        return b"".join([orjson.dumps(d, option=orjson.OPT_APPEND_NEWLINE) for d in dicts])

    t_orjson = best(args.repeat, orjson_each)
    ours_lines = bytes(encode_ndjson(table)).splitlines()
    assert [orjson.loads(x) for x in ours_lines[:1000]] == dicts[:1000]
    rows.append((f"NDJSON encode_ndjson ({table.num_columns} fields)", r, t_ours, "records"))
    rows.append(("NDJSON orjson.dumps per dict", r, t_orjson, "records; dicts prebuilt"))

    base = {label: count / secs for label, count, secs, _ in rows}
    ours_rate = base["netlogpush read + decode"]
    print(
        f"\ncapture: {path.name}, {n} packets, {path.stat().st_size / 1e6:.0f} MB; "
        f"pinned to CPU {cpu}; best of {args.repeat}"
    )
    print(f"{'what':44s} {'count':>9s} {'seconds':>9s} {'per second':>12s} {'vs ours':>8s}  note")
    for label, count, secs, note in rows:
        rate = count / secs
        rel = rate / (base[rows[-2][0]] if label.startswith("NDJSON") else ours_rate)
        print(f"{label:44s} {count:9d} {secs:9.3f} {rate:12,.0f} {rel:7.2f}x  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
