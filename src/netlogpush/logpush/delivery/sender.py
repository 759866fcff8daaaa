"""What every destination sender implements: ``send(body, meta) -> SendResult``.

A sender makes exactly one attempt. Retrying, backoff and dead-lettering live in
``retry.py`` and ``runner.py``, so each transport only has to say what happened and whether
trying again could help.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class BatchMeta:
    """What a sender may need besides the gzipped body.

    ``raw`` is the uncompressed body: object names hash it (paths.object_name) so a retried
    batch overwrites its own object, and the Splunk event endpoint re-frames its records.
    ``first_record_ns`` is the first record's ``Datetime`` (for ``{DATE}``); ``start_ns`` and
    ``end_ns`` are the wall-clock times the batch opened and closed (for object names).
    """

    job_id: str
    raw: bytes
    records: int
    first_seq: int
    last_seq: int
    first_record_ns: int
    start_ns: int
    end_ns: int
    content_type: str = "application/x-ndjson"


@dataclass(frozen=True, slots=True)
class SendResult:
    """One attempt's outcome.

    ``retryable`` is only meaningful when ``ok`` is false: transport errors, timeouts, 408,
    429 and 5xx are; anything else (other 4xx, a refused request) goes to the dead-letter
    store at once. ``retry_after`` is the receiver's ``Retry-After`` in seconds, if any.
    """

    ok: bool
    retryable: bool = False
    status: int | None = None
    message: str = ""
    retry_after: float | None = None
    location: str = ""  # where the batch went (URL or object key), for logs and tests


@runtime_checkable
class Sender(Protocol):
    def send(self, body: bytes, meta: BatchMeta) -> SendResult:
        """Make one attempt to deliver ``body`` (gzip) and say how it went. Never raises
        for a failure of the destination; only for a programming error."""
        ...

    def close(self) -> None: ...


def classify_status(status: int) -> tuple[bool, bool]:
    """``(ok, retryable)`` for an HTTP status (issue 4, "Failures").

    2xx is delivered; 408, 429 and 5xx are retried; every other answer, 1xx/3xx included
    (redirects are not followed: a moved endpoint is a configuration problem), is final.
    """
    if 200 <= status < 300:
        return True, False
    return False, status in (408, 429) or 500 <= status < 600


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header; the HTTP-date form is ignored (rare, and a
    receiver's clock is not ours to trust)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
