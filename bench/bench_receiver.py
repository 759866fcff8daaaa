"""Receiver ingest speed: gzipped NDJSON batches into the HEC ``/raw`` endpoint.

    .venv/bin/python bench/bench_receiver.py [--records 200000] [--batch 5000] [--clients 2]

Records are 84-field ``network_analytics_logs`` rows from the benign-mixed scenario through
the real pipeline, encoded as NDJSON and gzipped per batch, as a Logpush job sends them.
Figures (records/s, MiB/s of gzipped body, MiB/s of inflated NDJSON):
  * ``baseline``: inflate + one ``orjson.loads`` per line, no HTTP (the floor of any receiver);
  * ``ingest``: the receiver's own inflate + parse + sink step, in process, one core;
  * ``http``: a real uvicorn server in a child process and ``--clients`` httpx keep-alive
    clients posting the batches concurrently (both share this machine's cores).

The script re-executes itself with ``MALLOC_TOP_PAD_`` set (see docs/sources.md).
"""

from __future__ import annotations

import argparse
import os
import sys

if os.environ.get("MALLOC_TOP_PAD_") is None:
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import socket
import subprocess
import tempfile
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pyarrow as pa

from netlogpush.dataset.formats import encode_ndjson
from netlogpush.pipeline import Pipeline
from netlogpush.receiver import CountingSink, HecReceiver, HecTokenStore
from netlogpush.scenarios.catalog import write_scenario
from netlogpush.sources.pcap import iter_batches

CACHE = Path(tempfile.gettempdir()) / "netlogpush-bench"
MiB = 1024 * 1024
TOKEN = "5b3c9f0e-0d6b-4c53-9c55-6f0f5e9d3a11"
CHANNEL = "0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba"

SERVER = """
import sys, uvicorn
from netlogpush.receiver import CountingSink, HecTokenStore, ReceiverConfig, create_hec_app
app = create_hec_app(HecTokenStore(sys.argv[1]), CountingSink(), ReceiverConfig(max_inflight=64))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def load(n: int, batch: int) -> list[bytes]:
    """NDJSON bodies of ``batch`` records each (uncompressed)."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"stream-benign-{n}.pcap"
    if not path.exists():
        write_scenario("benign-mixed", path, seed=1, duration_s=n / 50_000 + 0.2, benign_pps=50_000)
    pipeline = Pipeline(sample_interval=1, seed=1)
    table = pa.concat_tables(pipeline.process(b) for b in iter_batches(path))
    table = table.slice(0, n).combine_chunks()
    return [bytes(encode_ndjson(table.slice(i, batch))) for i in range(0, table.num_rows, batch)]


def best(run: Callable[[], None]) -> float:
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def report(name: str, seconds: float, records: int, gz_bytes: int, raw_bytes: int) -> None:
    print(
        f"  {name:<10} {records / seconds:>12,.0f} records/s  {gz_bytes / MiB / seconds:>8.1f} "
        f"MiB/s gzipped  {raw_bytes / MiB / seconds:>8.1f} MiB/s NDJSON"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()

    raw = load(args.records, args.batch)
    # zlib level 6 is what Go's gzip writer (Cloudflare's sender) uses by default.
    gz = [zlib.compress(b, 6, wbits=31) for b in raw]
    n = sum(b.count(b"\n") for b in raw)
    gz_bytes, raw_bytes = sum(map(len, gz)), sum(map(len, raw))
    print(
        f"{n:,} records, {len(gz)} batches of {args.batch}: {raw_bytes / MiB:.1f} MiB NDJSON, "
        f"{gz_bytes / MiB:.1f} MiB gzipped ({raw_bytes / n:.0f} B/record)"
    )

    def baseline() -> None:
        for body in gz:
            for line in zlib.decompress(body, 31).splitlines():
                orjson.loads(line)

    with tempfile.TemporaryDirectory() as tmp:
        store = HecTokenStore(tmp)
        store.create("bench", token=TOKEN)
        token = store.lookup(TOKEN)
        assert token is not None
        sink = CountingSink()
        receiver = HecReceiver(store, sink)

        def ingest() -> None:
            for body in gz:
                resp = receiver._ingest(body, "gzip", "raw", token, None)
                assert resp.status_code == 200, resp.body

        report("baseline", best(baseline), n, gz_bytes, raw_bytes)
        report("ingest", best(ingest), n, gz_bytes, raw_bytes)

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-c", SERVER, tmp, str(port)])
        try:
            url = f"http://127.0.0.1:{port}/services/collector/raw?channel={CHANNEL}"
            headers = {"Authorization": f"Splunk {TOKEN}", "Content-Encoding": "gzip"}
            for _ in range(100):  # bounded wait for the child to listen
                try:
                    httpx.get(f"http://127.0.0.1:{port}/services/collector/health")
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            clients = [httpx.Client(headers=headers) for _ in range(args.clients)]

            def post(i: int) -> None:
                r = clients[i % len(clients)].post(url, content=gz[i])
                assert r.status_code == 200, r.text

            def http() -> None:
                with ThreadPoolExecutor(args.clients) as pool:
                    list(pool.map(post, range(len(gz))))

            report("http", best(http), n, gz_bytes, raw_bytes)
            for c in clients:
                c.close()
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
