"""The vectorised primitives against plain Python, over every strategy they pick between
(direct comparisons, lookup table, searchsorted) and every integer dtype they see."""

from __future__ import annotations

import ipaddress
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.mitigation.firewall.literals import IpRange
from netlogpush.mitigation.firewall.typed import ORDERING, Op
from netlogpush.mitigation.firewall.vectors import (
    DIRECT_RANGES,
    IntRanges,
    IpRanges,
    bitwise_and,
    compare_int,
    find_bytes,
    merge_ranges,
    v6_keys,
)

DTYPES = [np.uint8, np.uint16, np.uint32, np.uint64, np.int64]
I64 = st.integers(-(1 << 63), (1 << 63) - 1)


def _column(draw: st.DrawFn, dtype: type[np.integer], pool: list[int]) -> np.ndarray:
    info = np.iinfo(dtype)
    fits = [v for v in pool if info.min <= v <= info.max]
    value = (
        st.one_of(st.sampled_from(fits), st.integers(int(info.min), int(info.max)))
        if fits
        else st.integers(int(info.min), int(info.max))
    )
    return np.array(draw(st.lists(value, min_size=1, max_size=50)), dtype=dtype)


def _python_op(op: Op, a: int, b: int) -> bool:
    return {Op.EQ: a == b, Op.NE: a != b, Op.LT: a < b, Op.LE: a <= b, Op.GT: a > b, Op.GE: a >= b}[
        op
    ]


@settings(max_examples=500, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(DTYPES), op=st.sampled_from(ORDERING), literal=I64)
def test_compare_int_matches_python(
    data: st.DataObject, dtype: type[np.integer], op: Op, literal: int
) -> None:
    values = _column(data.draw, dtype, [literal, literal - 1, literal + 1, 0])
    got = compare_int(values, op, literal)
    assert got.tolist() == [_python_op(op, int(v), literal) for v in values.tolist()]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(DTYPES), literal=I64)
def test_bitwise_and_matches_python(
    data: st.DataObject, dtype: type[np.integer], literal: int
) -> None:
    values = _column(data.draw, dtype, [0, 1, 2, 255])
    assert bitwise_and(values, literal).tolist() == [
        (int(v) & literal) != 0 for v in values.tolist()
    ]


ranges_small = st.lists(
    st.tuples(st.integers(-5, 300), st.integers(0, 20)).map(lambda p: (p[0], p[0] + p[1])),
    max_size=12,
)
ranges_wide = st.lists(
    st.tuples(I64, st.integers(0, 1 << 40)).map(lambda p: (p[0], min(p[0] + p[1], (1 << 63) - 1))),
    max_size=12,
)


@settings(max_examples=600, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(DTYPES), ranges=st.one_of(ranges_small, ranges_wide))
def test_int_ranges_match_python(
    data: st.DataObject, dtype: type[np.integer], ranges: list[tuple[int, int]]
) -> None:
    edges = [v for lo, hi in ranges for v in (lo - 1, lo, hi, hi + 1)]
    values = _column(data.draw, dtype, edges)
    got = IntRanges(ranges).contains(values)
    assert got.tolist() == [any(lo <= int(v) <= hi for lo, hi in ranges) for v in values.tolist()]


def test_int_ranges_pick_each_strategy() -> None:
    """The cases above reach all three methods; check which one each set takes."""
    assert IntRanges([(1, 1)] * DIRECT_RANGES)._lut is None  # few ranges: direct comparisons
    lut = IntRanges([(k * 10, k * 10 + 1) for k in range(DIRECT_RANGES + 1)])
    assert lut._lut is not None and lut._lut.shape == (43,)
    assert lut.contains(np.array([40, 41, 42, 1000], np.uint16)).tolist() == [
        True,
        True,
        False,
        False,
    ]
    search = IntRanges([(k << 30, (k << 30) + 5) for k in range(DIRECT_RANGES + 1)])
    assert search._lut is None
    assert search.contains(np.array([1 << 30, (1 << 30) + 6], np.uint64)).tolist() == [True, False]


@given(
    st.lists(st.tuples(st.integers(-50, 50), st.integers(0, 10)).map(lambda p: (p[0], p[0] + p[1])))
)
def test_merge_ranges_keeps_the_same_values(ranges: list[tuple[int, int]]) -> None:
    merged = merge_ranges(ranges)
    covered = {v for lo, hi in ranges for v in range(lo, hi + 1)}
    assert {v for lo, hi in merged for v in range(lo, hi + 1)} == covered
    assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(merged))


