"""The generic HTTP Logpush shape: gzipped NDJSON POSTs (reference spec §3.2).

A Logpush job with ``destination_conf = "https://host/logpush?header_Authorization=Splunk%20<t>"``
POSTs each batch here. Before creating a job, Cloudflare uploads ``test.txt.gz`` holding
``{"content":"tests"}``; it is answered 200 and not stored.

Auth reuses the HEC token store (``Splunk``/``Bearer``/Basic), because the job's ``header_*``
parameters can carry any of them. Answers are small JSON objects: Cloudflare only looks at the
status (2xx = delivered; other statuses are retried, reference §4), so 4xx is kept for input
that a retry cannot fix and 5xx/503 for the server's own trouble.
"""

from __future__ import annotations

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
)
from netlogpush.receiver.body import BodyError, decode_body, parse_ndjson
from netlogpush.receiver.sink import RecordSink
from netlogpush.receiver.tokens import HecTokenStore

_STATUS = {"no_data": 400, "invalid_format": 400, "event_required": 400, "event_blank": 400,
           "too_large": 413, "bad_gzip": 400, "bad_encoding": 415}  # fmt: skip


def _json(status: int, **body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class HttpLogpushReceiver:
    """``POST <path>`` and ``POST <path>/{anything}`` (jobs may add their own path segments)."""

    def __init__(
        self,
        tokens: HecTokenStore | None,
        sink: RecordSink,
        config: ReceiverConfig | None = None,
        path: str = "/logpush",
    ) -> None:
        #: None turns auth off (a receiver bound to localhost for our own jobs).
        self.tokens = tokens
        self.sink = sink
        self.config = config or ReceiverConfig()
        self.path = path.rstrip("/")
        self.stats = ReceiverStats()
        self.inflight = Inflight(self.config.max_inflight)

    def _auth_error(self, request: Request) -> Response | None:
        if self.tokens is None:
            return None
        header = request.headers.get("authorization")
        if header is None:
            return _json(401, error="authorization required")
        secret = presented_token(header)
        token = self.tokens.lookup(secret) if secret is not None else None
        if token is None or not token.enabled:
            return _json(403, error="invalid token")
        return None

    def _ingest(self, data: bytes, encoding: str | None) -> Response:
        """Worker thread: inflate, parse, sink. Never raises."""
        try:
            records = parse_ndjson(decode_body(data, encoding, self.config.max_inflated_bytes))
        except BodyError as exc:
            self.stats.count(exc.reason)
            return _json(_STATUS[exc.reason], error=str(exc), reason=exc.reason)
        except Exception:  # bad input must never take the server down
            self.stats.count("internal_error")
            return _json(500, error="internal error")
        outcome, detail = hand_over(self.sink, self.stats, records, len(data))
        if outcome == "validation":
            return _json(200, ok=True, records=0, validation=True)
        if outcome == "invalid_format":
            return _json(400, error=detail, reason="invalid_format")
        if outcome == "sink_error":  # 5xx makes Logpush retry the batch
            return _json(500, error="sink failed")
        return _json(200, ok=True, records=len(records))

    async def endpoint(self, request: Request) -> Response:
        denied = self._auth_error(request)
        if denied is not None:
            self.stats.count(f"rejected_{denied.status_code}")
            return denied
        if not self.inflight.try_enter():
            self.stats.count("busy")
            return _json(503, error="server is busy")
        try:
            try:
                data = await read_body(request, self.config.max_body_bytes)
            except TooLarge:
                self.stats.count("too_large")
                return _json(413, error="body too large", reason="too_large")
            return await run_in_threadpool(
                self._ingest, data, request.headers.get("content-encoding")
            )
        finally:
            self.inflight.leave()

    def routes(self) -> list[BaseRoute]:
        return [
            Route(self.path or "/", self.endpoint, methods=["POST", "PUT"]),
            Route(f"{self.path}/{{rest:path}}", self.endpoint, methods=["POST", "PUT"]),
        ]


def create_http_logpush_app(
    tokens: HecTokenStore | None,
    sink: RecordSink,
    config: ReceiverConfig | None = None,
    path: str = "/logpush",
) -> Starlette:
    receiver = HttpLogpushReceiver(tokens, sink, config, path)
    app = Starlette(routes=receiver.routes())
    app.state.http_logpush = receiver
    return app
