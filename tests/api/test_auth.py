"""Tokens: creation, hashed storage, /user/tokens/verify, 401/403 envelopes, account isolation."""

from __future__ import annotations

import hashlib
import json
import stat

import pytest
from api_support import ACCOUNT_A, ACCOUNT_B, FORBIDDEN, INVALID, MISSING, Env, error_body
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlogpush.api import create_token
from netlogpush.api.auth import TokenError

VERIFY = "/client/v4/user/tokens/verify"


def _routes(account: str, job_id: int = 1) -> list[tuple[str, str]]:
    base = f"/client/v4/accounts/{account}/logpush"
    return [
        ("GET", f"{base}/jobs"),
        ("POST", f"{base}/jobs"),
        ("GET", f"{base}/jobs/{job_id}"),
        ("PUT", f"{base}/jobs/{job_id}"),
        ("DELETE", f"{base}/jobs/{job_id}"),
        ("GET", f"{base}/datasets/network_analytics_logs/fields"),
        ("GET", f"{base}/datasets/network_analytics_logs/jobs"),
    ]


def test_verify_valid_token(env: Env) -> None:
    r = env.client.get(VERIFY, headers=env.h(env.read_a))
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["errors"] == []
    assert body["messages"] == [{"code": 10000, "message": "This API Token is valid and active"}]
    assert body["result"]["status"] == "active"
    assert len(body["result"]["id"]) == 32


def test_verify_bad_and_missing_token(env: Env) -> None:
    r = env.client.get(VERIFY, headers=env.h("x" * 40))
    assert r.status_code == 401
    assert r.json() == error_body((1000, "Invalid API Token"))
    r = env.client.get(VERIFY)
    assert (r.status_code, r.json()) == (401, MISSING)


@pytest.mark.parametrize("method,url", _routes(ACCOUNT_A))
def test_every_route_needs_a_token(env: Env, method: str, url: str) -> None:
    r = env.client.request(method, url, json={})
    assert (r.status_code, r.json()) == (401, MISSING)
    r = env.client.request(method, url, json={}, headers=env.h("not-a-real-token"))
    assert (r.status_code, r.json()) == (401, INVALID)
    # A non-Bearer scheme carrying a real token is not accepted either.
    r = env.client.request(method, url, json={}, headers={"Authorization": f"Basic {env.write_a}"})
    assert (r.status_code, r.json()) == (401, INVALID)


def test_legacy_key_headers_are_unknown(env: Env) -> None:
    r = env.client.get(
        env.jobs_url(), headers={"X-Auth-Email": "a@example.com", "X-Auth-Key": "k" * 37}
    )
    assert r.status_code == 401
    assert r.json()["errors"] == [{"code": 9103, "message": "Unknown X-Auth-Key or X-Auth-Email"}]


@pytest.mark.parametrize("method,url", _routes(ACCOUNT_A))
def test_read_only_token_is_forbidden(env: Env, method: str, url: str) -> None:
    # "all Logpush API operations require Logs: Write" (permissions.mdx), reads included.
    r = env.client.request(method, url, json={}, headers=env.h(env.read_a))
    assert (r.status_code, r.json()) == (403, FORBIDDEN)


@pytest.mark.parametrize("method,url", _routes(ACCOUNT_A))
def test_other_accounts_token_is_forbidden(env: Env, method: str, url: str) -> None:
    env.create(name="a-job")
    r = env.client.request(method, url, json={}, headers=env.h(env.write_b))
    assert (r.status_code, r.json()) == (403, FORBIDDEN)


def test_job_ids_of_another_account_are_not_found(env: Env) -> None:
    job = env.create(name="secret-job")
    url = env.jobs_url(ACCOUNT_B, job["id"])
    hb = env.h(env.write_b)
    for method in ("GET", "PUT", "DELETE"):
        r = env.client.request(method, url, json={"name": "x"}, headers=hb)
        assert r.status_code == 404, method
        assert r.json()["errors"] == [
            {"code": 1003, "message": f"job not found: no job {job['id']} in this account"}
        ]
    assert env.client.get(env.jobs_url(ACCOUNT_B), headers=hb).json()["result"] == []
    # ...and the job is untouched in its own account.
    r = env.client.get(env.jobs_url(ACCOUNT_A, job["id"]), headers=env.h(env.write_a))
    assert r.json()["result"]["name"] == "secret-job"


def test_tokens_are_stored_hashed(env: Env) -> None:
    path = env.data_dir / "tokens.json"
    text = path.read_text()
    for secret in (env.write_a, env.read_a, env.write_b):
        assert secret not in text
        assert hashlib.sha256(secret.encode()).hexdigest() in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(text)
    assert sorted(doc["accounts"]) == [ACCOUNT_A, ACCOUNT_B]
    assert [t["permissions"] for t in doc["tokens"]] == [
        ["logs:write"],
        ["logs:read"],
        ["logs:write"],
    ]
    assert len(env.write_a) == 40


def test_token_created_while_serving_is_accepted(env: Env) -> None:
    late = create_token(env.data_dir, ACCOUNT_A, ["logs:write"])
    assert env.client.get(env.jobs_url(), headers=env.h(late)).status_code == 200


def test_create_token_rejects_bad_input(env: Env) -> None:
    with pytest.raises(TokenError, match="account: 'ABC' is not 32 lower-case hex"):
        create_token(env.data_dir, "ABC", ["logs:write"])
    with pytest.raises(TokenError, match="permission: 'dns:edit' is not one of"):
        create_token(env.data_dir, ACCOUNT_A, ["dns:edit"])
    with pytest.raises(TokenError, match="permission: give at least one"):
        create_token(env.data_dir, ACCOUNT_A, [])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(header=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=300))
def test_fuzz_authorization_header(env: Env, header: str) -> None:
    r = env.client.get(env.jobs_url(), headers={"Authorization": header})
    assert r.status_code in (401, 403) or header.strip().lower().endswith(env.write_a.lower())
    assert r.json()["success"] is (r.status_code == 200)
