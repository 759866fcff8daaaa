"""kill -9 of ``netlogpush serve`` while a batch is in flight, then a restart on the same
data dir: every record reaches the Splunk HEC receiver, and only the in-flight batch twice
(issue 4, Proof: "a kill -9 of the service mid-batch, and a restart")."""

from __future__ import annotations

import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from netlogpush.api.ownership import TEST_CONTENT
from netlogpush.pipeline import decode_file
from netlogpush.scenarios.mixed import write_mixed_pcap
from netlogpush.stream import open_stream

# The loopback receivers are shared with the delivery tests (as in test_serve.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "logpush" / "delivery"))
from delivery_receivers import HEC_TOKEN, Handler, HecReceiver, Request, make_cert
from test_serve import ACCOUNT, Service

# Together unique for every record of the mixed capture (checked below), so a record's key
# says which packet it is.
KEY_FIELDS = ["Datetime", "IPSourceAddress", "IPDestinationAddress", "IPProtocol", "SourcePort",
              "DestinationPort", "TCPSequenceNumber"]  # fmt: skip
BATCH = 1000  # the documented minimum of max_upload_records
Key = tuple[object, ...]


@dataclass
class StallingHec(HecReceiver):
    """Accepts record batch number ``stall_on`` (0-based) and then never answers, so the
    sender has handed it over but the service cannot know: the worst moment for a kill.

    Creating a job first POSTs Cloudflare's test upload (``{"content":"tests"}``); it is
    accepted and kept apart from the record batches."""

    stall_on: int | None = None

    def handle_post(self, h: Handler, req: Request) -> None:
        with self.lock:
            stall = self.stall_on is not None and len(self._batches()) == self.stall_on
        if not stall:
            super().handle_post(h, req)
            return
        self.accept(req)
        self.stopping.wait(self.hang_seconds)
        h.close_connection = True

    def _batches(self) -> list[bytes]:
        return [r.body for r in self.received if r.body != TEST_CONTENT]

    def tests_received(self) -> int:
        with self.lock:
            return sum(r.body == TEST_CONTENT for r in self.received)

    def batches(self) -> list[list[Key]]:
        with self.lock:
            bodies = self._batches()
        return [[key(orjson.loads(line)) for line in b.splitlines() if line] for b in bodies]


def key(record: dict[str, object]) -> Key:
    return tuple(record[f] for f in KEY_FIELDS)


def wait_for(pred: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, what()
        time.sleep(0.05)


def metric(service: Service, name: str) -> int:
    """A job's Prometheus counter (``name`` with its ``_total``) from ``/metrics``."""
    text = httpx.get(service.base.removesuffix("/client/v4") + "/metrics").text
    [line] = [x for x in text.splitlines() if x.startswith(f"netlogpush_logpush_{name}{{")]
    return int(line.rsplit(" ", 1)[1])


@pytest.mark.timeout(90)
def test_kill_9_mid_batch_and_restart_loses_nothing(tmp_path: Path) -> None:
    capture = tmp_path / "mixed.pcap"
    write_mixed_pcap(capture, packets=6000, seed=7)
    table = decode_file(capture).select(KEY_FIELDS)
    expected = Counter(key(r) for r in table.to_pylist())
    assert len(expected) == table.num_rows  # the key is unique per record

    hec = StallingHec(tls=make_cert(tmp_path), stall_on=2, hang_seconds=60.0)
    hec.start()
    first = Service(tmp_path, capture)
    second: Service | None = None
    try:
        destination = (
            f"splunk://127.0.0.1:{hec.port}/services/collector/raw"
            "?channel=2f8f6d3a-0a6b-4d34-9c4b-8d6c0b4e7d61&insecure-skip-verify=true"
            f"&header_Authorization=Splunk%20{HEC_TOKEN}"
        )
        created = httpx.post(
            f"{first.base}/accounts/{ACCOUNT}/logpush/jobs",
            headers=first.headers,
            json={"name": "kill-9", "dataset": "network_analytics_logs", "enabled": True,
                  "destination_conf": destination, "max_upload_records": BATCH,
                  "output_options": {"field_names": KEY_FIELDS, "timestamp_format": "unixnano"}},
        )  # fmt: skip
        assert created.status_code == 200, created.text
        # Two batches delivered and acknowledged, the third accepted but never answered.
        wait_for(lambda: len(hec.batches()) == 3, 30, lambda: f"{len(hec.batches())} batches")
        assert hec.tests_received() == 1
        # The runner has read the whole capture from the stream, so the kill cannot race
        # the ingest (the restart replays nothing: it has no --pcap).
        wait_for(lambda: metric(first, "records_read_total") == table.num_rows, 10,
                 lambda: f"{metric(first, 'records_read_total')} of {table.num_rows} read")  # fmt: skip
        first.proc.send_signal(signal.SIGKILL)
        assert first.proc.wait(10) == -signal.SIGKILL
        in_flight = hec.batches()[2]
        assert len(in_flight) == BATCH

        # The stream kept every record through the kill (the kernel released its lock).
        stream = open_stream(first.data / "stream")
        try:
            assert stream.stats().head_seq == table.num_rows
        finally:
            stream.close()

        hec.stall_on = None
        second = Service(tmp_path, None)

        def unique() -> int:
            return len({k for b in hec.batches() for k in b})

        # Full batches go out at once; the last, partial one waits for the upload interval.
        wait_for(lambda: unique() >= len(expected) - BATCH, 30,
                 lambda: f"{unique()} of {len(expected)} records")  # fmt: skip
        assert second.stop() == 0  # SIGTERM flushes the last, partial batch
        second = None
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
            first.proc.wait(10)
        if second is not None:
            second.proc.kill()
            second.proc.wait(10)
        hec.stop()

    got = Counter(k for b in hec.batches() for k in b)
    assert set(got) == set(expected)  # none missing, nothing invented
    # At-least-once: the batch in flight at the kill was never acknowledged, so the restart
    # sends it again (the same records: the cursor rewinds to the last acknowledged batch).
    duplicated = {k for k, n in got.items() if n > 1}
    assert duplicated == set(in_flight)
    assert max(got.values()) == 2
    assert sum(got.values()) == table.num_rows + BATCH
