"""Logpush job routes: create, list, get, update, delete, datasets; validation; persistence."""

from __future__ import annotations

import json
import logging
import stat
from datetime import UTC, datetime
from typing import Any

import pytest
from api_support import ACCOUNT_A, HEC_SECRET, SPLUNK_CONF, Env
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlogpush.api import ApiState, create_app
from netlogpush.dataset.fields import fields_api_result

FULL = {
    "dataset": "network_analytics_logs",
    "destination_conf": "https://logs.example.com/in?tags=nal&header_Authorization=Basic%20c2VjcmV0",
    "enabled": False,
    "kind": "",
    "name": "nal.to-https",
    "frequency": "low",
    "filter": '{"where":{"and":[{"key":"Outcome","operator":"eq","value":"drop"},'
    '{"key":"DestinationPort","operator":"in","value":[53,123]}]}}',
    "output_options": {
        "field_names": ["Datetime", "IPSourceAddress", "Outcome"],
        "output_type": "csv",
        "batch_prefix": "Datetime,IPSourceAddress,Outcome\n",
        "timestamp_format": "rfc3339",
        "sample_rate": 0.5,
        "CVE-2021-44228": True,
    },
    "max_upload_bytes": 5_000_000,
    "max_upload_records": 1_000,
    "max_upload_interval_seconds": 300,
    "filter_attack_traffic": True,
    "ownership_challenge": "00000000000000000000",
}


def _expected(job_id: int, **over: Any) -> dict[str, Any]:
    job = {k: v for k, v in FULL.items() if k != "ownership_challenge"}
    job.update(id=job_id, logpull_options=None, last_complete=None, last_error=None)
    job.update(error_message=None, **over)
    return job


def test_create_and_get_complete_job(env: Env) -> None:
    r = env.client.post(env.jobs_url(), headers=env.h(env.write_a), json=FULL)
    assert r.status_code == 200
    body = r.json()
    assert (body["success"], body["errors"], body["messages"]) == (True, [], [])
    assert body["result"] == _expected(1)
    got = env.client.get(env.jobs_url(job_id=1), headers=env.h(env.write_a)).json()
    assert got["result"] == _expected(1)


def test_defaults_of_a_minimal_job(env: Env) -> None:
    job = env.create()
    assert job == {
        "id": 1,
        "dataset": "network_analytics_logs",
        "frequency": "high",
        "kind": "",
        "enabled": False,  # "by default a job is not enabled"
        "name": None,
        "logpull_options": None,
        "output_options": None,
        "filter": None,
        "destination_conf": SPLUNK_CONF,
        "max_upload_bytes": None,
        "max_upload_records": None,
        "max_upload_interval_seconds": None,
        "filter_attack_traffic": None,
        "last_complete": None,
        "last_error": None,
        "error_message": None,
    }


def test_logpull_options_are_kept_and_validated(env: Env) -> None:
    job = env.create(
        logpull_options="fields=Datetime,Outcome&timestamps=rfc3339&CVE-2021-44228=true"
    )
    assert (
        job["logpull_options"] == "fields=Datetime,Outcome&timestamps=rfc3339&CVE-2021-44228=true"
    )


def test_list_and_dataset_jobs(env: Env) -> None:
    a, b = env.create(name="one"), env.create(name="two")
    h = env.h(env.write_a)
    listed = env.client.get(env.jobs_url(), headers=h).json()["result"]
    assert [j["id"] for j in listed] == [a["id"], b["id"]]
    url = f"/client/v4/accounts/{ACCOUNT_A}/logpush/datasets/network_analytics_logs/jobs"
    assert env.client.get(url, headers=h).json()["result"] == listed
    url = f"/client/v4/accounts/{ACCOUNT_A}/logpush/datasets/http_requests/jobs"
    r = env.client.get(url, headers=h)
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {
            "code": 1001,
            "message": "dataset_id: must be network_analytics_logs (the only dataset this server has)",
        }
    ]


def test_dataset_fields(env: Env) -> None:
    url = f"/client/v4/accounts/{ACCOUNT_A}/logpush/datasets/network_analytics_logs/fields"
    r = env.client.get(url, headers=env.h(env.write_a))
    assert r.status_code == 200
    result = r.json()["result"]
    assert result == fields_api_result()
    assert len(result) == 84 and "Datetime" in result and "IPSourceAddress" in result


