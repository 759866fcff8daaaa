"""The seed article's walkthrough, step by step, against netlogpush (base URL replaced)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from netlogpush.api import create_app, create_token

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
CONF = (
    "splunk://acme.splunkcloud.com:8088/services/collector/raw"
    "?channel=8f6c4a4e-2b3d-4b9a-9f2e-6a2c1d0e7b11"
    "&header_Authorization=Splunk%20e6d94e8c-5792-4ec7-9f3e-5ad5f3d9c1aa"
    "&insecure-skip-verify=false"
)


def test_seed_article_walkthrough(tmp_path: Path) -> None:
    # 1) An account-scoped API token with "Logs Edit" (= Logs Write), tested with verify.
    token = create_token(tmp_path, ACCOUNT, ["Logs Edit"])
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(tmp_path)) as client:
        verify = client.get("/client/v4/user/tokens/verify", headers=auth).json()
        assert verify["success"] is True and verify["result"]["status"] == "active"

        # 3) POST the article's body: "enabled" is the string "true", and "token" is extra.
        url = f"/client/v4/accounts/{ACCOUNT}/logpush/jobs"
        body = {
            "destination_conf": CONF,
            "dataset": "network_analytics_logs",
            "token": "e6d94e8c-5792-4ec7-9f3e-5ad5f3d9c1aa",
            "enabled": "true",
        }
        created = client.post(url, headers=auth, json=body)
        assert created.status_code == 200
        job_id = created.json()["result"]["id"]

        # 4) "create a GET request to the same URL … to verify that the job was created and is
        # enabled": the documented response, field for field.
        expected = {
            "id": job_id,
            "dataset": "network_analytics_logs",
            "frequency": "high",
            "kind": "",
            "enabled": True,
            "name": None,
            "logpull_options": None,
            "destination_conf": CONF,
            "last_complete": None,
            "last_error": None,
            "error_message": None,
        }
        listed = client.get(url, headers=auth).json()
        assert listed["success"] is True and listed["errors"] == [] and listed["messages"] == []
        [job] = listed["result"]
        assert {k: job[k] for k in expected} == expected
        one = client.get(f"{url}/{job_id}", headers=auth).json()
        assert one["success"] is True
        assert {k: one["result"][k] for k in expected} == expected
        assert list(one["result"])[:6] == ["id", "dataset", "frequency", "kind", "enabled", "name"]
