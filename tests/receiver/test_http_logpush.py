"""The generic HTTP Logpush receiver: gzipped NDJSON POSTs and the test.txt.gz validation upload."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from netlogpush.receiver import (
    CollectingSink,
    HecTokenStore,
    ReceiverConfig,
    create_http_logpush_app,
)

TOKEN = "5b3c9f0e-0d6b-4c53-9c55-6f0f5e9d3a11"
AUTH = {"Authorization": f"Splunk {TOKEN}", "Content-Encoding": "gzip"}
REC1 = {"Datetime": 1700000000000000000, "ColoCode": "AMS"}
REC2 = {"Datetime": 1700000000000000001, "IPTTL": 64}


def gz(*records: dict[str, Any]) -> bytes:
    return gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in records))


@pytest.fixture
def store(tmp_path: Path) -> HecTokenStore:
    s = HecTokenStore(tmp_path)
    s.create("logpush", token=TOKEN)
    return s


@pytest.fixture
def sink() -> CollectingSink:
    return CollectingSink()


@pytest.fixture
def client(store: HecTokenStore, sink: CollectingSink) -> TestClient:
    return TestClient(create_http_logpush_app(store, sink))


def test_batches_old_and_new_spellings(client: TestClient, sink: CollectingSink) -> None:
    r = client.post("/logpush", content=gz(REC1, {"Datetime": 1700000000000000001, "IPTtl": 64}),
                    headers=AUTH)  # fmt: skip
    assert (r.status_code, r.json()) == (200, {"ok": True, "records": 2})
    r = client.post("/logpush/20231114/batch.log.gz?tags=a", content=gz(REC2), headers=AUTH)
    assert r.status_code == 200
    assert sink.records == [REC1, REC2, REC2]


def test_validation_upload(client: TestClient, sink: CollectingSink) -> None:
    body = gzip.compress(b'{"content":"tests"}')
    for headers in (AUTH, {"Authorization": f"Bearer {TOKEN}"}):  # with and without the header
        r = client.post("/logpush/test.txt.gz", content=body, headers=headers)
        assert (r.status_code, r.json()) == (200, {"ok": True, "records": 0, "validation": True})
    assert sink.records == []


def test_auth(client: TestClient, store: HecTokenStore, sink: CollectingSink) -> None:
    assert client.post("/logpush", content=gz(REC1)).status_code == 401
    r = client.post("/logpush", content=gz(REC1), headers={"Authorization": "Splunk nope"})
    assert r.status_code == 403
    (tok,) = store.list_tokens()
    store.set_enabled(tok.id, False)
    assert client.post("/logpush", content=gz(REC1), headers=AUTH).status_code == 403
    open_app = TestClient(create_http_logpush_app(None, sink, path="/in"))
    assert open_app.post("/in", content=gz(REC1)).status_code == 200
    assert sink.records == [REC1]


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (gzip.compress(b""), 400, "no_data"),
        (gzip.compress(b"{oops\n"), 400, "invalid_format"),
        (gzip.compress(b'{"Bogus":1}\n'), 400, "invalid_format"),
        (b"\x1f\x8b\x08\x00garbage", 400, "bad_gzip"),
        (gzip.compress(b"{}")[:-3], 400, "bad_gzip"),
    ],
)
def test_bad_payloads(
    client: TestClient, sink: CollectingSink, body: bytes, status: int, reason: str
) -> None:
    r = client.post("/logpush", content=body, headers=AUTH)
    assert (r.status_code, r.json()["reason"]) == (status, reason)
    assert sink.records == []


def test_limits_and_busy(store: HecTokenStore, sink: CollectingSink) -> None:
    app = create_http_logpush_app(store, sink, ReceiverConfig(max_body_bytes=100,
                                                              max_inflight=1))  # fmt: skip
    c = TestClient(app)
    assert c.post("/logpush", content=b"x" * 101, headers=AUTH).status_code == 413
    r = c.post("/logpush", content=b"x", headers={**AUTH, "Content-Encoding": "zstd"})
    assert (r.status_code, r.json()["reason"]) == (415, "bad_encoding")
    assert app.state.http_logpush.inflight.try_enter()
    assert c.post("/logpush", content=gz(REC1), headers=AUTH).status_code == 503
    app.state.http_logpush.inflight.leave()
    assert c.post("/logpush", content=gz(REC1), headers=AUTH).status_code == 200


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.binary(max_size=200), st.booleans())
def test_fuzz(client: TestClient, data: bytes, zipped: bool) -> None:
    r = client.post("/logpush", content=gzip.compress(data) if zipped else data, headers=AUTH)
    assert r.status_code in (200, 400, 413, 415)
