"""One segment file: its in-memory frame index, and recovery when it is opened.

The index (first sequence, count, offset, length, append time per frame) is rebuilt on open
by walking the frame headers with ``pread``: one small read per appended batch, so a
64 MiB segment of 10,000-record batches costs a few reads. Sealed segments are checked
header by header (payloads are checked by CRC when read); the last segment, the only one a
crash can have torn, has every payload checked as well.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from netlogpush.stream.embedded.framing import (
    FRAME_HEADER_SIZE,
    FRAME_MAGIC,
    SEGMENT_HEADER_SIZE,
    FrameHeader,
    FramingError,
    decode_frame_header,
    decode_segment_header,
    payload_ok,
)

log = logging.getLogger("netlogpush.stream")
SUFFIX = ".seg"


def segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SUFFIX}"


@dataclass(frozen=True)
class FrameEntry:
    first_seq: int
    count: int
    offset: int  # of the frame header
    payload_len: int
    append_ns: int
    payload_crc: int

    @property
    def last_seq(self) -> int:
        return self.first_seq + self.count - 1

    @property
    def end(self) -> int:
        return self.offset + FRAME_HEADER_SIZE + self.payload_len

    def header(self) -> FrameHeader:
        return FrameHeader(
            self.payload_len, self.first_seq, self.count, self.append_ns, self.payload_crc
        )


@dataclass
class Segment:
    path: Path
    first_seq: int
    created_ns: int
    schema_bytes: bytes | None  # None: the segment header is unreadable
    size: int
    frames: list[FrameEntry] = field(default_factory=list)
    _rfd: int | None = None

    @property
    def next_seq(self) -> int:
        return self.frames[-1].last_seq + 1 if self.frames else self.first_seq

    @property
    def records(self) -> int:
        return sum(f.count for f in self.frames)

    @property
    def last_append_ns(self) -> int | None:
        return self.frames[-1].append_ns if self.frames else None

    def read(self, offset: int, length: int) -> bytes:
        if self._rfd is None:
            self._rfd = os.open(self.path, os.O_RDONLY)
        return os.pread(self._rfd, length, offset)

    def read_payload(self, entry: FrameEntry) -> bytes:
        return self.read(entry.offset + FRAME_HEADER_SIZE, entry.payload_len)

    def close(self) -> None:
        if self._rfd is not None:
            os.close(self._rfd)
            self._rfd = None


@dataclass
class ScanReport:
    corrupt_frames: int = 0
    truncated_bytes: int = 0
    problems: list[str] = field(default_factory=list)


def _find_next_frame(data: bytes, start: int, min_seq: int) -> tuple[int, FrameHeader] | None:
    """The first complete, checksum-valid frame at or after ``start`` in ``data``."""
    pos = data.find(FRAME_MAGIC, start)
    while pos >= 0:
        try:
            hdr = decode_frame_header(data, pos)
            body = data[pos + FRAME_HEADER_SIZE : pos + FRAME_HEADER_SIZE + hdr.payload_len]
            if hdr.first_seq >= min_seq and payload_ok(hdr, body):
                return pos, hdr
        except FramingError:
            pass
        pos = data.find(FRAME_MAGIC, pos + 1)
    return None


def scan_segment(
    path: Path,
    first_seq_from_name: int,
    is_last: bool,
    report: ScanReport,
    header_size: int = SEGMENT_HEADER_SIZE,
) -> Segment:
    """Open ``path``, rebuild its index, and recover from a torn tail or corruption.

    A bad frame is followed by a search for the next valid frame (magic, header CRC, payload
    CRC, sequence not going backwards). If one is found, the bytes between are corrupt and the
    records they held become a gap, reported. If none is found in the last segment, the bad
    bytes are a torn tail (an append that never returned) and are truncated; in a sealed
    segment they are reported as corrupt up to the end of the file. ``header_size`` is the
    size of a complete segment header of this stream: a last segment no longer than that,
    with a bad header, was torn while being created, and is removed.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    data: bytes | None = None  # the whole file, read only when needed
    try:
        seghdr = decode_segment_header(head)
    except FramingError as e:
        if size <= header_size and is_last:
            report.truncated_bytes += size
            report.problems.append(f"{path}: removed a segment whose creation was torn ({e})")
            log.warning("stream segment %s: removed, its creation was torn (%s)", path, e)
            path.unlink()
            return Segment(path, first_seq_from_name, 0, None, 0)
        # Frames carry their own sequence numbers and checksums: recover them regardless.
        seg = Segment(path, first_seq_from_name, 0, None, size)
        data = seg.read(0, size)
        found = _find_next_frame(data, 0, first_seq_from_name)
        msg = f"{path}: segment header unreadable ({e}); recovering its frames by their headers"
        report.problems.append(msg)
        log.error("stream segment %s", msg)
        if found is None:
            return seg
        pos, expected = found[0], first_seq_from_name
    else:
        if seghdr.first_seq != first_seq_from_name:
            log.error(
                "stream segment %s: header says first sequence %d, name says %d; using the header",
                path,
                seghdr.first_seq,
                first_seq_from_name,
            )
        seg = Segment(path, seghdr.first_seq, seghdr.created_ns, seghdr.schema_bytes, size)
        pos, expected = seghdr.size, seghdr.first_seq
    if is_last and data is None:
        data = seg.read(0, size)
    while pos < size:
        problem = None
        try:
            raw = data if data is not None else seg.read(pos, FRAME_HEADER_SIZE)
            hdr = decode_frame_header(raw, pos if data is not None else 0)
            if hdr.first_seq < expected:
                raise FramingError(f"sequence {hdr.first_seq} goes back (expected {expected})")
            if pos + FRAME_HEADER_SIZE + hdr.payload_len > size:
                raise FramingError(
                    f"frame of {hdr.payload_len} bytes runs past the end of the file ({size})"
                )
            if data is not None:
                body = data[pos + FRAME_HEADER_SIZE : pos + FRAME_HEADER_SIZE + hdr.payload_len]
                if not payload_ok(hdr, body):
                    raise FramingError("payload checksum mismatch")
        except FramingError as e:
            problem = str(e)
        if problem is None:
            if hdr.first_seq > expected:
                msg = f"{path}: records {expected}..{hdr.first_seq - 1} missing before byte {pos}"
                report.problems.append(msg)
                log.error("stream segment %s", msg)
            seg.frames.append(
                FrameEntry(
                    hdr.first_seq, hdr.count, pos, hdr.payload_len, hdr.append_ns, hdr.payload_crc
                )
            )
            pos += FRAME_HEADER_SIZE + hdr.payload_len
            expected = hdr.first_seq + hdr.count
            continue
        if data is None:
            data = seg.read(0, size)
        found = _find_next_frame(data, pos + 1, expected)
        if found is None and is_last:
            report.truncated_bytes += size - pos
            msg = (
                f"{path}: torn tail cut off at byte {pos} ({size - pos} bytes: {problem}); "
                f"an append that had not returned"
            )
            report.problems.append(msg)
            log.warning("stream segment %s", msg)
            os.truncate(path, pos)
            seg.size = size = pos
            break
        report.corrupt_frames += 1
        end = size if found is None else found[0]
        last = "the next segment" if found is None else str(found[1].first_seq - 1)
        msg = (
            f"{path}: corrupt data at bytes {pos}..{end} ({problem}); records {expected}.."
            f"{last} are unreadable and skipped (counted per consumer)"
        )
        report.problems.append(msg)
        log.error("stream segment %s", msg)
        if found is None:
            break
        pos, expected = found[0], found[1].first_seq
    return seg