def test_update_is_partial(env: Env) -> None:
    env.client.post(env.jobs_url(), headers=env.h(env.write_a), json=FULL)
    r = env.client.put(
        env.jobs_url(job_id=1),
        headers=env.h(env.write_a),
        json={
            "name": "renamed",
            "filter": None,
            "max_upload_records": 0,
            "dataset": FULL["dataset"],
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["result"] == _expected(1, name="renamed", filter=None, max_upload_records=0)


def test_update_rejects_create_only_fields(env: Env) -> None:
    env.create()
    r = env.client.put(
        env.jobs_url(job_id=1),
        headers=env.h(env.write_a),
        json={"dataset": "dns_logs", "kind": "edge", "destination_conf": None},
    )
    assert r.status_code == 400
    assert [e["message"] for e in r.json()["errors"]] == [
        "dataset: cannot be changed after the job is created",
        "kind: cannot be changed after the job is created",
        "destination_conf: cannot be null",
    ]


def test_update_validates_the_merged_job(env: Env) -> None:
    env.create()
    r = env.client.put(
        env.jobs_url(job_id=1),
        headers=env.h(env.write_a),
        json={"output_options": {"field_names": ["NoSuchField"]}},
    )
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {
            "code": 1001,
            "message": "output_options.field_names: unknown field 'NoSuchField' of network_analytics_logs",
        }
    ]


def test_enabling_clears_last_complete_and_outcomes_show(env: Env) -> None:
    state: ApiState = env.client.app.state.api  # type: ignore[attr-defined]
    env.create(enabled="true")
    t1 = datetime(2026, 11, 27, 10, 1, tzinfo=UTC)
    state.jobs.record_success(1, t1)
    state.jobs.record_failure(1, datetime(2026, 11, 27, 10, 2, tzinfo=UTC), "error uploading: 503")
    h = env.h(env.write_a)
    job = env.client.get(env.jobs_url(job_id=1), headers=h).json()["result"]
    assert (job["last_complete"], job["last_error"], job["error_message"]) == (
        "2026-11-27T10:01:00Z",
        "2026-11-27T10:02:00Z",
        "error uploading: 503",
    )
    state.jobs.record_success(1, datetime(2026, 11, 27, 10, 3, tzinfo=UTC))
    job = env.client.get(env.jobs_url(job_id=1), headers=h).json()["result"]
    assert (job["last_complete"], job["last_error"], job["error_message"]) == (
        "2026-11-27T10:03:00Z",
        None,
        None,
    )
    env.client.put(env.jobs_url(job_id=1), headers=h, json={"enabled": False})
    job = env.client.put(env.jobs_url(job_id=1), headers=h, json={"enabled": "true"}).json()
    assert job["result"]["enabled"] is True and job["result"]["last_complete"] is None


def test_delete(env: Env) -> None:
    env.create()
    env.create()
    h = env.h(env.write_a)
    r = env.client.delete(env.jobs_url(job_id=1), headers=h)
    assert (r.status_code, r.json()) == (
        200,
        {"errors": [], "messages": [], "result": {"id": 1}, "success": True},
    )
    r = env.client.get(env.jobs_url(job_id=1), headers=h)
    assert r.status_code == 404
    assert r.json()["errors"] == [
        {"code": 1003, "message": "job not found: no job 1 in this account"}
    ]
    assert env.client.delete(env.jobs_url(job_id=1), headers=h).status_code == 404
    # ids are never reused
    assert env.create()["id"] == 3


def test_jobs_persist_across_restarts(env: Env) -> None:
    env.client.post(env.jobs_url(), headers=env.h(env.write_a), json=FULL)
    env.create()
    env.client.delete(env.jobs_url(job_id=2), headers=env.h(env.write_a))
    path = env.data_dir / "jobs.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with TestClient(create_app(env.data_dir)) as again:
        h = env.h(env.write_a)
        assert again.get(env.jobs_url(job_id=1), headers=h).json()["result"] == _expected(1)
        body = {"destination_conf": SPLUNK_CONF, "dataset": "network_analytics_logs"}
        assert again.post(env.jobs_url(), headers=h, json=body).json()["result"]["id"] == 3


def test_max_jobs_limit(tmp_path: Any) -> None:
    from netlogpush.api import create_token

    token = create_token(tmp_path, ACCOUNT_A, ["logs:write"])
    app = create_app(ApiState(tmp_path, max_jobs_per_dataset=1))
    body = {"destination_conf": SPLUNK_CONF, "dataset": "network_analytics_logs"}
    with TestClient(app) as c:
        url, h = (
            f"/client/v4/accounts/{ACCOUNT_A}/logpush/jobs",
            {"Authorization": f"Bearer {token}"},
        )
        assert c.post(url, headers=h, json=body).status_code == 200
        r = c.post(url, headers=h, json=body)
        assert r.status_code == 400
        assert r.json()["errors"] == [
            {
                "code": 1004,
                "message": "creating a new job is not allowed: exceeded max jobs allowed",
            }
        ]


R = "must be 0 or between"
CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"max_upload_bytes": 5}, [f"max_upload_bytes: {R} 5,000,000 and 1,000,000,000, got 5"]),
    ({"max_upload_records": 1_000_001}, [f"max_upload_records: {R} 1,000 and 1,000,000, got 1,000,001"]),
    ({"max_upload_interval_seconds": 29}, [f"max_upload_interval_seconds: {R} 30 and 300, got 29"]),
    ({"max_upload_records": "1000"}, ["max_upload_records: must be an integer"]),
    ({"max_upload_bytes": True}, ["max_upload_bytes: must be an integer"]),
    ({"frequency": "medium"}, ["frequency: input should be 'high' or 'low'"]),
    ({"name": "bad name!"}, ["name: string should match pattern '^[a-zA-Z0-9\\-\\.]*$'"]),
    ({"name": "n" * 513}, ["name: string should have at most 512 characters"]),
    ({"dataset": "http_requests"}, ["dataset: must be network_analytics_logs (the only dataset this server has)"]),
    ({"dataset": "a b"}, ["dataset: string should match pattern '^[a-zA-Z0-9_\\-]*$'"]),
    ({"destination_conf": "ftp://x/y"}, ['destination_conf: scheme: unsupported scheme "ftp" (supported: datadog, file, http, https, r2, s3, splunk, ws, wss)']),
    ({"destination_conf": "https://l.example.com:99999/?header_Authorization=Basic%20zz"}, ["destination_conf: port: must be a number from 1 to 65535, got 99999"]),
    ({"destination_conf": "https://l.example.com/" + "a" * 4096}, ["destination_conf: string should have at most 4096 characters"]),
    ({"filter": '{"where":{"key":"Nope","operator":"eq","value":1}}'}, ["filter.where.key: 'Nope' is not a field of network_analytics_logs [key]"]),
    ({"filter": "{"}, ["filter: not JSON: unexpected end of data: line 1 column 2 (char 1) [json]"]),
    ({"output_options": {"bogus": 1}}, ["output_options.bogus: extra inputs are not permitted"]),
    ({"output_options": {"sample_rate": 0}}, ["output_options.sample_rate: input should be greater than 0"]),
    ({"logpull_options": "fields=Datetime&x=1"}, ["logpull_options.x: not a logpull_options parameter"]),
    ({"enabled": "yes"}, ['enabled: must be true or false (JSON boolean, or the string "true"/"false")']),
    ({"enabled": 1}, ['enabled: must be true or false (JSON boolean, or the string "true"/"false")']),
    ({"kind": "edge"}, ['kind: "edge" is only available for the http_requests dataset']),
    ({"ownership_challenge": "a b"}, ["ownership_challenge: string should match pattern '^[a-zA-Z0-9/\\+\\.\\-_]*$'"]),
    ({"destination_conf": None}, ["destination_conf: input should be a valid string"]),
    (
        {"max_upload_bytes": 5, "max_upload_records": 5, "dataset": "dns_logs"},
        [
            "dataset: must be network_analytics_logs (the only dataset this server has)",
            f"max_upload_bytes: {R} 5,000,000 and 1,000,000,000, got 5",
            f"max_upload_records: {R} 1,000 and 1,000,000, got 5",
        ],
    ),
]  # fmt: skip


