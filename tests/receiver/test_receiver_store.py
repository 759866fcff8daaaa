"""Both receivers over a real uvicorn server, feeding the real analytics store (DuckDB).

A record the store cannot type (``"SampleInterval": "x"``) is the sender's fault: HEC answers
code 6 (400) and HTTP Logpush 400 ``invalid_format``, and nothing of the request is stored. A
batch sent again (a sender's retry after a lost answer) is stored once, and the dashboard's
queries count its packets once.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from test_hec import AUTH, CHANNEL, TOKEN, ndjson

from netlogpush.analytics.queries import Queries, View
from netlogpush.analytics.sink import StoreSink
from netlogpush.analytics.store import NS_PER_S, AnalyticsStore
from netlogpush.dataset.reader import RecordError, records_table
from netlogpush.receiver import HecReceiver, HecTokenStore, HttpLogpushReceiver
from netlogpush.testing.server import serve_in_thread

RAW = f"/services/collector/raw?channel={CHANNEL}"
EVENT = "/services/collector/event"
LOGPUSH = "/logpush"
T0 = 1_700_000_000 * NS_PER_S


def record(
    t_ms: int, system: str, outcome: str, interval: int | str, length: int
) -> dict[str, Any]:
    """A sample as a Splunk destination gets it: RFC 3339 ``Datetime``, current spellings."""
    ns = T0 + t_ms * 1_000_000 + 7  # not a whole millisecond: rfc3339ns keeps it
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // NS_PER_S))
    return {
        "Datetime": f"{stamp}.{ns % NS_PER_S:09d}Z",
        "ColoCode": "AMS",
        "MitigationSystem": system,
        "Verdict": outcome,
        "Outcome": outcome,
        "SampleInterval": interval,
        "IPTotalLength": length,
        "IPSourceAddress": "198.51.100.7",
    }


BATCH = [
    record(1, "dosd", "drop", 100, 1000),  # counted: dropped
    record(2, "dosd", "pass", 100, 500),  # not counted: seen again by the later systems
    record(3, "flowtrackd", "pass", "1000", 60),  # an int sent as a string; not counted
    record(4, "flowtrackd", "drop", 1000, 40),  # counted
    record(5, "magic-firewall", "pass", 10, 500),  # counted: passed the last system
    record(6, "magic-firewall", "drop", "10", 200),  # counted
]


def counted(records: list[dict[str, Any]]) -> tuple[int, int]:
    """(packets, bytes) by the documented rule: dropped, or passed the last system."""
    kept = [
        r for r in records if r["Outcome"] == "drop" or r["MitigationSystem"] == "magic-firewall"
    ]
    packets = sum(int(r["SampleInterval"]) for r in kept)
    return packets, sum(int(r["SampleInterval"]) * r["IPTotalLength"] for r in kept)


def stored(store: AnalyticsStore) -> int:
    return int(store.con.execute("SELECT count(*) FROM records").fetchall()[0][0])


def type_error(records: list[dict[str, Any]]) -> str:
    with pytest.raises(RecordError) as info:
        records_table(records)
    return str(info.value)


@pytest.fixture
def store() -> Iterator[AnalyticsStore]:
    s = AnalyticsStore(None)
    yield s
    s.close()


@pytest.fixture
def sink(store: AnalyticsStore) -> StoreSink:
    return StoreSink(store)


@pytest.fixture
def tokens(tmp_path: Path) -> HecTokenStore:
    s = HecTokenStore(tmp_path)
    s.create("logpush", token=TOKEN)
    return s


@pytest.fixture
def receivers(tokens: HecTokenStore, sink: StoreSink) -> tuple[HecReceiver, HttpLogpushReceiver]:
    return HecReceiver(tokens, sink), HttpLogpushReceiver(tokens, sink)


@pytest.fixture
def client(receivers: tuple[HecReceiver, HttpLogpushReceiver]) -> Iterator[httpx.Client]:
    """Both receivers in one app on a real uvicorn on 127.0.0.1, as ``netlogpush serve`` mounts them."""
    hec, logpush = receivers
    app = Starlette(routes=[*hec.routes(), *logpush.routes()])
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=30) as c:
        yield c


def test_record_constants_are_what_they_say() -> None:
    assert BATCH[0]["Datetime"] == "2023-11-14T22:13:20.001000007Z"
    assert counted(BATCH) == (100 + 1000 + 10 + 10, 100_000 + 40_000 + 5000 + 2000)


# -- a value of the wrong type: the sender's fault --------------------------------------------


@pytest.mark.parametrize("path", [RAW, EVENT])
def test_hec_code_6_for_a_wrong_type_and_nothing_stored(
    client: httpx.Client,
    store: AnalyticsStore,
    sink: StoreSink,
    receivers: tuple[HecReceiver, HttpLogpushReceiver],
    path: str,
) -> None:
    bad = [*BATCH[:2], {**BATCH[2], "SampleInterval": "x"}, *BATCH[3:]]
    message = type_error(bad)
    assert message.startswith("SampleInterval: expected integer values")
    body = ndjson(*bad) if path == RAW else b"".join(orjson.dumps({"event": r}) for r in bad)
    r = client.post(path, content=body, headers=AUTH)
    assert (r.status_code, r.json()) == (
        400,
        {"text": f"Invalid data format: {message}", "code": 6},
    )
    assert stored(store) == 0
    assert sink.stats() == {"received": 0, "inserted": 0, "duplicates": 0, "late": 0}
    assert receivers[0].stats.as_dict() == {
        "requests": {"invalid_format": 1},
        "records": 0,
        "bytes_in": 0,
    }


def test_http_logpush_400_invalid_format_and_nothing_stored(
    client: httpx.Client,
    store: AnalyticsStore,
    sink: StoreSink,
    receivers: tuple[HecReceiver, HttpLogpushReceiver],
) -> None:
    bad = [*BATCH, {**BATCH[0], "Datetime": 1, "SampleInterval": "x"}]
    message = type_error(bad)
    headers = {**AUTH, "Content-Encoding": "gzip"}
    r = client.post(LOGPUSH, content=gzip.compress(ndjson(*bad)), headers=headers)
    assert (r.status_code, r.json()) == (400, {"error": message, "reason": "invalid_format"})
    assert stored(store) == 0
    assert sink.stats()["received"] == 0
    assert receivers[1].stats.as_dict()["requests"] == {"invalid_format": 1}


def test_a_mixed_datetime_is_refused_too(client: httpx.Client, store: AnalyticsStore) -> None:
    # unixnano in one record, RFC 3339 in the next: no single reading of the column.
    bad = [BATCH[0], {**BATCH[1], "Datetime": T0}]
    r = client.post(RAW, content=ndjson(*bad), headers=AUTH)
    assert (r.status_code, r.json()["code"]) == (400, 6)
    assert r.json()["text"].startswith("Invalid data format: Datetime: ")
    assert stored(store) == 0


# -- a sender's retry counts once -------------------------------------------------------------


def test_a_batch_sent_twice_is_stored_once(
    client: httpx.Client, store: AnalyticsStore, sink: StoreSink
) -> None:
    n = len(BATCH)
    for attempt in range(2):  # the second as a retry would come: gzipped this time
        body = ndjson(*BATCH) if attempt == 0 else gzip.compress(ndjson(*BATCH))
        r = client.post(
            RAW, content=body, headers={**AUTH, "Content-Encoding": "gzip"} if attempt else AUTH
        )
        assert (r.status_code, r.json()) == (200, {"text": "Success", "code": 0})
    # The same batch through the generic Logpush endpoint, as a job with both would send it.
    r = client.post(LOGPUSH, content=gzip.compress(ndjson(*BATCH)), headers=AUTH)
    assert (r.status_code, r.json()) == (200, {"ok": True, "records": n})
    assert sink.stats() == {"received": 3 * n, "inserted": n, "duplicates": 2 * n, "late": 0}
    assert stored(store) == n
    packets, nbytes = counted(BATCH)
    summary = Queries(store).summary(View(T0, T0 + 60 * NS_PER_S))
    assert (summary.packets, summary.bytes) == (packets, nbytes)
    assert summary.dropped_packets == 100 + 1000 + 10


def test_exact_datetimes_are_stored(client: httpx.Client, store: AnalyticsStore) -> None:
    r = client.post(RAW, content=ndjson(*BATCH), headers=AUTH)
    assert r.status_code == 200
    rows = store.con.execute(
        "SELECT Datetime, SampleInterval FROM records ORDER BY Datetime"
    ).fetchall()
    assert rows == [
        (T0 + (i + 1) * 1_000_000 + 7, int(r["SampleInterval"])) for i, r in enumerate(BATCH)
    ]


def test_concurrent_batches_are_all_stored(client: httpx.Client, store: AnalyticsStore) -> None:
    """Requests run in worker threads at once; the store's one DuckDB connection must not
    turn that into code 8 (it refuses a second caller mid-transaction)."""
    batches = [
        [record(1000 * k + i, "magic-firewall", "pass", k + 1, 100) for i in range(200)]
        for k in range(8)
    ]

    def post(batch: list[dict[str, Any]]) -> tuple[int, Any]:
        r = client.post(RAW, content=ndjson(*batch), headers=AUTH)
        return r.status_code, r.json()

    with ThreadPoolExecutor(len(batches)) as pool:
        answers = list(pool.map(post, batches))
    assert answers == [(200, {"text": "Success", "code": 0})] * len(batches)
    assert stored(store) == 200 * len(batches)
    summary = Queries(store).summary(View(T0, T0 + 60 * NS_PER_S))
    assert summary.packets == sum(200 * (k + 1) for k in range(len(batches)))
