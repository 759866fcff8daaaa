"""pcapng files: https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/ .

Section headers are read one by one (they set the byte order). Between them, a tight loop
only follows block lengths to collect offsets; framing checks, block types and packet fields
are then handled vectorised for the whole run, like classic pcap records. Only interface
descriptions are parsed in Python; blocks without packets are counted and skipped.

Choices where readers differ (documented in docs/sources.md):
- a section whose major version is not 1 is skipped block by block and counted as
  ``unsupported_section_version`` (tshark stops with an error; gopacket can skip it too);
- Simple Packet Blocks carry no timestamp: they get the previous packet's timestamp (0 if
  none), where tshark shows none at all;
- ``if_tsoffset`` is added, as tshark does.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from netlogpush.decode.frames import I64, U8, U16, U32
from netlogpush.sources._capcommon import (
    MAX_BLOCK,
    MAX_CAPLEN,
    CaptureFormatError,
    Columns,
    ParseResult,
    gather_u32,
)

SHB, IDB, PB, SPB, EPB = 0x0A0D0D0A, 1, 2, 3, 6
SHB_MAGIC = b"\x0a\x0d\x0d\x0a"
_BOMS = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
_MIN_LEN = {SHB: 28, IDB: 20, EPB: 32, PB: 32, SPB: 16}
#: Blocks that carry packets or change how packets are read; the rest are skipped.
_USEFUL = np.array([IDB, PB, SPB, EPB], dtype=np.uint32)
#: Most blocks one walk may visit (a chunk holds fewer unless chunks are very large).
_MAX_WALK = 1 << 20
OPT_TSRESOL, OPT_TSOFFSET = 9, 14
DEFAULT_TSRESOL = 6  # microseconds
_NS = 1_000_000_000

U64 = npt.NDArray[np.uint64]
Unpacker = Callable[..., tuple[Any, ...]]


@dataclass(slots=True)
class Interface:
    linktype: int
    snaplen: int
    tsresol: int = DEFAULT_TSRESOL
    tsoffset_ns: int = 0


class _Fatal(Exception):
    """Internal: carries a CaptureFormatError out of nested helpers."""


class PcapngParser:
    format = "pcapng"

    def __init__(self, name: str, problems: Counter[str]) -> None:
        self.name = name
        self.problems = problems
        self.started = False
        self.blocks_skipped = 0
        self._order = "<"
        self._hdr: Unpacker = struct.Struct("<II").unpack_from
        self._len_at: Unpacker = struct.Struct("<I").unpack_from
        self._ifaces: list[Interface] = []
        self._lt_table: U16 = np.zeros(0, dtype=np.uint16)
        self._skip_section = False
        self._last_ts = 0
        self._walk_hint = _MAX_WALK

    # -- block framing -------------------------------------------------------------------

    def parse(self, buf: U8, filled: int, base: int) -> ParseResult:
        res = ParseResult()
        mv = buf.data  # struct reads a memoryview; the numpy array serves vectorised gathers
        pos = 0
        try:
            while True:
                res.consumed = pos
                if pos + 12 > filled:
                    res.need = 12
                    return res
                btype, blen = self._block_header(mv, pos, base)
                if pos + blen > filled:
                    res.need = blen
                    return res
                (trailer,) = struct.unpack_from(self._order + "I", mv, pos + blen - 4)
                if trailer != blen:
                    raise self._fatal(
                        f"block at offset {base + pos} has inconsistent lengths "
                        f"({blen} at its start, {trailer} at its end)",
                        base + pos,
                    )
                if btype == SHB:
                    self._section(mv, pos)
                    pos += blen
                else:
                    pos = self._blocks(buf, mv, filled, base, pos, res)
        except _Fatal as exc:
            res.error = exc.args[0]
            return res

    def _block_header(self, mv: memoryview, pos: int, base: int) -> tuple[int, int]:
        if mv[pos : pos + 4] == SHB_MAGIC:
            # The byte order of a section is only known from its header's byte-order magic.
            order = _BOMS.get(bytes(mv[pos + 8 : pos + 12]))
            if order is None:
                raise self._fatal(
                    f"section header at offset {base + pos} has a bad byte-order magic "
                    f"{bytes(mv[pos + 8 : pos + 12]).hex()}",
                    base + pos,
                )
            self._order = order
            self._hdr = struct.Struct(order + "II").unpack_from
            self._len_at = struct.Struct(order + "I").unpack_from
            btype = SHB
            (blen,) = struct.unpack_from(order + "I", mv, pos + 4)
        else:
            if not self.started:
                raise self._fatal(f"no section header at offset {base + pos}", base + pos)
            btype, blen = self._hdr(mv, pos)
        minlen = 12 if self._skip_section and btype != SHB else _MIN_LEN.get(btype, 12)
        if blen % 4 or blen < minlen or blen > MAX_BLOCK:
            raise self._fatal(
                f"block of type {btype:#x} at offset {base + pos} has an invalid length {blen}",
                base + pos,
            )
        return btype, blen

    def _fatal(self, message: str, offset: int) -> _Fatal:
        return _Fatal(CaptureFormatError(f"{self.name}: pcapng {message}", offset))

    # -- state blocks --------------------------------------------------------------------

    def _section(self, mv: memoryview, pos: int) -> None:
        major, _minor = struct.unpack_from(self._order + "HH", mv, pos + 12)
        self.started = True
        self._ifaces = []
        self._lt_table = np.zeros(0, dtype=np.uint16)
        self._skip_section = major != 1
        if self._skip_section:
            self.problems["unsupported_section_version"] += 1

    def _interface(self, mv: memoryview, pos: int, blen: int) -> None:
        linktype, _, snaplen = struct.unpack_from(self._order + "HHI", mv, pos + 8)
        iface = Interface(linktype, snaplen)
        opt, end = pos + 16, pos + blen - 4
        while opt + 4 <= end:
            code, olen = struct.unpack_from(self._order + "HH", mv, opt)
            value = opt + 4
            if code == 0:
                break
            if value + olen > end:
                self.problems["bad_option"] += 1
                break
            if code == OPT_TSRESOL and olen == 1:
                iface.tsresol = int(mv[value])
                if not _tsresol_ok(iface.tsresol):
                    self.problems["unsupported_tsresol"] += 1
                    iface.tsresol = DEFAULT_TSRESOL
            elif code == OPT_TSOFFSET and olen == 8:
                (secs,) = struct.unpack_from(self._order + "q", mv, value)
                iface.tsoffset_ns = _wrap_i64(secs * _NS)
            opt = value + ((olen + 3) & ~3)
        self._ifaces.append(iface)
        self._lt_table = np.array([i.linktype for i in self._ifaces], dtype=np.uint16)

    # -- packet blocks -------------------------------------------------------------------

    def _blocks(
        self, buf: U8, mv: memoryview, filled: int, base: int, pos: int, res: ParseResult
    ) -> int:
        """Take the blocks from ``pos`` (whose framing the caller has checked, not an SHB) up
        to the next section header or framing problem; return the offset after them.

        One tight loop finds the block offsets; framing checks, block types and packet
        fields are then vectorised. Blocks without packets are only counted, so they do not
        split runs of packets.
        """
        # The walk does not stop at section headers (checking each type would slow it), so
        # its length adapts: short after a run was cut early, growing while runs are long.
        # Otherwise a file of many small sections would be walked to the chunk end for each.
        limit = min((filled - pos) // 12 + 1, self._walk_hint)
        rec = np.asarray(_walk(mv[:filled], pos, limit, self._len_at), dtype=np.int64)
        head = gather_u32(buf, rec, 2, self._order)
        types, lens = head[:, 0], head[:, 1].astype(np.int64)
        end = rec + lens
        ok = (lens >= self._min_lengths(types)) & ((lens & 3) == 0) & (lens <= MAX_BLOCK)
        ok &= (end <= filled) & (types != SHB)
        trailer = gather_u32(buf, np.where(ok, end - 4, 0), 1, self._order)[:, 0]
        ok &= trailer == lens
        k = len(ok) if ok.all() else int(np.argmin(ok))  # the first block that fails
        self._walk_hint = min(self._walk_hint * 8, _MAX_WALK) if k == len(ok) else 2 * k + 64
        rec, types, lens = rec[:k], types[:k], lens[:k]
        if self._skip_section:
            self.blocks_skipped += k
            return int(end[k - 1])
        useful = np.isin(types, _USEFUL)
        self.blocks_skipped += k - int(useful.sum())
        rec, types, lens = rec[useful], types[useful], lens[useful]
        start = 0
        for i in np.flatnonzero(types == IDB).tolist():  # interfaces change how packets read
            if i > start:
                self._packets(buf, base, rec[start:i], types[start:i], lens[start:i], res)
            self._interface(mv, int(rec[i]), int(lens[i]))
            start = i + 1
        if start < types.size:
            self._packets(buf, base, rec[start:], types[start:], lens[start:], res)
        return int(end[k - 1])

    def _min_lengths(self, types: U32) -> I64 | int:
        if self._skip_section:
            return 12
        out = np.full(types.shape[0], 12, dtype=np.int64)
        for btype, minlen in _MIN_LEN.items():
            out[types == btype] = minlen
        return out

    def _packets(
        self, buf: U8, base: int, rec: I64, types: U32, blen: I64, res: ParseResult
    ) -> None:
        """Decode a run of packet blocks (EPB, SPB, PB, mixed) under one interface table."""
        hdr = gather_u32(buf, rec, 7, self._order)  # SPBs are shorter: extra words unused
        spb = types == SPB
        word2 = hdr[:, 2]
        ifid = np.where(spb, 0, np.where(types == PB, _pb_ifid(word2, self._order), word2))
        wirelen = np.where(spb, word2, hdr[:, 6])
        room = blen - np.where(spb, 16, 32)
        caplen = np.where(spb, self._spb_caplen(word2, room), hdr[:, 5]).astype(np.int64)
        bad = np.flatnonzero((caplen > room) | (caplen > MAX_CAPLEN))
        if bad.size:
            j = int(bad[0])
            res.error = CaptureFormatError(
                f"{self.name}: pcapng packet block at offset {base + int(rec[j])} claims "
                f"{int(caplen[j])} captured bytes, more than its block holds or the "
                f"{MAX_CAPLEN}-byte limit",
                base + int(rec[j]),
            )
            res.consumed = int(rec[j])  # frames before the bad block are still delivered
        keep = np.arange(rec.shape[0]) < (int(bad[0]) if bad.size else rec.shape[0])
        known = ifid < len(self._ifaces)
        unknown = int((keep & ~known).sum())
        if unknown:
            self.problems["unknown_interface"] += unknown
        keep &= known
        if not keep.all():
            rec, hdr, spb, ifid = rec[keep], hdr[keep], spb[keep], ifid[keep]
            caplen, wirelen = caplen[keep], wirelen[keep]
        if rec.size:
            res.parts.append(
                Columns(
                    offsets=rec + np.where(spb, 12, 28),
                    caplen=caplen.astype(np.uint32),
                    wirelen=np.ascontiguousarray(wirelen, dtype=np.uint32),
                    ts_ns=self._packet_times(hdr, ifid, spb),
                    linktype=self._lt_table[ifid],
                )
            )
        if res.error is not None:
            raise _Fatal(res.error)

    def _spb_caplen(self, wirelen: U32, room: I64) -> I64:
        """A Simple Packet Block holds min(original length, snaplen of interface 0)."""
        caplen = np.minimum(wirelen.astype(np.int64), room)
        if self._ifaces and self._ifaces[0].snaplen:
            caplen = np.minimum(caplen, self._ifaces[0].snaplen)
        return caplen

    def _packet_times(self, hdr: U32, ifid: U32, spb: npt.NDArray[np.bool_]) -> I64:
        if not spb.any():
            ts = self._timestamps(hdr, ifid)
        else:
            ts = np.zeros(hdr.shape[0], dtype=np.int64)
            timed = ~spb
            if timed.any():
                ts[timed] = self._timestamps(hdr[timed], ifid[timed])
            # Simple Packet Blocks have no time: carry the previous packet's forward.
            last = np.maximum.accumulate(np.where(timed, np.arange(ts.shape[0]), -1))
            ts = np.where(last >= 0, ts[np.maximum(last, 0)], self._last_ts)
        self._last_ts = int(ts[-1])
        return ts

    def _timestamps(self, hdr: U32, ifid: U32) -> I64:
        ticks = (hdr[:, 3].astype(np.uint64) << np.uint64(32)) | hdr[:, 4].astype(np.uint64)
        first = self._ifaces[int(ifid[0])]
        if all(
            i.tsresol == first.tsresol and i.tsoffset_ns == first.tsoffset_ns for i in self._ifaces
        ):
            return ticks_to_ns(ticks, first.tsresol, first.tsoffset_ns)
        ts = np.empty(ticks.shape[0], dtype=np.int64)
        for i in np.unique(ifid):
            mask = ifid == i
            iface = self._ifaces[int(i)]
            ts[mask] = ticks_to_ns(ticks[mask], iface.tsresol, iface.tsoffset_ns)
        return ts


def _walk(view: memoryview, pos: int, limit: int, length_at: Unpacker) -> list[int]:
    """Offsets of up to ``limit`` consecutive blocks from ``pos``, following their lengths.

    Nothing is checked here (the caller checks everything vectorised, and cuts the run at
    the first bad block); running off the end of ``view`` raises struct.error, which ends
    the loop without a bounds check per block.
    """
    offs: list[int] = []
    append = offs.append
    try:
        for _ in range(limit):
            (n,) = length_at(view, pos + 4)
            append(pos)
            pos += n
    except struct.error:
        pass
    return offs


def _pb_ifid(word: U32, order: str) -> U32:
    """The obsolete Packet Block has a 16-bit interface id followed by a 16-bit drop count."""
    if order == ">":
        return word >> np.uint32(16)
    return word & np.uint32(0xFFFF)


def _tsresol_ok(tsresol: int) -> bool:
    # Beyond 10^-19 or 2^-63 s a tick count no longer fits the arithmetic below.
    return (tsresol & 0x7F) < 64 if tsresol & 0x80 else tsresol <= 19


def _wrap_i64(value: int) -> int:
    return ((value + (1 << 63)) % (1 << 64)) - (1 << 63)


def ticks_to_ns(ticks: U64, tsresol: int, offset_ns: int = 0) -> I64:
    """Convert pcapng timestamp ticks to ns since the epoch (floor), exactly in 64 bits.

    ``tsresol`` is the raw if_tsresol byte: 10^-v s per tick, or 2^-v if the top bit is set.
    Integer arithmetic on purpose: float seconds lose the nanoseconds of current dates.
    """
    if tsresol & 0x80:
        shift = tsresol & 0x7F
        secs = ticks >> np.uint64(shift)
        frac = ticks & np.uint64((1 << shift) - 1)
        # frac < 2^shift and 1e9 < 2^30: keep frac * 1e9 below 2^64.
        drop = max(shift - 34, 0)
        frac_ns = ((frac >> np.uint64(drop)) * np.uint64(_NS)) >> np.uint64(shift - drop)
        ns = secs * np.uint64(_NS) + frac_ns
    elif tsresol <= 9:
        ns = ticks * np.uint64(10 ** (9 - tsresol))
    else:
        ns = ticks // np.uint64(10 ** (tsresol - 9))
    out = ns.astype(np.int64)
    if offset_ns:
        out += np.int64(offset_ns)
    return out
