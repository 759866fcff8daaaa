"""The HEC receiver: every documented response code through Starlette's TestClient, parser fuzzing,
and third-party HEC clients (PyPI splunk-hec-handler, splunk-handler; npm splunk-logging) against
a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import logging
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from netlogpush.receiver import (
    CODES,
    CollectingSink,
    HecTokenStore,
    ReceiverConfig,
    create_hec_app,
)
from netlogpush.receiver.body import BodyError, inflate, parse_events, parse_ndjson
from netlogpush.testing.server import serve_in_thread

TOKEN = "5b3c9f0e-0d6b-4c53-9c55-6f0f5e9d3a11"
CHANNEL = "0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba"
REC1 = {"Datetime": 1700000000000000000, "ColoCode": "AMS", "SampleInterval": 1}
# RFC 3339 Datetime: Node parses JSON numbers as doubles, and unixnano does not survive that.
REC2 = {"Datetime": "2023-11-14T22:13:20.000000001Z", "ColoCode": "FRA", "SourceASNName": "EXAMPLE"}
# The 2021-2022 spelling of REC2; the receiver must store it as REC2.
REC2_LEGACY = {
    "Datetime": "2023-11-14T22:13:20.000000001Z",
    "ColoCode": "FRA",
    "SourceASNDescription": "EXAMPLE",
}
AUTH = {"Authorization": f"Splunk {TOKEN}"}
RAW = f"/services/collector/raw?channel={CHANNEL}"


class FailingSink:
    def on_records(self, records: list[dict[str, Any]]) -> None:
        raise RuntimeError("store down")


def ndjson(*records: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


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
    return TestClient(create_hec_app(store, sink))


def expect(resp: Any, code: int, **extra: Any) -> None:
    status, text = CODES[code]
    assert (resp.status_code, resp.json()) == (status, {"text": text, "code": code, **extra})


# -- success paths ---------------------------------------------------------------------------


def test_raw_ndjson_plain_and_gzip(client: TestClient, sink: CollectingSink) -> None:
    expect(client.post(RAW, content=ndjson(REC1, REC2_LEGACY), headers=AUTH), 0)
    gz = gzip.compress(ndjson(REC2) + b"\n\n")
    expect(client.post(RAW, content=gz, headers={**AUTH, "Content-Encoding": "gzip"}), 0)
    assert sink.records == [REC1, REC2, REC2]
    assert sink.batches == 2


def test_raw_channel_header_and_1_0_path(client: TestClient, sink: CollectingSink) -> None:
    headers = {**AUTH, "X-Splunk-Request-Channel": CHANNEL}
    expect(client.post("/services/collector/raw/1.0", content=ndjson(REC1), headers=headers), 0)
    assert sink.records == [REC1]


def test_gzip_without_header_and_multimember(client: TestClient, sink: CollectingSink) -> None:
    body = gzip.compress(ndjson(REC1)) + gzip.compress(ndjson(REC2))
    expect(client.post(RAW, content=body, headers=AUTH), 0)
    assert sink.records == [REC1, REC2]


@pytest.mark.parametrize("path", ["/services/collector/event", "/services/collector",
                                  "/services/collector/event/1.0"])  # fmt: skip
def test_event_envelopes(client: TestClient, sink: CollectingSink, path: str) -> None:
    # Concatenated without separators (splunk-handler), newline-separated, and a string event.
    body = (
        orjson.dumps({"time": 1.5, "event": REC1, "sourcetype": "cloudflare:json"})
        + orjson.dumps({"event": REC2_LEGACY, "index": "main"})
        + b"\n"
        + orjson.dumps({"event": orjson.dumps(REC2).decode()})
    )
    expect(client.post(path, content=body, headers=AUTH), 0)
    assert sink.records == [REC1, REC2, REC2]


def test_auth_variants(client: TestClient, store: HecTokenStore, sink: CollectingSink) -> None:
    basic = base64.b64encode(f"x:{TOKEN}".encode()).decode()
    expect(client.post(RAW, content=ndjson(REC1), headers={"Authorization": f"Basic {basic}"}), 0)
    store2 = HecTokenStore(store.path.parent)
    q = TestClient(create_hec_app(store2, sink, ReceiverConfig(allow_query_token=True)))
    expect(q.post(f"{RAW}&token={TOKEN}", content=ndjson(REC1)), 0)
    assert len(sink.records) == 2


def test_validation_upload_is_acknowledged_not_stored(
    client: TestClient, sink: CollectingSink
) -> None:
    body = gzip.compress(b'{"content":"tests"}')
    expect(client.post(RAW, content=body, headers={**AUTH, "Content-Encoding": "gzip"}), 0)
    assert sink.records == []


def test_health(client: TestClient) -> None:
    expect(client.get("/services/collector/health"), 17)
    expect(client.get("/services/collector/health/1.0"), 17)


# -- every error code ------------------------------------------------------------------------


def test_code_1_token_disabled(client: TestClient, store: HecTokenStore) -> None:
    (tok,) = store.list_tokens()
    assert store.set_enabled(tok.id, False)
    expect(client.post(RAW, content=ndjson(REC1), headers=AUTH), 1)


def test_code_2_token_required(client: TestClient) -> None:
    expect(client.post(RAW, content=ndjson(REC1)), 2)


@pytest.mark.parametrize("header", ["Bearer", "Splunk", "Digest abc", "Basic !!!", "Splunk a b",
                                    "Basic " + base64.b64encode(b"nocolon").decode()])  # fmt: skip
def test_code_3_invalid_authorization(client: TestClient, header: str) -> None:
    expect(client.post(RAW, content=ndjson(REC1), headers={"Authorization": header}), 3)


def test_code_4_invalid_token_and_revoke(client: TestClient, store: HecTokenStore) -> None:
    expect(client.post(RAW, content=ndjson(REC1), headers={"Authorization": "Splunk nope"}), 4)
    (tok,) = store.list_tokens()
    assert store.revoke(tok.id) and not store.revoke(tok.id)
    expect(client.post(RAW, content=ndjson(REC1), headers=AUTH), 4)


@pytest.mark.parametrize("body", [b"", b"\n \n", gzip.compress(b"")])
def test_code_5_no_data(client: TestClient, body: bytes) -> None:
    expect(client.post(RAW, content=body, headers=AUTH), 5)
    expect(client.post("/services/collector/event", content=body, headers=AUTH), 5)


@pytest.mark.parametrize(
    ("body", "number"),
    [
        (ndjson(REC1) + b"{not json\n", 1),
        (ndjson(REC1, {"NoSuchField": 1}), 1),
        (b"[1,2]\n", 0),
        (b"1,2\n", 0),
        (b"\xff\xfe\n", 0),
    ],
)
def test_code_6_raw_invalid_data(
    client: TestClient, sink: CollectingSink, body: bytes, number: int
) -> None:
    expect(client.post(RAW, content=body, headers=AUTH), 6, **{"invalid-event-number": number})
    assert sink.records == []  # all or nothing


def test_code_6_event_invalid(client: TestClient, sink: CollectingSink) -> None:
    ev = "/services/collector/event"
    bad_string = orjson.dumps({"event": "plain text"})
    expect(client.post(ev, content=orjson.dumps({"event": REC1}) + bad_string, headers=AUTH), 6,
           **{"invalid-event-number": 1})  # fmt: skip
    # The JSON of every envelope is checked before any record: the truncated one is number 1.
    expect(client.post(ev, content=b'{"event": {"a": 1}} {"event"', headers=AUTH), 6,
           **{"invalid-event-number": 1})  # fmt: skip
    expect(client.post(ev, content=b'{"event": {"a": 1}}', headers=AUTH), 6,
           **{"invalid-event-number": 0})  # fmt: skip
    expect(client.post(ev, content=b"[1]", headers=AUTH), 6, **{"invalid-event-number": 0})
    assert sink.records == []


def test_code_6_bad_gzip_and_encoding(client: TestClient) -> None:
    r = client.post(RAW, content=b"\x1f\x8bnot gzip", headers={**AUTH, "Content-Encoding": "gzip"})
    expect(r, 6)
    truncated = gzip.compress(ndjson(REC1))[:-6]
    expect(client.post(RAW, content=truncated, headers=AUTH), 6)
    r = client.post(RAW, content=b"x", headers={**AUTH, "Content-Encoding": "br"})
    assert (r.status_code, r.json()) == (415, {"text": "Invalid data format", "code": 6})


def test_size_limits(store: HecTokenStore, sink: CollectingSink) -> None:
    c = TestClient(create_hec_app(store, sink, ReceiverConfig(max_body_bytes=1000,
                                                              max_inflated_bytes=10_000)))  # fmt: skip
    r = c.post(RAW, content=b"x" * 1001, headers=AUTH)
    assert (r.status_code, r.json()["code"]) == (413, 6)
    bomb = gzip.compress(b"\n" * 10_001)
    assert len(bomb) < 1000
    r = c.post(RAW, content=bomb, headers={**AUTH, "Content-Encoding": "gzip"})
    assert (r.status_code, r.json()["code"]) == (413, 6)
    expect(c.post(RAW, content=gzip.compress(b"\n" * 10_000), headers=AUTH), 5)


def test_code_7_incorrect_index(tmp_path: Path, sink: CollectingSink) -> None:
    store = HecTokenStore(tmp_path)
    store.create("restricted", indexes=["netlog"], token=TOKEN)
    c = TestClient(create_hec_app(store, sink))
    expect(c.post(f"{RAW}&index=netlog", content=ndjson(REC1), headers=AUTH), 0)
    expect(c.post(f"{RAW}&index=other", content=ndjson(REC1), headers=AUTH), 7,
           **{"invalid-event-number": 0})  # fmt: skip
    body = orjson.dumps({"event": REC1, "index": "netlog"}) + orjson.dumps(
        {"event": REC1, "index": "main"}
    )
    expect(c.post("/services/collector/event", content=body, headers=AUTH), 7,
           **{"invalid-event-number": 1})  # fmt: skip
    assert sink.records == [REC1]


def test_code_8_sink_failure(store: HecTokenStore) -> None:
    c = TestClient(create_hec_app(store, FailingSink()))
    expect(c.post(RAW, content=ndjson(REC1), headers=AUTH), 8)


def test_code_9_busy_and_18_unhealthy(store: HecTokenStore, sink: CollectingSink) -> None:
    app = create_hec_app(store, sink, ReceiverConfig(max_inflight=1))
    c = TestClient(app)
    assert app.state.hec.inflight.try_enter()  # one request in flight
    expect(c.post(RAW, content=ndjson(REC1), headers=AUTH), 9)
    expect(c.get("/services/collector/health"), 18)
    app.state.hec.inflight.leave()
    expect(c.post(RAW, content=ndjson(REC1), headers=AUTH), 0)
    assert app.state.hec.stats.as_dict() == {
        "requests": {"busy": 1, "ok": 1}, "records": 1, "bytes_in": len(ndjson(REC1)),
    }  # fmt: skip


def test_code_10_channel_missing(client: TestClient) -> None:
    expect(client.post("/services/collector/raw", content=ndjson(REC1), headers=AUTH), 10)


@pytest.mark.parametrize("channel", ["abc", "{" + CHANNEL + "}", CHANNEL.replace("-", ""),
                                    CHANNEL + "0"])  # fmt: skip
def test_code_11_invalid_channel(client: TestClient, sink: CollectingSink, channel: str) -> None:
    expect(client.post(f"/services/collector/raw?channel={channel}", content=ndjson(REC1),
                       headers=AUTH), 11)  # fmt: skip
    h = {**AUTH, "X-Splunk-Request-Channel": channel}
    expect(client.post("/services/collector/event", content=b'{"event":{}}', headers=h), 11)
    assert sink.records == []


def test_code_12_event_required(client: TestClient) -> None:
    body = orjson.dumps({"event": REC1}) + orjson.dumps({"time": 1, "fields": {}})
    expect(client.post("/services/collector/event", content=body, headers=AUTH), 12,
           **{"invalid-event-number": 1})  # fmt: skip


@pytest.mark.parametrize("event", ["", "   ", None, {}])
def test_code_13_event_blank(client: TestClient, event: Any) -> None:
    body = orjson.dumps({"event": event})
    expect(client.post("/services/collector/event", content=body, headers=AUTH), 13,
           **{"invalid-event-number": 0})  # fmt: skip


def test_code_14_ack_disabled(client: TestClient) -> None:
    h = {**AUTH, "X-Splunk-Request-Channel": CHANNEL}
    expect(client.post("/services/collector/ack", content=b'{"acks":[0]}', headers=h), 14)


def test_code_16_query_token_disabled(client: TestClient) -> None:
    expect(client.post(f"{RAW}&token={TOKEN}", content=ndjson(REC1)), 16)


def test_token_store_roundtrip(tmp_path: Path) -> None:
    s = HecTokenStore(tmp_path)
    secret, tok = s.create("a", indexes=["x"])
    assert uuid.UUID(secret) and s.lookup(secret) == tok
    assert [t.as_dict() for t in HecTokenStore(tmp_path).list_tokens()] == [tok.as_dict()]
    assert tok.as_dict()["indexes"] == ["x"] and tok.enabled
    assert secret not in (tmp_path / "hec_tokens.json").read_text()  # only the hash is stored
    with pytest.raises(ValueError, match="already exists"):
        s.create("b", token=secret)
    assert s.revoke(tok.id) and s.lookup(secret) is None


# -- fuzzing: bad bodies never raise anything but BodyError and never crash the app ----------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_parsers(data: bytes) -> None:
    for parse in (parse_ndjson, parse_events):
        try:
            records = parse(data)
        except BodyError:
            continue
        assert all(isinstance(r, dict) for r in records)
    with contextlib.suppress(BodyError):
        inflate(data, 1 << 16)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.binary(max_size=200), st.sampled_from([None, "gzip", "identity", "deflate"]))
def test_fuzz_app(client: TestClient, data: bytes, encoding: str | None) -> None:
    headers = dict(AUTH)
    if encoding:
        headers["Content-Encoding"] = encoding
    for path in (RAW, "/services/collector/event"):
        r = client.post(path, content=data, headers=headers)
        body = r.json()
        assert body["code"] in CODES and r.status_code in (200, 400, 415)
        assert (r.status_code == 200) == (body["code"] == 0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.fixed_dictionaries({"Datetime": st.integers(0, 2**63 - 1),
                                       "ColoCode": st.text(max_size=5)}), min_size=1, max_size=5))  # fmt: skip
def test_ndjson_roundtrip_property(records: list[dict[str, Any]]) -> None:
    assert parse_ndjson(gzip.decompress(gzip.compress(ndjson(*records)))) == records
    assert parse_events(b"".join(orjson.dumps({"event": r}) for r in records)) == records


# -- third-party HEC clients against a real server ---------------------------------------------


@pytest.fixture
def server(store: HecTokenStore, sink: CollectingSink) -> Iterator[int]:
    with serve_in_thread(create_hec_app(store, sink)) as base:
        port = urlsplit(base).port
        assert port is not None
        yield port


def _logger(name: str, handler: logging.Handler) -> logging.Logger:
    log = logging.getLogger(name)
    log.propagate = False
    log.handlers = [handler]
    log.setLevel(logging.INFO)
    return log


def test_splunk_hec_handler_client(server: int, sink: CollectingSink) -> None:
    import requests
    from splunk_hec_handler import SplunkHecHandler

    h = SplunkHecHandler("127.0.0.1", TOKEN, port=server, proto="http", ssl_verify=False,
                         empty_body=True, sourcetype="cloudflare:json")  # fmt: skip
    log = _logger("hec-handler", h)
    log.info(dict(REC1))
    log.info(dict(REC2_LEGACY))
    assert sink.records == [REC1, REC2]
    # Its raw mode sends no channel: Splunk's code 10 comes back as an HTTP 400.
    raw = SplunkHecHandler("127.0.0.1", TOKEN, port=server, proto="http", endpoint="raw",
                           empty_body=True)  # fmt: skip
    with pytest.raises(requests.HTTPError) as err:
        raw.emit(logging.makeLogRecord({"msg": dict(REC1), "levelname": "INFO"}))
    resp = err.value.response
    assert resp is not None and resp.status_code == 400
    assert resp.json() == {"text": "Data channel is missing", "code": 10}
    bad = SplunkHecHandler("127.0.0.1", "wrong", port=server, proto="http", empty_body=True)
    with pytest.raises(requests.HTTPError) as err:
        bad.emit(logging.makeLogRecord({"msg": dict(REC1), "levelname": "INFO"}))
    resp = err.value.response
    assert resp is not None and resp.json() == {"text": "Invalid token", "code": 4}
    assert sink.records == [REC1, REC2]


def test_splunk_handler_client(
    server: int, sink: CollectingSink, capsys: pytest.CaptureFixture[str]
) -> None:
    from splunk_handler import SplunkHandler

    # flush_interval>0 batches several events into one concatenated body; flush sends it.
    h = SplunkHandler(host="127.0.0.1", port=server, token=TOKEN, index="main", protocol="http",
                      verify=False, flush_interval=60, retry_count=0,
                      sourcetype="cloudflare:json")  # fmt: skip
    log = _logger("splunk-handler", h)
    for rec in (REC1, REC2_LEGACY, REC2):
        log.info(json.dumps(rec))
    h.force_flush()
    h.close()
    assert sink.records == [REC1, REC2, REC2]
    assert sink.batches == 1
    bad = SplunkHandler(host="127.0.0.1", port=server, token="wrong", index="main",
                        protocol="http", verify=False, flush_interval=0, retry_count=0)  # fmt: skip
    _logger("splunk-handler-bad", bad).info(json.dumps(REC1))
    bad.close()
    assert "403 Client Error" in capsys.readouterr().out
    assert len(sink.records) == 3


NODE_SCRIPT = r"""
const SplunkLogger = require("splunk-logging").Logger;
const [port, token] = process.argv.slice(2);
const records = JSON.parse(process.argv[4]);
const out = [];
function make(tok, batch) {
  const l = new SplunkLogger({token: tok, url: "http://127.0.0.1:" + port, maxBatchCount: batch});
  l.eventFormatter = (message, severity) => message;  // send the record itself as the event
  l.error = (err, ctx) => out.push({error: String(err)});
  return l;
}
const batched = make(token, records.length);
let pending = 2;
function done(tag) { return (err, resp, body) => {
  out.push({tag, status: resp && resp.statusCode, body});
  if (--pending === 0) console.log(JSON.stringify(out));
}; }
records.slice(0, -1).forEach(r => batched.send({message: r}));
batched.send({message: records[records.length - 1]}, done("batch"));
make("wrong", 1).send({message: records[0]}, done("bad"));
"""


@pytest.fixture(scope="module")
def splunk_logging_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("npm/node not installed: npm splunk-logging cannot run")
    d = tmp_path_factory.mktemp("npm")
    proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(d),
                           "splunk-logging@0.11"], capture_output=True, text=True,
                          timeout=180, check=False)  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(
            f"npm install splunk-logging failed (no registry access?): {proc.stderr[-300:]}"
        )
    (d / "send.js").write_text(NODE_SCRIPT)
    return d


def test_npm_splunk_logging_client(
    server: int, sink: CollectingSink, splunk_logging_dir: Path
) -> None:
    proc = subprocess.run(
        ["node", str(splunk_logging_dir / "send.js"), str(server), TOKEN,
         json.dumps([REC1, REC2_LEGACY, REC2])],
        capture_output=True, text=True, timeout=60, check=True, cwd=splunk_logging_dir,
    )  # fmt: skip
    out = {e.get("tag"): e for e in json.loads(proc.stdout.strip().splitlines()[-1])}
    assert out["batch"]["status"] == 200
    assert out["batch"]["body"] == {"text": "Success", "code": 0}
    assert out["bad"]["status"] == 403
    assert out["bad"]["body"] == {"text": "Invalid token", "code": 4}
    assert sink.records == [REC1, REC2, REC2]
    assert sink.batches == 1
