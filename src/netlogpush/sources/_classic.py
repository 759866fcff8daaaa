"""Classic libpcap files: a 24-byte file header, then 16-byte record headers and data.

https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/ . Walking the records is inherently
sequential (each length says where the next record starts), so a tight Python loop with a
precompiled ``struct.Struct`` finds the record offsets; everything else is one vectorised
gather per chunk.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from netlogpush.decode.frames import I64, U8
from netlogpush.sources._capcommon import (
    MAX_CAPLEN,
    CaptureFormatError,
    Columns,
    ParseResult,
    gather_u32,
)

#: magic as read little-endian -> (byte order, timestamp fraction unit in ns)
MAGICS: dict[bytes, tuple[str, int]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # microseconds, little-endian
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
#: Kuznetzov's "modified" pcap: several incompatible variants share this magic.
MODIFIED_MAGICS = (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34")
FILE_HEADER = 24
RECORD_HEADER = 16

Unpacker = Callable[..., tuple[Any, ...]]


class ClassicParser:
    def __init__(self, name: str, magic: bytes) -> None:
        self.name = name
        self.byteorder, self.frac_ns = MAGICS[magic]
        self.format = "pcap" if self.frac_ns == 1000 else "pcap-ns"
        self._caplen_at = struct.Struct(self.byteorder + "I").unpack_from
        self.started = False
        self.linktype = 0
        self.snaplen = 0

    def _header(self, mv: memoryview) -> None:
        _, _, _, _, _, snaplen, network = struct.unpack_from(self.byteorder + "IHHiIII", mv, 0)
        self.snaplen = snaplen
        # The upper bits of this field carry FCS information, not the link type.
        self.linktype = network & 0xFFFF
        self.started = True

    def parse(self, buf: U8, filled: int, base: int) -> ParseResult:
        pos = 0
        mv = buf.data  # struct reads a memoryview; the numpy array serves vectorised gathers
        if not self.started:
            if filled < FILE_HEADER:
                return ParseResult(need=FILE_HEADER)
            self._header(mv)
            pos = FILE_HEADER
        offs, stop = _walk(mv[:filled], pos, self._caplen_at)
        if offs and stop > filled:  # the last record found runs past the data we have
            stop = offs.pop()
        res = ParseResult(consumed=stop, need=RECORD_HEADER)
        if stop + 12 <= filled:
            (caplen,) = self._caplen_at(mv, stop + 8)
            res.need = RECORD_HEADER + caplen
            if caplen > MAX_CAPLEN:
                res.error = self._too_big(base + stop, caplen)
        if offs:
            self._columns(buf, base, np.asarray(offs, dtype=np.int64), res)
        return res

    def _columns(self, buf: U8, base: int, rec: I64, res: ParseResult) -> None:
        hdr = gather_u32(buf, rec, 4, self.byteorder)
        caplen = hdr[:, 2]
        bad = np.flatnonzero(caplen > MAX_CAPLEN)
        if bad.size:  # a garbage length: the records after it cannot be trusted either
            k = int(bad[0])
            res.error = self._too_big(base + int(rec[k]), int(caplen[k]))
            res.consumed = int(rec[k])
            rec, hdr, caplen = rec[:k], hdr[:k], caplen[:k]
            if k == 0:
                return
        ts = hdr[:, 0].astype(np.int64) * 1_000_000_000 + hdr[:, 1].astype(np.int64) * self.frac_ns
        res.parts.append(
            Columns(
                offsets=rec + RECORD_HEADER,
                caplen=np.ascontiguousarray(caplen),
                wirelen=np.ascontiguousarray(hdr[:, 3]),
                ts_ns=ts,
                linktype=np.full(rec.shape[0], self.linktype, dtype=np.uint16),
            )
        )

    def _too_big(self, offset: int, caplen: int) -> CaptureFormatError:
        return CaptureFormatError(
            f"{self.name}: pcap record at offset {offset} claims {caplen} captured bytes, "
            f"more than the {MAX_CAPLEN}-byte limit; the file is corrupt from there on",
            offset,
        )


def _walk(view: memoryview, pos: int, unpack: Unpacker) -> tuple[list[int], int]:
    """Offsets of consecutive records from ``pos``; and where the walk stopped.

    The loop ends when reading a record's length runs off the end of ``view`` (struct.error),
    which saves a bounds check per record. The last offset returned may belong to a record
    that is cut off; the caller checks for that.
    """
    offs: list[int] = []
    append = offs.append
    try:
        while True:
            (n,) = unpack(view, pos + 8)
            append(pos)
            pos += RECORD_HEADER + n
    except struct.error:
        pass
    return offs, pos
