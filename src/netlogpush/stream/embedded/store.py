"""The embedded record stream: segment files and a cursor ledger under one data directory.

Layout of ``data_dir``::

    LOCK                          flock'd while open: one process owns the stream
    segments/<first_seq>.seg      framed Arrow IPC batches (framing.py), oldest first
    cursors.ledger                durable consumers' ack floors and skipped counts (ledger.py)

Thread-safe: one lock around every operation (appends are one ``write`` each, so holding the
lock while writing costs little), and a condition so ``fetch`` can wait for new records.
"""

from __future__ import annotations

import bisect
import errno
import fcntl
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.ipc as ipc

from netlogpush.dataset.records import SCHEMA
from netlogpush.stream.embedded.framing import (
    SEGMENT_HEADER_SIZE,
    decode_frame_header,
    encode_frame,
    encode_segment_header,
    payload_ok,
)
from netlogpush.stream.embedded.ledger import CursorState, Ledger, fsync_dir, write_all
from netlogpush.stream.embedded.segment import (
    SUFFIX,
    FrameEntry,
    ScanReport,
    Segment,
    scan_segment,
    segment_name,
)
from netlogpush.stream.interface import (
    AckRangeError,
    AppendResult,
    ConsumerInfo,
    DeliverPolicy,
    Fetched,
    StreamError,
    StreamFullError,
    StreamLockedError,
    StreamStats,
    UnknownConsumerError,
)
from netlogpush.stream.retention import (
    RetentionPolicy,
    SegmentSummary,
    pass_consumer,
    segments_to_delete,
)

log = logging.getLogger("netlogpush.stream")
FsyncPolicy = Literal["always", "interval", "off"]
Compression = Literal["zstd", "lz4", "none"]
# JetStream's rule for durable names (no whitespace, '.', '*', '>', path separators), kept
# strict so a name is also a safe file-name fragment.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True)
class EmbeddedConfig:
    """Settings of the embedded stream; see docs/stream.md for the trade-offs.

    ``fsync``: ``always`` makes every append and ack reach the disk before returning (survives
    power loss; costs one fdatasync each); ``interval`` syncs in the background every
    ``fsync_interval_ms`` (a power loss can lose that long a window; a kill -9 loses nothing,
    the page cache survives the process); ``off`` leaves it to the kernel.
    """

    fsync: FsyncPolicy = "always"
    fsync_interval_ms: int = 100
    compression: Compression = "zstd"
    segment_bytes: int = 64 * 1024 * 1024
    frame_records: int = 65_536
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    clock: Callable[[], int] = time.time_ns

    def __post_init__(self) -> None:
        if self.fsync not in ("always", "interval", "off"):
            raise ValueError(f"fsync must be always, interval or off, not {self.fsync!r}")
        if self.compression not in ("zstd", "lz4", "none"):
            raise ValueError(f"compression must be zstd, lz4 or none, not {self.compression!r}")
        if self.fsync_interval_ms <= 0 or self.segment_bytes <= 0 or self.frame_records <= 0:
            raise ValueError("fsync_interval_ms, segment_bytes and frame_records must be > 0")


def _as_stream_error(e: OSError, data_dir: Path, path: Path) -> StreamError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return StreamFullError(e.errno, f"no space left in the stream's data directory {data_dir}")
    return StreamError(f"cannot write {path}: {e}")


@dataclass
class _Consumer:
    name: str
    cursor: int
    skipped: int
    created_ns: int
    delivered: int

    def state(self) -> CursorState:
        return CursorState(self.cursor, self.skipped, self.created_ns)


class _BatchEncoder:
    """Arrow IPC record-batch messages, one per call, with the configured compression.

    ``RecordBatch.serialize`` cannot compress, so an IPC stream writer writes into this
    object and each ``write_batch`` leaves exactly one message in ``parts``.
    """

    def __init__(self, schema: pa.Schema, compression: Compression) -> None:
        self.parts: list[bytes] = []
        self.closed = False
        opts = ipc.IpcWriteOptions(compression=None if compression == "none" else compression)
        self._writer = ipc.new_stream(self, schema, options=opts)
        self._writer.write_batch(pa.RecordBatch.from_pylist([], schema=schema))
        self.parts.clear()  # the schema message and the priming batch

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def encode(self, batch: pa.RecordBatch) -> bytes:
        self._writer.write_batch(batch)
        out = b"".join(self.parts)
        self.parts.clear()
        return out


