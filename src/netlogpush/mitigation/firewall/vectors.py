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
    if op is Op.EQ:
        return values == scalar
    if op is Op.NE:
        return values != scalar
    if op is Op.LT:
        return values < scalar
    if op is Op.LE:
        return values <= scalar
    if op is Op.GT:
        return values > scalar
    return values >= scalar


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
            out = np.zeros(n, np.bool_)
            for lo, hi in self.ranges:
                if lo == hi:
                    out |= compare_int(values, Op.EQ, lo)
                else:
                    out |= compare_int(values, Op.GE, lo) & compare_int(values, Op.LE, hi)
            return out
        unsigned = np.iinfo(values.dtype).min == 0
        if self._lut is not None and unsigned:
            hit: Mask = np.take(self._lut, values, mode="clip")
            return hit
        v = values.astype(np.int64) if values.dtype != np.int64 else values
        if unsigned and values.dtype.itemsize == 8:  # uint64 above 2**63 wraps: none are in a set
            big = values > np.uint64((1 << 63) - 1)
        else:
            big = None
        idx = np.searchsorted(self._starts, v, side="right") - 1
        inside: Mask = (idx >= 0) & (v <= self._ends[np.maximum(idx, 0)])
        if big is not None:
            inside &= ~big
        return inside


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
        idx = np.searchsorted(self._v6_starts, keys, side="right") - 1
        inside: Mask = (idx >= 0) & (keys <= self._v6_ends[np.maximum(idx, 0)])
        return inside


def find_bytes(data: npt.NDArray[np.uint8], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64],
               rows: npt.NDArray[np.int64], needle: bytes) -> Mask:
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
