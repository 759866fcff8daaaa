from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stream_support import drain, records

from netlogpush.stream import EmbeddedConfig, RetentionPolicy, open_stream
from netlogpush.stream.embedded.framing import FRAME_HEADER_SIZE
from netlogpush.stream.embedded.segment import ScanReport, scan_segment

UNBOUNDED = RetentionPolicy(max_bytes=None, max_age_s=None)


def segment_files(d: Path) -> list[Path]:
    return sorted((d / "segments").glob("*.seg"))


def frame_offsets(path: Path) -> list[int]:
    seg = scan_segment(path, int(path.stem), False, ScanReport())
    return [f.offset for f in seg.frames]


def fill(d: Path, batches: int = 3, n: int = 100, cfg: EmbeddedConfig | None = None) -> None:
    with open_stream(d, cfg) as s:
        s.add_consumer("j")
        for i in range(batches):
            s.append(records(1 + i * n, n))


@pytest.mark.parametrize("cut", [1, FRAME_HEADER_SIZE - 1, FRAME_HEADER_SIZE + 5, -1])
def test_torn_tail_is_truncated(tmp_path: Path, cut: int) -> None:
    fill(tmp_path)
    (seg,) = segment_files(tmp_path)
    last = frame_offsets(seg)[-1]
    size = seg.stat().st_size
    keep = size - 1 if cut == -1 else last + cut  # a part of the last frame was written
    os.truncate(seg, keep)
    with open_stream(tmp_path) as s:
        st = s.stats()
        assert st.head_seq == 200
        assert st.truncated_bytes == keep - last
        assert seg.stat().st_size == last
        assert s.append(records(201, 50)).first_seq == 201  # numbering goes on
        assert drain(s, "j") == list(range(1, 251))
        assert s.consumer_info("j").skipped == 0


def test_garbage_after_the_last_frame_is_truncated(tmp_path: Path) -> None:
    fill(tmp_path)
    (seg,) = segment_files(tmp_path)
    size = seg.stat().st_size
    with seg.open("ab") as fh:
        fh.write(b"NLRF" + b"\x00" * 100)  # a frame header that never completed
    with open_stream(tmp_path) as s:
        assert s.stats().truncated_bytes == 104
        assert seg.stat().st_size == size
        assert drain(s, "j") == list(range(1, 301))


def test_zeroed_tail_payload_is_truncated(tmp_path: Path) -> None:
    """Power loss can leave a file's length written and its last pages zero."""
    fill(tmp_path)
    (seg,) = segment_files(tmp_path)
    last = frame_offsets(seg)[-1]
    size = seg.stat().st_size
    with seg.open("r+b") as fh:
        fh.seek(last + FRAME_HEADER_SIZE)
        fh.write(b"\x00" * (size - last - FRAME_HEADER_SIZE))
    with open_stream(tmp_path) as s:
        assert s.stats().head_seq == 200
        assert drain(s, "j") == list(range(1, 201))


