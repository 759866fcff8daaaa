"""Retrying one batch: capped exponential backoff with full jitter, inside a retry window.

Full jitter (``sleep = uniform(0, min(cap, base * 2**attempt))``, AWS Architecture Blog,
"Exponential Backoff And Jitter") spreads the retries of many jobs hitting one recovering
receiver. A receiver's ``Retry-After`` is honoured up to the cap. When the window since the
first attempt is used up, or the answer is final (other 4xx), the caller dead-letters the
batch. Waiting is done on a ``threading.Event`` so that a shutdown interrupts it at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from netlogpush.logpush.delivery.sender import BatchMeta, Sender, SendResult


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 0.5
    cap_seconds: float = 60.0
    #: After this long since the first attempt a failing batch is dead-lettered.
    window_seconds: float = 900.0

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("need 0 < base_seconds <= cap_seconds")
        if self.window_seconds < 0:
            raise ValueError("window_seconds must be >= 0")

    def ceiling(self, attempt: int) -> float:
        """The largest delay after failed attempt number ``attempt`` (0-based)."""
        # min() before the power would be nicer, but 2**attempt as a float overflows only
        # past attempt 1023; clamp the exponent instead.
        return min(self.cap_seconds, self.base_seconds * 2.0 ** min(attempt, 62))

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        d = rng.uniform(0.0, self.ceiling(attempt))
        if retry_after is not None:
            d = max(d, min(retry_after, self.cap_seconds))
        return d


Verdict = Literal["delivered", "rejected", "exhausted", "aborted"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """``rejected``: a final answer; ``exhausted``: the window ran out; ``aborted``: stop
    was asked for while waiting (the batch is neither delivered nor dead-lettered)."""

    verdict: Verdict
    attempts: int
    last: SendResult

    @property
    def delivered(self) -> bool:
        return self.verdict == "delivered"


def deliver(
    sender: Sender,
    body: bytes,
    meta: BatchMeta,
    policy: RetryPolicy,
    stop: threading.Event,
    *,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_retry: Callable[[SendResult, float], None] | None = None,
) -> Outcome:
    """Send ``body`` until it is delivered, refused, out of window, or ``stop`` is set."""
    rng = rng or random.Random()
    started = clock()
    attempt = 0
    while True:
        result = sender.send(body, meta)
        attempt += 1
        if result.ok:
            return Outcome("delivered", attempt, result)
        if not result.retryable:
            return Outcome("rejected", attempt, result)
        wait = policy.delay(attempt - 1, rng, result.retry_after)
        if clock() + wait - started > policy.window_seconds:
            return Outcome("exhausted", attempt, result)
        if on_retry is not None:
            on_retry(result, wait)
        if stop.wait(wait):
            return Outcome("aborted", attempt, result)
