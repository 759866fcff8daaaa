"""Shared pieces of tests/api/test_ownership.py and test_validate.py: an app with a given
``DestinationIO``, a scripted in-memory IO for the unit tests, and the real loopback
receivers of tests/logpush/delivery (HTTPS with a self-signed certificate, Splunk HEC, moto
S3), re-exported so the test modules can use them as fixtures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api_support import ACCOUNT_A, ACCOUNT_B
from fastapi.testclient import TestClient

from netlogpush.api import ApiState, create_app, create_token
from netlogpush.api.ownership import DestinationIO
from netlogpush.logpush.delivery import SendResult
from netlogpush.logpush.destinations import Destination

_RECEIVERS = str(Path(__file__).resolve().parents[1] / "logpush" / "delivery")
if _RECEIVERS not in sys.path:
    sys.path.insert(0, _RECEIVERS)

from delivery_receivers import (  # noqa: E402
    CHANNEL,
    HEC_TOKEN,
    Cert,
    HecReceiver,
    Receiver,
    hec_receiver,
    https_receiver,
    moto_s3,
    tls_cert,
)

__all__ = [
    "CHANNEL",
    "HEC_TOKEN",
    "Cert",
    "HecReceiver",
    "Receiver",
    "hec_receiver",
    "https_receiver",
    "moto_s3",
    "tls_cert",
]


@dataclass
class ScriptedIO:
    """A ``DestinationIO`` that answers from a script and records what it was asked."""

    upload: SendResult = field(default_factory=lambda: SendResult(True, status=200))
    write: SendResult = field(default_factory=lambda: SendResult(True))
    uploads: list[str] = field(default_factory=list)
    writes: list[tuple[str, str]] = field(default_factory=list)

    def write_challenge(self, destination: Destination, token: str) -> SendResult:
        self.writes.append((destination.redacted(), token))
        return self.write

    def test_upload(self, destination: Destination) -> SendResult:
        self.uploads.append(destination.redacted())
        return self.upload


@dataclass
class Api:
    client: TestClient
    data_dir: Path
    write_a: str
    read_a: str
    write_b: str

    def h(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.write_a}"}

    def url(self, tail: str, account: str = ACCOUNT_A) -> str:
        return f"/client/v4/accounts/{account}/logpush/{tail}"

    def post(
        self, tail: str, body: object, token: str | None = None, account: str = ACCOUNT_A
    ) -> tuple[int, dict[str, Any]]:
        r = self.client.post(self.url(tail, account), headers=self.h(token), json=body)
        return r.status_code, r.json()


@contextmanager
def api(data_dir: Path, io: DestinationIO | None) -> Iterator[Api]:
    write_a = create_token(data_dir, ACCOUNT_A, ["logs:write"])
    read_a = create_token(data_dir, ACCOUNT_A, ["logs:read"])
    write_b = create_token(data_dir, ACCOUNT_B, ["logs:write"])
    with TestClient(create_app(ApiState(data_dir, destination_io=io))) as client:
        yield Api(client, data_dir, write_a, read_a, write_b)
