"""Opening a capture source and reading it in big chunks, gunzipping when needed.

Chunks are numpy arrays that the parsers walk in place and that become the ``data`` of the
``FrameBatch``es, so each byte of a capture is copied once (``readinto``) on its way in.
"""

from __future__ import annotations

import io
import os
import zlib
from typing import IO, TYPE_CHECKING

import numpy as np

from netlogpush.decode.frames import PAD, U8
from netlogpush.sources._capcommon import CaptureFormatError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

GZIP_MAGIC = b"\x1f\x8b"
#: Compressions we recognise only to say clearly that they are not supported.
_UNSUPPORTED_MAGIC = {
    b"\x28\xb5\x2f\xfd": "zstd",
    b"\xfd7zXZ": "xz",
    b"BZh": "bzip2",
    b"\x04\x22\x4d\x18": "lz4",
}
_PEEK = 6

#: Anything with ``read`` (``readinto`` is used when present): files, pipes, BytesIO, sockets.
BinarySource = IO[bytes] | io.RawIOBase | io.BufferedIOBase
Source = str | os.PathLike[str] | BinarySource


class _CountingReader(io.RawIOBase):
    """Replays bytes already peeked from ``src``, then reads ``src``; counts bytes taken.

    ``consumed`` is what a progress bar wants: bytes taken from the file itself, i.e. the
    compressed size for a gzip file.
    """

    def __init__(self, src: BinarySource, prefix: bytes) -> None:
        super().__init__()
        self._src = src
        self._prefix = prefix
        self.consumed = len(prefix)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        out = memoryview(buffer).cast("B")
        if self._prefix:
            n = min(len(self._prefix), len(out))
            out[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        readinto = getattr(self._src, "readinto", None)
        if readinto is not None:
            got = readinto(out)
            n = got or 0
        else:
            data = self._src.read(len(out)) or b""
            n = len(data)
            out[:n] = data
        self.consumed += n
        return n


class _GunzipReader(io.RawIOBase):
    """Decompresses a gzip stream (any number of members) as a raw reader.

    Why not ``gzip.GzipFile``: when the input is cut short it raises ``EOFError`` and drops
    everything it decompressed in that read call (up to a whole chunk); here a cut-off stream
    just ends, with ``truncated`` set, after every byte that could be decompressed.
    """

    _IN = 256 << 10

    def __init__(self, src: io.RawIOBase) -> None:
        super().__init__()
        self._src = src
        self._d = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer (CRC) checked
        self._in = b""
        self.truncated = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        out = memoryview(buffer).cast("B")
        while True:
            if self._d.eof:
                rest = self._after_member()
                if not rest:
                    return 0
                self._d = zlib.decompressobj(wbits=31)
                self._in = rest
            data = self._in or self._src.read(self._IN)
            if not data:
                self.truncated = True  # the input ended inside a member
                return 0
            chunk = self._d.decompress(data, len(out))
            self._in = self._d.unconsumed_tail
            if chunk:
                out[: len(chunk)] = chunk
                return len(chunk)

    def _after_member(self) -> bytes:
        """Input that starts the next member; b"" at the end. Zero padding is skipped, as
        gzip(1) does; anything else that is not a member makes zlib raise."""
        rest = self._d.unused_data.lstrip(b"\0")
        while not rest:
            more = self._src.read(self._IN)
            if not more:
                return b""
            rest = more.lstrip(b"\0")
        return rest


def _read_upto(src: BinarySource, size: int) -> bytes:
    parts: list[bytes] = []
    left = size
    while left > 0:
        data = src.read(left)
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


class ChunkStream:
    """A capture source as a sequence of chunks. ``head`` is the first bytes (decompressed)."""

    def __init__(self, source: Source, chunk_bytes: int) -> None:
        self.chunk_bytes = chunk_bytes
        self.name: str
        self.total_bytes: int | None = None
        self.compression: str | None = None
        self.truncated_compressed = False
        self.error: CaptureFormatError | None = None
        self.eof = False
        self._owned: BinarySource | None = None
        if isinstance(source, (str, os.PathLike)):
            self.name = os.fspath(source)
            # Unbuffered: readinto then fills our arrays straight from the kernel.
            raw: BinarySource = open(self.name, "rb", buffering=0)  # noqa: SIM115 (closed in close())
            self._owned = raw
        else:
            raw = source
            self.name = str(getattr(source, "name", "<stream>"))
        try:
            self.total_bytes = os.fstat(raw.fileno()).st_size - raw.tell()
        except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
            self.total_bytes = None
        peek = _read_upto(raw, _PEEK)
        self._counter = _CountingReader(raw, peek)
        self._stream: io.RawIOBase = self._counter
        self._gunzip: _GunzipReader | None = None
        if peek.startswith(GZIP_MAGIC):
            self.compression = "gzip"
            self._gunzip = self._stream = _GunzipReader(self._counter)
        else:
            for magic, what in _UNSUPPORTED_MAGIC.items():
                if peek.startswith(magic):
                    self.close()
                    raise CaptureFormatError(
                        f"{self.name}: {what}-compressed captures are not supported; "
                        "decompress it first (gzip is read directly)",
                        0,
                    )

    @property
    def bytes_consumed(self) -> int:
        """Bytes taken from the source so far (compressed bytes for a gzip file)."""
        return self._counter.consumed

    def fill(self, carry: bytes, need: int) -> tuple[U8, int]:
        """A new chunk: ``carry`` followed by fresh data, at least ``need`` bytes if the
        source has them. Returns the array (with ``PAD`` spare bytes at the end) and how many
        bytes of it are filled. Sets ``eof`` when the source is exhausted."""
        size = max(need, len(carry) + self.chunk_bytes)
        arr = np.empty(size + PAD, dtype=np.uint8)
        arr[: len(carry)] = np.frombuffer(carry, dtype=np.uint8)
        view = arr.data
        filled = len(carry)
        while filled < size and not self.eof:
            try:
                got = self._stream.readinto(view[filled:size])
            except zlib.error as exc:
                self.error = CaptureFormatError(
                    f"{self.name}: corrupt gzip data near compressed byte "
                    f"{self.bytes_consumed}: {exc}",
                    None,
                )
                got = 0
            if not got:
                self.eof = True
                self.truncated_compressed = self._gunzip is not None and self._gunzip.truncated
                break
            filled += got
        return arr, filled

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
            self._owned = None
