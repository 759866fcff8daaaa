"""The live record stream over WebSocket, in the spirit of Cloudflare's Instant Logs.

``GET /client/v4/accounts/{account_id}/logpush/instant/ws`` upgraded to a WebSocket, with
``Authorization: Bearer <token>`` (Logs Write on the account, like every Logpush route: the
records are the sensitive part) and optional query parameters:

- ``filter``: a Logpush job filter (JSON, the same rules and limits as a job's ``filter``);
- ``sample``: keep 1 record in N (N >= 1, default 1), taken after the filter;
- ``fields``: comma-separated field names, in output order (default: all 84);
- ``timestamps``: ``unixnano`` (default), ``unix`` or ``rfc3339``.

Each text message carries one ingest batch's records as NDJSON lines (each ending in
``\\n``). Messages the client sends are ignored. A refused handshake gets the usual failure
envelope as an HTTP answer (401, 403, 400) instead of the upgrade.

Sampling is systematic (every Nth record the filter kept, counted across messages) rather
than random: the rate is exact, and which records survive does not matter to a live view.
A client that reads too slowly loses whole batches (see logpush/live.py); ingest never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from netlogpush.api.auth import ACCOUNT_ID, LOGS_WRITE, authorize
from netlogpush.api.envelope import NO_ROUTE, ApiError, failure, invalid
from netlogpush.dataset.fields import FIELDS_BY_NAME
from netlogpush.dataset.formats import encode_ndjson
from netlogpush.dataset.timestamps import DEFAULT_TIMESTAMP_FORMAT, TIMESTAMP_FORMATS
from netlogpush.logpush.filter import Filter, FilterError, parse_filter
from netlogpush.logpush.live import LiveFeed

log = logging.getLogger(__name__)

PATH = "/accounts/{account_id}/logpush/instant/ws"
MAX_SAMPLE = 1_000_000


@dataclass(frozen=True, slots=True)
class LiveQuery:
    where: Filter | None
    sample: int
    fields: list[str] | None
    timestamps: str


def parse_query(params: Mapping[str, str]) -> LiveQuery:
    """The stream's query parameters, or the 400 naming each bad one."""
    problems: list[tuple[str, str]] = []
    where = None
    try:
        where = parse_filter(params.get("filter"))
    except FilterError as exc:
        path = "filter" if exc.path == "filter" else f"filter.{exc.path}"
        problems.append((path, f"{exc.message} [{exc.rule}]"))
    sample = 1
    raw = params.get("sample", "1")
    if raw.isdigit() and 1 <= int(raw) <= MAX_SAMPLE:
        sample = int(raw)
    else:
        problems.append(("sample", f"must be an integer from 1 to {MAX_SAMPLE}"))
    fields = None
    if params.get("fields"):
        fields = [f.strip() for f in params["fields"].split(",") if f.strip()]
        unknown = [f for f in fields if f not in FIELDS_BY_NAME]
        if unknown or not fields:
            problems.append(("fields", f"unknown field(s): {', '.join(unknown) or '(none given)'}"))
    timestamps = params.get("timestamps", DEFAULT_TIMESTAMP_FORMAT)
    if timestamps not in TIMESTAMP_FORMATS:
        problems.append(("timestamps", f"must be one of {', '.join(TIMESTAMP_FORMATS)}"))
    if problems:
        raise invalid(problems)
    return LiveQuery(where, sample, fields, timestamps)


class Shaper:
    """Filter, sample and encode one client's tables; keeps the sampling phase across them."""

    def __init__(self, query: LiveQuery) -> None:
        self.query = query
        self._seen = 0  # records that passed the filter so far

    def encode(self, table: pa.Table) -> bytes:
        q = self.query
        if q.where is not None:
            table = q.where.apply(table)
        if q.sample > 1:
            n = table.num_rows
            first = (-self._seen) % q.sample  # the next index that is a multiple of N overall
            self._seen += n
            table = table.take(pa.array(np.arange(first, n, q.sample, dtype=np.int64)))
        return bytes(encode_ndjson(table, q.fields, q.timestamps))


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


def build_live_router() -> APIRouter:
    router = APIRouter()

    @router.websocket(PATH, name="instant_logs_ws")
    async def instant_logs(websocket: WebSocket, account_id: str) -> None:
        api = websocket.app.state.api
        feed: LiveFeed = api.live
        try:
            if not ACCOUNT_ID.match(account_id):
                raise ApiError(400, [(NO_ROUTE, f"Could not route to {websocket.url.path}, "
                                      "perhaps your object identifier is invalid?")])  # fmt: skip
            authorize(api.tokens, websocket.headers, account_id, LOGS_WRITE)
            query = parse_query(websocket.query_params)
        except ApiError as exc:
            await websocket.send_denial_response(failure(exc.status, exc.errors))
            return
        await websocket.accept()
        sub = feed.subscribe()
        shaper = Shaper(query)

        async def pump() -> None:
            while (table := await sub.next_table()) is not None:
                # Encoding is column-wise but not free: off the event loop, so one client's
                # big batch does not stall the others (and the API).
                body = await run_in_threadpool(shaper.encode, table)
                if body:
                    await websocket.send_text(body.decode())

        reader = asyncio.create_task(_drain(websocket))
        writer = asyncio.create_task(pump())
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            if reader not in done:  # the feed ended (shutdown) or sending failed: say goodbye
                with contextlib.suppress(Exception):
                    await websocket.close(1001)
        finally:
            feed.unsubscribe(sub)
            for task in (reader, writer):
                task.cancel()
            for task in (reader, writer):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if sub.dropped_records:
                log.info("live stream client dropped %d records (too slow)", sub.dropped_records)

    return router
