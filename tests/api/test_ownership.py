"""The ownership challenge: tokens, ``…/ownership`` writing a real file to a local directory
and to S3/R2 (moto's server on loopback), ``…/ownership/validate``, and job creation
requiring the challenge for AWS S3 without keys."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import boto3
import pytest
from api_support import ACCOUNT_A, ACCOUNT_B
from hypothesis import given, settings
from hypothesis import strategies as st
from ownership_support import (  # noqa: F401  (fixtures)
    Api,
    ScriptedIO,
    api,
    moto_s3,
)

from netlogpush.api.ownership import (
    KEY_FILE,
    TTL_SECONDS,
    ChallengeSigner,
    NetworkDestinationIO,
)
from netlogpush.logpush.delivery import SendResult
from netlogpush.logpush.destinations import parse_destination_conf

S3 = "s3://nal-logs/logs/{DATE}?region=us-east-1"
NOW = 1_767_225_600.0


# ---- tokens ----------------------------------------------------------------------------------


def test_token_round_trip_and_every_mismatch(tmp_path: Path) -> None:
    signer = ChallengeSigner(tmp_path)
    d = parse_destination_conf(S3)
    token = signer.issue(ACCOUNT_A, d, now=NOW)
    assert signer.check(token, ACCOUNT_A, d, now=NOW) is None
    # an equivalent spelling of the same conf is the same destination
    same = parse_destination_conf("s3://nal-logs/logs/{DATE}/?region=us-east-1")
    assert signer.check(token, ACCOUNT_A, same, now=NOW + TTL_SECONDS - 1) is None
    assert signer.check(token, ACCOUNT_B, d, now=NOW) == "was issued for another account"
    other = parse_destination_conf("s3://nal-logs/other?region=us-east-1")
    assert signer.check(token, ACCOUNT_A, other, now=NOW) == "was issued for another destination"
    sse = parse_destination_conf(S3 + "&sse=AES256")
    assert (signer.check(token, ACCOUNT_A, sse, now=NOW)
            == "was issued for a different destination_conf")  # fmt: skip
    assert signer.check(token, ACCOUNT_A, d, now=NOW + TTL_SECONDS) == (
        "has expired (tokens are valid for 7 days); request a new one"
    )


def test_forged_tokens_are_refused(tmp_path: Path) -> None:
    signer = ChallengeSigner(tmp_path)
    d = parse_destination_conf(S3)
    token = signer.issue(ACCOUNT_A, d, now=NOW)
    header, payload, sig = token.split(".")
    flipped = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
    assert signer.check(f"{header}.{payload}.{flipped}", ACCOUNT_A, d, now=NOW) == (
        "was not issued by this server"
    )
    none = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    assert signer.check(f"{none}.{payload}.", ACCOUNT_A, d, now=NOW) == ("is not a challenge token")
    other_server = ChallengeSigner(tmp_path / "elsewhere")
    assert other_server.check(token, ACCOUNT_A, d, now=NOW) == "was not issued by this server"
    assert signer.check("", ACCOUNT_A, d) == "is empty or too long"
    assert signer.check("a.b", ACCOUNT_A, d) == "is not a challenge token"


def test_key_is_private_and_survives_restarts(tmp_path: Path) -> None:
    d = parse_destination_conf(S3)
    token = ChallengeSigner(tmp_path).issue(ACCOUNT_A, d, now=NOW)
    assert stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode) == 0o600
    assert len((tmp_path / KEY_FILE).read_bytes()) == 32
    assert ChallengeSigner(tmp_path).check(token, ACCOUNT_A, d, now=NOW) is None
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no temporary file left


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.text(max_size=400), st.lists(st.text(max_size=60), min_size=3, max_size=3).map(".".join)
    )
)
def test_check_never_raises(text: str) -> None:
    signer = _FUZZ_SIGNER
    assert isinstance(signer.check(text, ACCOUNT_A, _FUZZ_DEST), str)


_FUZZ_SIGNER = ChallengeSigner.__new__(ChallengeSigner)
_FUZZ_SIGNER.key = b"k" * 32
_FUZZ_DEST = parse_destination_conf(S3)


# ---- the routes, with a scripted IO ----------------------------------------------------------


def test_ownership_then_validate_then_create(tmp_path: Path) -> None:
    io = ScriptedIO()
    with api(tmp_path, io) as a:
        status, body = a.post("ownership", {"destination_conf": S3})
        assert status == 200
        assert body["result"] == {
            "filename": "nal-logs/logs/ownership-challenge.txt",
            "message": "",
            "valid": True,
        }
        [(where, token)] = io.writes
        assert where == S3
        ok = {"destination_conf": S3, "ownership_challenge": token}
        assert a.post("ownership/validate", ok)[1]["result"] == {"valid": True}
        bad = {"destination_conf": S3, "ownership_challenge": token[:-3] + "xyz"}
        assert a.post("ownership/validate", bad)[1]["result"] == {"valid": False}
        # another account's token does not pass for this one
        status, body = a.post("ownership/validate", ok, token=a.write_b, account=ACCOUNT_B)
        assert (status, body["result"]) == (200, {"valid": False})

        job = {"destination_conf": S3, "dataset": "network_analytics_logs"}
        status, body = a.post("jobs", job)
        assert status == 400
        assert body["errors"] == [
            {
                "code": 1002,
                "message": (
                    "ownership_challenge: is required for this destination (s3 without access keys); "
                    "get one with POST /accounts/{account_id}/logpush/ownership"
                ),
            }
        ]
        status, body = a.post("jobs", {**job, "ownership_challenge": bad["ownership_challenge"]})
        assert (status, body["errors"]) == (
            400,
            [{"code": 1002, "message": "ownership_challenge: was not issued by this server"}],
        )
        assert a.client.get(a.url("jobs"), headers=a.h()).json()["result"] == []
        status, body = a.post("jobs", {**job, "ownership_challenge": token})
        assert status == 200, body
        job_id = body["result"]["id"]
        assert "ownership_challenge" not in body["result"]
        assert io.uploads == []  # storage gets no HTTPS test upload

        # PUT: same destination needs nothing; a new one needs its own challenge
        put = a.url(f"jobs/{job_id}")
        assert a.client.put(put, headers=a.h(), json={"name": "x"}).status_code == 200
        moved = "s3://nal-logs/moved?region=us-east-1"
        r = a.client.put(
            put, headers=a.h(), json={"destination_conf": moved, "ownership_challenge": token}
        )
        assert (r.status_code, r.json()["errors"]) == (
            400,
            [{"code": 1002, "message": "ownership_challenge: was issued for another destination"}],
        )
        a.post("ownership", {"destination_conf": moved})
        r = a.client.put(
            put,
            headers=a.h(),
            json={"destination_conf": moved, "ownership_challenge": io.writes[-1][1]},
        )
        assert r.status_code == 200 and r.json()["result"]["destination_conf"] == moved


def test_ownership_answers_for_other_cases(tmp_path: Path) -> None:
    io = ScriptedIO(write=SendResult(False, True, 403, "S3 AccessDenied: denied"))
    with api(tmp_path, io) as a:
        assert a.post("ownership", {"destination_conf": S3})[1]["result"] == {
            "filename": "nal-logs/logs/ownership-challenge.txt",
            "message": "error writing ownership challenge: S3 AccessDenied: denied",
            "valid": False,
        }
        https = "https://127.0.0.1:9/in"
        assert a.post("ownership", {"destination_conf": https})[1]["result"] == {
            "filename": "",
            "message": "http destinations take no ownership challenge",
            "valid": False,
        }
        status, body = a.post("ownership", {"destination_conf": "ftp://x/y"})
        assert status == 400
        assert body["errors"][0]["message"].startswith("destination_conf: scheme: unsupported")
        status, body = a.post("ownership/validate", {"destination_conf": S3})
        assert (status, body["errors"]) == (
            400,
            [{"code": 1001, "message": "ownership_challenge: is required"}],
        )
        # Logs Read is not enough; no token at all is 401 (before the body is read)
        assert a.post("ownership", {"destination_conf": S3}, token=a.read_a)[0] == 403
        r = a.client.post(a.url("ownership"), json={"destination_conf": S3})
        assert r.status_code == 401
        assert len(io.writes) == 1
    with api(tmp_path / "offline", None) as a:
        assert a.post("ownership", {"destination_conf": S3})[1]["result"] == {
            "filename": "nal-logs/logs/ownership-challenge.txt",
            "message": "this server does not contact destinations (no destination_io configured)",
            "valid": False,
        }


# ---- real destinations -----------------------------------------------------------------------


def test_local_directory_gets_a_real_challenge_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    conf = f"file://{out}/nal/{{DATE}}"
    with api(tmp_path / "data", NetworkDestinationIO()) as a:
        status, body = a.post("ownership", {"destination_conf": conf})
        assert (status, body["result"]) == (
            200,
            {"filename": f"{out}/nal/ownership-challenge.txt", "message": "", "valid": True},
        )
        token = (out / "nal" / "ownership-challenge.txt").read_text()
        check = {"destination_conf": conf, "ownership_challenge": token}
        assert a.post("ownership/validate", check)[1]["result"] == {"valid": True}
        # a local directory does not require the challenge, but accepts one
        status, _ = a.post("jobs", {**check, "dataset": "network_analytics_logs"})
        assert status == 200
        # an unwritable place answers valid=false with the reason
        (tmp_path / "file").write_text("x")
        blocked = f"file://{tmp_path}/file/sub"
        result = a.post("ownership", {"destination_conf": blocked})[1]["result"]
        assert isinstance(result, dict) and result["valid"] is False
        assert result["message"].startswith("error writing ownership challenge: ")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The server's own AWS credentials (boto3's default chain), which S3 without keys uses:
    Cloudflare's IAM user, here."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "server-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


def _s3(moto: str) -> Any:
    return boto3.session.Session().client(
        "s3", endpoint_url=moto, region_name="us-east-1",
        aws_access_key_id="server-key", aws_secret_access_key="server-secret",
    )  # fmt: skip


def test_s3_challenge_is_written_and_read_back(
    tmp_path: Path,
    moto_s3: str,  # noqa: F811
    aws_env: None,
) -> None:
    s3 = _s3(moto_s3)
    s3.create_bucket(Bucket="nal-logs")
    with api(tmp_path, NetworkDestinationIO(endpoint_url=moto_s3)) as a:
        status, body = a.post("ownership", {"destination_conf": S3})
        assert (status, body["result"]) == (
            200,
            {"filename": "nal-logs/logs/ownership-challenge.txt", "message": "", "valid": True},
        )
        token = (
            s3.get_object(Bucket="nal-logs", Key="logs/ownership-challenge.txt")["Body"]
            .read()
            .decode()
        )
        assert token.count(".") == 2
        job = {
            "destination_conf": S3,
            "dataset": "network_analytics_logs",
            "ownership_challenge": token,
        }
        status, body = a.post("jobs", job)
        assert status == 200, body
        # a bucket that does not exist: the write fails and says why
        missing = "s3://no-such-bucket/x?region=us-east-1"
        result = a.post("ownership", {"destination_conf": missing})[1]["result"]
        assert isinstance(result, dict) and result["valid"] is False
        assert "NoSuchBucket" in result["message"]


def test_r2_with_keys_needs_no_challenge_but_gets_the_file(
    tmp_path: Path,
    moto_s3: str,  # noqa: F811
    aws_env: None,
) -> None:
    _s3(moto_s3).create_bucket(Bucket="r2-logs")
    conf = ("r2://r2-logs/nal/{DATE}?account-id=" + "ab" * 16
            + "&access-key-id=r2key&secret-access-key=r2secret")  # fmt: skip
    with api(tmp_path, NetworkDestinationIO(endpoint_url=moto_s3)) as a:
        status, body = a.post(
            "jobs", {"destination_conf": conf, "dataset": "network_analytics_logs"}
        )
        assert status == 200, body
        result = a.post("ownership", {"destination_conf": conf})[1]["result"]
        assert result == {
            "filename": "r2-logs/nal/ownership-challenge.txt",
            "message": "",
            "valid": True,
        }
        got = _s3(moto_s3).get_object(Bucket="r2-logs", Key="nal/ownership-challenge.txt")
        token = got["Body"].read().decode()
        # the file never carries the conf (it holds R2 keys), only a digest of it
        payload = token.split(".")[1]
        claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        assert b"r2secret" not in claims and b"r2key" not in claims
        check = {"destination_conf": conf, "ownership_challenge": token}
        assert a.post("ownership/validate", check)[1]["result"] == {"valid": True}


def test_api_type_exports() -> None:
    # The Api helper's url() builds the documented paths.
    assert Api.url(Api.__new__(Api), "ownership") == (
        f"/client/v4/accounts/{ACCOUNT_A}/logpush/ownership"
    )