@pytest.mark.parametrize("over,messages", CASES)
def test_validation_names_field_and_rule(
    env: Env, over: dict[str, Any], messages: list[str]
) -> None:
    body = {"destination_conf": SPLUNK_CONF, "dataset": "network_analytics_logs", **over}
    r = env.client.post(env.jobs_url(), headers=env.h(env.write_a), json=body)
    assert r.status_code == 400
    assert r.json() == {
        "errors": [{"code": 1001, "message": m} for m in messages],
        "messages": [],
        "result": None,
        "success": False,
    }
    assert env.client.get(env.jobs_url(), headers=env.h(env.write_a)).json()["result"] == []


def test_malformed_bodies_and_routes(env: Env) -> None:
    h = env.h(env.write_a)
    r = env.client.post(
        env.jobs_url(), headers={**h, "content-type": "application/json"}, content=b"{no"
    )
    assert (r.status_code, r.json()["errors"]) == (
        400,
        [{"code": 1005, "message": "body: is not valid JSON"}],
    )
    r = env.client.post(env.jobs_url(), headers=h, json=[1])
    assert r.json()["errors"] == [{"code": 1001, "message": "body: must be a JSON object"}]
    r = env.client.post(env.jobs_url(), headers=h, json={"dataset": "network_analytics_logs"})
    assert r.json()["errors"] == [{"code": 1001, "message": "destination_conf: is required"}]
    r = env.client.get("/client/v4/accounts/XYZ/logpush/jobs", headers=h)
    assert (r.status_code, r.json()["errors"]) == (
        400,
        [
            {
                "code": 7003,
                "message": "Could not route to /client/v4/accounts/XYZ/logpush/jobs, perhaps your object identifier is invalid?",
            }
        ],
    )
    r = env.client.get(env.jobs_url(job_id=0), headers=h)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 7003
    r = env.client.get("/client/v4/nope", headers=h)
    assert (r.status_code, r.json()["errors"]) == (
        404,
        [{"code": 7003, "message": "No route for the URI"}],
    )
    r = env.client.patch(env.jobs_url(), headers=h)
    assert (r.status_code, r.json()["errors"]) == (
        405,
        [{"code": 7001, "message": "Method not allowed"}],
    )