V4_POOL = [
    "10.0.0.0",
    "10.0.0.1",
    "10.255.255.255",
    "11.0.0.0",
    "192.0.2.10",
    "0.0.0.0",
    "255.255.255.255",
]
V6_POOL = [
    "2001:db8::",
    "2001:db8::1",
    "2001:db8:0:0:ffff:ffff:ffff:ffff",
    "2001:db9::",
    "::",
    "::1",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
]


@st.composite
def ip_items(draw: st.DrawFn) -> list[object]:
    items: list[object] = []
    for _ in range(draw(st.integers(0, 12))):
        a = ipaddress.ip_address(draw(st.sampled_from(V4_POOL + V6_POOL)))
        kind = draw(st.sampled_from(["net", "range"]))
        if kind == "net":
            items.append(
                ipaddress.ip_network(f"{a}/{draw(st.integers(0, a.max_prefixlen))}", strict=False)
            )
        else:
            b = ipaddress.ip_address(draw(st.sampled_from(V4_POOL if a.version == 4 else V6_POOL)))
            items.append(IpRange(min(a, b), max(a, b)))
    return items


def _inside(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, items: list[object]) -> bool:
    for item in items:
        if isinstance(item, IpRange):
            if item.first.version == addr.version and item.first <= addr <= item.last:
                return True
        elif item.version == addr.version and addr in item:  # type: ignore[attr-defined]
            return True
    return False


@settings(max_examples=400, deadline=None)
@given(
    items=ip_items(),
    v4=st.lists(st.one_of(st.sampled_from(V4_POOL), st.ip_addresses(v=4).map(str)), max_size=30),
    v6=st.lists(st.one_of(st.sampled_from(V6_POOL), st.ip_addresses(v=6).map(str)), max_size=30),
)
def test_ip_ranges_match_ipaddress(items: list[object], v4: list[str], v6: list[str]) -> None:
    ranges = IpRanges(items)  # type: ignore[arg-type]
    four = np.array([int(ipaddress.IPv4Address(a)) for a in v4], np.uint32)
    six = np.array([list(ipaddress.IPv6Address(a).packed) for a in v6], np.uint8).reshape(-1, 16)
    assert ranges.contains_v4(four).tolist() == [
        _inside(ipaddress.IPv4Address(a), items) for a in v4
    ]
    assert ranges.contains_v6(v6_keys(six)).tolist() == [
        _inside(ipaddress.IPv6Address(a), items) for a in v6
    ]


@settings(max_examples=400, deadline=None)
@given(
    packets=st.lists(
        st.tuples(st.binary(max_size=30), st.integers(0, 10)), min_size=1, max_size=12
    ),
    needle=st.one_of(
        st.binary(max_size=3), st.sampled_from([b"\x00", b"\x00\x00", b"ab", b"\x00a", b"\x00ab"])
    ),
    pick=st.data(),
)
def test_find_bytes_matches_python(
    packets: list[tuple[bytes, int]], needle: bytes, pick: st.DataObject
) -> None:
    buf, start, end = bytearray(), [], []
    for body, skip in packets:
        buf += b"ab\x00" + body  # bytes between packets must never count
        start.append(len(buf) - len(body) + min(skip, len(body)))
        end.append(len(buf))
    data = np.frombuffer(bytes(buf) + bytes(128), np.uint8)
    s, e = np.array(start, np.int64), np.array(end, np.int64)
    rows = np.array(sorted(pick.draw(st.sets(st.integers(0, len(packets) - 1)))), np.int64)
    got = find_bytes(data, s, e, rows, needle)
    assert got.tolist() == [needle in bytes(buf[start[r] : end[r]]) for r in rows.tolist()]


@pytest.mark.parametrize("dtype", DTYPES)
def test_compare_int_out_of_range_literals(dtype: type[np.integer]) -> None:
    values = np.array([0, 5], dtype)
    assert compare_int(values, Op.GT, -1).tolist() == [True, True]
    assert compare_int(values, Op.LT, 1 << 64).tolist() == [True, True]
    assert compare_int(values, Op.EQ, -(1 << 70)).tolist() == [False, False]


def test_find_bytes_never_reads_past_a_packet() -> None:
    # packet 0 is "xx\0", then the next packet's bytes begin with "a": "\0a" spans the two.
    data = np.frombuffer(b"xx\x00ab\x00\x00" + bytes(128), np.uint8)
    start, end = np.array([0, 3], np.int64), np.array([3, 7], np.int64)
    rows = np.array([0, 1], np.int64)
    assert find_bytes(data, start, end, rows, b"\x00a").tolist() == [False, False]
    assert find_bytes(data, start, end, rows, b"x\x00").tolist() == [True, False]
    assert find_bytes(data, start, end, rows, b"\x00\x00").tolist() == [False, True]
    assert find_bytes(data, start, end, rows, b"").tolist() == [True, True]
