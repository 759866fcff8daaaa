"""The official ``cloudflare`` SDK (PyPI) against a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import ACCOUNT_A, ACCOUNT_B, SPLUNK_CONF

from netlogpush.api import create_app, create_token
from netlogpush.testing.server import serve_in_thread

cloudflare = pytest.importorskip("cloudflare", reason="the cloudflare SDK is not installed")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with serve_in_thread(create_app(tmp_path)) as base:
        yield f"{base}/client/v4", tmp_path


def test_sdk_round_trip(server: tuple[str, Path]) -> None:
    base_url, data_dir = server
    token = create_token(data_dir, ACCOUNT_A, ["logs:write"])
    cf = cloudflare.Cloudflare(api_token=token, base_url=base_url, max_retries=0)

    job = cf.logpush.jobs.create(
        account_id=ACCOUNT_A,
        destination_conf=SPLUNK_CONF,
        dataset="network_analytics_logs",
        name="sdk-job",
        enabled=True,
        max_upload_records=1000,
        output_options={"field_names": ["Datetime", "Outcome"], "timestamp_format": "rfc3339"},
        filter='{"where":{"key":"Outcome","operator":"eq","value":"drop"}}',
    )
    assert job is not None and job.id == 1
    assert (job.dataset, job.name, job.enabled, job.max_upload_records) == (
        "network_analytics_logs", "sdk-job", True, 1000,
    )  # fmt: skip
    assert job.output_options is not None
    assert job.output_options.field_names == ["Datetime", "Outcome"]
    assert job.output_options.timestamp_format == "rfc3339"
    assert job.destination_conf == SPLUNK_CONF

    second = cf.logpush.jobs.create(
        account_id=ACCOUNT_A, destination_conf=SPLUNK_CONF, dataset="network_analytics_logs"
    )
    assert second is not None and second.id == 2 and second.enabled is False

    listed = [j.id for j in cf.logpush.jobs.list(account_id=ACCOUNT_A) if j is not None]
    assert listed == [1, 2]

    updated = cf.logpush.jobs.update(1, account_id=ACCOUNT_A, name="renamed", enabled=False)
    assert updated is not None and (updated.name, updated.enabled) == ("renamed", False)
    got = cf.logpush.jobs.get(1, account_id=ACCOUNT_A)
    assert got is not None and got.name == "renamed" and got.max_upload_records == 1000

    fields = cf.logpush.datasets.fields.get("network_analytics_logs", account_id=ACCOUNT_A)
    assert isinstance(fields, dict) and len(fields) == 84

    deleted = cf.logpush.jobs.delete(1, account_id=ACCOUNT_A)
    assert deleted is not None and deleted.id == 1
    with pytest.raises(cloudflare.NotFoundError):
        cf.logpush.jobs.get(1, account_id=ACCOUNT_A)
    assert [j.id for j in cf.logpush.jobs.list(account_id=ACCOUNT_A) if j is not None] == [2]

    with pytest.raises(cloudflare.BadRequestError) as bad:
        cf.logpush.jobs.create(
            account_id=ACCOUNT_A,
            destination_conf=SPLUNK_CONF,
            dataset="network_analytics_logs",
            max_upload_bytes=5,
        )
    assert "max_upload_bytes: must be 0 or between" in str(bad.value)


def test_sdk_errors(server: tuple[str, Path]) -> None:
    base_url, data_dir = server
    token_b = create_token(data_dir, ACCOUNT_B, ["logs:write"])
    reader = create_token(data_dir, ACCOUNT_A, ["logs:read"])
    with pytest.raises(cloudflare.AuthenticationError):
        cloudflare.Cloudflare(
            api_token="x" * 40, base_url=base_url, max_retries=0
        ).logpush.jobs.list(account_id=ACCOUNT_A)
    other = cloudflare.Cloudflare(api_token=token_b, base_url=base_url, max_retries=0)
    with pytest.raises(cloudflare.PermissionDeniedError):
        other.logpush.jobs.list(account_id=ACCOUNT_A)
    ro = cloudflare.Cloudflare(api_token=reader, base_url=base_url, max_retries=0)
    with pytest.raises(cloudflare.PermissionDeniedError):
        ro.logpush.jobs.create(
            account_id=ACCOUNT_A, destination_conf=SPLUNK_CONF, dataset="network_analytics_logs"
        )
    assert ro.user.tokens.verify().status == "active"
