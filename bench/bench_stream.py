"""Record stream speed: append and fetch of 84-field records, beside writing NDJSON to a file.

    .venv/bin/python bench/bench_stream.py [--records 200000] [--batch 10000]

Records come from the benign-mixed scenario through the real pipeline (1:1 sampling), so
their columns look like real traffic. Figures, best of 3, one core:
  * ``append``: ``EmbeddedStream.append`` per batch, for each fsync policy and compression;
    MiB/s counts the same records as NDJSON (what a job later delivers) and as Arrow in memory.
  * ``fetch``: a consumer draining the whole stream with ``fetch``+``ack``.
  * ``baseline``: the same NDJSON, already encoded, written to a plain file (fdatasync per
    batch, as ``fsync=always`` does), and the NDJSON encoding itself.

The script re-executes itself with ``MALLOC_TOP_PAD_`` set (see docs/sources.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if os.environ.get("MALLOC_TOP_PAD_") is None:
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import logging
import shutil

import pyarrow as pa

from netlogpush.dataset.formats import encode_ndjson
from netlogpush.pipeline import Pipeline
from netlogpush.scenarios.catalog import write_scenario
from netlogpush.sources.pcap import iter_batches
from netlogpush.stream import EmbeddedConfig, RetentionPolicy, open_stream

CACHE = Path(tempfile.gettempdir()) / "netlogpush-bench"
MiB = 1024 * 1024


def load(n: int, batch: int) -> list[pa.Table]:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"stream-benign-{n}.pcap"
    if not path.exists():
        write_scenario("benign-mixed", path, seed=1, duration_s=n / 50_000 + 0.2, benign_pps=50_000)
    pipeline = Pipeline(sample_interval=1, seed=1)
    table = pa.concat_tables(pipeline.process(b) for b in iter_batches(path))
    table = table.slice(0, n).combine_chunks()
    return [table.slice(i, batch) for i in range(0, table.num_rows, batch)]


def best(run: Callable[[], None], setup: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(3):
        if setup is not None:
            setup()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def line(label: str, n: int, nd_bytes: int, arrow_bytes: int, t: float, extra: str = "") -> None:
    print(
        f"  {label:<44} {n / t:>12,.0f} rec/s  {nd_bytes / t / MiB:>8.1f} MiB/s NDJSON  "
        f"{arrow_bytes / t / MiB:>8.1f} MiB/s Arrow  {extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    tables = load(args.records, args.batch)
    n = sum(t.num_rows for t in tables)
    ndjson = [bytes(encode_ndjson(t)) for t in tables]
    nd_bytes = sum(len(b) for b in ndjson)
    arrow_bytes = sum(t.nbytes for t in tables)
    print(
        f"{n:,} records of 84 fields in batches of {args.batch:,}; NDJSON "
        f"{nd_bytes / n:.0f} B/record, Arrow {arrow_bytes / n:.0f} B/record; best of 3"
    )
    root = Path(tempfile.mkdtemp(prefix="bench-stream-", dir=CACHE))
    try:
        plain = root / "plain.ndjson"

        def write_plain() -> None:
            fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
            for b in ndjson:
                os.write(fd, b)
                os.fdatasync(fd)
            os.close(fd)

        def encode_only() -> None:
            for t in tables:
                encode_ndjson(t)

        print("baseline")
        line(
            "NDJSON to a plain file, fdatasync per batch",
            n,
            nd_bytes,
            arrow_bytes,
            best(write_plain),
        )
        line("NDJSON encoding alone (no I/O)", n, nd_bytes, arrow_bytes, best(encode_only))
        print("stream append")
        for fsync, comp in [
            ("always", "zstd"),
            ("interval", "zstd"),
            ("off", "zstd"),
            ("always", "lz4"),
            ("always", "none"),
        ]:
            cfg = EmbeddedConfig(
                fsync=fsync,
                compression=comp,  # type: ignore[arg-type]
                retention=RetentionPolicy(max_bytes=None, max_age_s=None),
            )
            d = root / f"{fsync}-{comp}"

            def fresh(d: Path = d) -> None:
                shutil.rmtree(d, ignore_errors=True)

            def append(d: Path = d, cfg: EmbeddedConfig = cfg) -> None:
                with open_stream(d, cfg) as s:
                    for t in tables:
                        s.append(t)

            t = best(append, fresh)
            with open_stream(d, cfg) as s:
                disk = s.stats().disk_bytes
            line(
                f"fsync={fsync}, {comp}",
                n,
                nd_bytes,
                arrow_bytes,
                t,
                f"disk {disk / n:.0f} B/record",
            )
            if fsync != "always":
                continue

            def fetch(d: Path = d, cfg: EmbeddedConfig = cfg) -> None:
                with open_stream(d, cfg) as s:
                    s.add_consumer("bench")
                    while (got := s.fetch("bench", args.batch)) is not None:
                        s.ack("bench", got.last_seq)
                    s.delete_consumer("bench")

            line(f"  fetch+ack, {comp}", n, nd_bytes, arrow_bytes, best(fetch))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
