"""The live WebSocket stream: filter, sampling, fields, auth, slow clients, and a real
uvicorn server with a real ``websockets`` client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from api_support import ACCOUNT_A, ACCOUNT_B, Env
from starlette.testclient import WebSocketDenialResponse

from netlogpush.api import create_app, create_token
from netlogpush.api.app import ApiState
from netlogpush.dataset.records import make_table
from netlogpush.logpush.live import LiveFeed
from netlogpush.testing.server import serve_in_thread

FILTER = json.dumps({"where": {"key": "DestinationPort", "operator": "eq", "value": 53}})


def ws_url(account: str = ACCOUNT_A, query: str = "") -> str:
    return f"/client/v4/accounts/{account}/logpush/instant/ws" + (f"?{query}" if query else "")


def table(seqs: range, ports: Callable[[int], int]) -> pa.Table:
    return make_table({"TCPSequenceNumber": list(seqs),
                       "DestinationPort": [ports(s) for s in seqs]}, len(seqs))  # fmt: skip


def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def live(env: Env) -> LiveFeed:
    feed: LiveFeed = env.client.app.state.api.live  # type: ignore[attr-defined]
    return feed


def test_stream_filters_samples_and_selects_fields(env: Env) -> None:
    feed = live(env)
    query = f"filter={FILTER}&sample=2&fields=TCPSequenceNumber,DestinationPort"
    with env.client.websocket_connect(ws_url(query=query), headers=env.h(env.write_a)) as ws:
        wait_for(lambda: feed.subscribers == 1)
        # ports alternate 53/80: the filter keeps 0,2,4,6,8; sample=2 keeps 0,4,8
        feed.publish(table(range(10), lambda s: 53 if s % 2 == 0 else 80))
        assert ws.receive_text() == (
            '{"TCPSequenceNumber":0,"DestinationPort":53}\n'
            '{"TCPSequenceNumber":4,"DestinationPort":53}\n'
            '{"TCPSequenceNumber":8,"DestinationPort":53}\n'
        )
        feed.publish(table(range(20, 22), lambda s: 80))  # filtered out entirely: no message
        # five kept so far, so the phase carries over: the 2nd and 4th of the next batch
        feed.publish(table(range(10, 15), lambda s: 53))
        lines = ws.receive_text().splitlines()
        assert [json.loads(x)["TCPSequenceNumber"] for x in lines] == [11, 13]
    wait_for(lambda: feed.subscribers == 0)


def test_all_fields_by_default_and_two_clients(env: Env) -> None:
    feed = live(env)
    h = env.h(env.write_a)
    with env.client.websocket_connect(ws_url(), headers=h) as a, \
            env.client.websocket_connect(ws_url(query="timestamps=rfc3339"), headers=h) as b:  # fmt: skip
        wait_for(lambda: feed.subscribers == 2)
        feed.publish(make_table({"Datetime": 1_700_000_000 * 10**9, "ColoCode": "SJC"}, 2))
        rec_a = [json.loads(x) for x in a.receive_text().splitlines()]
        rec_b = [json.loads(x) for x in b.receive_text().splitlines()]
        assert len(rec_a) == 2 and len(rec_a[0]) == 84 and rec_a[0]["ColoCode"] == "SJC"
        assert rec_a[0]["Datetime"] == 1_700_000_000 * 10**9
        assert rec_b[1]["Datetime"] == "2023-11-14T22:13:20Z"


@pytest.mark.parametrize(
    ("account", "token", "query", "status", "code", "message"),
    [
        (ACCOUNT_A, None, "", 401, 9106, "Missing X-Auth-Key"),
        (ACCOUNT_A, "bogus", "", 401, 9109, "Invalid access token"),
        (ACCOUNT_A, "read_a", "", 403, 10000, "Authentication error"),
        (ACCOUNT_A, "write_b", "", 403, 10000, "Authentication error"),
        (ACCOUNT_B, "write_a", "", 403, 10000, "Authentication error"),
        ("not-an-account", "write_a", "", 400, 7003, "Could not route"),
        (ACCOUNT_A, "write_a", "sample=0", 400, 1001, "sample: must be an integer"),
        (ACCOUNT_A, "write_a", "fields=Nope", 400, 1001, "fields: unknown field(s): Nope"),
        (ACCOUNT_A, "write_a", "timestamps=x", 400, 1001, "timestamps: must be one of"),
        (ACCOUNT_A, "write_a", "filter={", 400, 1001, "filter: not JSON"),
    ],
)
def test_refused_handshakes_get_the_envelope(
    env: Env, account: str, token: str | None, query: str, status: int, code: int, message: str
) -> None:
    secret = getattr(env, token) if token in ("write_a", "read_a", "write_b") else token
    headers = env.h(secret) if secret else {}
    with pytest.raises(WebSocketDenialResponse) as denied, \
            env.client.websocket_connect(ws_url(account, query), headers=headers):  # fmt: skip
        pass
    assert denied.value.status_code == status
    body = denied.value.json()
    assert body["success"] is False and body["result"] is None
    assert body["errors"][0]["code"] == code and message in body["errors"][0]["message"]
    assert live(env).subscribers == 0


def test_slow_subscriber_drops_and_counts_without_blocking() -> None:
    async def scenario() -> None:
        feed = LiveFeed(max_queued=2)
        slow = feed.subscribe()
        batches = [table(range(i * 10, i * 10 + 10), lambda s: 53) for i in range(50)]

        def publish_all() -> None:
            for t in batches:
                feed.publish(t)

        started = time.monotonic()
        await asyncio.to_thread(publish_all)  # another thread, as ingest is
        assert time.monotonic() - started < 1.0
        assert (slow.dropped_tables, slow.dropped_records) == (48, 480)
        assert feed.stats() == {"subscribers": 1, "published_records": 500,
                                "dropped_records": 480}  # fmt: skip
        first = await slow.next_table()
        second = await slow.next_table()
        assert first is batches[0] and second is batches[1]
        feed.publish(batches[2])  # room again
        third = await asyncio.wait_for(slow.next_table(), 1.0)
        assert third is batches[2]
        feed.unsubscribe(slow)
        assert await slow.next_table() is None
        assert feed.subscribers == 0

    asyncio.run(scenario())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str, LiveFeed]]:
    token = create_token(tmp_path, ACCOUNT_A, ["logs:write"])
    state = ApiState(tmp_path)
    with serve_in_thread(create_app(state), ws="websockets-sansio") as base:
        yield base.replace("http://", "ws://", 1), token, state.live


def test_real_server_and_websockets_client(server: tuple[str, str, LiveFeed]) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    base, token, feed = server
    path = ws_url(query="fields=TCPSequenceNumber&sample=3")
    with connect(base + path, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        wait_for(lambda: feed.subscribers == 1)
        feed.publish(table(range(7), lambda s: 53))
        assert ws.recv(timeout=5) == (
            '{"TCPSequenceNumber":0}\n{"TCPSequenceNumber":3}\n{"TCPSequenceNumber":6}\n'
        )
    wait_for(lambda: feed.subscribers == 0)
    with pytest.raises(InvalidStatus) as refused:
        connect(base + path, additional_headers={"Authorization": "Bearer nope"}).close()
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body or b"{}")["errors"][0]["code"] == 9109
