from __future__ import annotations

import random
import threading
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlogpush.logpush.delivery import BatchMeta, RetryPolicy, SendResult, classify_status, deliver
from netlogpush.logpush.delivery.sender import parse_retry_after

META = BatchMeta("job", b"x\n", 1, 1, 1, 0, 0, 0)


class Scripted:
    """A sender answering from a list (the retry loop's own logic under test)."""

    def __init__(self, *results: SendResult) -> None:
        self.results = deque(results)
        self.calls = 0

    def send(self, body: bytes, meta: BatchMeta) -> SendResult:
        self.calls += 1
        return self.results.popleft()

    def close(self) -> None:
        return None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class StepEvent(threading.Event):
    """``wait`` advances the fake clock instead of sleeping."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        self.clock.now += timeout
        return self.is_set()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, (True, False)), (204, (True, False)), (408, (False, True)), (429, (False, True)),
        (500, (False, True)), (503, (False, True)), (599, (False, True)), (400, (False, False)),
        (401, (False, False)), (403, (False, False)), (404, (False, False)),
        (413, (False, False)), (301, (False, False)), (100, (False, False)),
    ],
)
def test_classify_status(status: int, expected: tuple[bool, bool]) -> None:
    assert classify_status(status) == expected


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after("-1") is None
    assert parse_retry_after(None) is None


@given(st.integers(0, 5000), st.integers(0, 2**32))
def test_full_jitter_within_capped_ceiling(attempt: int, seed: int) -> None:
    p = RetryPolicy(base_seconds=0.5, cap_seconds=30.0)
    ceiling = min(30.0, 0.5 * 2 ** min(attempt, 62))
    assert p.ceiling(attempt) == ceiling
    d = p.delay(attempt, random.Random(seed))
    assert 0.0 <= d <= ceiling


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    p = RetryPolicy(base_seconds=0.001, cap_seconds=10.0)
    assert p.delay(0, random.Random(1), retry_after=4.0) == 4.0
    assert p.delay(0, random.Random(1), retry_after=400.0) == 10.0


def test_retries_until_delivered() -> None:
    clock = FakeClock()
    stop = StepEvent(clock)
    fail = SendResult(False, True, 503, "HTTP 503")
    sender = Scripted(fail, fail, SendResult(False, True, None, "ReadTimeout"), SendResult(True))
    seen: list[str] = []
    out = deliver(sender, b"", META, RetryPolicy(1.0, 8.0, 100.0), stop, rng=random.Random(0),
                  clock=clock, on_retry=lambda r, w: seen.append(r.message))
    assert (out.verdict, out.attempts, sender.calls) == ("delivered", 4, 4)
    assert seen == ["HTTP 503", "HTTP 503", "ReadTimeout"]
    assert [w <= c for w, c in zip(stop.waits, (1.0, 2.0, 4.0), strict=True)] == [True] * 3


def test_final_answer_is_not_retried() -> None:
    clock = FakeClock()
    sender = Scripted(SendResult(False, True, 429, "slow down"), SendResult(False, False, 400, "bad"))
    out = deliver(sender, b"", META, RetryPolicy(), StepEvent(clock), clock=clock)
    assert (out.verdict, out.attempts, out.last.status) == ("rejected", 2, 400)


def test_window_exhausted() -> None:
    clock = FakeClock()
    stop = StepEvent(clock)
    sender = Scripted(*[SendResult(False, True, 500, "boom")] * 1000)
    out = deliver(sender, b"", META, RetryPolicy(1.0, 4.0, 20.0), stop, rng=random.Random(3),
                  clock=clock)
    assert out.verdict == "exhausted"
    assert clock.now <= 20.0
    assert out.attempts == len(stop.waits) + 1
    assert out.attempts >= 6  # at most 4 s per wait inside a 20 s window


def test_stop_aborts_the_wait() -> None:
    stop = threading.Event()
    stop.set()
    sender = Scripted(SendResult(False, True, 500, "boom"))
    out = deliver(sender, b"", META, RetryPolicy(5.0, 5.0, 60.0), stop)
    assert (out.verdict, out.attempts) == ("aborted", 1)


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(base_seconds=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_seconds=2, cap_seconds=1)
    with pytest.raises(ValueError):
        RetryPolicy(window_seconds=-1)
