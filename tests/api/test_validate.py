"""``validate/destination``, ``validate/destination/exists``, ``validate/origin``, and the
gzipped ``test.txt.gz`` upload an HTTPS or Splunk endpoint must accept when a job is
created: against a scripted IO and against real loopback receivers (HTTPS with a self-signed
certificate, a Splunk HEC receiver)."""

from __future__ import annotations

import socket
from pathlib import Path

from api_support import ACCOUNT_B, SPLUNK_CONF
from ownership_support import (  # noqa: F401  (fixtures)
    CHANNEL,
    HEC_TOKEN,
    Cert,
    HecReceiver,
    Receiver,
    ScriptedIO,
    api,
    hec_receiver,
    https_receiver,
    tls_cert,
)

from netlogpush.api.ownership import TEST_CONTENT, NetworkDestinationIO
from netlogpush.api.validate import UPLOAD_ERROR
from netlogpush.logpush.delivery import SendResult

DATASET = "network_analytics_logs"
S3 = "s3://nal-logs/logs?region=us-east-1"


def _https(port: int) -> str:
    return f"https://127.0.0.1:{port}/in?tags=nal&header_Authorization=Basic%20c2VjcmV0"


# ---- scripted IO: no receivers ---------------------------------------------------------------


def test_create_runs_the_test_upload_and_refuses_on_failure(tmp_path: Path) -> None:
    io = ScriptedIO(upload=SendResult(False, False, 400, "HTTP 400: nope"))
    with api(tmp_path, io) as a:
        status, body = a.post("jobs", {"destination_conf": SPLUNK_CONF, "dataset": DATASET})
        assert (status, body["errors"]) == (
            400,
            [{"code": 1002, "message": f"{UPLOAD_ERROR}: HTTP 400: nope"}],
        )
        assert body["result"] is None
        assert a.client.get(a.url("jobs"), headers=a.h()).json()["result"] == []
        io.upload = SendResult(True, status=200)
        status, body = a.post("jobs", {"destination_conf": SPLUNK_CONF, "dataset": DATASET})
        assert status == 200
        assert len(io.uploads) == 2
        # a local directory and S3 with keys get no test upload
        status, _ = a.post("jobs", {"destination_conf": f"file://{tmp_path}/o", "dataset": DATASET})
        assert status == 200
        assert len(io.uploads) == 2


def test_validate_destination_answers(tmp_path: Path) -> None:
    io = ScriptedIO()
    with api(tmp_path, io) as a:
        assert a.post("validate/destination", {"destination_conf": SPLUNK_CONF})[1] == {
            "errors": [],
            "messages": [],
            "success": True,
            "result": {"message": "", "valid": True},
        }
        assert a.post("validate/destination", {"destination_conf": "ftp://x/y"})[1]["result"] == {
            "message": 'invalid destination_conf: scheme: unsupported scheme "ftp" (supported: '
            "datadog, file, http, https, r2, s3, splunk, ws, wss)",
            "valid": False,
        }
        assert a.post("validate/destination", {"destination_conf": S3})[1]["result"] == {
            "message": "creating a job with this destination requires an ownership_challenge",
            "valid": True,
        }
        io.upload = SendResult(False, True, 503, "HTTP 503: busy")
        assert a.post("validate/destination", {"destination_conf": SPLUNK_CONF})[1]["result"] == {
            "message": f"{UPLOAD_ERROR}: HTTP 503: busy",
            "valid": False,
        }
        assert len(io.uploads) == 2
        status, body = a.post("validate/destination", {})
        assert (status, body["errors"]) == (
            400,
            [{"code": 1001, "message": "destination_conf: is required"}],
        )


def test_destination_exists_is_per_account(tmp_path: Path) -> None:
    with api(tmp_path, ScriptedIO()) as a:
        assert a.post("validate/destination/exists", {"destination_conf": SPLUNK_CONF})[1][
            "result"
        ] == {"exists": False}
        assert a.post("jobs", {"destination_conf": SPLUNK_CONF, "dataset": DATASET})[0] == 200
        assert a.post("validate/destination/exists", {"destination_conf": SPLUNK_CONF})[1][
            "result"
        ] == {"exists": True}
        # an equivalent spelling (parameters reordered) is the same destination
        reordered = "s3://b-1/x?sse=AES256&region=us-east-1&access-key-id=k&secret-access-key=s"
        plain = "s3://b-1/x?region=us-east-1&sse=AES256&access-key-id=k&secret-access-key=s"
        assert a.post("jobs", {"destination_conf": plain, "dataset": DATASET})[0] == 200
        assert a.post("validate/destination/exists", {"destination_conf": reordered})[1][
            "result"
        ] == {"exists": True}
        other = SPLUNK_CONF.replace(":8088", ":443")
        assert a.post("validate/destination/exists", {"destination_conf": other})[1]["result"] == {
            "exists": False
        }
        # another account's job is invisible
        status, body = a.post(
            "validate/destination/exists",
            {"destination_conf": SPLUNK_CONF},
            token=a.write_b,
            account=ACCOUNT_B,
        )
        assert (status, body["result"]) == (200, {"exists": False})
        assert a.post("validate/destination/exists", {"destination_conf": "x"})[0] == 400


