"""Pieces shared by the HEC and generic-Logpush apps: bounded body reading, auth, busy limits."""

from __future__ import annotations

import base64
import binascii
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from netlogpush.dataset.reader import RecordError
from netlogpush.receiver.body import is_validation_upload
from netlogpush.receiver.sink import RecordSink
from netlogpush.receiver.tokens import HecToken, HecTokenStore


@dataclass
class ReceiverConfig:
    #: Largest request body as sent (possibly gzipped).
    max_body_bytes: int = 32 << 20
    #: Largest body after inflating; caps gzip bombs. Logpush batches default to 5 MB.
    max_inflated_bytes: int = 256 << 20
    #: Requests processed at once; beyond this HEC answers 9 "Server is busy" so senders retry.
    max_inflight: int = 16
    #: Splunk's ``?token=`` form; off by default like Splunk's (code 16 otherwise).
    allow_query_token: bool = False


@dataclass
class ReceiverStats:
    """Counters by outcome; read by tests, the API and the dashboard."""

    requests: Counter[str] = field(default_factory=Counter)
    records: int = 0
    bytes_in: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, outcome: str, records: int = 0, nbytes: int = 0) -> None:
        with self._lock:
            self.requests[outcome] += 1
            self.records += records
            self.bytes_in += nbytes

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": dict(self.requests), "records": self.records,
                    "bytes_in": self.bytes_in}  # fmt: skip


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or :class:`TooLarge` as soon as it passes ``limit`` (no unbounded buffering)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def presented_token(authorization: str) -> str | None:
    """The token in ``Splunk <t>``, ``Bearer <t>`` or Basic (token as password); None if malformed."""
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    scheme = scheme.lower()
    if scheme in ("splunk", "bearer") and value and " " not in value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _user, sep, password = decoded.partition(":")
        return password if sep and password else None
    return None


def token_allows_index(token: HecToken, index: str) -> bool:
    return not token.indexes or index in token.indexes


class Inflight:
    """A non-blocking counter: over the limit means answer "busy" now, not queue."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.current = 0
        self._lock = threading.Lock()

    def try_enter(self) -> bool:
        with self._lock:
            if self.current >= self.limit:
                return False
            self.current += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.current -= 1

    @property
    def full(self) -> bool:
        return self.current >= self.limit


__all__ = [
    "HecTokenStore", "Inflight", "ReceiverConfig", "ReceiverStats", "TooLarge",
    "presented_token", "read_body", "token_allows_index",
]  # fmt: skip


def hand_over(
    sink: RecordSink, stats: ReceiverStats, records: list[dict[str, Any]], nbytes: int
) -> tuple[str, str]:
    """Give a parsed request's records to the sink and count the outcome; both receivers
    answer from it in their own protocol. ``(outcome, detail)`` with outcome ``validation``
    (Cloudflare's test upload, not stored), ``ok``, ``invalid_format`` (a value of the wrong
    type: retrying cannot fix it) or ``sink_error`` (the server's fault: the sender retries)."""
    if is_validation_upload(records):
        stats.count("validation")
        return "validation", ""
    try:
        sink.on_records(records)
    except RecordError as exc:
        stats.count("invalid_format")
        return "invalid_format", str(exc)
    except Exception:  # a failing sink must not take the server down
        stats.count("sink_error")
        return "sink_error", ""
    stats.count("ok", len(records), nbytes)
    return "ok", ""
