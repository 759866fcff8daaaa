"""``replay_live``: a capture re-timed to start now, released slice by slice at its wall time.

The clock and the sleep are fakes: the sleep records how long it was asked to wait and moves
the clock on by exactly that, so the test runs in no time and every wait is checked exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from netlogpush.decode.frames import FrameBatch, FrameBatchBuilder
from netlogpush.scenarios.catalog import ScenarioSummary, write_scenario
from netlogpush.sources.pcap import iter_batches
from netlogpush.sources.replay import SLICE_NS, replay_live

START = 1_800_000_000_123_456_789  # "now" on the fake clock: not a whole second
MS = 1_000_000


class FakeTime:
    def __init__(self, now: int) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += round(seconds * 1e9)

    @property
    def slept_ns(self) -> int:
        return sum(round(s * 1e9) for s in self.sleeps)


def columns(batches: list[FrameBatch]) -> dict[str, np.ndarray]:
    """Every frame's bytes and metadata, concatenated over the batches."""
    return {
        "frames": np.array([b.frame(i) for b in batches for i in range(len(b))], dtype=object),
        "ts_ns": np.concatenate([b.ts_ns for b in batches]),
        "caplen": np.concatenate([b.caplen for b in batches]),
        "wirelen": np.concatenate([b.wirelen for b in batches]),
        "linktype": np.concatenate([b.linktype for b in batches]),
        "sample_interval": np.concatenate([b.sample_interval for b in batches]),
    }


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> ScenarioSummary:
    """About 2.5 s of benign traffic with a SYN flood in the middle."""
    path = tmp_path_factory.mktemp("replay") / "syn.pcap"
    return write_scenario("syn-flood", path, seed=4, duration_s=2.5, attack_start_s=0.8,
                          attack_duration_s=1.0, benign_pps=1500.0, attack_pps=4000.0)  # fmt: skip


def batches(capture: ScenarioSummary) -> Iterator[FrameBatch]:
    # Small batches, so slices are also cut where one batch ends and the next begins.
    return iter_batches(capture.path, batch_frames=1000)


@pytest.fixture(scope="module")
def original(capture: ScenarioSummary) -> dict[str, np.ndarray]:
    cols = columns(list(batches(capture)))
    ts = cols["ts_ns"]
    assert len(ts) == capture.packets > 5000
    assert np.all(np.diff(ts) >= 0)  # a capture in time order (the out-of-order case is below)
    # Flows that started before the end finish after it: the span is the summary's, not 2.5 s.
    assert capture.start_ns <= ts[0] < ts[-1] == capture.end_ns - 1
    assert ts[-1] - ts[0] > 2_000_000_000
    return cols


def test_every_frame_once_in_order_shifted_exactly(
    capture: ScenarioSummary, original: dict[str, np.ndarray]
) -> None:
    fake = FakeTime(START)
    out: list[FrameBatch] = []
    released_at: list[int] = []
    for part in replay_live(batches(capture), clock=fake.clock, sleep=fake.sleep):
        out.append(part)
        released_at.append(fake.now)
    got = columns(out)
    shift = START - int(original["ts_ns"][0])
    assert np.array_equal(got["ts_ns"], original["ts_ns"] + shift)
    assert got["ts_ns"][0] == START
    for name in ("frames", "caplen", "wirelen", "linktype", "sample_interval"):
        assert np.array_equal(got[name], original[name]), name
    # Slices: never empty, each under SLICE_NS of capture time, each released at its first
    # frame's time (the consumer takes no time here, so the replay is never behind).
    assert all(len(p) > 0 for p in out)
    assert all(int(p.ts_ns[-1]) - int(p.ts_ns[0]) < SLICE_NS for p in out)
    assert released_at == [int(p.ts_ns[0]) for p in out]
    span = int(original["ts_ns"][-1] - original["ts_ns"][0])
    assert len(out) >= span // SLICE_NS
    # Slept for the capture's span, up to the start of the last slice.
    assert span - SLICE_NS < fake.slept_ns <= span
    assert fake.slept_ns == int(out[-1].ts_ns[0]) - START
    assert len(fake.sleeps) == len(out) - 1  # before every slice but the first


def test_stopped_ends_it_early(capture: ScenarioSummary) -> None:
    fake = FakeTime(START)
    out: list[FrameBatch] = []
    for part in replay_live(batches(capture), clock=fake.clock, sleep=fake.sleep,
                            stopped=lambda: len(out) >= 3):  # fmt: skip
        out.append(part)
    assert len(out) == 3
    # No wait for a slice that was never released.
    assert fake.slept_ns == int(out[2].ts_ns[0]) - START
    assert len(fake.sleeps) == 2


def test_stopped_before_the_first_slice(capture: ScenarioSummary) -> None:
    fake = FakeTime(START)
    assert (
        list(
            replay_live(batches(capture), clock=fake.clock, sleep=fake.sleep, stopped=lambda: True)
        )
        == []
    )
    assert fake.sleeps == []


def test_a_slow_consumer_is_not_made_to_wait(
    capture: ScenarioSummary, original: dict[str, np.ndarray]
) -> None:
    fake = FakeTime(START)
    frames = 0
    for part in replay_live(batches(capture), clock=fake.clock, sleep=fake.sleep):
        frames += len(part)
        fake.now += 3 * SLICE_NS  # processing a slice takes longer than the slice lasts
    assert fake.sleeps == []
    assert frames == len(original["ts_ns"])


def frame(i: int) -> bytes:
    return bytes([i]) * 60


def test_out_of_order_frames_are_released_in_file_order() -> None:
    t = 1_700_000_000 * 1_000_000_000
    offsets_ms = [0, 50, 30, 250, 120, 260]
    builder = FrameBatchBuilder()
    for i, ms in enumerate(offsets_ms):
        builder.append(frame(i), t + ms * MS, 1)
    fake = FakeTime(START)
    out = list(
        replay_live([FrameBatch.empty(), builder.build()], clock=fake.clock, sleep=fake.sleep)
    )
    # The first slice is cut at the first frame at or past 100 ms (the 250 ms one), the second
    # holds the rest: the 120 ms frame goes out with the 250 ms one, late but once.
    assert [[p.frame(i) for i in range(len(p))] for p in out] == [
        [frame(0), frame(1), frame(2)],
        [frame(3), frame(4), frame(5)],
    ]
    assert np.concatenate([p.ts_ns for p in out]).tolist() == [START + ms * MS for ms in offsets_ms]
    assert fake.sleeps == [0.25]


def test_timestamps_shift_from_the_first_frame_of_the_first_non_empty_batch() -> None:
    t = 1_600_000_000 * 1_000_000_000 + 17
    first, second = FrameBatchBuilder(), FrameBatchBuilder()
    first.append(frame(1), t, 1)
    second.append(frame(2), t + 150 * MS, 1)
    second.append(frame(3), t + 160 * MS, 1)
    fake = FakeTime(START)
    out = list(replay_live([FrameBatch.empty(), first.build(), FrameBatch.empty(), second.build()],
                           clock=fake.clock, sleep=fake.sleep))  # fmt: skip
    assert [p.ts_ns.tolist() for p in out] == [[START], [START + 150 * MS, START + 160 * MS]]
    assert fake.sleeps == [0.15]
