"""Vectorised building blocks: integer comparisons, set membership, byte search.

Set membership picks its method by size, from measurements on 1M packets here: a few
ranges are cheapest as direct comparisons (~0.1 ms each), a set over a small domain (ports,
TTLs) as a boolean lookup table indexed by the column (~2 ms), anything larger as one
``np.searchsorted`` over sorted, merged ranges (~10 ms, flat in the set's size up to
100,000 entries, the size of a Cloudflare IP list).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.firewall.literals import IpItem, IpRange
from netlogpush.mitigation.firewall.typed import Op

Mask = npt.NDArray[np.bool_]
IntColumn = npt.NDArray[np.integer[Any]]

V6_KEY = np.dtype("S16")
#: Up to this many ranges, test each one directly instead of searching.
DIRECT_RANGES = 4
#: A lookup table is used when the largest value in the set is below this.
LUT_LIMIT = 1 << 20


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint, non-adjacent inclusive ranges covering the same values."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _bounds(values: IntColumn) -> tuple[int, int]:
    info = np.iinfo(values.dtype)
    return int(info.min), int(info.max)


def compare_int(values: IntColumn, op: Op, literal: int) -> Mask:
    """``values <op> literal`` for any integer dtype and any 64-bit literal.

    NumPy 2 refuses to compare a ``uint32`` column with a Python int it cannot represent
    (``-1``, ``2**40``), so those are settled here: the answer is the same for every row.
    """
    lo, hi = _bounds(values)
    n = values.shape[0]
    if literal < lo or literal > hi:
        below = literal < lo  # every value is greater than the literal
        true = {
            Op.EQ: False,
            Op.NE: True,
            Op.LT: not below,
            Op.LE: not below,
            Op.GT: below,
            Op.GE: below,
        }[op]
        return np.ones(n, np.bool_) if true else np.zeros(n, np.bool_)
    scalar = values.dtype.type(literal)
    out: Mask
    if op is Op.EQ:
        out = values == scalar
    elif op is Op.NE:
        out = values != scalar
    elif op is Op.LT:
        out = values < scalar
    elif op is Op.LE:
        out = values <= scalar
    elif op is Op.GT:
        out = values > scalar
    else:
        out = values >= scalar
    return out


def bitwise_and(values: IntColumn, literal: int) -> Mask:
    """``values & literal != 0``; a negative literal is its 64-bit two's complement."""
    lo, hi = _bounds(values)
    mask = literal & hi if lo == 0 else literal
    result: Mask = (values & values.dtype.type(mask)) != 0
    return result


class IntRanges:
    """Membership in a set of integer ranges (``in {80 443 8000..8009}``)."""

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        self.ranges = merge_ranges(ranges)
        self._lut: Mask | None = None
        top = self.ranges[-1][1] if self.ranges else -1
        if len(self.ranges) > DIRECT_RANGES and 0 <= top < LUT_LIMIT:
            lut = np.zeros(top + 2, np.bool_)  # the last slot stays False for larger values
            for lo, hi in self.ranges:
                if hi >= 0:
                    lut[max(lo, 0) : hi + 1] = True
            self._lut = lut
        self._starts = np.array([lo for lo, _ in self.ranges], np.int64)
        self._ends = np.array([hi for _, hi in self.ranges], np.int64)

    def contains(self, values: IntColumn) -> Mask:
        n = values.shape[0]
        if not self.ranges:
            return np.zeros(n, np.bool_)
        if len(self.ranges) <= DIRECT_RANGES:
            return _direct(values, self.ranges)
        unsigned = np.iinfo(values.dtype).min == 0
        if self._lut is not None and unsigned:
            # Clamp before indexing: np.take converts indices to intp, and a uint64 above
            # 2**63 would wrap to a negative index that "clip" then maps to slot 0.
            top = self._lut.size - 1
            index = values if top > np.iinfo(values.dtype).max else np.minimum(values, values.dtype.type(top))
            hit: Mask = self._lut[index]
            return hit
        v = values.astype(np.int64) if values.dtype != np.int64 else values
        # uint64 values above 2**63 wrap in int64: none of them is in a (64-bit signed) set
        big = values > np.uint64((1 << 63) - 1) if unsigned and values.dtype.itemsize == 8 else None
        idx = np.searchsorted(self._starts, v, side="right") - 1
        inside: Mask = (idx >= 0) & (v <= self._ends[np.maximum(idx, 0)])
        if big is not None:
            inside &= ~big
        return inside


