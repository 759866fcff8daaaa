from __future__ import annotations

import logging
from pathlib import Path

import pytest
from stream_support import drain, records

from netlogpush.stream import EmbeddedConfig, RetentionPolicy, open_stream
from netlogpush.stream.retention import (
    SegmentSummary,
    pass_consumer,
    segments_to_delete,
)

S = 1_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000 * S

    def __call__(self) -> int:
        return self.now


def test_segments_to_delete_rules() -> None:
    segs = [SegmentSummary(100, 10 * S), SegmentSummary(100, 20 * S), SegmentSummary(100, 30 * S)]
    assert segments_to_delete(segs, RetentionPolicy(250, None), 0) == 1
    assert segments_to_delete(segs, RetentionPolicy(100, None), 0) == 2  # never the last
    assert segments_to_delete(segs, RetentionPolicy(None, 15.0), 30 * S) == 1
    assert segments_to_delete(segs, RetentionPolicy(None, 1.0), 100 * S) == 2
    assert segments_to_delete(segs, RetentionPolicy(None, None), 100 * S) == 0
    with pytest.raises(ValueError):
        RetentionPolicy(0, None)


def test_pass_consumer_counts_only_undelivered() -> None:
    assert pass_consumer(cursor=10, delivered=10, first_seq=50) == (49, 39)
    assert pass_consumer(cursor=10, delivered=30, first_seq=50) == (49, 19)  # 11..30 in flight
    assert pass_consumer(cursor=10, delivered=80, first_seq=50) == (49, 0)
    assert pass_consumer(cursor=49, delivered=49, first_seq=50) == (49, 0)


def test_size_retention_counts_exact_skips(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # One 100-record batch per segment; measure a segment's size, then bound at 3.5 of them.
    probe = tmp_path / "probe"
    with open_stream(probe, EmbeddedConfig(segment_bytes=1)) as s:
        s.append(records(1, 100))
        seg_size = s.stats().disk_bytes - (probe / "cursors.ledger").stat().st_size
    cfg = EmbeddedConfig(
        segment_bytes=1, retention=RetentionPolicy(max_bytes=int(seg_size * 3.5), max_age_s=None)
    )
    d = tmp_path / "s"
    with caplog.at_level(logging.WARNING), open_stream(d, cfg) as s:
        s.add_consumer("slow")
        s.add_consumer("fast")
        for i in range(10):
            s.append(records(1 + 100 * i, 100))
            assert drain(s, "fast") == list(range(1 + 100 * i, 101 + 100 * i))
        st = s.stats()
        assert (st.segments, st.first_seq, st.head_seq) == (3, 701, 1000)
        assert st.retention_deleted_records == 700
        assert st.disk_bytes <= int(seg_size * 3.5) + (d / "cursors.ledger").stat().st_size
        slow, fast = st.consumers["slow"], st.consumers["fast"]
        assert (slow.cursor, slow.skipped, slow.lag) == (700, 700, 300)
        assert (fast.cursor, fast.skipped, fast.lag) == (1000, 0, 0)
        assert drain(s, "slow") == list(range(701, 1001))
    lines = [r.getMessage() for r in caplog.records if "fell behind retention" in r.getMessage()]
    assert lines[0] == (
        "stream consumer slow fell behind retention: skipped 100 records (1..100 were deleted "
        "before it read them); its cursor moves to 100"
    )
    assert len(lines) == 7  # one per deleted segment: 1..100 up to 601..700
    with open_stream(d, cfg) as s:  # counted once, durably
        assert s.consumer_info("slow").skipped == 700


def test_in_flight_records_are_not_counted_as_skipped(tmp_path: Path) -> None:
    cfg = EmbeddedConfig(segment_bytes=1, retention=RetentionPolicy(max_bytes=1, max_age_s=None))
    with open_stream(tmp_path, cfg) as s:
        s.add_consumer("j")
        s.append(records(1, 100))
        got = s.fetch("j", 60)  # 1..60 in flight
        assert got is not None
        s.append(records(101, 100))  # the first segment goes
        info = s.consumer_info("j")
        assert (info.cursor, info.skipped) == (100, 40)
        s.ack("j", 60)  # a no-op now
        assert drain(s, "j") == list(range(101, 201))
        assert s.consumer_info("j").skipped == 40


def test_age_retention_counts_exact_skips(tmp_path: Path) -> None:
    clock = Clock()
    cfg = EmbeddedConfig(clock=clock, retention=RetentionPolicy(max_bytes=None, max_age_s=80.0))
    with open_stream(tmp_path, cfg) as s:
        s.add_consumer("j")
        for i in range(10):  # a batch every 5 s; segments roll every 10 s (80 / 8)
            s.append(records(1 + 10 * i, 10))
            clock.now += 5 * S
        assert s.stats().segments == 5
        assert s.stats().first_seq == 1
        clock.now += 50 * S  # now 100 s after the first append
        s.enforce_retention()
        st = s.stats()
        # Segments whose newest record is over 80 s old: those of 0..5 s and 10..15 s.
        assert (st.segments, st.first_seq) == (3, 41)
        assert (st.consumers["j"].cursor, st.consumers["j"].skipped) == (40, 40)
        assert drain(s, "j") == list(range(41, 101))
    clock.now += 1000 * S
    with open_stream(tmp_path, cfg) as s:  # applied on open too; the active segment stays
        assert s.stats().segments == 1
        assert s.consumer_info("j").skipped == 40