class EmbeddedStream:
    """The default ``RecordStream``: local files, no server."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        config: EmbeddedConfig | None = None,
        schema: pa.Schema = SCHEMA,
    ) -> None:
        self.config = config or EmbeddedConfig()
        self.data_dir = Path(data_dir)
        self._schema = schema
        self._schema_bytes = schema.serialize().to_pybytes()
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._closed = False
        self._sync = self.config.fsync == "always"
        self._dirty_fd: int | None = None
        self._decoded: OrderedDict[tuple[int, int], pa.RecordBatch] = OrderedDict()
        self._encoder = _BatchEncoder(schema, self.config.compression)
        self._report = ScanReport()
        self._retention_deleted = 0
        self._corrupt_records = 0
        self._seg_dir = self.data_dir / "segments"
        self._seg_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.data_dir / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise StreamLockedError(f"stream {self.data_dir} is open in another process") from None
        try:
            self._open()
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._flusher: threading.Thread | None = None
        if self.config.fsync == "interval":
            self._stop = threading.Event()
            self._flusher = threading.Thread(
                target=self._flush_loop, daemon=True, name="stream-fsync"
            )
            self._flusher.start()

    # ---- opening and recovery -------------------------------------------------------------

    def _open(self) -> None:
        self._ledger = Ledger(self.data_dir / "cursors.ledger", sync=self._sync)
        names = sorted(p for p in self._seg_dir.iterdir() if p.suffix == SUFFIX)
        self._segments: list[Segment] = []
        for i, path in enumerate(names):
            try:
                first = int(path.stem)
            except ValueError:
                log.error("stream: ignoring %s, not a segment name", path)
                continue
            seg = scan_segment(
                path,
                first,
                i == len(names) - 1,
                self._report,
                header_size=SEGMENT_HEADER_SIZE + len(self._schema_bytes),
            )
            if not seg.path.exists():
                continue
            if seg.schema_bytes is not None and seg.schema_bytes != self._schema_bytes:
                decoded = ipc.read_schema(pa.py_buffer(seg.schema_bytes))
                if not decoded.equals(self._schema, check_metadata=False):
                    raise StreamError(f"{path} holds records of another schema than this stream's")
            self._segments.append(seg)
        self._firsts = [s.first_seq for s in self._segments]
        head = self._segments[-1].next_seq - 1 if self._segments else 0
        max_cursor = max((s.cursor for s in self._ledger.state.values()), default=0)
        if max_cursor > head:
            # Records acked before a power loss did not reach the disk (fsync interval/off).
            # Numbering goes on after the highest cursor, so no new record hides behind it;
            # consumers further back count the lost numbers as skipped.
            log.error(
                "stream %s: a consumer acked up to %d but the stream ends at %d; records "
                "%d..%d were lost (power loss with fsync=%s)",
                self.data_dir,
                max_cursor,
                head,
                head + 1,
                max_cursor,
                self.config.fsync,
            )
            head = max_cursor
        self._next_seq = head + 1
        self._consumers = {
            n: _Consumer(n, s.cursor, s.skipped, s.created_ns, s.cursor)
            for n, s in self._ledger.state.items()
        }
        self._active_fd: int | None = None
        self._enforce_retention(self.config.clock())

    # ---- appending ------------------------------------------------------------------------

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    def _conform(self, table: pa.Table) -> pa.Table:
        if table.schema.equals(self._schema, check_metadata=False):
            return table
        try:
            return table.select(self._schema.names).cast(self._schema)
        except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as e:
            raise ValueError(f"records do not match the stream's schema: {e}") from e

    def append(self, table: pa.Table) -> AppendResult:
        table = self._conform(table)
        batches = [
            b for b in table.combine_chunks().to_batches(self.config.frame_records) if b.num_rows
        ]
        with self._cond:
            self._check_open()
            first = self._next_seq
            if not batches:
                return AppendResult(first, first - 1)
            now = self.config.clock()
            frames, seq = [], first
            for b in batches:
                frames.append(encode_frame(seq, b.num_rows, now, self._encoder.encode(b)))
                seq += b.num_rows
            data = b"".join(frames)
            seg, fd = self._writable(now, len(data))
            start = seg.size
            try:
                write_all(fd, data, seg.path)
                if self._sync:
                    os.fdatasync(fd)
                else:
                    self._dirty_fd = fd
            except (StreamError, OSError) as e:
                os.ftruncate(fd, start)  # nothing of a failed append stays
                if isinstance(e, StreamError):
                    raise
                raise _as_stream_error(e, self.data_dir, seg.path) from e
            pos = start
            for frame in frames:
                h = decode_frame_header(frame)
                seg.frames.append(
                    FrameEntry(h.first_seq, h.count, pos, h.payload_len, now, h.payload_crc)
                )
                pos += len(frame)
            seg.size = pos
            self._next_seq = seq
            self._enforce_retention(now)
            self._cond.notify_all()
            return AppendResult(first, seq - 1)

    def _writable(self, now: int, nbytes: int) -> tuple[Segment, int]:
        """The segment to append to, rolling to a new one when this one is full or old."""
        seg = self._segments[-1] if self._segments else None
        if seg is not None and self._active_fd is not None and seg.next_seq == self._next_seq:
            roll_age = self.config.retention.segment_roll_age_ns()
            full = seg.frames and seg.size + nbytes > self.config.segment_bytes
            old = roll_age is not None and seg.frames and now - seg.frames[0].append_ns >= roll_age
            if not (full or old):
                return seg, self._active_fd
        elif (
            seg is not None
            and seg.schema_bytes is not None
            and seg.next_seq == self._next_seq
            and seg.size < self.config.segment_bytes
        ):
            self._active_fd = os.open(seg.path, os.O_WRONLY | os.O_APPEND)
            return self._writable(now, nbytes)
        return self._roll(now)

    def _roll(self, now: int) -> tuple[Segment, int]:
        if self._active_fd is not None:
            if self.config.fsync != "off":
                os.fdatasync(self._active_fd)
            os.close(self._active_fd)
            self._active_fd = None
            self._dirty_fd = None
        if self._segments and self._segments[-1].first_seq == self._next_seq:
            # An empty segment with an unreadable header, at the very number we start at.
            self._segments.pop().close()
            self._firsts.pop()
        path = self._seg_dir / segment_name(self._next_seq)
        header = encode_segment_header(self._next_seq, now, self._schema_bytes)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        except OSError as e:
            raise _as_stream_error(e, self.data_dir, path) from e
        try:
            write_all(fd, header, path)
            if self.config.fsync != "off":
                os.fdatasync(fd)
                fsync_dir(self._seg_dir)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        seg = Segment(path, self._next_seq, now, self._schema_bytes, len(header))
        self._segments.append(seg)
        self._firsts.append(seg.first_seq)
        self._active_fd = fd
        return seg, fd

    # ---- consumers ------------------------------------------------------------------------

    def add_consumer(self, name: str, deliver: DeliverPolicy = "all") -> ConsumerInfo:
        if not _NAME.match(name):
            raise ValueError(f"consumer name {name!r}: use 1-128 of A-Z a-z 0-9 _ -")
        if deliver not in ("all", "new"):
            raise ValueError(f"deliver policy must be all or new, not {deliver!r}")
        with self._lock:
            self._check_open()
            if name not in self._consumers:
                cursor = self._first_seq() - 1 if deliver == "all" else self._next_seq - 1
                c = _Consumer(name, cursor, 0, self.config.clock(), cursor)
                self._ledger.put(name, c.state())
                self._consumers[name] = c
            return self._info(self._consumers[name])

    def delete_consumer(self, name: str) -> None:
        with self._lock:
            self._get(name)
            self._ledger.put(name, None)
            del self._consumers[name]

    def consumers(self) -> list[str]:
        with self._lock:
            return sorted(self._consumers)

    def consumer_info(self, name: str) -> ConsumerInfo:
        with self._lock:
            return self._info(self._get(name))

    def _get(self, name: str) -> _Consumer:
        self._check_open()
        try:
            return self._consumers[name]
        except KeyError:
            raise UnknownConsumerError(f"no consumer {name!r} in stream {self.data_dir}") from None

    def _info(self, c: _Consumer) -> ConsumerInfo:
        return ConsumerInfo(c.name, c.cursor, c.delivered, self._next_seq - 1 - c.cursor, c.skipped)

    # ---- reading --------------------------------------------------------------------------

    def _first_seq(self) -> int:
        return self._segments[0].first_seq if self._segments else self._next_seq

    def _frames_from(self, seq: int) -> Any:
        """Frames holding records at or after ``seq``, in order, as (segment, frame)."""
        i = max(0, bisect.bisect_right(self._firsts, seq) - 1)
        for seg in self._segments[i:]:
            j = bisect.bisect_left([f.last_seq for f in seg.frames], seq)
            for entry in seg.frames[j:]:
                yield seg, entry

    def _decode(self, seg: Segment, entry: FrameEntry) -> pa.RecordBatch | None:
        key = (seg.first_seq, entry.offset)
        batch = self._decoded.get(key)
        if batch is not None:
            self._decoded.move_to_end(key)
            return batch
        payload = seg.read_payload(entry)
        if not payload_ok(entry.header(), payload):
            self._mark_corrupt(seg, entry, "payload checksum mismatch")
            return None
        try:
            batch = ipc.read_record_batch(pa.py_buffer(payload), self._schema)
        except (pa.ArrowInvalid, OSError) as e:
            self._mark_corrupt(seg, entry, f"undecodable Arrow IPC: {e}")
            return None
        self._decoded[key] = batch
        if len(self._decoded) > 4:
            self._decoded.popitem(last=False)
        return batch

    def _mark_corrupt(self, seg: Segment, entry: FrameEntry, why: str) -> None:
        seg.frames.remove(entry)
        self._report.corrupt_frames += 1
        self._corrupt_records += entry.count
        log.error(
            "stream segment %s: corrupt batch at byte %d (%s); records %d..%d are skipped "
            "(counted per consumer)",
            seg.path,
            entry.offset,
            why,
            entry.first_seq,
            entry.last_seq,
        )

    def fetch(self, consumer: str, max_records: int, timeout: float = 0.0) -> Fetched | None:
        if max_records <= 0:
            raise ValueError(f"max_records must be positive, not {max_records}")
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                c = self._get(consumer)
                got = self._collect(c, max_records)
                if got is not None:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def _collect(self, c: _Consumer, max_records: int) -> Fetched | None:
        start = c.delivered + 1
        if start >= self._next_seq:
            return None
        batches: list[pa.RecordBatch] = []
        first = expected = -1
        for seg, entry in self._frames_from(start):
            if batches and entry.first_seq != expected:
                break  # a gap: the next fetch starts after it
            batch = self._decode(seg, entry)
            if batch is None:
                if batches:
                    break
                continue
            lo = max(start, entry.first_seq) - entry.first_seq
            take = min(entry.count - lo, max_records - (expected - first if batches else 0))
            if not batches:
                first = expected = entry.first_seq + lo
            batches.append(batch.slice(lo, take))
            expected += take
            if expected - first >= max_records:
                break
        if not batches:
            # Only unreadable numbers up to the head: step the cursor over them (counted) so
            # the consumer's lag does not stay at their count for ever.
            if c.cursor == c.delivered:
                self._advance(c, self._next_seq - 1)
            return None
        c.delivered = expected - 1
        table = pa.Table.from_batches(batches, self._schema)
        return Fetched(c.name, first, expected - 1, table, first - start)

    def _present(self, lo: int, hi: int) -> int:
        n = 0
        for _, entry in self._frames_from(lo):
            if entry.first_seq > hi:
                break
            n += min(hi, entry.last_seq) - max(lo, entry.first_seq) + 1
        return n

    def _advance(self, c: _Consumer, up_to: int) -> None:
        skipped = (up_to - c.cursor) - self._present(c.cursor + 1, up_to)
        if skipped:
            log.warning(
                "stream consumer %s: skipped %d unreadable records in %d..%d",
                c.name,
                skipped,
                c.cursor + 1,
                up_to,
            )
        self._ledger.put(c.name, CursorState(up_to, c.skipped + skipped, c.created_ns))
        c.cursor, c.skipped = up_to, c.skipped + skipped
        c.delivered = max(c.delivered, up_to)

    def ack(self, consumer: str, up_to_seq: int) -> None:
        with self._lock:
            c = self._get(consumer)
            if up_to_seq <= c.cursor:
                return  # already acknowledged (or passed by retention): idempotent
            if up_to_seq > c.delivered:
                raise AckRangeError(
                    f"consumer {consumer!r}: ack up to {up_to_seq} but only {c.delivered} "
                    "was delivered"
                )
            self._advance(c, up_to_seq)

    def rewind(self, consumer: str) -> None:
        with self._lock:
            c = self._get(consumer)
            c.delivered = c.cursor

    # ---- retention ------------------------------------------------------------------------

    def enforce_retention(self) -> None:
        """Apply the age bound now (the size bound is applied on every append)."""
        with self._lock:
            self._check_open()
            self._enforce_retention(self.config.clock())

    def _enforce_retention(self, now: int) -> None:
        summaries = [SegmentSummary(s.size, s.last_append_ns) for s in self._segments]
        n = segments_to_delete(summaries, self.config.retention, now)
        for seg in self._segments[:n]:
            seg.close()
            seg.path.unlink()
            self._retention_deleted += seg.records
            self._decoded.clear()
        if n:
            del self._segments[:n]
            del self._firsts[:n]
            if self.config.fsync != "off":
                fsync_dir(self._seg_dir)
        first = self._first_seq()
        for c in self._consumers.values():
            cursor, skipped = pass_consumer(c.cursor, c.delivered, first)
            if cursor == c.cursor:
                continue
            log.warning(
                "stream consumer %s fell behind retention: skipped %d records (%d..%d were "
                "deleted before it read them); its cursor moves to %d",
                c.name,
                skipped,
                c.cursor + 1,
                first - 1,
                cursor,
            )
            try:
                self._ledger.put(c.name, CursorState(cursor, c.skipped + skipped, c.created_ns))
            except StreamError as e:  # counted again on the next open; never lost
                log.error("stream: could not record consumer %s's skip: %s", c.name, e)
                continue
            c.cursor, c.skipped = cursor, c.skipped + skipped
            c.delivered = max(c.delivered, cursor)

    # ---- stats, flushing, closing ---------------------------------------------------------

    def stats(self) -> StreamStats:
        with self._lock:
            disk = sum(s.size for s in self._segments) + self._ledger.size
            return StreamStats(
                head_seq=self._next_seq - 1,
                first_seq=self._first_seq(),
                disk_bytes=disk,
                segments=len(self._segments),
                corrupt_frames=self._report.corrupt_frames,
                corrupt_records=self._corrupt_records,
                truncated_bytes=self._report.truncated_bytes + self._ledger.truncated_bytes,
                retention_deleted_records=self._retention_deleted,
                consumers={n: self._info(c) for n, c in sorted(self._consumers.items())},
            )

    @property
    def problems(self) -> list[str]:
        """What recovery found when the stream was opened, one line each."""
        return list(self._report.problems)

    def flush(self) -> None:
        """Make everything appended and acked so far durable now."""
        with self._lock:
            if self._dirty_fd is not None:
                os.fdatasync(self._dirty_fd)
                self._dirty_fd = None
            self._ledger.flush()

    def _flush_loop(self) -> None:
        interval = self.config.fsync_interval_ms / 1000
        while not self._stop.wait(interval):
            try:
                self.flush()
            except OSError as e:  # the next append reports the disk's state
                log.error("stream %s: background fsync failed: %s", self.data_dir, e)

    def _check_open(self) -> None:
        if self._closed:
            raise StreamError(f"stream {self.data_dir} is closed")

    def close(self) -> None:
        if self._flusher is not None:
            self._stop.set()
            self._flusher.join()
        with self._cond:
            if self._closed:
                return
            if self.config.fsync != "off":
                self.flush()
            self._closed = True
            if self._active_fd is not None:
                os.close(self._active_fd)
            for seg in self._segments:
                seg.close()
            self._ledger.close()
            os.close(self._lock_fd)  # releases the flock
            self._cond.notify_all()

    def __enter__(self) -> EmbeddedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
