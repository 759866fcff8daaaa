"""Direction from customer prefixes: precedence, prefix edges, IPv4/IPv6, non-IP rows."""

from __future__ import annotations

import ipaddress

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.enrich.direction import DirectionClassifier


def classify(prefixes: list[str], pairs: list[tuple[str, str]]) -> list[str]:
    """Build a batch from (src, dst) pairs ("" = a non-IP row) and classify it."""
    n = len(pairs)
    ver = np.zeros(n, dtype=np.uint8)
    src4 = np.zeros(n, dtype=np.uint32)
    dst4 = np.zeros(n, dtype=np.uint32)
    src6 = np.zeros((n, 16), dtype=np.uint8)
    dst6 = np.zeros((n, 16), dtype=np.uint8)
    for i, (s, d) in enumerate(pairs):
        if not s:
            continue
        a, b = ipaddress.ip_address(s), ipaddress.ip_address(d)
        ver[i] = a.version
        if a.version == 4:
            src4[i], dst4[i] = int(a), int(b)
        else:
            src6[i] = np.frombuffer(a.packed, dtype=np.uint8)
            dst6[i] = np.frombuffer(b.packed, dtype=np.uint8)
    c = DirectionClassifier([ipaddress.ip_network(p) for p in prefixes])
    out = c.classify(ver, src4, dst4, src6, dst6)
    assert out.dtype == object and len(out) == n
    return out.tolist()  # type: ignore[no-any-return]


CUSTOMER = ["192.0.2.0/24", "198.51.100.128/25", "2001:db8:1::/48"]


def test_precedence_v4() -> None:
    assert classify(CUSTOMER, [
        ("203.0.113.1", "192.0.2.10"),   # into the customer
        ("192.0.2.10", "203.0.113.1"),   # out of the customer
        ("192.0.2.10", "192.0.2.11"),    # both inside: destination wins
        ("203.0.113.1", "203.0.113.2"),  # neither: seen arriving at the edge
    ]) == ["ingress", "egress", "ingress", "ingress"]


def test_prefix_edges_v4() -> None:
    assert classify(CUSTOMER, [
        ("192.0.2.0", "8.8.8.8"),          # first address of the prefix
        ("192.0.2.255", "8.8.8.8"),        # last
        ("192.0.1.255", "8.8.8.8"),        # one below
        ("192.0.3.0", "8.8.8.8"),          # one above
        ("198.51.100.128", "8.8.8.8"),     # first of the /25
        ("198.51.100.127", "8.8.8.8"),     # just outside the /25
        ("198.51.100.255", "8.8.8.8"),     # last of the /25
    ]) == ["egress", "egress", "ingress", "ingress", "egress", "ingress", "egress"]


def test_prefix_edges_v6() -> None:
    assert classify(CUSTOMER, [
        ("2001:db8:1::", "2001:db8:2::1"),
        ("2001:db8:1:ffff:ffff:ffff:ffff:ffff", "::1"),
        ("2001:db8::ffff:ffff:ffff:ffff:ffff", "::1"),   # just below the /48
        ("2001:db8:2::", "::1"),                         # just above
        ("2001:db8:2::1", "2001:db8:1::5"),
    ]) == ["egress", "egress", "ingress", "ingress", "ingress"]


def test_families_do_not_leak() -> None:
    # ::c000:20a has the same low 32 bits as 192.0.2.10 but is an IPv6 address.
    assert classify(["192.0.2.0/24"], [("::c000:20a", "::1"), ("192.0.2.10", "10.0.0.1")]) == [
        "ingress", "egress"]
    assert classify(["::/96"], [("192.0.2.10", "10.0.0.1")]) == ["ingress"]


def test_host_routes_whole_space_and_overlaps() -> None:
    assert classify(["10.0.0.1/32", "10.0.0.0/8", "10.1.0.0/16"], [
        ("10.0.0.1", "8.8.8.8"), ("10.255.255.255", "8.8.8.8"), ("11.0.0.0", "8.8.8.8"),
    ]) == ["egress", "egress", "ingress"]
    assert classify(["0.0.0.0/0"], [("1.2.3.4", "5.6.7.8"), ("0.0.0.0", "255.255.255.255")]) == [
        "ingress", "ingress"]  # destination always inside
    assert classify(["::/0"], [("::1", "ffff::1")]) == ["ingress"]


def test_no_prefixes_and_non_ip_rows() -> None:
    assert classify([], [("192.0.2.1", "8.8.8.8"), ("", "")]) == ["ingress", "ingress"]
    assert classify(CUSTOMER, [("", ""), ("192.0.2.1", "8.8.8.8")]) == ["ingress", "egress"]
    assert classify(CUSTOMER, []) == []


@settings(max_examples=100, deadline=None)
@given(
    prefixes=st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)), max_size=8),
    pairs=st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)), max_size=40),
)
def test_property_matches_ipaddress(
    prefixes: list[tuple[int, int]], pairs: list[tuple[int, int]]
) -> None:
    nets = [ipaddress.ip_network((a, plen), strict=False) for a, plen in prefixes]
    # Probe the edges of each prefix too.
    extra = [(int(n.network_address), 0) for n in nets] + [(0, int(n.broadcast_address))
                                                           for n in nets]
    probe = pairs + extra
    got = classify([str(n) for n in nets],
                   [(str(ipaddress.IPv4Address(s)), str(ipaddress.IPv4Address(d)))
                    for s, d in probe])

    def inside(x: int) -> bool:
        return any(ipaddress.IPv4Address(x) in n for n in nets)

    want = ["ingress" if inside(d) or not inside(s) else "egress" for s, d in probe]
    assert got == want
