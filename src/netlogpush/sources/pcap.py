"""Capture files as a stream of ``FrameBatch``es: pcap, pcapng, and either one gzipped.

    for batch in iter_batches("capture.pcapng.gz"):
        ...

The format and the compression are detected from the first bytes, never from the name.
Memory stays bounded whatever the file size: the file is read in chunks of ``chunk_bytes``
(8 MiB), and each chunk, with ``PAD`` zero bytes after its last complete record, *is* the
``data`` of the batches made from it; frame offsets point into it and no frame is copied.

Problems:
- A cut-off last record (or gzip stream) ends the read cleanly and is counted in
  ``CaptureReader.problems`` (``truncated_tail``, ``truncated_gzip``).
- Structural errors (unknown magic, garbage lengths, inconsistent pcapng block lengths, a
  captured length over 256 KiB) raise ``CaptureFormatError`` naming the byte offset. Frames
  before the error are delivered first. File-system errors raise ``OSError``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np

from netlogpush.decode.frames import PAD, U8, FrameBatch
from netlogpush.sources._capcommon import MAX_CAPLEN, CaptureFormatError, Columns, ParseResult
from netlogpush.sources._capstream import ChunkStream, Source
from netlogpush.sources._classic import MAGICS, MODIFIED_MAGICS, ClassicParser
from netlogpush.sources._pcapng import SHB_MAGIC, PcapngParser

__all__ = [
    "DEFAULT_BATCH_FRAMES",
    "DEFAULT_CHUNK_BYTES",
    "MAX_CAPLEN",
    "CaptureFormatError",
    "CaptureReader",
    "Source",
    "iter_batches",
]

DEFAULT_BATCH_FRAMES = 65536
#: Big enough that per-chunk overhead vanishes, small enough to stay cache- and RAM-friendly.
DEFAULT_CHUNK_BYTES = 8 << 20


class CaptureReader:
    """Reads one capture file or binary stream; iterate it (once) for ``FrameBatch``es.

    Construction reads the first chunk and raises ``CaptureFormatError`` at once if the input
    is not a capture file. ``bytes_consumed`` / ``bytes_total`` drive a progress bar (for a
    gzip file they count compressed bytes); ``problems`` counts what was skipped and why.
    """

    def __init__(
        self,
        source: Source,
        *,
        batch_frames: int = DEFAULT_BATCH_FRAMES,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        if batch_frames < 1 or chunk_bytes < 1:
            raise ValueError("batch_frames and chunk_bytes must be positive")
        self.batch_frames = batch_frames
        self.problems: Counter[str] = Counter()
        self.frames = 0
        self.batches = 0
        self.truncated_bytes = 0
        self._base = 0  # stream offset of the current chunk's first byte
        self._used = False
        self._stream = ChunkStream(source, chunk_bytes)
        try:
            self._first = self._stream.fill(b"", 4)  # enough to tell the format
            self._parser = self._detect(self._first[0], self._first[1])
        except BaseException:
            self._stream.close()
            raise

    @property
    def name(self) -> str:
        return self._stream.name

    @property
    def format(self) -> str:
        """``"pcap"`` (microsecond), ``"pcap-ns"`` (nanosecond) or ``"pcapng"``."""
        return self._parser.format

    @property
    def compression(self) -> str | None:
        return self._stream.compression

    @property
    def bytes_consumed(self) -> int:
        """Bytes read from the source so far (compressed bytes for a gzip file)."""
        return self._stream.bytes_consumed

    @property
    def bytes_total(self) -> int | None:
        """Size of the source if it is a regular file, else None."""
        return self._stream.total_bytes

    @property
    def blocks_skipped(self) -> int:
        """pcapng blocks without packets that were skipped (statistics, name resolution...)."""
        return self._parser.blocks_skipped if isinstance(self._parser, PcapngParser) else 0

    def _detect(self, arr: U8, filled: int) -> ClassicParser | PcapngParser:
        head = arr[: min(filled, 4)].tobytes()
        if len(head) < 4:
            if self._stream.error is not None:
                raise self._stream.error
            raise CaptureFormatError(f"{self.name}: too short to be a capture file", 0)
        if head in MAGICS:
            return ClassicParser(self.name, head)
        if head == SHB_MAGIC:
            return PcapngParser(self.name, self.problems)
        if head in MODIFIED_MAGICS:
            raise CaptureFormatError(
                f"{self.name}: 'modified' (Kuznetzov) pcap is not supported; "
                "convert it with `editcap -F pcap`",
                0,
            )
        raise CaptureFormatError(
            f"{self.name}: not a pcap or pcapng file (magic {head.hex()} at offset 0)", 0
        )

    def __iter__(self) -> Iterator[FrameBatch]:
        if self._used:
            raise RuntimeError("a CaptureReader can be iterated only once")
        self._used = True
        return self._run()

    def _run(self) -> Iterator[FrameBatch]:
        arr, filled = self._first
        del self._first
        try:
            while True:
                res = self._parser.parse(arr, filled, self._base)
                carry = arr[res.consumed : filled].tobytes()
                yield from self._emit(arr, res)
                if res.error is not None:
                    raise res.error
                self._base += res.consumed
                if self._stream.eof:
                    self._finish(carry)
                    return
                arr, filled = self._stream.fill(carry, res.need)
        finally:
            self.close()

    def _emit(self, arr: U8, res: ParseResult) -> Iterator[FrameBatch]:
        if not res.parts:
            return
        cols = Columns.concat(res.parts)
        arr[res.consumed : res.consumed + PAD] = 0  # the carry was copied out before this
        data = arr[: res.consumed + PAD]
        n = len(cols)
        interval = np.ones(n, dtype=np.uint32)
        for start in range(0, n, self.batch_frames):
            part = slice(start, start + self.batch_frames)
            batch = FrameBatch(
                data=data,
                offsets=cols.offsets[part],
                caplen=cols.caplen[part],
                wirelen=cols.wirelen[part],
                ts_ns=cols.ts_ns[part],
                linktype=cols.linktype[part],
                sample_interval=interval[part],
            )
            self.frames += len(batch)
            self.batches += 1
            yield batch

    def _finish(self, carry: bytes) -> None:
        if carry:
            if not self._parser.started:
                raise CaptureFormatError(f"{self.name}: file ends inside its header", 0)
            self.problems["truncated_tail"] += 1
            self.truncated_bytes = len(carry)
        if self._stream.truncated_compressed:
            self.problems["truncated_gzip"] += 1
        if self._stream.error is not None:
            raise self._stream.error

    def close(self) -> None:
        """Close the file if this reader opened it (iteration does this when it ends)."""
        self._stream.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_batches(source: Source, batch_frames: int = DEFAULT_BATCH_FRAMES) -> Iterator[FrameBatch]:
    """Yield the frames of a pcap/pcapng file (gzip or not) as ``FrameBatch``es.

    ``source`` is a path or a binary file object (a pipe is fine: nothing seeks).
    """
    with CaptureReader(source, batch_frames=batch_frames) as reader:
        yield from reader
