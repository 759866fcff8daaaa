"""A Splunk HTTP Event Collector (HEC) endpoint: the protocol Cloudflare's Splunk destination speaks.

Routes (reference spec §5): ``POST /services/collector/raw`` (NDJSON, one record a line, channel
required), ``POST /services/collector/event`` and ``/services/collector`` (concatenated
``{"event": {...}}`` envelopes), their ``/1.0`` twins, ``GET /services/collector/health`` and
``POST /services/collector/ack`` (acks are never enabled, so code 14).

Responses are Splunk's ``{"text": ..., "code": N}`` with Splunk's HTTP statuses. Deviations,
because netlogpush stores dataset records rather than free text:
- a line or event that is not a ``network_analytics_logs`` record (not a JSON object, or a
  field the dataset never had) is code 6 "Invalid data format" with ``invalid-event-number``;
- a request is all-or-nothing: nothing of a rejected request reaches the sink, so a sender's
  retry cannot double-count the records before the bad one.

Starlette never inflates request bodies (aiohttp's server does, one small chunk at a time,
which caps throughput); :func:`netlogpush.receiver.body.decode_body` inflates explicitly with
ISA-L in a worker thread, so two requests inflate on two cores.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from netlogpush.receiver._common import (
    Inflight,
    ReceiverConfig,
    ReceiverStats,
    TooLarge,
    hand_over,
    presented_token,
    read_body,
    token_allows_index,
)
from netlogpush.receiver.body import (
    BodyError,
    IndexRefused,
    decode_body,
    parse_events,
    parse_ndjson,
)
from netlogpush.receiver.sink import RecordSink
from netlogpush.receiver.tokens import HecToken, HecTokenStore

#: code -> (HTTP status, text), as Splunk documents them (reference spec §5).
CODES: dict[int, tuple[int, str]] = {
    0: (200, "Success"),
    1: (403, "Token disabled"),
    2: (401, "Token is required"),
    3: (401, "Invalid authorization"),
    4: (403, "Invalid token"),
    5: (400, "No data"),
    6: (400, "Invalid data format"),
    7: (400, "Incorrect index"),
    8: (500, "Internal server error"),
    9: (503, "Server is busy"),
    10: (400, "Data channel is missing"),
    11: (400, "Invalid data channel"),
    12: (400, "Event field is required"),
    13: (400, "Event field cannot be blank"),
    14: (400, "ACK is disabled"),
    16: (400, "Query string authorization is not enabled"),
    17: (200, "HEC is healthy"),
    18: (503, "HEC is unhealthy, queues are full"),
}
_REASON_CODE = {
    "no_data": 5, "invalid_format": 6, "event_required": 12, "event_blank": 13,
    "too_large": 6, "bad_gzip": 6, "bad_encoding": 6,
}  # fmt: skip
# Splunk channels are GUIDs in the 8-4-4-4-12 form; uuid.UUID would also accept braces and URNs.
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


def hec_response(code: int, status: int | None = None, **extra: Any) -> Response:
    http, text = CODES[code]
    body: dict[str, Any] = {"text": text, "code": code, **extra}
    return Response(orjson.dumps(body), status_code=status or http, media_type="application/json")


class _Reject(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class HecReceiver:
    """The HEC app's state; :meth:`routes` mounts into any Starlette/FastAPI app."""

    def __init__(
        self, tokens: HecTokenStore, sink: RecordSink, config: ReceiverConfig | None = None
    ) -> None:
        self.tokens = tokens
        self.sink = sink
        self.config = config or ReceiverConfig()
        self.stats = ReceiverStats()
        self.inflight = Inflight(self.config.max_inflight)

    # -- checks shared by every POST route -------------------------------------------------
    def _authenticate(self, request: Request) -> HecToken:
        header = request.headers.get("authorization")
        secret: str | None
        if header is None:
            if "token" in request.query_params:
                if not self.config.allow_query_token:
                    raise _Reject(16)
                secret = request.query_params["token"]
            else:
                raise _Reject(2)
        else:
            secret = presented_token(header)
            if secret is None:
                raise _Reject(3)
        token = self.tokens.lookup(secret)
        if token is None:
            raise _Reject(4)
        if not token.enabled:
            raise _Reject(1)
        return token

    @staticmethod
    def _channel(request: Request, required: bool) -> str | None:
        channel = request.headers.get("x-splunk-request-channel") or request.query_params.get(
            "channel"
        )
        if not channel:
            if required:
                raise _Reject(10)
            return None
        if not _GUID.match(channel):
            raise _Reject(11)
        return channel

    def _parse(self, data: bytes, encoding: str | None, kind: str, token: HecToken,
               index: str | None) -> list[dict[str, Any]]:  # fmt: skip
        text = decode_body(data, encoding, self.config.max_inflated_bytes)
        if kind == "raw":
            if index is not None and not token_allows_index(token, index):
                raise IndexRefused(index, 0)
            return parse_ndjson(text)
        return parse_events(text, lambda i: token_allows_index(token, i))

    def _ingest(self, data: bytes, encoding: str | None, kind: str, token: HecToken,
                index: str | None) -> Response:  # fmt: skip
        """Runs in a worker thread: inflate, parse, hand to the sink. Never raises."""
        try:
            records = self._parse(data, encoding, kind, token, index)
        except IndexRefused as exc:
            self.stats.count("incorrect_index")
            return hec_response(7, **{"invalid-event-number": exc.event_number})
        except BodyError as exc:
            self.stats.count(exc.reason)
            code = _REASON_CODE[exc.reason]
            extra: dict[str, Any] = {}
            if exc.event_number is not None:
                extra["invalid-event-number"] = exc.event_number
            # 413/415 as Splunk (body limit) and VECTOR (unknown Content-Encoding) answer them.
            status = {"too_large": 413, "bad_encoding": 415}.get(exc.reason)
            return hec_response(code, status, **extra)
        except Exception:  # bad input must never take the server down
            self.stats.count("internal_error")
            return hec_response(8)
        outcome, detail = hand_over(self.sink, self.stats, records, len(data))
        if outcome == "invalid_format":
            return hec_response(6, text=f"Invalid data format: {detail}")
        return hec_response(8 if outcome == "sink_error" else 0)  # 8 means retry

    def _endpoint(self, kind: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                token = self._authenticate(request)
                self._channel(request, required=kind == "raw")
                if kind == "ack":
                    raise _Reject(14)
            except _Reject as rej:
                self.stats.count(f"rejected_{rej.code}")
                return hec_response(rej.code)
            if not self.inflight.try_enter():
                self.stats.count("busy")
                return hec_response(9)
            try:
                try:
                    data = await read_body(request, self.config.max_body_bytes)
                except TooLarge:
                    self.stats.count("too_large")
                    return hec_response(6, 413)
                return await run_in_threadpool(
                    self._ingest, data, request.headers.get("content-encoding"), kind, token,
                    request.query_params.get("index"),
                )  # fmt: skip
            finally:
                self.inflight.leave()

        return endpoint

    async def health(self, request: Request) -> Response:
        # Splunk ignores the token here (reference §5), so do we.
        return hec_response(18) if self.inflight.full else hec_response(17)

    def routes(self) -> list[BaseRoute]:
        raw, event, ack = self._endpoint("raw"), self._endpoint("event"), self._endpoint("ack")
        base = "/services/collector"
        return [
            Route(f"{base}/raw", raw, methods=["POST"]),
            Route(f"{base}/raw/1.0", raw, methods=["POST"]),
            Route(f"{base}/event", event, methods=["POST"]),
            Route(f"{base}/event/1.0", event, methods=["POST"]),
            Route(base, event, methods=["POST"]),
            Route(f"{base}/ack", ack, methods=["POST"]),
            Route(f"{base}/health", self.health, methods=["GET"]),
            Route(f"{base}/health/1.0", self.health, methods=["GET"]),
        ]


def create_hec_app(
    tokens: HecTokenStore, sink: RecordSink, config: ReceiverConfig | None = None
) -> Starlette:
    """A standalone ASGI app (``uvicorn``-servable); ``app.state.hec`` is the :class:`HecReceiver`."""
    receiver = HecReceiver(tokens, sink, config)
    app = Starlette(routes=receiver.routes())
    app.state.hec = receiver
    return app
