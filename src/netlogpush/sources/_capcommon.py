"""Pieces shared by the pcap and pcapng parsers: limits, the error type, frame columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from netlogpush.decode.frames import I64, U8, U16, U32

#: Largest captured length accepted (libpcap's and Wireshark's MAXIMUM_SNAPLEN). A record that
#: claims more is taken as corruption: trusting it would make us buffer gigabytes of garbage.
MAX_CAPLEN = 262144
#: Largest pcapng block accepted. Blocks must sit whole in memory to check their trailing length.
MAX_BLOCK = 32 << 20


class CaptureFormatError(ValueError):
    """The input is not a capture file we can read, or its structure is broken.

    ``offset`` is the byte offset of the problem in the (decompressed) capture stream.
    """

    __module__ = "netlogpush.sources.pcap"  # where users import it from (tracebacks, pickle)

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(slots=True)
class Columns:
    """Per-frame columns of a run of frames found in one chunk (``offsets`` index the chunk)."""

    offsets: I64
    caplen: U32
    wirelen: U32
    ts_ns: I64
    linktype: U16

    def __len__(self) -> int:
        return int(self.offsets.shape[0])

    @staticmethod
    def concat(parts: list[Columns]) -> Columns:
        if len(parts) == 1:
            return parts[0]
        return Columns(
            offsets=np.concatenate([p.offsets for p in parts]),
            caplen=np.concatenate([p.caplen for p in parts]),
            wirelen=np.concatenate([p.wirelen for p in parts]),
            ts_ns=np.concatenate([p.ts_ns for p in parts]),
            linktype=np.concatenate([p.linktype for p in parts]),
        )


@dataclass(slots=True)
class ParseResult:
    """What a parser found in one chunk.

    Bytes ``[0, consumed)`` of the chunk are done with. Parsing can only go on once at least
    ``need`` bytes, counted from ``consumed``, are available. ``error`` is a fatal structural
    error found after the frames in ``parts`` (which are still good and get delivered first).
    """

    parts: list[Columns] = field(default_factory=list)
    consumed: int = 0
    need: int = 0
    error: CaptureFormatError | None = None


def strided_records(buf: U8, filled: int, size: int) -> npt.NDArray[np.void]:
    """A view with one ``size``-byte record starting at *every* byte of ``buf[:filled]``.

    ``view[offsets]`` then gathers the headers of all records at ``offsets`` in one vectorised
    step, whatever their alignment (records in a pcap file are not aligned). numpy copies the
    gathered bytes into a fresh, aligned array, so reinterpreting them afterwards is cheap.
    """
    count = max(filled - size + 1, 0)
    return np.ndarray(
        shape=(count,), dtype=np.dtype((np.void, size)), buffer=buf, offset=0, strides=(1,)
    )


def gather_u32(buf: U8, offsets: I64, words: int, byteorder: str) -> U32:
    """Read ``words`` consecutive u32 values at each of ``offsets``: an ``(n, words)`` array.

    Reads may reach into the chunk's ``PAD`` spare bytes (headers of a record that is cut
    off at the end of the chunk); callers discard such records.
    """
    recs = strided_records(buf, buf.shape[0], 4 * words)
    out = recs[offsets].view(np.dtype(byteorder + "u4")).reshape(-1, words)
    return out.astype(np.uint32, copy=False)
