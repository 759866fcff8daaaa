"""Each sender against a real receiver on loopback: what arrives, and how failures are
classified."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import boto3
import orjson
import pytest
from delivery_receivers import CHANNEL, HEC_TOKEN, Cert, HecReceiver, Receiver, free_port

from netlogpush.logpush.compress import gzip_bytes
from netlogpush.logpush.delivery import (
    BatchMeta,
    HttpSender,
    HttpTimeouts,
    LocalSender,
    ObjectSender,
    make_sender,
)
from netlogpush.logpush.destinations import parse_destination_conf

RAW = b'{"TCPSequenceNumber":1,"Datetime":1767225600000000000}\n' \
      b'{"TCPSequenceNumber":2,"Datetime":1767225600001000000}\n'
META = BatchMeta("job1", RAW, 2, 10, 11, 1_767_225_600_000_000_000,
                 1_767_225_600_000_000_000, 1_767_225_630_000_000_000)
BODY = gzip_bytes(RAW)
FAST = HttpTimeouts(connect=2, read=1, write=2, pool=2)


def https_sender(r: Receiver, cert: Cert, query: str = "") -> HttpSender:
    dest = parse_destination_conf(f"https://127.0.0.1:{r.port}/ingest{query}")
    sender = make_sender(dest, verify=str(cert.cert), timeouts=FAST)
    assert isinstance(sender, HttpSender)
    return sender


def test_https_headers_query_and_gzip(https_receiver: Receiver, tls_cert: Cert) -> None:
    s = https_sender(https_receiver, tls_cert,
                     "?tag=nal&header_Authorization=Bearer%20abc&header_X-Team=net")
    result = s.send(BODY, META)
    assert (result.ok, result.status) == (True, 200)
    [req] = https_receiver.received
    assert req.path == "/ingest"
    assert req.query == {"tag": ["nal"]}  # header_* parameters are not on the URL
    assert req.headers["authorization"] == "Bearer abc"
    assert req.headers["x-team"] == "net"
    assert req.headers["content-encoding"] == "gzip"
    assert req.body == RAW
    s.close()


def test_https_untrusted_certificate_is_a_retryable_failure(
    https_receiver: Receiver, tmp_path: Path
) -> None:
    s = make_sender(parse_destination_conf(f"https://127.0.0.1:{https_receiver.port}/x"),
                    timeouts=FAST)
    result = s.send(BODY, META)
    assert (result.ok, result.retryable, result.status) == (False, True, None)
    assert "CERTIFICATE_VERIFY_FAILED" in result.message
    assert https_receiver.received == []


@pytest.mark.parametrize(
    ("action", "retryable", "status"),
    [
        ((500, b"oops"), True, 500),
        ((503, b"busy", {"Retry-After": "2"}), True, 503),
        ((429, b"slow down"), True, 429),
        ((408, b"timeout"), True, 408),
        ((400, b"bad"), False, 400),
        ((404, b"gone"), False, 404),
        ("reset", True, None),
        ("hang", True, None),
    ],
)
def test_https_failures(https_receiver: Receiver, tls_cert: Cert, action: object,
                        retryable: bool, status: int | None) -> None:
    https_receiver.script.append(action)
    https_receiver.hang_seconds = 2.0
    s = https_sender(https_receiver, tls_cert)
    result = s.send(BODY, META)
    assert (result.ok, result.retryable, result.status) == (False, retryable, status)
    if action == "hang":
        assert "ReadTimeout" in result.message
    if isinstance(action, tuple) and len(action) == 3:
        assert result.retry_after == 2.0
    assert https_receiver.received == []
    assert s.send(BODY, META).ok  # the next attempt gets through
    assert https_receiver.records() == [1, 2]


def test_https_slow_reader_still_delivers(https_receiver: Receiver, tls_cert: Cert) -> None:
    # random hex does not compress much: ~300 KB of gzip read 2 KiB every 2 ms by the receiver
    lines = [b'{"TCPSequenceNumber":%d,"Pad":"%s"}' % (i, os.urandom(64).hex().encode())
             for i in range(3000)]
    raw = b"\n".join(lines) + b"\n"
    body = gzip_bytes(raw)
    assert len(body) > 150_000
    https_receiver.script.append("slow")
    # loopback socket buffers take the whole body at once, so the wait is on the answer
    dest = parse_destination_conf(f"https://127.0.0.1:{https_receiver.port}/ingest")
    s = make_sender(dest, verify=str(tls_cert.cert), timeouts=HttpTimeouts(read=15, write=15))
    result = s.send(body, BatchMeta("job1", raw, 3000, 1, 3000, 0, 0, 0))
    assert result.ok, result.message
    assert https_receiver.records() == list(range(3000))


def test_splunk_raw(hec_receiver: HecReceiver) -> None:
    conf = (f"splunk://127.0.0.1:{hec_receiver.port}/services/collector/raw?channel={CHANNEL}"
            f"&insecure-skip-verify=true&sourcetype=cloudflare:network"
            f"&header_Authorization=Splunk%20{HEC_TOKEN}")
    s = make_sender(parse_destination_conf(conf))
    result = s.send(BODY, META)
    assert (result.ok, result.status) == (True, 200)
    [req] = hec_receiver.received
    assert req.path == "/services/collector/raw"
    assert req.query == {"channel": [CHANNEL], "sourcetype": ["cloudflare:network"]}
    assert req.body == RAW


def test_splunk_verifies_tls_unless_told_not_to(hec_receiver: HecReceiver) -> None:
    conf = (f"splunk://127.0.0.1:{hec_receiver.port}/services/collector/raw?channel={CHANNEL}"
            f"&insecure-skip-verify=false&header_Authorization=Splunk%20{HEC_TOKEN}")
    result = make_sender(parse_destination_conf(conf), timeouts=FAST).send(BODY, META)
    assert (result.ok, result.retryable) == (False, True)
    assert "CERTIFICATE_VERIFY_FAILED" in result.message


def test_splunk_event_endpoint_with_ack(hec_receiver: HecReceiver) -> None:
    hec_receiver.ack = True
    conf = (f"splunk://127.0.0.1:{hec_receiver.port}/services/collector/event?channel={CHANNEL}"
            f"&insecure-skip-verify=true&ack=true&index=netlogs"
            f"&header_Authorization=Splunk%20{HEC_TOKEN}")
    dest = parse_destination_conf(conf)
    s = HttpSender(dest, ack_poll_interval=0.01)  # type: ignore[arg-type]
    result = s.send(BODY, META)
    assert result.ok, result.message
    assert hec_receiver.event_records() == [1, 2]
    first = orjson.loads(hec_receiver.received[0].body.splitlines()[0])
    assert first["index"] == "netlogs"
    assert hec_receiver.polls == {0: 2}  # confirmed on the second poll


def test_splunk_ack_never_confirmed_is_retryable(hec_receiver: HecReceiver) -> None:
    hec_receiver.ack = True
    hec_receiver.acks_after_polls = 10**9
    conf = (f"splunk://127.0.0.1:{hec_receiver.port}/services/collector/raw?channel={CHANNEL}"
            f"&insecure-skip-verify=true&ack=true&header_Authorization=Splunk%20{HEC_TOKEN}")
    s = HttpSender(parse_destination_conf(conf), ack_timeout=0.1,  # type: ignore[arg-type]
                   ack_poll_interval=0.02)
    result = s.send(BODY, META)
    assert (result.ok, result.retryable) == (False, True)
    assert "not confirmed" in result.message


@pytest.mark.parametrize(
    ("token", "status", "code"), [("wrong", 403, 4)],
)
def test_splunk_bad_token_is_final(hec_receiver: HecReceiver, token: str, status: int,
                                   code: int) -> None:
    conf = (f"splunk://127.0.0.1:{hec_receiver.port}/services/collector/raw?channel={CHANNEL}"
            f"&insecure-skip-verify=true&header_Authorization=Splunk%20{token}")
    result = make_sender(parse_destination_conf(conf)).send(BODY, META)
    assert (result.ok, result.retryable, result.status) == (False, False, status)
    assert f'"code":{code}' in result.message


def test_splunk_server_busy_is_retryable(hec_receiver: HecReceiver) -> None:
    hec_receiver.script.append((503, b'{"text":"Server is busy","code":9}'))
    conf = (f"splunk://127.0.0.1:{hec_receiver.port}/services/collector/raw?channel={CHANNEL}"
            f"&insecure-skip-verify=true&header_Authorization=Splunk%20{HEC_TOKEN}")
    s = make_sender(parse_destination_conf(conf))
    r1 = s.send(BODY, META)
    assert (r1.ok, r1.retryable, r1.status) == (False, True, 503)
    assert s.send(BODY, META).ok


def test_datadog(https_receiver: Receiver, tls_cert: Cert) -> None:
    conf = (f"datadog://127.0.0.1:{https_receiver.port}/api/v2/logs?header_DD-API-KEY=k123"
            f"&ddsource=cloudflare&service=nal")
    s = make_sender(parse_destination_conf(conf), verify=str(tls_cert.cert))
    assert s.send(BODY, META).ok
    [req] = https_receiver.received
    assert (req.path, req.headers["dd-api-key"]) == ("/api/v2/logs", "k123")
    assert req.query == {"ddsource": ["cloudflare"], "service": ["nal"]}
    assert req.body == RAW


def test_s3_put_and_read_back(moto_s3: str) -> None:
    client = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1",
                          aws_access_key_id="AK", aws_secret_access_key="SK")
    client.create_bucket(Bucket="nal-logs")
    port = moto_s3.rsplit(":", 1)[1]
    dest = parse_destination_conf(
        f"s3://nal-logs/logs/{{DATE}}?region=us-east-1&access-key-id=AK&secret-access-key=SK"
        f"&endpoint=http://127.0.0.1:{port}"
    )
    s = make_sender(dest)
    assert isinstance(s, ObjectSender)
    result = s.send(BODY, META)
    assert result.ok, result.message
    key = s.key(META)
    assert key.startswith("logs/20260101/20260101T000000Z_20260101T000030Z_")
    assert key.endswith(".log.gz")
    obj = client.get_object(Bucket="nal-logs", Key=key)
    assert gzip.decompress(obj["Body"].read()) == RAW
    # a retried batch lands on the same key
    assert s.send(BODY, META).ok
    listed = client.list_objects_v2(Bucket="nal-logs", Prefix="logs/")["Contents"]
    assert [o["Key"] for o in listed] == [key]


def test_s3_missing_bucket_is_final_and_refused_connection_retryable(moto_s3: str) -> None:
    port = moto_s3.rsplit(":", 1)[1]
    conf = ("s3://no-such-bucket/x?region=us-east-1&access-key-id=AK&secret-access-key=SK"
            f"&endpoint=http://127.0.0.1:{port}")
    r = make_sender(parse_destination_conf(conf)).send(BODY, META)
    assert (r.ok, r.retryable, r.status) == (False, False, 404)
    assert "NoSuchBucket" in r.message
    dead = free_port()
    conf = ("s3://nal-logs/x?region=us-east-1&access-key-id=AK&secret-access-key=SK"
            f"&endpoint=http://127.0.0.1:{dead}")
    r = make_sender(parse_destination_conf(conf)).send(BODY, META)
    assert (r.ok, r.retryable, r.status) == (False, True, None)


def test_r2_through_endpoint_override(moto_s3: str) -> None:
    client = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1",
                          aws_access_key_id="AK", aws_secret_access_key="SK")
    client.create_bucket(Bucket="r2-bucket")
    dest = parse_destination_conf(
        "r2://r2-bucket/nal?account-id=0123456789abcdef0123456789abcdef"
        "&access-key-id=AK&secret-access-key=SK"
    )
    s = make_sender(dest, endpoint_url=moto_s3)
    assert s.send(BODY, META).ok
    [obj] = client.list_objects_v2(Bucket="r2-bucket")["Contents"]
    assert obj["Key"].startswith("nal/20260101T000000Z_")
    got = client.get_object(Bucket="r2-bucket", Key=obj["Key"])["Body"].read()
    assert gzip.decompress(got) == RAW


def test_local_directory(tmp_path: Path) -> None:
    s = make_sender(parse_destination_conf(f"file://{tmp_path}/nal/{{DATE}}"))
    assert isinstance(s, LocalSender)
    result = s.send(BODY, META)
    assert result.ok
    [path] = (tmp_path / "nal" / "20260101").iterdir()
    assert path.name.startswith("20260101T000000Z_20260101T000030Z_")
    assert gzip.decompress(path.read_bytes()) == RAW
    assert str(path) == result.location


def test_local_directory_unwritable_is_final(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    s = make_sender(parse_destination_conf(f"file://{tmp_path}/file/sub"))
    r = s.send(BODY, META)
    assert (r.ok, r.retryable) == (False, False)


def test_websocket_has_no_sender() -> None:
    dest = parse_destination_conf("wss://127.0.0.1/instant-logs/ws/sessions/" + "a" * 32)
    with pytest.raises(ValueError):
        make_sender(dest)
