"""RangeIndex: vectorised lookup over sorted ranges, overlap flattening, IPv6 S16 keys."""

from __future__ import annotations

import ipaddress

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.enrich.ranges import (
    Family,
    RangeIndex,
    build_range_index,
    keys_from_ints,
    keys_to_ints,
    v6_key_bytes,
    v6_keys,
)


def ip4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def ip6(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


def index(family: Family, ranges: list[tuple[int, int]], merge_adjacent: bool = False) -> RangeIndex:
    return build_range_index(
        family,
        keys_from_ints([a for a, _ in ranges], family),
        keys_from_ints([b for _, b in ranges], family),
        merge_adjacent=merge_adjacent,
    )


def find(family: Family, idx: RangeIndex, values: list[int]) -> list[int]:
    return idx.find(keys_from_ints(values, family)).tolist()  # type: ignore[no-any-return]


def brute(ranges: list[tuple[int, int]], q: int) -> int:
    """The documented winner: greatest start, then narrowest, then listed last."""
    best = -1
    best_key: tuple[int, int, int] | None = None
    for i, (a, b) in enumerate(ranges):
        if a <= q <= b:
            key = (a, -b, i)
            if best_key is None or key > best_key:
                best, best_key = i, key
    return best


def test_v4_edges_and_gaps() -> None:
    ranges = [
        (ip4("1.0.0.0"), ip4("1.0.0.255")),
        (ip4("1.0.4.0"), ip4("1.0.7.255")),
        (ip4("1.0.8.0"), ip4("1.0.8.0")),  # single address, adjacent to the previous range
    ]
    idx = index(4, ranges)
    queries = ["0.255.255.255", "1.0.0.0", "1.0.0.255", "1.0.1.0", "1.0.3.255", "1.0.4.0",
               "1.0.7.255", "1.0.8.0", "1.0.8.1", "0.0.0.0", "255.255.255.255"]
    assert find(4, idx, [ip4(q) for q in queries]) == [-1, 0, 0, -1, -1, 1, 1, 2, -1, -1, -1]


def test_v4_whole_space_and_extremes() -> None:
    idx = index(4, [(0, 0), (2**32 - 1, 2**32 - 1)])
    assert find(4, idx, [0, 1, 2**32 - 2, 2**32 - 1]) == [0, -1, -1, 1]


def test_v6_edges_trailing_zero_bytes() -> None:
    # Keys ending in zero bytes are where an S16 representation could go wrong.
    ranges = [
        (ip6("2001:db8::"), ip6("2001:db8::ffff")),
        (ip6("2001:db8::1:0"), ip6("2001:db8::1:0")),
        (ip6("2001:db9::"), ip6("2001:db9:ffff:ffff:ffff:ffff:ffff:ffff")),
    ]
    idx = index(6, ranges)
    queries = ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::", "2001:db8::ffff",
               "2001:db8::1:0", "2001:db8::1:1", "2001:db9::", "2001:dba::", "::", "ffff::"]
    assert find(6, idx, [ip6(q) for q in queries]) == [-1, 0, 0, 1, -1, 2, -1, -1, -1]


def test_v6_extremes() -> None:
    top = 2**128 - 1
    idx = index(6, [(0, 0), (top, top)])
    assert find(6, idx, [0, 1, top - 1, top]) == [0, -1, -1, 1]


def test_nested_and_partial_overlaps() -> None:
    ranges = [(0, 100), (10, 20), (15, 30), (50, 60), (50, 60), (200, 300)]
    idx = index(4, ranges)
    q = [0, 9, 10, 14, 15, 20, 21, 30, 31, 49, 50, 60, 61, 100, 101, 200, 300, 301]
    assert find(4, idx, q) == [brute(ranges, x) for x in q]
    # The duplicate (50, 60) listed last wins.
    assert find(4, idx, [55]) == [4]


def test_union_merges_touching_prefixes() -> None:
    idx = index(4, [(ip4("10.0.1.0"), ip4("10.0.1.255")), (ip4("10.0.0.0"), ip4("10.0.0.255")),
                    (ip4("10.0.0.128"), ip4("10.0.0.129"))], merge_adjacent=True)
    assert len(idx) == 1
    assert idx.contains(keys_from_ints([ip4("10.0.0.0"), ip4("10.0.1.255"),
                                        ip4("10.0.2.0")], 4)).tolist() == [True, True, False]


def test_empty_index_and_empty_keys() -> None:
    for family in (4, 6):
        fam: Family = 4 if family == 4 else 6
        idx = index(fam, [])
        assert find(fam, idx, [0, 5]) == [-1, -1]
        assert find(fam, index(fam, [(1, 2)]), []) == []


def test_v6_key_round_trip() -> None:
    rows = np.zeros((3, 16), dtype=np.uint8)
    rows[1, 0] = 0x20
    rows[2, 15] = 1
    keys = v6_keys(rows)
    assert keys.shape == (3,)
    assert v6_key_bytes(keys) == [bytes(r) for r in rows]
    assert keys_to_ints(keys, 6) == [0, 0x20 << 120, 1]


_V4 = st.integers(0, 2**32 - 1)


def _ranges(points: st.SearchStrategy[int]) -> st.SearchStrategy[list[tuple[int, int]]]:
    return st.lists(st.tuples(points, points).map(lambda t: (min(t), max(t))), max_size=40)


@settings(max_examples=300, deadline=None)
@given(ranges=_ranges(st.integers(0, 400)), queries=st.lists(st.integers(0, 410), max_size=60))
def test_property_small_v4_space_matches_brute_force(
    ranges: list[tuple[int, int]], queries: list[int]
) -> None:
    # A small address space forces many overlaps, ties and shared edges.
    idx = index(4, ranges)
    probe = queries + [p for r in ranges for p in (r[0], r[1], r[0] - 1, r[1] + 1) if p >= 0]
    assert find(4, idx, probe) == [brute(ranges, q) for q in probe]


@settings(max_examples=150, deadline=None)
@given(ranges=_ranges(_V4), queries=st.lists(_V4, max_size=60))
def test_property_v4_matches_brute_force(ranges: list[tuple[int, int]], queries: list[int]) -> None:
    idx = index(4, ranges)
    probe = queries + [p for r in ranges for p in (r[0], r[1], r[0] - 1, r[1] + 1)
                       if 0 <= p < 2**32]
    assert find(4, idx, probe) == [brute(ranges, q) for q in probe]


# IPv6 values built from a few prefixes and small offsets, so ranges meet and nest, and
# many keys end in zero bytes.
_V6 = st.builds(
    lambda base, off: (base + off) % 2**128,
    st.sampled_from([0, 2**64, 0x20010DB8 << 96, 2**128 - 2**16, 1 << 127]),
    st.integers(0, 2**17),
)


@settings(max_examples=150, deadline=None)
@given(ranges=_ranges(_V6), queries=st.lists(_V6, max_size=60))
def test_property_v6_matches_brute_force(ranges: list[tuple[int, int]], queries: list[int]) -> None:
    idx = index(6, ranges)
    probe = queries + [p for r in ranges for p in (r[0], r[1], r[0] - 1, r[1] + 1)
                       if 0 <= p < 2**128]
    assert find(6, idx, probe) == [brute(ranges, q) for q in probe]