def test_validate_origin(tmp_path: Path) -> None:
    cases = [
        ({"logpull_options": "fields=Datetime,ColoCode&timestamps=rfc3339"},
         {"message": "", "valid": True}),
        ({"logpull_options": "https://x/logs/received?fields=Datetime&sample=0.5",
          "dataset": DATASET}, {"message": "", "valid": True}),
        ({"logpull_options": "fields=Nope"}, {"valid": False, "message":
          "logpull_options.field_names: unknown field 'Nope' of network_analytics_logs"}),
        ({"logpull_options": "sample=abc&foo=1"}, {"valid": False, "message":
          "logpull_options.sample_rate: logpull sample='abc' is not a number; "
          "logpull_options.foo: not a logpull_options parameter"}),
        ({"logpull_options": "fields=Datetime", "dataset": "dns_logs"}, {"valid": False,
          "message": "dataset: must be network_analytics_logs (the only dataset this server has)"}),
    ]  # fmt: skip
    with api(tmp_path, None) as a:
        for body, result in cases:
            assert a.post("validate/origin", body)[1]["result"] == result, body
        status, answer = a.post("validate/origin", {"dataset": DATASET})
        assert (status, answer["errors"]) == (
            400,
            [{"code": 1001, "message": "logpull_options: is required"}],
        )
        assert a.post("validate/origin", {"logpull_options": ""}, token=a.read_a)[0] == 403


# ---- real receivers on loopback --------------------------------------------------------------


def test_https_endpoint_gets_the_gzipped_test_upload(
    tmp_path: Path,
    https_receiver: Receiver,  # noqa: F811
    tls_cert: Cert,  # noqa: F811
) -> None:
    io = NetworkDestinationIO(verify=str(tls_cert.cert))
    conf = _https(https_receiver.port)
    with api(tmp_path, io) as a:
        status, body = a.post("jobs", {"destination_conf": conf, "dataset": DATASET})
        assert status == 200, body
        [req] = https_receiver.received
        assert req.body == TEST_CONTENT == b'{"content":"tests"}'
        assert req.headers["content-encoding"] == "gzip"
        assert req.headers["authorization"] == "Basic c2VjcmV0"
        assert (req.path, req.query) == ("/in", {"tags": ["nal"]})
        job_id = body["result"]["id"]

        # the endpoint refuses: Cloudflare's error, and no job
        https_receiver.script.append((400, b'{"error":"no"}'))
        status, body = a.post("jobs", {"destination_conf": conf, "dataset": DATASET})
        assert (status, body["errors"]) == (
            400,
            [{"code": 1002, "message": f'{UPLOAD_ERROR}: HTTP 400: {{"error":"no"}}'}],
        )
        assert len(a.client.get(a.url("jobs"), headers=a.h()).json()["result"]) == 1

        # PUT without a new destination uploads nothing; a new one is tested
        put = a.url(f"jobs/{job_id}")
        assert a.client.put(put, headers=a.h(), json={"name": "n"}).status_code == 200
        assert https_receiver.attempts == 2
        moved = conf.replace("/in?", "/moved?")
        assert a.client.put(put, headers=a.h(), json={"destination_conf": moved}).status_code == 200
        assert [r.path for r in https_receiver.received] == ["/in", "/moved"]
        assert a.post("validate/destination", {"destination_conf": moved})[1]["result"] == {
            "message": "",
            "valid": True,
        }


def test_unreachable_or_untrusted_endpoint_fails_creation(
    tmp_path: Path,
    https_receiver: Receiver,  # noqa: F811
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens once the socket is closed
    with api(tmp_path, NetworkDestinationIO()) as a:
        status, body = a.post("jobs", {"destination_conf": _https(closed), "dataset": DATASET})
        assert status == 400
        assert body["errors"][0]["message"].startswith(f"{UPLOAD_ERROR}: ConnectError")
        # self-signed and not trusted by this server: refused, as Cloudflare refuses it
        status, body = a.post(
            "jobs", {"destination_conf": _https(https_receiver.port), "dataset": DATASET}
        )
        assert status == 400
        assert "CERTIFICATE_VERIFY_FAILED" in body["errors"][0]["message"]
        assert https_receiver.received == []


def test_splunk_hec_accepts_the_test_upload(
    tmp_path: Path,
    hec_receiver: HecReceiver,  # noqa: F811
) -> None:
    def conf(token: str) -> str:
        return (f"splunk://127.0.0.1:{hec_receiver.port}/services/collector/raw"
                f"?channel={CHANNEL}&insecure-skip-verify=true&sourcetype=cloudflare:json"
                f"&header_Authorization=Splunk%20{token}")  # fmt: skip

    with api(tmp_path, NetworkDestinationIO()) as a:
        status, body = a.post("jobs", {"destination_conf": conf(HEC_TOKEN), "dataset": DATASET})
        assert status == 200, body
        [req] = hec_receiver.received
        assert req.path == "/services/collector/raw"
        assert req.body == b'{"content":"tests"}'
        assert req.headers["x-splunk-request-channel"] == CHANNEL
        status, body = a.post("jobs", {"destination_conf": conf("wrong"), "dataset": DATASET})
        assert (status, body["errors"]) == (
            400,
            [
                {
                    "code": 1002,
                    "message": (f'{UPLOAD_ERROR}: HTTP 403: {{"text":"Invalid token","code":4}}'),
                }
            ],
        )
