"""Per-batch columns dosd works on: tick, weight, class, destination keys, header fields.

Everything is indexed by *position*: the k-th IP packet of the batch that reached dosd
(``rows[k]`` is its row in the batch). Cheap columns (tick, class, keys) are computed for
every packet; header fields used only by fingerprints (length, TTL, payload words …) are
gathered for the few positions that need them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from netlogpush.decode.columns import PacketColumns
from netlogpush.mitigation.dosd.classes import classify

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
IntArray = npt.NDArray[np.integer[Any]]

#: Fingerprint fields read straight from a decoded column.
COLUMNS: dict[str, str] = {
    "len": "IPTotalLength",
    "ttl": "IPTTL",
    "sport": "SourcePort",
    "dport": "DestinationPort",
    "flags": "TCPFlags",
    "win": "TCPWindowSize",
    "gre": "GREEtherType",
    "frag": "IPFragmentOffset",
    "mf": "IPMoreFragments",
    "proto": "IPProtocol",
}
#: Computed fields: ICMP type and code in one value, the first two 32-bit words of the
#: payload after an 8-byte UDP or ICMP header (NTP mode byte, SSDP "HTTP", DNS counts …),
#: and the TTL and protocol of the IPv4 packet a GRE packet carries (``ttl << 8 | proto``).
DERIVED = ("icmp", "p0", "p1", "inner")
FIELDS: tuple[str, ...] = (*COLUMNS, *DERIVED)

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix64(x: U64) -> U64:
    """splitmix64's finaliser: a bijection that spreads every input bit over the output.

    Destination keys are hashed into the count-min sketch by their low and high bits, so
    neighbouring addresses must not share buckets.
    """
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    out: U64 = x ^ (x >> np.uint64(31))
    return out


def prefix_mask64(bits: int) -> int:
    """A 64-bit mask with the top ``bits`` (0..64) set."""
    return 0 if bits <= 0 else ((1 << 64) - 1) ^ ((1 << (64 - min(bits, 64))) - 1)


def dest_mask(version: int, plen: int) -> tuple[int, int]:
    """(hi, lo) masks of a prefix; IPv4 lives in ``lo`` (32 bits), IPv6 spans both words."""
    if version == 4:
        return 0, ((1 << 32) - 1) ^ ((1 << (32 - plen)) - 1)
    return prefix_mask64(plen), prefix_mask64(plen - 64)


@dataclass(slots=True)
class Features:
    """The columns of the IP packets of one batch (or time chunk) that reached dosd."""

    pc: PacketColumns
    rows: I64  # position -> batch row
    tick: I64  # non-decreasing
    ts_ns: I64
    weight: F64  # packets on the wire each one stands for (sFlow sampling rate)
    cls: U8
    version: U8
    dst4: npt.NDArray[np.uint32]
    _hi: U64 | None = None
    _lo: U64 | None = None
    _cache: dict[str, IntArray] = field(default_factory=dict)

    @classmethod
    def build(cls, pc: PacketColumns, rows: I64, tick: I64) -> Features:
        every = rows.size == len(pc)

        def col(name: str) -> IntArray:
            c = pc.get(name)
            return c if every else c[rows]

        version = pc.ip_version if every else pc.ip_version[rows]
        klass = classify(
            version, col("IPProtocol"), col("TCPFlags"), col("SourcePort"),
            col("DestinationPort"), col("IPFragmentOffset"), col("IPMoreFragments"),
        )
        frames = pc.frames
        weight = (frames.sample_interval if every else frames.sample_interval[rows]).astype(np.float64)
        ts = frames.ts_ns if every else frames.ts_ns[rows]
        dst4 = pc.dst4 if every else pc.dst4[rows]
        return cls(pc, rows, tick, ts, weight, klass, version, dst4)

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    # --- destinations -----------------------------------------------------------------

    def _words(self) -> tuple[U64, U64]:
        """Destination as two 64-bit words: IPv4 in ``lo``, IPv6 big-endian in ``hi``/``lo``."""
        if self._hi is None or self._lo is None:
            n = len(self)
            hi = np.zeros(n, np.uint64)
            lo = self.dst4.astype(np.uint64)
            v6 = np.flatnonzero(self.version == 6)
            if v6.size:
                d6 = np.ascontiguousarray(self.pc.dst6[self.rows[v6]])
                words = d6.view(">u8").astype(np.uint64)
                hi[v6] = words[:, 0]
                lo[v6] = words[:, 1]
            self._hi, self._lo = hi, lo
        return self._hi, self._lo

    def dest_words(self, pos: I64 | None = None) -> tuple[U64, U64]:
        hi, lo = self._words()
        return (hi, lo) if pos is None else (hi[pos], lo[pos])

    def keys(self, plen4: int, plen6: int) -> U64:
        """Per packet, a 64-bit key of (destination prefix, class): the heavy-hitter identity.

        ``plen4 == 32`` / ``plen6 == 128`` key single hosts. Different prefix lengths and
        classes land in different keys (they are mixed in before hashing).
        """
        hi, lo = self._words()
        v6 = self.version == 6
        m4 = np.uint64(dest_mask(4, plen4)[1])
        mh, ml = (np.uint64(m) for m in dest_mask(6, plen6))
        tag: U64 = (self.cls.astype(np.uint64) << np.uint64(48)) | (
            self.version.astype(np.uint64) << np.uint64(56)
        )
        base4: U64 = (lo & m4) | (np.uint64(plen4) << np.uint64(40))
        key = mix64(base4 ^ tag)
        if v6.any():
            k6 = mix64(mix64((hi & mh) ^ np.uint64(plen6)) ^ (lo & ml) ^ tag)
            key = np.where(v6, k6, key)
        return key

    # --- header fields ----------------------------------------------------------------

    def values(self, name: str, pos: I64 | None = None) -> IntArray:
        """Field ``name`` (see ``FIELDS``) for positions ``pos`` (all when None)."""
        if pos is None:
            full = self._cache.get(name)
            if full is None:
                full = self._cache[name] = self._gather(name, self.rows)
            return full
        full = self._cache.get(name)
        if full is not None:
            return full[pos]
        return self._gather(name, self.rows[pos])

    def _gather(self, name: str, rows: I64) -> IntArray:
        pc = self.pc
        if name in COLUMNS:
            return pc.get(COLUMNS[name])[rows].astype(np.int64)
        if name == "icmp":
            return (pc.get("ICMPType")[rows].astype(np.int64) << 8) | pc.get("ICMPCode")[rows]
        if name == "inner":
            return gre_inner(pc, rows)
        p0, p1 = payload_words(pc, rows)
        if rows is self.rows:  # both words come from one gather; keep the other one too
            self._cache["p0"], self._cache["p1"] = p0, p1
        return p0 if name == "p0" else p1


#: Masks keeping the first k bytes (k = 0..8) of a big-endian 64-bit word.
_BYTE_MASKS = np.array(
    [0] + [((1 << 64) - 1) ^ ((1 << (64 - 8 * k)) - 1) for k in range(1, 9)], dtype=np.uint64
)


def payload_words(pc: PacketColumns, rows: I64) -> tuple[I64, I64]:
    """The first two big-endian 32-bit words of the payload after an 8-byte header.

    Bytes past the IP payload or the captured frame read as zero, so a short packet's word
    never includes the next frame's bytes. Packets without a transport header get 0.
    """
    if rows.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    frames = pc.frames
    l4 = pc.l4[rows]
    start = l4 + 8
    ip_end = l4 - pc.get("IPHeaderLength")[rows].astype(np.int64) + pc.get("IPTotalLength")[rows]
    cap_end = frames.offsets[rows] + frames.caplen[rows].astype(np.int64)
    avail = np.clip(np.minimum(ip_end, cap_end) - start, 0, 8)
    avail[l4 < 0] = 0
    data = frames.data
    # One 8-byte row per packet from a zero-copy sliding window over the frame buffer.
    window = np.lib.stride_tricks.sliding_window_view(data, 8)
    raw = window[np.clip(start, 0, data.size - 8)]
    v = raw.view(">u8")[:, 0].astype(np.uint64) & _BYTE_MASKS[avail]
    return (v >> np.uint64(32)).astype(np.int64), (v & np.uint64(0xFFFFFFFF)).astype(np.int64)


def gre_inner(pc: PacketColumns, rows: I64) -> I64:
    """``ttl << 8 | protocol`` of the IPv4 packet inside GRE; 0 when it is not IPv4 or cut."""
    if rows.size == 0:
        return np.zeros(0, np.int64)
    frames = pc.frames
    l4 = pc.l4[rows]
    inner = l4 + pc.get("GREHeaderLength")[rows].astype(np.int64)
    cap_end = frames.offsets[rows] + frames.caplen[rows].astype(np.int64)
    ok = (l4 >= 0) & (pc.get("GREEtherType")[rows] == 0x0800) & (inner + 10 <= cap_end)
    data = frames.data
    at = np.clip(inner, 0, data.size - 10)
    version = data[at] >> 4
    out: I64 = np.where(
        ok & (version == 4), (data[at + 8].astype(np.int64) << 8) | data[at + 9], 0
    )
    return out
