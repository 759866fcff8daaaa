"""One Logpush job: embedded stream -> NDJSON (84 fields) -> gzip -> an HTTPS receiver on loopback.

Prints records/s and MiB/s of uncompressed NDJSON delivered, beside a baseline in the same
process that only encodes and gzips (no stream, no HTTP). The records are mostly empty
fields, so they compress far better than real traffic: expect lower figures on real data.

    .venv/bin/python bench/bench_delivery.py [records]
"""

from __future__ import annotations

import http.server
import os
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

if (
    "MALLOC_TOP_PAD_" not in os.environ
):  # glibc trimming makes the numbers noisy (docs/performance.md)
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import numpy as np
import pyarrow as pa

# The self-signed certificate maker is shared with the delivery tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "logpush" / "delivery"))
from delivery_receivers import make_cert

from netlogpush.dataset.records import make_table
from netlogpush.logpush.batch import BatchLimits
from netlogpush.logpush.compress import gzip_bytes
from netlogpush.logpush.delivery import DeadLetterStore, JobRunner, RunnerConfig, make_sender
from netlogpush.logpush.destinations import parse_destination_conf
from netlogpush.logpush.output_options import compile_options, parse_output_options
from netlogpush.stream import EmbeddedConfig, open_stream


class Sink(http.server.BaseHTTPRequestHandler):
    """Reads each POST body and answers 200: the client side is what is measured."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def records(n: int) -> pa.Table:
    rng = np.random.default_rng(1)
    ids = np.arange(n, dtype=np.int64)
    columns = {
        "TCPSequenceNumber": ids,
        "Datetime": 1_767_225_600_000_000_000 + ids * 1000,
        "IPv4Identification": rng.integers(0, 65535, n),
        "IPProtocol": 6,
        "IPSourceAddress": "192.0.2.1",
        "IPDestinationAddress": "198.51.100.7",
        "SourcePort": rng.integers(1024, 65535, n),
        "DestinationPort": 443,
        "ColoCode": "FRA",
        "Direction": "ingress",
        "Outcome": "pass",
    }
    return make_table(columns, n)


def main(n: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    cert = make_cert(tmp)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert.cert, cert.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    table = records(n)
    stream = open_stream(tmp / "stream", EmbeddedConfig(fsync="off"))
    for i in range(0, n, 65536):
        stream.append(table.slice(i, 65536))
    url = f"https://127.0.0.1:{server.server_address[1]}/logs"
    runner = JobRunner(
        "bench",
        stream,
        make_sender(parse_destination_conf(url), verify=str(cert.cert)),
        DeadLetterStore(tmp / "deadletter", "bench"),
        limits=BatchLimits(100_000, None, 30),
        config=RunnerConfig(idle_wait_seconds=0.01),
    )
    start = time.perf_counter()
    runner.start()
    while stream.consumer_info(runner.consumer).cursor < n:
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    runner.stop(5)
    m = runner.metrics.snapshot()
    mib = m["bytes_uncompressed"] / 2**20
    print(f"{n:,} records, one job, stream -> HTTPS on loopback, 100k-record batches")
    print(
        f"  delivered: {n / elapsed:>12,.0f} records/s  {mib / elapsed:8.1f} MiB/s of NDJSON "
        f"(gzip {m['bytes_uncompressed'] / m['bytes_compressed']:.0f}x, {m['uploads']} uploads)"
    )

    encoder = compile_options(parse_output_options(None))
    start = time.perf_counter()
    total = 0
    for i in range(0, n, 100_000):
        body = encoder.encode(table.slice(i, 100_000))
        total += len(body)
        gzip_bytes(body)
    elapsed = time.perf_counter() - start
    print(
        f"  baseline, encode + gzip only: {n / elapsed:>12,.0f} records/s  {total / 2**20 / elapsed:8.1f} MiB/s"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500_000)
