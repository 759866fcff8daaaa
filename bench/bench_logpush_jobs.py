"""Logpush delivery speed and latency (issue 4, "Speed, in bench/").

(a) Throughput: embedded stream -> JobRunner (filter, NDJSON, batch, gzip) -> HTTPS receiver on
    loopback, for ten concurrent jobs with different ``field_names`` and filters (each its own
    runner, consumer and connection), beside one job (all 84 fields, no filter) in the same run.
    The delivering process is pinned to one core; the receiver runs in a separate process
    pinned to another core (when there is one), so its TLS and reads are not charged to delivery.
    Records are realistic: a ``netlogpush.scenarios.mixed`` capture decoded by
    ``netlogpush.pipeline.decode_file`` (with site and customer prefixes set), replicated.
    The stream is filled before the runners start: this measures how fast jobs drain it.
(b) Latency from append to arrival at the receiver, one job with the documented minimums
    ``max_upload_records=1000`` and ``max_upload_interval_seconds=30`` (logpush/batch.py RANGES),
    for appends at a steady trickle: once fast enough that batches close on the record count,
    once so slow that they close on the 30 s interval.
(c) Latency on the live WebSocket stream: the API app under uvicorn on loopback, a
    ``websockets`` client; from before ``stream.append`` + ``LiveFeed.publish`` (what ingest does)
    to the client's receipt of the message. Server, client and publisher share one process.

    .venv/bin/python bench/bench_logpush_jobs.py [--records 500000] [--appends 300] [--quick]

``--quick`` skips the 30-second interval-bound run of (b).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.server
import json
import multiprocessing as mp
import os
import re
import shutil
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

if os.environ.get("MALLOC_TOP_PAD_") is None:  # glibc trimming makes the numbers noisy
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import numpy as np
import pyarrow as pa

# The self-signed certificate maker is shared with the delivery tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "logpush" / "delivery"))
from delivery_receivers import make_cert

from netlogpush.enrich.config import EnrichConfig, SiteConfig
from netlogpush.enrich.enricher import Enricher
from netlogpush.logpush.batch import RANGES, batch_limits
from netlogpush.logpush.delivery import DeadLetterStore, JobRunner, RunnerConfig, make_sender
from netlogpush.logpush.destinations import parse_destination_conf
from netlogpush.logpush.filter import parse_filter
from netlogpush.logpush.output_options import parse_output_options
from netlogpush.pipeline import decode_file
from netlogpush.scenarios.mixed import CUSTOMER_PREFIXES, write_mixed_pcap
from netlogpush.stream import EmbeddedConfig, open_stream
from netlogpush.testing.server import serve_in_thread

MiB = 1 << 20
TAG = "TCPSequenceNumber"  # latency runs overwrite it with the append number
TAG_RE = re.compile(rb'"TCPSequenceNumber":(\d+)')

# ---- the receiver (own process) -------------------------------------------------------------


def _sink_main(cert: str, key: str, port_out: Connection, arrivals: Any, cpu: int | None) -> None:
    """HTTPS receiver answering 200. With ``arrivals`` (a queue) it reports, per upload, its
    arrival time and the tags it carried (latency runs); else it only reads the body."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})

    class Sink(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            now = time.monotonic()  # CLOCK_MONOTONIC is system-wide: comparable across processes
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if arrivals is not None:
                tags = {int(t) for t in TAG_RE.findall(gzip.decompress(body))}
                arrivals.put((now, sorted(tags)))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    port_out.send(server.server_address[1])
    server.serve_forever()


class Receiver:
    def __init__(self, tmp: Path, latency: bool, cpu: int | None) -> None:
        ctx = mp.get_context("fork")  # forked before any thread of ours exists
        tmp.mkdir(parents=True, exist_ok=True)
        self.cert = make_cert(tmp)
        self.arrivals = ctx.Queue() if latency else None
        ours, theirs = ctx.Pipe()
        self.proc = ctx.Process(
            target=_sink_main,
            args=(str(self.cert.cert), str(self.cert.key), theirs, self.arrivals, cpu),
            daemon=True,
        )
        self.proc.start()
        self.url = f"https://127.0.0.1:{ours.recv()}/logs"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.join(5)


# ---- records ---------------------------------------------------------------------------------


def realistic_records(tmp: Path, n: int) -> pa.Table:
    """A decoded mixed capture (50k packets), replicated to ``n`` records."""
    pcap = tmp / "mixed.pcap"
    write_mixed_pcap(pcap, packets=50_000, seed=7)
    config = EnrichConfig(
        site=SiteConfig(
            name="fra01", code="FRA", city="Frankfurt", country="DE", geohash="u0yjjd6jk"
        ),
        customer_prefixes=list(CUSTOMER_PREFIXES),
    )
    base = decode_file(pcap, enricher=Enricher.from_config(config))
    reps = -(-n // base.num_rows)
    return pa.concat_tables([base] * reps).slice(0, n).combine_chunks()


# ---- (a) throughput --------------------------------------------------------------------------

FEW = [
    "Datetime",
    "ColoCode",
    "IPSourceAddress",
    "IPDestinationAddress",
    "IPProtocolName",
    "SourcePort",
    "DestinationPort",
    "Direction",
    "Outcome",
    "Verdict",
    "IPTotalLength",
]
TCP = [
    *FEW,
    "TCPFlagsString",
    "TCPSequenceNumber",
    "TCPAcknowledgementNumber",
    "TCPWindowSize",
    "TCPOptions",
    "TCPMSS",
]


def _where(cond: Any) -> str:
    return json.dumps({"where": cond})


def _c(key: str, op: str, value: Any) -> dict[str, Any]:
    return {"key": key, "operator": op, "value": value}


#: (name, output_options, filter): different layouts and selectivities, as ten tenants might set.
TEN_JOBS: list[tuple[str, dict[str, Any] | None, str | None]] = [
    ("all-84", None, None),
    ("few-fields", {"field_names": FEW}, None),
    ("tcp-only", {"field_names": TCP}, _where(_c("IPProtocol", "eq", 6))),
    (
        "udp-dns",
        {"field_names": [*FEW, "DNSQueryName", "DNSQueryType", "UDPPayloadLength"]},
        _where(_c("DestinationPort", "in", [53, 5353])),
    ),
    (
        "ingress-rfc3339",
        {"field_names": FEW, "timestamp_format": "rfc3339"},
        _where(_c("Direction", "eq", "ingress")),
    ),
    (
        "web-ports",
        {"field_names": TCP},
        _where(
            {
                "or": [
                    _c("DestinationPort", "in", [80, 443, 8080]),
                    _c("SourcePort", "in", [80, 443, 8080]),
                ]
            }
        ),
    ),
    (
        "big-non-icmp",
        None,
        _where({"and": [_c("IPTotalLength", "gt", 500), _c("IPProtocolName", "!eq", "ICMP")]}),
    ),
    (
        "subnet",
        {"field_names": [*FEW, "IPSourceSubnet", "IPDestinationSubnet"]},
        _where(_c("IPDestinationAddress", "startsWith", "203.0.113.")),
    ),
    (
        "non-tcp-unix",
        {"field_names": [*FEW, "ICMPType", "ICMPCode", "GREKey"], "timestamp_format": "unix"},
        _where(_c("IPProtocol", "!eq", 6)),
    ),
    (
        "egress-ttl",
        {"field_names": [*FEW, "IPTTL", "IPTTLBuckets", "IPv4Identification"]},
        _where({"and": [_c("Direction", "eq", "egress"), _c("IPTTL", "leq", 128)]}),
    ),
]


def drain(
    table: pa.Table,
    jobs: list[tuple[str, dict[str, Any] | None, str | None]],
    receiver: Receiver,
    tmp: Path,
) -> dict[str, Any]:
    """Fill a fresh stream with ``table``, then time ``jobs`` draining it concurrently."""
    stream = open_stream(tmp, EmbeddedConfig(fsync="off"))
    last = 0
    for i in range(0, table.num_rows, 65_536):
        last = stream.append(table.slice(i, 65_536)).last_seq
    runners = [
        JobRunner(
            name,
            stream,
            make_sender(parse_destination_conf(receiver.url), verify=str(receiver.cert.cert)),
            DeadLetterStore(tmp / "deadletter", name),
            options=parse_output_options(options),
            where=parse_filter(where),
            limits=batch_limits(),
            config=RunnerConfig(idle_wait_seconds=0.01),
        )
        for name, options, where in jobs
    ]
    start = time.perf_counter()
    for r in runners:
        r.start()
    # Filtered records are acked without a batch; the last batch may wait for the 30 s
    # interval, so the runners are stopped (which flushes it) once all have read everything.
    while any(r.metrics.snapshot()["records_read"] < table.num_rows for r in runners):
        time.sleep(0.005)
    for r in runners:
        r.stop(30)
    elapsed = time.perf_counter() - start
    for r in runners:
        assert stream.consumer_info(r.consumer).cursor == last, r.job_id
    stream.close()
    snaps = {r.job_id: r.metrics.snapshot() for r in runners}
    return {"elapsed": elapsed, "jobs": snaps}


def report_drain(title: str, n: int, result: dict[str, Any], per_job: bool) -> None:
    el = result["elapsed"]
    jobs = result["jobs"]
    delivered = sum(m["records_delivered"] for m in jobs.values())
    raw = sum(m["bytes_uncompressed"] for m in jobs.values())
    gz = sum(m["bytes_compressed"] for m in jobs.values())
    print(f"  {title}: {el:6.2f} s")
    print(f"    stream records read   {len(jobs) * n / el:>12,.0f} /s  ({len(jobs)} x {n:,})")
    print(f"    records delivered     {delivered / el:>12,.0f} /s  ({delivered:,})")
    print(
        f"    NDJSON delivered      {raw / MiB / el:>12.1f} MiB/s uncompressed "
        f"({raw / MiB:,.0f} MiB, gzip {raw / max(gz, 1):.1f}x, "
        f"{sum(m['uploads'] for m in jobs.values())} uploads)"
    )
    if per_job:
        for name, m in jobs.items():
            print(
                f"      {name:<16} {m['records_delivered']:>9,} records "
                f"{m['bytes_uncompressed'] / MiB:8.1f} MiB"
            )


# ---- (b) and (c) latency ---------------------------------------------------------------------


def trickle(
    table: pa.Table, appends: int, per_append: int, rate: float, emit: Callable[[pa.Table], object]
) -> dict[int, float]:
    """``appends`` batches of ``per_append`` records, tagged 0.., at ``rate`` per second;
    returns each tag's emit time."""
    sent: dict[int, float] = {}
    tag_col = table.schema.get_field_index(TAG)
    period = 1.0 / rate
    t0 = time.monotonic()
    for i in range(appends):
        wait = t0 + i * period - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        part = table.slice((i * per_append) % (table.num_rows - per_append), per_append)
        part = part.set_column(tag_col, TAG, pa.array(np.full(per_append, i, np.int64)))
        sent[i] = time.monotonic()
        emit(part)
    return sent


def percentiles(sent: dict[int, float], got: dict[int, float]) -> str:
    lat = np.array([got[i] - sent[i] for i in sent if i in got]) * 1000
    missing = len(sent) - len(lat)
    p50, p95 = np.percentile(lat, [50, 95])
    return f"p50 {p50:9.1f} ms   p95 {p95:9.1f} ms   max {lat.max():9.1f} ms" + (
        f"   ({missing} appends never arrived)" if missing else ""
    )


def batch_latency(
    table: pa.Table, receiver: Receiver, tmp: Path, appends: int, per_append: int, rate: float
) -> str:
    stream = open_stream(tmp, EmbeddedConfig(fsync="off"))
    limits = batch_limits(
        max_upload_records=RANGES["max_upload_records"][0],
        max_upload_interval_seconds=RANGES["max_upload_interval_seconds"][0],
    )
    runner = JobRunner(
        "latency",
        stream,
        make_sender(parse_destination_conf(receiver.url), verify=str(receiver.cert.cert)),
        DeadLetterStore(tmp / "deadletter", "latency"),
        limits=limits,
    )  # default RunnerConfig, as the service runs jobs
    runner.start()
    sent = trickle(table, appends, per_append, rate, stream.append)
    got: dict[int, float] = {}
    assert receiver.arrivals is not None
    deadline = time.monotonic() + limits.max_interval_seconds + 10
    while len(got) < appends and time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            t, tags = receiver.arrivals.get(timeout=0.2)
            for tag in tags:  # an append split over two batches arrives with the later one
                got[tag] = max(got.get(tag, 0.0), t)
    runner.stop(5)
    stream.close()
    m = runner.metrics.snapshot()
    return percentiles(sent, got) + f"   [{m['uploads']} uploads]"


def websocket_latency(
    table: pa.Table, tmp: Path, appends: int, per_append: int, rate: float
) -> str:
    from websockets.sync.client import connect

    from netlogpush.api import create_app, create_token
    from netlogpush.api.app import ApiState

    account = "0123456789abcdef0123456789abcdef"
    token = create_token(tmp / "api", account, ["logs:write"])
    state = ApiState(tmp / "api")
    with serve_in_thread(create_app(state), ws="websockets-sansio") as base:
        ws_base = base.replace("http://", "ws://", 1)
        url = f"{ws_base}/client/v4/accounts/{account}/logpush/instant/ws"
        got: dict[int, float] = {}
        done = threading.Event()

        def client() -> None:
            with connect(
                url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None
            ) as ws:
                ready.set()
                while not done.is_set():
                    with contextlib.suppress(TimeoutError):
                        message = ws.recv(timeout=0.2)
                        now = time.monotonic()
                        text = message.encode() if isinstance(message, str) else message
                        for tag in TAG_RE.findall(text):
                            got.setdefault(int(tag), now)

        ready = threading.Event()
        reader = threading.Thread(target=client, daemon=True)
        reader.start()
        ready.wait(10)
        while state.live.subscribers < 1:
            time.sleep(0.01)
        stream = open_stream(tmp / "stream", EmbeddedConfig(fsync="off"))

        def ingest(part: pa.Table) -> None:  # what the service's ingest does per batch
            stream.append(part)
            state.live.publish(part)

        sent = trickle(table, appends, per_append, rate, ingest)
        deadline = time.monotonic() + 10
        while len(got) < appends and time.monotonic() < deadline:
            time.sleep(0.01)
        done.set()
        reader.join(5)
        stream.close()
        dropped = state.live.stats()["dropped_records"]
        return percentiles(sent, got) + (f"   ({dropped} records dropped)" if dropped else "")


# ---- main ------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--appends", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="skip the 30 s interval-bound run")
    args = ap.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    sink_cpu = cpus[1] if len(cpus) > 1 else None
    tmp = Path(tempfile.mkdtemp(prefix="bench_logpush_jobs."))
    receiver = Receiver(tmp / "sink", latency=False, cpu=sink_cpu)
    latency_rx = Receiver(tmp / "sink-latency", latency=True, cpu=sink_cpu)
    os.sched_setaffinity(0, {cpus[0]})  # delivery (every runner thread) on one core

    t = time.perf_counter()
    table = realistic_records(tmp, args.records)
    arrow_per_record = table.slice(0, 10_000).nbytes / 10_000
    print(
        f"{table.num_rows:,} records (mixed capture decoded and replicated) in "
        f"{time.perf_counter() - t:.1f} s; arrow {arrow_per_record:.0f} B/record; "
        f"delivery pinned to CPU {cpus[0]}, receiver on CPU {sink_cpu}"
    )
    try:
        print("\n(a) stream -> filter -> NDJSON -> gzip -> HTTPS on loopback, 100k-record batches")
        one = drain(table, TEN_JOBS[:1], receiver, tmp / "one")
        report_drain("baseline, one job (all 84 fields, no filter)", args.records, one, False)
        ten = drain(table, TEN_JOBS, receiver, tmp / "ten")
        report_drain("ten jobs, concurrent, one runner each", args.records, ten, True)

        lo_rec = RANGES["max_upload_records"][0]
        lo_int = RANGES["max_upload_interval_seconds"][0]
        print(
            f"\n(b) append -> arrival, one job, max_upload_records={lo_rec}, "
            f"max_upload_interval_seconds={lo_int} (documented minimums), "
            f"{args.appends} appends"
        )
        fast = batch_latency(table, latency_rx, tmp / "lat-fast", args.appends, 20, 100.0)
        print(f"  20 records x 100 appends/s (closes on records): {fast}")
        if not args.quick:
            slow = batch_latency(
                table, latency_rx, tmp / "lat-slow", args.appends, 1, args.appends / (lo_int - 1)
            )
            print(
                f"  1 record at {args.appends / (lo_int - 1):.1f} appends/s "
                f"(closes on the {lo_int} s interval): {slow}"
            )

        print(
            f"\n(c) append + LiveFeed.publish -> WebSocket client receipt (uvicorn on loopback, "
            f"all 84 fields), {args.appends} appends"
        )
        ws = websocket_latency(table, tmp / "ws", args.appends, 20, 100.0)
        print(f"  20 records x 100 appends/s: {ws}")
    finally:
        receiver.close()
        latency_rx.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
