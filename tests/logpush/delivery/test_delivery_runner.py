"""Job runners end to end: embedded stream → filter → batch → gzip → real receiver, with
faults injected, checked record by record (TCPSequenceNumber is each record's id)."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import orjson
import pytest
from delivery_receivers import CHANNEL, HEC_TOKEN, Cert, HecReceiver, Receiver, records

from netlogpush.logpush.batch import BatchLimits
from netlogpush.logpush.delivery import (
    DeadLetterStore,
    HttpTimeouts,
    JobMetrics,
    JobRunner,
    JobState,
    RetryPolicy,
    RunnerConfig,
    make_sender,
    render_prometheus,
)
from netlogpush.logpush.destinations import parse_destination_conf
from netlogpush.logpush.filter import parse_filter
from netlogpush.logpush.output_options import parse_output_options
from netlogpush.stream import EmbeddedConfig, EmbeddedStream, open_stream

FAST = HttpTimeouts(connect=1, read=0.5, write=1, pool=1)
QUICK_RETRY = RetryPolicy(base_seconds=0.01, cap_seconds=0.05, window_seconds=5.0)
QUICK = RunnerConfig(idle_wait_seconds=0.05, shutdown_grace_seconds=1.0)
LIMITS = BatchLimits(max_records=200, max_bytes=None, max_interval_seconds=0.2)
BASE_WALL_NS = 1_767_225_600_000_000_000


@pytest.fixture
def stream(tmp_path: Path) -> Iterator[EmbeddedStream]:
    s = open_stream(tmp_path / "stream", EmbeddedConfig(fsync="off"))
    yield s
    s.close()


def wait_until(pred: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def dead_ids(store: DeadLetterStore) -> list[int]:
    return [int(orjson.loads(line)["TCPSequenceNumber"])
            for d in store.entries() for line in store.raw(d.entry_id).splitlines()]


def https_runner(job: str, stream: EmbeddedStream, r: Receiver, cert: Cert, root: Path,
                 **kw: object) -> JobRunner:
    sender = make_sender(parse_destination_conf(f"https://127.0.0.1:{r.port}/{job}"),
                         verify=str(cert.cert), timeouts=FAST)
    args: dict[str, object] = {"limits": LIMITS, "retry": QUICK_RETRY, "config": QUICK, **kw}
    return JobRunner(job, stream, sender, DeadLetterStore(root / "dlq", job),
                     **args)  # type: ignore[arg-type]


def test_every_record_delivered_or_dead_lettered_under_faults(
    stream: EmbeddedStream, https_receiver: Receiver, tls_cert: Cert, tmp_path: Path
) -> None:
    stream.append(records(0, 3000))
    https_receiver.hang_seconds = 2.0
    # batch 1: 500, 429, reset, hang (read timeout), then 400 → dead-lettered after 5 tries;
    # batch 2: a slow reader, delivered; batch 3: 503 then delivered; the rest: 200.
    https_receiver.script.extend([
        (500, b"oops"), (429, b"slow down"), "reset", "hang", (400, b"bad request"),
        "slow", (503, b"busy"),
    ])
    states: list[JobState] = []
    runner = https_runner("faults", stream, https_receiver, tls_cert, tmp_path,
                          on_state=states.append)
    runner.start()
    store = runner.deadletters
    assert wait_until(lambda: len(https_receiver.records()) + store.count()[1] >= 3000, 20)
    assert wait_until(lambda: stream.consumer_info(runner.consumer).cursor == 3000, 5)
    runner.stop(5)
    assert not runner.running

    delivered, dead = https_receiver.records(), dead_ids(store)
    assert dead == list(range(0, 200))
    assert delivered == list(range(200, 3000))  # in order, each exactly once
    assert sorted(delivered + dead) == list(range(3000))

    [letter] = store.entries()
    assert (letter.reason, letter.status, letter.attempts, letter.records) == (
        "rejected", 400, 5, 200)
    m = runner.metrics.snapshot()
    assert m["uploads"] == 14
    assert m["upload_attempts"] == 5 + 1 + 2 + 12
    assert m["retries"] == 5
    assert m["records_read"] == 3000
    assert m["records_delivered"] == 2800
    assert m["deadlettered_batches"] == 1 and m["deadlettered_records"] == 200
    assert m["bytes_uncompressed"] == sum(len(q.body) for q in https_receiver.received)
    assert 0 < m["bytes_compressed"] < m["bytes_uncompressed"]
    assert m["lag"] == 0

    # last_error/error_message record a failure; the next success clears the message
    assert any(s.error_message and "HTTP 400" in s.error_message for s in states)
    final = runner.state
    assert final.enabled and final.last_complete is not None and final.last_error is not None
    assert final.error_message is None
    api = final.to_api()
    assert api["error_message"] is None and api["last_complete"].endswith("Z")

    text = render_prometheus({"faults": runner.metrics})
    assert 'netlogpush_logpush_uploads_total{job_id="faults"} 14\n' in text
    assert 'netlogpush_logpush_deadlettered_records_total{job_id="faults"} 200\n' in text
    assert "# TYPE netlogpush_logpush_lag gauge\n" in text


def test_a_hanging_destination_does_not_slow_another_job(
    stream: EmbeddedStream, tls_cert: Cert, tmp_path: Path
) -> None:
    hanging = Receiver(tls=tls_cert, default="hang", hang_seconds=10.0).start()
    healthy = Receiver(tls=tls_cert).start()
    try:
        stream.append(records(0, 2000))
        retry = RetryPolicy(base_seconds=0.01, cap_seconds=0.05, window_seconds=600)
        a = https_runner("stuck", stream, hanging, tls_cert, tmp_path, retry=retry)
        b = https_runner("fine", stream, healthy, tls_cert, tmp_path)
        t0 = time.monotonic()
        a.start()
        b.start()
        assert wait_until(lambda: len(healthy.records()) == 2000, 10)
        elapsed = time.monotonic() - t0
        # 10 batches to a loopback receiver: far below one read timeout of the stuck job
        assert elapsed < 3.0, elapsed
        assert healthy.records() == list(range(2000))
        assert hanging.received == [] and hanging.attempts >= 1
        assert wait_until(lambda: a.metrics.snapshot()["retries"] >= 1, 5)
        assert a.metrics.snapshot()["uploads"] == 0
        assert a.state.error_message is not None and "ReadTimeout" in a.state.error_message
        assert stream.consumer_info(a.consumer).cursor == 0  # nothing acked for the stuck job
        assert wait_until(lambda: a.metrics.snapshot()["lag"] == 2000, 2)

        t1 = time.monotonic()
        a.stop(5)
        assert not a.running and time.monotonic() - t1 < 2.0  # at most one read timeout
        b.stop(5)
        # the stuck job's records were kept: a new runner (its destination fixed) sends them all
        again = https_runner("stuck", stream, healthy, tls_cert, tmp_path)
        again.start()
        assert wait_until(lambda: len(healthy.records()) == 4000, 10)
        again.stop(5)
        assert sorted(healthy.records()[2000:]) == list(range(2000))
        assert stream.consumer_info(again.consumer).cursor == 2000
        assert again.deadletters.count() == (0, 0)
    finally:
        hanging.stop()
        healthy.stop()


def test_job_disabled_after_no_success_then_resumes_without_loss(
    stream: EmbeddedStream, https_receiver: Receiver, tls_cert: Cert, tmp_path: Path
) -> None:
    https_receiver.default = (500, b"down")
    stream.append(records(0, 1000))
    # 5 batches × a 0.2 s window: the job is still failing when the 0.5 s limit passes
    retry = RetryPolicy(base_seconds=0.01, cap_seconds=0.02, window_seconds=0.2)
    runner = https_runner("dies", stream, https_receiver, tls_cert, tmp_path, retry=retry,
                          config=RunnerConfig(idle_wait_seconds=0.05, disable_after_seconds=0.5))
    runner.start()
    assert wait_until(lambda: not runner.running, 10)
    st = runner.state
    assert st.enabled is False
    assert st.disabled_reason == "disabled: no successful push for 0.000138889 hours"
    assert st.error_message is not None and st.error_message.startswith(st.disabled_reason)
    assert "HTTP 500" in st.error_message
    dead = dead_ids(runner.deadletters)
    assert len(dead) > 0 and len(dead) % 200 == 0  # whole batches that ran out of window
    assert stream.consumer_info(runner.consumer).cursor == len(dead)  # nothing else acked

    https_receiver.default = "ok"
    resumed = https_runner("dies", stream, https_receiver, tls_cert, tmp_path)
    resumed.start()
    assert wait_until(lambda: stream.consumer_info(resumed.consumer).cursor == 1000, 10)
    resumed.stop(5)
    assert sorted(https_receiver.records() + dead) == list(range(1000))


def test_stop_flushes_a_partial_batch(stream: EmbeddedStream, https_receiver: Receiver,
                                      tls_cert: Cert, tmp_path: Path) -> None:
    slow = BatchLimits(max_records=10_000, max_bytes=None, max_interval_seconds=60)
    runner = https_runner("flush", stream, https_receiver, tls_cert, tmp_path, limits=slow)
    runner.start()
    stream.append(records(0, 123))
    assert wait_until(lambda: runner.metrics.snapshot()["records_read"] == 123, 5)
    assert https_receiver.received == []
    runner.stop(5)
    assert https_receiver.records() == list(range(123))
    assert stream.consumer_info(runner.consumer).cursor == 123


def test_splunk_hec_job_with_filter_and_fields(
    stream: EmbeddedStream, hec_receiver: HecReceiver, tmp_path: Path
) -> None:
    hec_receiver.script.append((503, b'{"text":"Server is busy","code":9}'))
    conf = (f"splunk://127.0.0.1:{hec_receiver.port}/services/collector/raw?channel={CHANNEL}"
            f"&insecure-skip-verify=true&header_Authorization=Splunk%20{HEC_TOKEN}")
    runner = JobRunner(
        "hec", stream, make_sender(parse_destination_conf(conf)),
        DeadLetterStore(tmp_path / "dlq", "hec"),
        options=parse_output_options({"field_names": ["TCPSequenceNumber", "IPProtocol"]}),
        where=parse_filter('{"where":{"and":[{"key":"TCPSequenceNumber","operator":"geq",'
                           '"value":500},{"key":"IPProtocol","operator":"eq","value":6}]}}'),
        limits=LIMITS, retry=QUICK_RETRY, config=QUICK,
    )
    stream.append(records(0, 1000))
    runner.start()
    assert wait_until(lambda: stream.consumer_info(runner.consumer).cursor == 1000, 10)
    runner.stop(5)
    assert hec_receiver.records() == list(range(500, 1000))
    first = orjson.loads(hec_receiver.received[0].body.splitlines()[0])
    assert first == {"TCPSequenceNumber": 500, "IPProtocol": 6}
    m = runner.metrics.snapshot()
    assert (m["records_filtered"], m["records_delivered"], m["retries"]) == (500, 500, 1)


def test_s3_and_local_jobs(stream: EmbeddedStream, moto_s3: str, tmp_path: Path) -> None:
    client = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1",
                          aws_access_key_id="AK", aws_secret_access_key="SK")
    client.create_bucket(Bucket="nal-job")
    port = moto_s3.rsplit(":", 1)[1]
    s3 = parse_destination_conf(
        "s3://nal-job/logs/{DATE}?region=us-east-1&access-key-id=AK&secret-access-key=SK"
        f"&endpoint=http://127.0.0.1:{port}")
    local = parse_destination_conf(f"file://{tmp_path}/out/{{DATE}}")
    stream.append(records(0, 1000))
    runners = [
        JobRunner(name, stream, make_sender(dest), DeadLetterStore(tmp_path / "dlq", name),
                  limits=LIMITS, retry=QUICK_RETRY, config=QUICK)
        for name, dest in (("s3job", s3), ("localjob", local))
    ]
    for r in runners:
        r.start()
    assert wait_until(
        lambda: all(stream.consumer_info(r.consumer).cursor == 1000 for r in runners), 15)
    for r in runners:
        r.stop(5)

    def ids(bodies: list[bytes]) -> list[int]:
        return sorted(int(orjson.loads(x)["TCPSequenceNumber"])
                      for b in bodies for x in gzip.decompress(b).splitlines())

    listed = client.list_objects_v2(Bucket="nal-job")["Contents"]
    assert len(listed) == 5 and all(o["Key"].startswith("logs/20260101/") for o in listed)
    s3_bodies = [client.get_object(Bucket="nal-job", Key=o["Key"])["Body"].read() for o in listed]
    assert ids(s3_bodies) == list(range(1000))
    files = sorted((tmp_path / "out" / "20260101").glob("*.log.gz"))
    assert len(files) == 5
    assert ids([f.read_bytes() for f in files]) == list(range(1000))


def test_runner_threads_are_independent_of_stop_order(
    stream: EmbeddedStream, https_receiver: Receiver, tls_cert: Cert, tmp_path: Path
) -> None:
    # stopping one job leaves another delivering
    a = https_runner("one", stream, https_receiver, tls_cert, tmp_path, metrics=JobMetrics())
    b = https_runner("two", stream, https_receiver, tls_cert, tmp_path)
    a.start()
    b.start()
    a.stop(5)
    stream.append(records(0, 400))
    assert wait_until(lambda: stream.consumer_info(b.consumer).cursor == 400, 5)
    b.stop(5)
    assert sorted(https_receiver.records()) == list(range(400))
    assert stream.consumer_info(a.consumer).cursor == 0
    assert threading.active_count() < 50


CHILD = """
import sys, time
from netlogpush.logpush.batch import BatchLimits
from netlogpush.logpush.delivery import *
from netlogpush.logpush.destinations import parse_destination_conf
from netlogpush.stream import EmbeddedConfig, open_stream
data, url, ca, dlq = sys.argv[1:5]
stream = open_stream(data, EmbeddedConfig(fsync="off"))
sender = make_sender(parse_destination_conf(url), verify=ca,
                     timeouts=HttpTimeouts(connect=1, read=30, write=1, pool=1))
