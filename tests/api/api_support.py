"""Shared helpers of the API tests: accounts, a Splunk destination_conf, request helpers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

ACCOUNT_A = "0123456789abcdef0123456789abcdef"
ACCOUNT_B = "fedcba9876543210fedcba9876543210"
HEC_SECRET = "e6d94e8c-5792-4ec7-9f3e-5ad5f3d9c1aa"
SPLUNK_CONF = (
    "splunk://hec.example.splunkcloud.com:8088/services/collector/raw"
    "?channel=2c7a5a9e-3b1f-4c1d-8d1e-0f9b6a1c2d3e&insecure-skip-verify=false"
    f"&header_Authorization=Splunk%20{HEC_SECRET}"
)


def error_body(*errors: tuple[int, str]) -> dict[str, Any]:
    """Cloudflare's v4 envelope of a failed call, with these (code, message) errors."""
    return {
        "errors": [{"code": code, "message": message} for code, message in errors],
        "messages": [],
        "result": None,
        "success": False,
    }


MISSING = error_body((9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers"))
INVALID = error_body((9109, "Invalid access token"))
FORBIDDEN = error_body((10000, "Authentication error"))


@dataclass
class Env:
    data_dir: Path
    client: TestClient
    write_a: str
    read_a: str
    write_b: str

    def h(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def jobs_url(self, account: str = ACCOUNT_A, job_id: int | None = None) -> str:
        url = f"/client/v4/accounts/{account}/logpush/jobs"
        return url if job_id is None else f"{url}/{job_id}"

    def create(self, **body: Any) -> dict[str, Any]:
        payload = {"destination_conf": SPLUNK_CONF, "dataset": "network_analytics_logs", **body}
        r = self.client.post(self.jobs_url(), headers=self.h(self.write_a), json=payload)
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()["result"]
        return job