def corrupt_byte(path: Path, offset: int) -> None:
    with path.open("r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0xFF]))


def test_corrupt_payload_in_a_sealed_segment_is_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = EmbeddedConfig(segment_bytes=1, retention=UNBOUNDED)  # one batch per segment
    fill(tmp_path, batches=4, cfg=cfg)
    segs = segment_files(tmp_path)
    assert len(segs) == 4
    off = frame_offsets(segs[1])[0]
    corrupt_byte(segs[1], off + FRAME_HEADER_SIZE + 40)
    with caplog.at_level(logging.ERROR), open_stream(tmp_path, cfg) as s:
        assert drain(s, "j") == [*range(1, 101), *range(201, 401)]
        st = s.stats()
        assert (st.corrupt_frames, st.corrupt_records) == (1, 100)
        assert st.consumers["j"].skipped == 100
        assert st.consumers["j"].cursor == 400
    msg = f"{segs[1]}: corrupt batch at byte {off} (payload checksum mismatch); records 101..200"
    assert any(msg in r.getMessage() for r in caplog.records)
    with open_stream(tmp_path, cfg) as s:  # the skip is durable, counted once
        assert s.consumer_info("j").skipped == 100
        s.add_consumer("late")
        assert drain(s, "late") == [*range(1, 101), *range(201, 401)]
        assert s.consumer_info("late").skipped == 100


def test_corrupt_header_in_the_middle_resyncs_to_the_next_frame(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fill(tmp_path, batches=4)
    (seg,) = segment_files(tmp_path)
    offs = frame_offsets(seg)
    corrupt_byte(seg, offs[1] + 10)  # the second frame's header (first_seq field)
    with caplog.at_level(logging.ERROR), open_stream(tmp_path) as s:
        assert s.problems == [
            f"{seg}: corrupt data at bytes {offs[1]}..{offs[2]} (frame header checksum "
            "mismatch); records 101..200 are unreadable and skipped (counted per consumer)"
        ]
        assert s.stats().truncated_bytes == 0
        assert drain(s, "j") == [*range(1, 101), *range(201, 401)]
        assert s.consumer_info("j").skipped == 100
        assert s.append(records(401, 1)).first_seq == 401


def test_numbers_lost_behind_a_cursor_are_skipped_not_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A power loss with fsync=interval can lose records a consumer already acked: numbering
    goes on after that cursor, and consumers further back count the lost numbers."""
    fill(tmp_path)
    with open_stream(tmp_path) as s:
        s.add_consumer("b")
        assert drain(s, "j") == list(range(1, 301))
    (seg,) = segment_files(tmp_path)
    os.truncate(seg, frame_offsets(seg)[-1])  # the last batch never reached the disk
    with caplog.at_level(logging.ERROR), open_stream(tmp_path) as s:
        assert "records 201..300 were lost" in caplog.text
        assert s.stats().head_seq == 300
        assert drain(s, "b") == list(range(1, 201))
        info = s.consumer_info("b")
        assert (info.cursor, info.lag, info.skipped) == (300, 0, 100)
        assert s.append(records(301, 5)).first_seq == 301
        assert drain(s, "j") == drain(s, "b") == list(range(301, 306))
        s.add_consumer("c")
        assert drain(s, "c") == [*range(1, 201), *range(301, 306)]


def test_torn_segment_creation_is_removed(tmp_path: Path) -> None:
    fill(tmp_path)
    (tmp_path / "segments" / f"{301:020d}.seg").write_bytes(b"NLPSEG\x00\x01\x2d")
    with open_stream(tmp_path) as s:
        assert s.stats().segments == 1
        assert s.append(records(301, 10)).first_seq == 301
        assert drain(s, "j") == list(range(1, 311))


def test_torn_ledger_entry_means_redelivery(tmp_path: Path) -> None:
    fill(tmp_path)
    with open_stream(tmp_path) as s:
        got = s.fetch("j", 50)
        assert got is not None
        s.ack("j", 50)
    ledger = tmp_path / "cursors.ledger"
    os.truncate(ledger, ledger.stat().st_size - 3)  # the ack entry torn
    with open_stream(tmp_path) as s:
        assert s.consumer_info("j").cursor == 0
        assert drain(s, "j") == list(range(1, 301))


_BASE: dict[str, bytes] = {}


def base_segment(tmp: Path) -> tuple[bytes, bytes]:
    """A segment of two 5-record batches and its ledger, made once."""
    if not _BASE:
        fill(tmp / "base", batches=2, n=5)
        (seg,) = segment_files(tmp / "base")
        _BASE["seg"], _BASE["ledger"] = seg.read_bytes(), (tmp / "base/cursors.ledger").read_bytes()
    return _BASE["seg"], _BASE["ledger"]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    garbage=st.binary(max_size=400),
    keep=st.integers(0, 10_000),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=3),
)
def test_fuzz_segment_scan_never_raises(
    tmp_path: Path, garbage: bytes, keep: int, flips: list[tuple[int, int]]
) -> None:
    """Whatever the damage, opening keeps the valid frames, and what is read is intact."""
    seg_bytes, ledger = base_segment(tmp_path)
    data = bytearray(seg_bytes[:keep] + garbage)
    for at, x in flips:
        if at < len(data):
            data[at] ^= x
    d = tmp_path / "case"
    (d / "segments").mkdir(parents=True, exist_ok=True)
    for p in (d / "segments").iterdir():
        p.unlink()
    (d / "segments" / f"{1:020d}.seg").write_bytes(bytes(data))
    (d / "cursors.ledger").write_bytes(ledger)
    with open_stream(d) as s:
        got = drain(s, "j")  # drain checks every delivered record's content
        assert got == sorted(set(got))
        head = s.stats().head_seq
        assert s.append(records(head + 1, 1)).first_seq == head + 1


def test_corrupt_segment_header_still_recovers_its_frames(tmp_path: Path) -> None:
    fill(tmp_path)
    (seg,) = segment_files(tmp_path)
    corrupt_byte(seg, 12)  # inside first_seq of the segment header
    with open_stream(tmp_path) as s:
        assert len(s.problems) == 1 and "segment header unreadable" in s.problems[0]
        assert drain(s, "j") == list(range(1, 301))
        assert s.append(records(301, 2)).first_seq == 301  # into a new segment
        assert s.stats().segments == 2
    with open_stream(tmp_path) as s:
        s.add_consumer("k")
        assert drain(s, "k") == list(range(1, 303))