def test_destination_secrets_are_never_logged(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    h = env.h(env.write_a)
    env.create(enabled=True)
    env.client.put(
        env.jobs_url(job_id=1),
        headers=h,
        json={"destination_conf": SPLUNK_CONF + "&sourcetype=cloudflare:json"},
    )
    bad = SPLUNK_CONF.replace(":8088", ":99999")
    r = env.client.post(
        env.jobs_url(),
        headers=h,
        json={"destination_conf": bad, "dataset": "network_analytics_logs"},
    )
    assert r.status_code == 400 and HEC_SECRET not in r.text
    env.client.delete(env.jobs_url(job_id=1), headers=h)
    assert "logpush job 1 created" in caplog.text
    assert HEC_SECRET not in caplog.text


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_keys = st.sampled_from([*FULL, "token", "id", "last_error"])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(_json, st.dictionaries(_keys, _json, max_size=8)))
def test_fuzz_create_never_fails_unexpectedly(env: Env, body: Any) -> None:
    r = env.client.post(env.jobs_url(), headers=env.h(env.write_a), json=body)
    assert r.status_code in (200, 400), r.text
    doc = r.json()
    assert set(doc) == {"errors", "messages", "result", "success"}
    assert doc["success"] is (r.status_code == 200)
    if r.status_code == 400:
        assert doc["errors"] and all(
            e["code"] >= 1000 and ": " in e["message"] for e in doc["errors"]
        )
    json.dumps(doc)


def test_405_lists_every_method_of_the_path(env: Env) -> None:
    r = env.client.patch(env.jobs_url(), headers=env.h(env.write_a))
    assert (r.status_code, r.headers["allow"]) == (405, "GET, POST")
    r = env.client.post(env.jobs_url(job_id=1), headers=env.h(env.write_a))
    assert (r.status_code, r.headers["allow"]) == (405, "DELETE, GET, PUT")


def test_output_options_typo_key_is_normalised(env: Env) -> None:
    # OAS-2024 spells the key "CVE-2021-4428"; the job shows the documented spelling.
    job = env.create(output_options={"CVE-2021-4428": True, "field_names": ["Datetime"]})
    assert job["output_options"] == {
        "field_names": ["Datetime"],
        "output_type": "ndjson",
        "timestamp_format": "unixnano",
        "sample_rate": 1.0,
        "CVE-2021-44228": True,
    }
