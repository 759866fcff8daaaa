"""Building blocks of the scenario generator: arrival times, packet templates, the pcap writer.

A scenario is a handful of *streams* (benign conversations, one attack vector ...). Each
stream yields ``Block``s: ``n`` frames of one template stamped out with numpy
(:class:`~netlogpush.testing.packets.BatchTemplate`), their timestamps, and whether they
are attack traffic. The writer merges the blocks of one time window by timestamp and
appends them to the pcap, so memory stays bounded by one window (a 30 s DNS
amplification at 40k pps is 1.7 GB of frames; one second of it is 56 MB), and records
for each packet, in file order, which stream it came from: that is the ground truth.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from netlogpush.testing import packets as P

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

NS = 1_000_000_000


# --- arrival times -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateProfile:
    """Packets per second over time: zero before ``start_ns``, a linear rise over
    ``ramp_ns`` to ``pps``, flat until ``end_ns``, zero after."""

    start_ns: int
    end_ns: int
    pps: float
    ramp_ns: int = 0

    def rate(self, t_ns: I64) -> F64:
        """The rate at each of ``t_ns``, in packets per second."""
        t = t_ns.astype(np.float64)
        inside = (t >= self.start_ns) & (t < self.end_ns)
        if self.ramp_ns <= 0:
            r: F64 = np.where(inside, self.pps, 0.0)
            return r
        rise = np.clip((t - self.start_ns) / self.ramp_ns, 0.0, 1.0)
        r = np.where(inside, self.pps * rise, 0.0)
        return r

    def arrivals(self, rng: np.random.Generator, t0: int, t1: int) -> I64:
        """Sorted arrival times in ``[t0, t1)``: a Poisson process of this rate.

        A ramp is drawn by thinning (candidates at the peak rate, each kept with
        probability rate/peak), which is exact for any rate shape and stays vectorised.
        """
        a, b = max(t0, self.start_ns), min(t1, self.end_ns)
        if a >= b or self.pps <= 0:
            return np.zeros(0, np.int64)
        n = int(rng.poisson(self.pps * (b - a) / NS))
        t = np.sort(rng.integers(a, b, n, dtype=np.int64))
        if self.ramp_ns > 0 and a < self.start_ns + self.ramp_ns:
            keep = rng.random(n) * self.pps < self.rate(t)
            t = t[keep]
        return t


# --- templates -----------------------------------------------------------------------------


class Template:
    """One frame built with :mod:`netlogpush.testing.packets`, to stamp out in batches.

    The variable fields are those :func:`~netlogpush.testing.packets.layout` finds (``ip.src``,
    ``l4.sport``, ``tcp.seq`` ...) plus ``extra`` ones (name -> (frame offset, width)), e.g.
    the bytes of a random DNS label. Checksums covering them are fixed per copy.
    """

    _cache: dict[tuple[bytes, tuple[tuple[str, int, int], ...]], Template] = {}  # noqa: RUF012
    #: Junk payloads differ per seed, so a process writing many scenarios would keep adding
    #: templates; a scenario uses a few dozen, so dropping them all now and then is enough.
    CACHE_LIMIT = 512

    def __init__(self, frame: bytes, extra: Mapping[str, tuple[int, int]]) -> None:
        lay = P.layout(frame, P.LINKTYPE_ETHERNET)
        self.frame = frame
        self.fields = {**lay.fields, **extra}
        self.l4_offset = lay.l4_offset
        self._batch = P.BatchTemplate(frame, self.fields, lay.checksums)

    @classmethod
    def get(cls, frame: bytes, extra: Mapping[str, tuple[int, int]] | None = None) -> Template:
        key = (frame, tuple(sorted((k, o, w) for k, (o, w) in (extra or {}).items())))
        t = cls._cache.get(key)
        if t is None:
            if len(cls._cache) >= cls.CACHE_LIMIT:
                cls._cache.clear()
            t = cls._cache[key] = cls(frame, extra or {})
        return t

    def render(self, n: int, values: Mapping[str, npt.ArrayLike]) -> U8:
        """``(n, len(frame))`` frames; values for fields this frame lacks are ignored."""
        known = {k: v for k, v in values.items() if k in self.fields}
        return self._batch.render(n, known)


def eth(packet: bytes) -> bytes:
    """An IPv4/IPv6 packet in an Ethernet frame, NIC-padded to 60 bytes like a capture."""
    return P.link(P.LINKTYPE_ETHERNET, packet, pad_to=60)


# --- blocks and the writer -----------------------------------------------------------------


@dataclass(slots=True)
class Block:
    """Frames of one template (``frames[i]`` is sent at ``ts_ns[i]``) from one stream."""

    stream: int
    frames: U8  # (n, width): the complete frames
    ts_ns: I64
    wirelen: int = 0  # 0: the frame width

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])


@dataclass(slots=True)
class Records:
    """Ready pcap records (header + frame, e.g. from the mixed generator), in time order."""

    stream: int
    records: npt.NDArray[np.object_]  # bytes per record
    ts_ns: I64

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])

    def window(self, t0: int, t1: int) -> Records:
        lo, hi = np.searchsorted(self.ts_ns, [t0, t1])
        return Records(self.stream, self.records[lo:hi], self.ts_ns[lo:hi])


def split_records(blob: bytes, stream: int, snaplen: int | None = None) -> Records:
    """Cut a run of classic-pcap records (microsecond, little-endian) into ``Records``.

    The loop is per record, but only over the benign background, which is small beside an
    attack; frames longer than ``snaplen`` are cut, keeping their wire length.
    """
    out: list[bytes] = []
    ts: list[int] = []
    head = struct.Struct("<IIII")
    off, end = 0, len(blob)
    while off < end:
        sec, usec, cap, wire = head.unpack_from(blob, off)
        nxt = off + 16 + cap
        if snaplen is not None and cap > snaplen:
            out.append(head.pack(sec, usec, snaplen, wire) + blob[off + 16 : off + 16 + snaplen])
        else:
            out.append(blob[off:nxt])
        ts.append(sec * NS + usec * 1000)
        off = nxt
    ts_arr = np.asarray(ts, np.int64)
    recs: npt.NDArray[np.object_] = np.empty(len(out), dtype=object)
    recs[:] = out
    order = np.argsort(ts_arr, kind="stable")
    return Records(stream, recs[order], ts_arr[order])


def sort_block(b: Block) -> Block:
    order = np.argsort(b.ts_ns, kind="stable")
    return Block(b.stream, b.frames[order], b.ts_ns[order], b.wirelen)


def block_window(b: Block, t0: int, t1: int) -> Block:
    """The part of a time-sorted block in ``[t0, t1)``."""
    lo, hi = np.searchsorted(b.ts_ns, [t0, t1])
    return Block(b.stream, b.frames[lo:hi], b.ts_ns[lo:hi], b.wirelen)


@dataclass(slots=True)
class PcapScenarioWriter:
    """Appends time windows of blocks to a microsecond pcap and keeps the truth per packet.

    Records are merged by timestamp (ties keep the order the blocks were given in, so the
    same input always gives the same bytes) with one object array of record bytes per
    window and one ``join``: slicing a ``(n, 16 + width)`` array row by row into ``bytes``
    is the cheapest way numpy offers to interleave records of different widths.
    """

    f: BinaryIO
    snaplen: int | None = None
    _codes: list[npt.NDArray[np.int8]] = field(default_factory=list)
    _ts: list[I64] = field(default_factory=list)
    packets: int = 0

    @classmethod
    def open(cls, path: Path, snaplen: int | None) -> PcapScenarioWriter:
        f = path.open("wb")
        f.write(P.pcap_header(P.LINKTYPE_ETHERNET, snaplen=snaplen or 262144))
        return cls(f, snaplen)

    def write(self, blocks: Sequence[Block], records: Sequence[Records] = ()) -> None:
        parts: list[npt.NDArray[np.object_]] = []
        stamps: list[I64] = []
        codes: list[npt.NDArray[np.int8]] = []
        for r in records:
            if len(r):
                parts.append(r.records)
                stamps.append(r.ts_ns)
                codes.append(np.full(len(r), r.stream, np.int8))
        for b in blocks:
            n = len(b)
            if not n:
                continue
            ts = b.ts_ns - b.ts_ns % 1000  # the file has microseconds; the truth must agree
            width = b.frames.shape[1]
            cap = width if self.snaplen is None else min(width, self.snaplen)
            rec = np.empty((n, 16 + cap), np.uint8)
            rec[:, :16] = P.pcap_record_headers(ts, np.full(n, cap), np.full(n, b.wirelen or width))
            rec[:, 16:] = b.frames[:, :cap]
            blob = rec.tobytes()
            step = 16 + cap
            objs: npt.NDArray[np.object_] = np.empty(n, dtype=object)
            objs[:] = [blob[i : i + step] for i in range(0, n * step, step)]
            parts.append(objs)
            stamps.append(ts)
            codes.append(np.full(n, b.stream, np.int8))
        if not parts:
            return
        ts = np.concatenate(stamps)
        order = np.argsort(ts, kind="stable")
        self.f.write(b"".join(np.concatenate(parts)[order].tolist()))
        self._codes.append(np.concatenate(codes)[order])
        self._ts.append(ts[order])
        self.packets += int(order.shape[0])

    def close(self) -> tuple[npt.NDArray[np.int8], I64]:
        """Close the file; return the stream code and timestamp of every packet, in file order."""
        self.f.close()
        if not self._codes:
            return np.zeros(0, np.int8), np.zeros(0, np.int64)
        return np.concatenate(self._codes), np.concatenate(self._ts)


# --- addresses -----------------------------------------------------------------------------

#: First octets that are not routable unicast space (private, loopback, CGN, link-local,
#: documentation/benchmark ranges are excluded by the full /8s below) or multicast and up.
_BOGON_FIRST = (0, 10, 100, 127, 169, 172, 192, 198, 203)


def random_public4(rng: np.random.Generator, n: int) -> U32:
    """Uniformly random source addresses as spoofing tools make them, minus bogon /8s
    and the customer prefixes' /8s (so a spoofed source is never "inside")."""
    first = rng.integers(1, 224, n, dtype=np.uint32)
    bad = np.isin(first, _BOGON_FIRST)
    first[bad] = rng.choice(np.asarray((23, 45, 91, 185), np.uint32), int(bad.sum()))
    return (first << np.uint32(24)) | rng.integers(0, 1 << 24, n, dtype=np.uint32)


def addr4(text: str) -> int:
    return int.from_bytes(P.ip_bytes(text), "big")


def text4(value: int) -> str:
    return ".".join(str((value >> s) & 0xFF) for s in (24, 16, 8, 0))


def skewed(rng: np.random.Generator, size: int, n: int) -> npt.NDArray[np.intp]:
    """Indices into a pool of ``size``, heavy at the head (a few big talkers, long tail)."""
    return (rng.random(n) ** 3 * size).astype(np.intp)


def hop_ttl(rng: np.random.Generator, n: int, initial: Sequence[int]) -> U64:
    """TTLs as seen after 3-24 hops from the usual initial values."""
    init = rng.choice(np.asarray(initial, np.int64), n)
    return (init - rng.integers(3, 25, n)).astype(np.uint64)