def _direct(values: IntColumn, ranges: list[tuple[int, int]]) -> Mask:
    """Membership in a few ranges, two passes per range.

    ``lo <= x <= hi`` is tested as ``(x - lo) mod 2**w <= hi - lo`` on the column's bits
    read as unsigned: values below ``lo`` wrap around to large numbers. That holds for
    signed columns too (two's complement), once the range is clipped to the dtype.
    """
    lo_dt, hi_dt = _bounds(values)
    unsigned = np.dtype(f"u{values.dtype.itemsize}")
    bits = values.view(unsigned)
    wrap = 1 << (8 * values.dtype.itemsize)
    out: Mask | None = None
    for lo, hi in ranges:
        lo, hi = max(lo, lo_dt), min(hi, hi_dt)
        if lo > hi:
            continue
        start = unsigned.type(lo % wrap)
        hit = bits == start if lo == hi else (bits - start) <= unsigned.type(hi - lo)
        out = hit if out is None else (out | hit)
    return np.zeros(values.shape[0], np.bool_) if out is None else out


def ip_int_ranges(items: Iterable[IpItem]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """IPv4 and IPv6 ranges (as integers) covered by addresses, networks and ranges."""
    v4: list[tuple[int, int]] = []
    v6: list[tuple[int, int]] = []
    for item in items:
        if isinstance(item, IpRange):
            lo, hi, version = int(item.first), int(item.last), item.first.version
        else:
            net = ipaddress.ip_network(item)
            lo, hi, version = int(net.network_address), int(net.broadcast_address), net.version
        (v4 if version == 4 else v6).append((lo, hi))
    return merge_ranges(v4), merge_ranges(v6)


def v6_keys(rows: npt.NDArray[np.uint8]) -> npt.NDArray[np.bytes_]:
    """``(n, 16)`` address bytes -> ``S16`` keys that numpy orders as unsigned big-endian.

    The same trick as ``enrich/ranges.py``: fixed-width ``S16`` compares like memcmp, so one
    ``searchsorted`` works on 128-bit addresses.
    """
    return np.ascontiguousarray(rows, dtype=np.uint8).reshape(-1, 16).view(V6_KEY).reshape(-1)


def _v6_key(value: int) -> bytes:
    return value.to_bytes(16, "big")


class IpRanges:
    """Membership of addresses in a set of networks / ranges (``in {…}`` and ``in $list``)."""

    def __init__(self, items: Sequence[IpItem]) -> None:
        v4, v6 = ip_int_ranges(items)
        self.v4 = IntRanges(v4) if len(v4) <= DIRECT_RANGES else None
        self._v4_starts = np.array([lo for lo, _ in v4], np.uint32)
        self._v4_ends = np.array([hi for _, hi in v4], np.uint32)
        self._v6_starts = np.array([_v6_key(lo) for lo, _ in v6], V6_KEY)
        self._v6_ends = np.array([_v6_key(hi) for _, hi in v6], V6_KEY)
        self.has_v4, self.has_v6 = bool(v4), bool(v6)

    def contains_v4(self, addresses: npt.NDArray[np.uint32]) -> Mask:
        if self.v4 is not None:
            return self.v4.contains(addresses)
        idx = np.searchsorted(self._v4_starts, addresses, side="right") - 1
        inside: Mask = (idx >= 0) & (addresses <= self._v4_ends[np.maximum(idx, 0)])
        return inside

    def contains_v6(self, keys: npt.NDArray[np.bytes_]) -> Mask:
        if not self.has_v6:
            return np.zeros(keys.shape[0], np.bool_)
        idx = np.searchsorted(self._v6_starts, keys, side="right") - 1
        inside: Mask = (idx >= 0) & (keys <= self._v6_ends[np.maximum(idx, 0)])
        return inside


def find_bytes(
    data: npt.NDArray[np.uint8],
    start: npt.NDArray[np.int64],
    end: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    needle: bytes,
) -> Mask:
    """For each of ``rows``, whether ``data[start:end]`` contains ``needle``.

    Searching every packet separately would be a Python loop; instead the whole buffer is
    scanned once for the needle's first byte, candidates are narrowed byte by byte, and the
    hits are mapped back to packets (``searchsorted`` on the packets' starts). Packets are
    disjoint and in buffer order in a ``FrameBatch``; ``rows`` must be sorted by ``start``.
    """
    m = rows.size
    found = np.zeros(m, np.bool_)
    if m == 0:
        return found
    if not needle:
        return np.ones(m, np.bool_)
    s, e = start[rows], end[rows]
    order = np.argsort(s, kind="stable")
    s_sorted, e_sorted = s[order], e[order]
    lo, hi = int(s_sorted[0]), int(e_sorted.max())
    window = data[lo:hi]
    k = len(needle)
    if window.size < k:
        return found
    cand = np.flatnonzero(window[: window.size - k + 1] == needle[0])
    for j in range(1, k):
        if not cand.size:
            break
        cand = cand[window[cand + j] == needle[j]]
    if not cand.size:
        return found
    pos = cand + lo
    owner = np.searchsorted(s_sorted, pos, side="right") - 1
    ok = (owner >= 0) & (pos + k <= e_sorted[np.maximum(owner, 0)])
    found[order[owner[ok]]] = True
    return found