JobRunner("killed", stream, sender, DeadLetterStore(dlq, "killed"),
          limits=BatchLimits(200, None, 0.2), config=RunnerConfig(idle_wait_seconds=0.05)).run()
"""


def test_kill_9_mid_batch_then_restart_loses_nothing(
    tmp_path: Path, https_receiver: Receiver, tls_cert: Cert
) -> None:
    import signal
    import subprocess
    import sys

    data = tmp_path / "stream"
    s = open_stream(data, EmbeddedConfig(fsync="off"))
    s.append(records(0, 1000))
    s.close()
    https_receiver.hang_seconds = 30.0
    https_receiver.script.extend(["ok", "ok", "hang"])  # the third batch hangs in flight
    url = f"https://127.0.0.1:{https_receiver.port}/k"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(data), url, str(tls_cert.cert),
                              str(tmp_path / "dlq")])
    try:
        assert wait_until(lambda: https_receiver.attempts >= 3, 20)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert https_receiver.records() == list(range(400))
    https_receiver.stopping.set()  # release the hung handler

    stream = open_stream(data, EmbeddedConfig(fsync="off"))
    try:
        assert stream.consumer_info("logpush-killed").cursor == 400
        runner = https_runner("killed", stream, https_receiver, tls_cert, tmp_path)
        runner.start()
        assert wait_until(lambda: stream.consumer_info(runner.consumer).cursor == 1000, 10)
        runner.stop(5)
    finally:
        stream.close()
    ids = https_receiver.records()
    assert ids == list(range(1000))  # the batch in flight was not accepted: no duplicate


def test_a_wall_clock_step_back_does_not_stop_the_job(
    stream: EmbeddedStream, tmp_path: Path
) -> None:
    # Regression: the batch window's start and end were converted to wall time with separate
    # clock readings; a wall clock stepping back between them (NTP) or plain jitter made the
    # end precede the start, paths.object_name refused it and the job stopped.
    wall = iter(range(BASE_WALL_NS, 0, -1_000_000))  # 1 ms back at every reading
    dest = parse_destination_conf(f"file://{tmp_path}/out")
    runner = JobRunner("stepback", stream, make_sender(dest), DeadLetterStore(tmp_path / "dlq",
                       "stepback"), limits=BatchLimits(max_records=100, max_bytes=None,
                       max_interval_seconds=60), retry=QUICK_RETRY, config=QUICK,
                       wall_clock=lambda: next(wall))  # fmt: skip
    stream.append(records(0, 300))
    runner.start()
    assert wait_until(lambda: stream.consumer_info(runner.consumer).cursor == 300, 10)
    runner.stop(5)
    files = sorted((tmp_path / "out").glob("*.log.gz"))
    assert len(files) == 3
    assert runner.state.error_message is None and runner.metrics.snapshot()["uploads"] == 3
