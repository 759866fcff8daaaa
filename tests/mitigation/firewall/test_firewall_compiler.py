"""What compiled rules match, on packets built byte by byte and decoded by the real decoder,
and on hand-made views for the corners (missing values, dtypes, lists, rule sets)."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from firewall_support import make_view

from netlogpush.decode import decode
from netlogpush.decode.frames import FrameBatchBuilder
from netlogpush.mitigation.firewall import (
    CompiledRules,
    IpLists,
    PacketView,
    RuleTypeError,
    StringColumn,
    compile_expression,
)
from netlogpush.mitigation.firewall.reference import evaluate
from netlogpush.testing import packets as P

SIP_INVITE = b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1\r\n\r\n"

# One packet per row; the comment is its index in the masks below.
FRAMES = [
    # 0: IPv4 TCP SYN with an ECN-setup (ECE+CWR) and the AE bit
    P.ethernet(
        P.ipv4(P.tcp(sport=40000, dport=443, flags=P.SYN | P.ECE | P.CWR | P.NS, seq=0x01020304),
               src="198.51.100.7", dst="192.0.2.10", ttl=57),
        ethertype=P.ETH_IPV4,
    ),
    # 1: IPv4 UDP from the SSDP port, padded to the Ethernet minimum
    P.ethernet(P.ipv4(P.udp(sport=1900, dport=5555, payload=b"HTTP"), src="203.0.113.5", dst="192.0.2.11"),
               ethertype=P.ETH_IPV4, pad_to=60),
    # 2: IPv4 UDP SIP INVITE
    P.ethernet(P.ipv4(P.udp(sport=5060, dport=5060, payload=SIP_INVITE), src="203.0.113.6", dst="192.0.2.11"),
               ethertype=P.ETH_IPV4),
    # 3: IPv6 ICMPv6 echo request, hop limit 255
    P.ethernet(P.ipv6(P.icmpv6_echo(1, 2), src="2001:db8::1", dst="2001:db8::2", hop_limit=255),
               ethertype=P.ETH_IPV6),
    # 4: IPv4 ICMP echo with a Record Route option: a 52-byte header (IHL 13)
    P.ethernet(P.ipv4(P.icmp_echo(7, 1), src="10.1.2.3", dst="192.0.2.12", options=P.record_route(slots=7)),
               ethertype=P.ETH_IPV4),
    # 5: IPv4 non-first fragment of a UDP datagram: no transport header to read
    P.ethernet(P.ipv4(b"\x00" * 24, proto=P.PROTO_UDP, src="203.0.113.5", dst="192.0.2.11", frag_offset=1480),
               ethertype=P.ETH_IPV4, vlans=[100]),
    # 6: IPv6 TCP ACK to port 22 from a /64 in the v6 list
    P.ethernet(P.ipv6(P.tcp(sport=50000, dport=22, flags=P.ACK, payload=b"SSH-2.0-x"), src="2001:db8::99",
                      dst="2001:db8:1::1"), ethertype=P.ETH_IPV6),
    # 7: IPv4 GRE
    P.ethernet(P.ipv4(P.gre(b"\x45" + bytes(19)), src="192.0.2.200", dst="192.0.2.1"), ethertype=P.ETH_IPV4),
    # 8: ARP: no IP header, every field missing
    P.ethernet(P.arp(), ethertype=P.ETH_ARP),
]  # fmt: skip

ENRICHMENT = {
    "SourceCountry": np.array(["US", "BR", "BR", "DE", "", "BR", "GB", "US", ""], dtype=object),
    "DestinationCountry": np.array(
        ["GB", "GB", "GB", "GB", "GB", "GB", "DE", "BR", ""], dtype=object
    ),
    "SourceASN": np.array([13335, 4134, 4134, 3320, 0, 4134, 2856, 13335, 0], np.int64),
    "DestinationASN": np.array(
        [64500, 64500, 64500, 64501, 64500, 64500, 3320, 64500, 0], np.int64
    ),
    "ColoName": np.array(["sfo06"] * 9, dtype=object),
}
LISTS = {
    "web": ["192.0.2.0/28"],
    "v6": ["2001:db8::/64"],
    "big": [f"10.{k // 256}.{k % 256}.0/24" for k in range(600)],
}


@pytest.fixture(scope="module")
def view() -> PacketView:
    builder = FrameBatchBuilder()
    for k, frame in enumerate(FRAMES):
        builder.append(frame, k, P.LINKTYPE_ETHERNET)
    return PacketView.from_columns(decode(builder.build()), ENRICHMENT)


CASES = [
    # addresses
    ("ip.src == 198.51.100.7", [0]),
    ("ip.src != 198.51.100.7", [1, 2, 3, 4, 5, 6, 7]),  # other family counts as "not equal"; ARP has no ip.src
    ("ip.dst in {192.0.2.0/30 192.0.2.12..192.0.2.12}", [4, 7]),
    ("ip.src in {2001:db8::/64}", [3, 6]),
    ("ip.dst == 2001:db8:1::1", [6]),
    ("ip.dst in $web", [0, 1, 2, 4, 5, 7]),
    ("ip.src in $v6 or ip.src in $big", [3, 4, 6]),
    ("not ip.src in $web", [0, 1, 2, 3, 4, 5, 6, 7, 8]),
    # protocols and ports (a port is missing for other protocols and for fragments)
    ('ip.proto eq "tcp"', [0, 6]),
    ('ip.proto in {"udp" "gre"}', [1, 2, 5, 7]),
    ('ip.proto eq "ipv6-icmp" or ip.proto eq "icmp"', [3, 4]),
    ('not ip.proto in {"esp" "tcp" "udp" "gre" "icmp"}', [3, 8]),
    ('ip.proto contains "p"', [0, 1, 2, 3, 4, 5, 6]),  # tcp, udp, icmp, ipv6-icmp
    ("udp.srcport in {1900 11211 389 111 19}", [1]),
    ("udp.dstport == 5555 or udp.dstport == 0", [1]),  # the fragment's ports are missing, not 0
    ("tcp.dstport != 443", [6]),
    ("not tcp.dstport == 443", [1, 2, 3, 4, 5, 6, 7, 8]),
    ("tcp.srcport >= 40000", [0, 6]),
    ("icmp.type == 128", [3]),
    ("icmp.type == 8 and icmp.code == 0", [4]),
    # TCP flags: the byte, without the AE bit (0x100)
    ("tcp.flags == 0xC2", [0]),
    ("tcp.flags & 0x10", [6]),
    ("tcp.flags.syn and tcp.flags.ecn and tcp.flags.cwr", [0]),
    ("tcp.flags.ack", [6]),
    ("not (tcp.flags.syn and not tcp.flags.ack)", [1, 2, 3, 4, 5, 6, 7, 8]),
    # IP header fields
    ("ip.ttl == 57", [0]),
    ("ip.ttl == 255", [3]),  # IPv6 hop limit
    ("ip.hdr_len == 5", [0, 1, 2, 5, 7]),  # 32-bit words, IPv4 only
    ("ip.hdr_len > 5", [4]),
    ("ip.opt.type == 7", [4]),
    ("ip.len == 32", [1]),  # 20 + 8 + 4: the Ethernet padding is not part of the packet
    ("ip.len > 1000", []),
    # enrichment
    ('ip.src.country == "BR"', [1, 2, 5]),
    ('ip.dst.country in {"DE" "BR"}', [6, 7]),
    ('ip.geoip.country eq "DE"', [3, 6]),  # source or destination
    ('ip.src.country eq ""', [4]),  # unknown country is "" (ARP has no value at all)
    ("ip.src.asnum == 4134", [1, 2, 5]),
    ("ip.dst.asnum in {3320 64501}", [3, 6]),
    ('cf.colo.name eq "sfo06"', [0, 1, 2, 3, 4, 5, 6, 7]),
    ('cf.colo.name matches "^sfo[0-9]+$" and cf.colo.region == ""', [0, 1, 2, 3, 4, 5, 6, 7]),
    ('cf.colo.name wildcard "SFO*"', [0, 1, 2, 3, 4, 5, 6, 7]),
    ('cf.colo.name strict wildcard "SFO*"', []),
    # raw bytes, bit_slice and sip
    ("sip", [2]),
    ('ip.proto == "udp" and not sip', [1, 5]),
    ('udp contains "INVITE sip:"', [2]),
    ('udp contains {"HTTP" "nothing"}', [1]),
    ('ip contains "SSH-2.0"', [6]),
    ('tcp matches r"^SSH|SSH-2\\.0"', [6]),
    ("udp contains 00:00", []),  # the Ethernet padding after packet 1 is not searched
    ('bit_slice("ip", 0, 4) == 4', [0, 1, 2, 4, 5, 7]),
    ('bit_slice("ip", 0, 4) == 6', [3, 6]),
    ('bit_slice("ip", 72, 80) == 17', [1, 2, 5]),  # IPv4 protocol byte
    ('bit_slice("tcp", 104, 112) == 0xC2', [0]),  # the flags byte
    ('bit_slice("tcp", 103, 104) == 1', [0]),  # the AE bit
    ('bit_slice("tcp", 32, 64) == 0x01020304', [0]),  # the 32-bit sequence number
    ('bit_slice("udp", 64, 72) == 0x49', [2]),  # "I": the first payload byte
    ('bit_slice("udp", 88, 96) == 0x50', [1]),  # "P", the last byte of "HTTP"
    ('bit_slice("udp", 96, 104) == 0', []),  # past the end of packet 1: missing, not padding
    ('bit_slice("icmp", 0, 8) == 8', [4]),
    ('bit_slice("udp", 0, 16) == 1900', [1]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "rows"), CASES)
def test_rule_matches_exactly(view: PacketView, text: str, rows: list[int]) -> None:
    compiled = compile_expression(text, LISTS)
    assert np.flatnonzero(compiled.evaluate(view)).tolist() == rows
    assert np.flatnonzero(evaluate(compiled.tree, view, compiled_lists(LISTS))).tolist() == rows


def compiled_lists(lists: dict[str, list[str]]) -> IpLists:
    return IpLists(lists)


def test_packet_extent_from_columns(view: PacketView) -> None:
    """Where raw fields start and end: the IP header, and the IP packet's captured end."""
    assert view.l3 is not None and view.l4 is not None and view.end is not None
    frame_start = np.array([0, *np.cumsum([len(f) for f in FRAMES])[:-1]])
    vlan = np.array([0, 0, 0, 0, 0, 4, 0, 0, 0])
    assert (view.l3 - frame_start).tolist()[:8] == (14 + vlan).tolist()[:8]
    assert view.l3[8] == -1  # ARP
    assert (view.l4 - view.l3).tolist()[:8] == [20, 20, 20, 40, 52, -1 - view.l3[5], 40, 20]
    # packet 1 ends at its IP length (32 bytes), not at the 60-byte frame's end
    assert (view.end - view.l3).tolist()[:8] == [40, 32, 28 + len(SIP_INVITE), 48, 60, 44, 69, 44]


def test_string_columns_given_as_codes_match_object_arrays(view: PacketView) -> None:
    coded = PacketView(
        view.n, view.ip_version, view.src4, view.dst4, view.src6, view.dst6, view.ints,
        {k: StringColumn.from_objects(v) if v.dtype == object else v for k, v in ENRICHMENT.items()},
        view.data, view.l3, view.l4, view.end,
    )  # fmt: skip
    for text in ('ip.src.country == "BR"', 'ip.geoip.country in {"DE" "US"}', 'cf.colo.name > "s"'):
        rule = compile_expression(text)
        assert rule.evaluate(coded).tolist() == rule.evaluate(view).tolist()


def test_string_column_factorization() -> None:
    constant = StringColumn.from_objects(np.array(["sfo06"] * 5, dtype=object))
    assert constant.categories == ("sfo06",) and constant.codes.tolist() == [0] * 5
    mixed = StringColumn.from_objects(np.array(["US", "", "BR", "US"], dtype=object))
    assert [mixed[i] for i in range(4)] == ["US", "", "BR", "US"]
    assert len(StringColumn.from_objects(np.array([], dtype=object))) == 0


def test_missing_values_make_comparisons_false_and_not_negates() -> None:
    v = make_view(
        3, ip_version=[4, 4, 0], ints={"IPProtocol": [6, 17, 6], "DestinationPort": [80, 80, 80]}
    )
    assert compile_expression("tcp.dstport == 80").evaluate(v).tolist() == [True, False, False]
    assert compile_expression("tcp.dstport != 80").evaluate(v).tolist() == [False, False, False]
    assert compile_expression("not tcp.dstport == 80").evaluate(v).tolist() == [False, True, True]
    assert compile_expression("udp.dstport == 80").evaluate(v).tolist() == [False, True, False]
    # no raw bytes in this view: raw fields, bit_slice, sip and ip.opt.type are missing
    for text in ('ip contains ""', 'bit_slice("ip", 0, 4) == 0', "sip", "ip.opt.type >= 0"):
        assert compile_expression(text).evaluate(v).tolist() == [False, False, False]


def test_integer_literals_beyond_a_columns_dtype() -> None:
    v = make_view(
        2,
        ints={"IPProtocol": [6, 6], "DestinationPort": [0, 65535], "SourceASN": [0, 4_200_000_000]},
    )
    assert compile_expression("tcp.dstport > -1").evaluate(v).tolist() == [True, True]
    assert compile_expression("tcp.dstport < 18446744073709551").evaluate(v).tolist() == [
        True,
        True,
    ]
    assert compile_expression("tcp.dstport == -65536").evaluate(v).tolist() == [False, False]
    assert compile_expression("tcp.dstport & -1").evaluate(v).tolist() == [False, True]
    assert compile_expression("ip.src.asnum >= 4200000000").evaluate(v).tolist() == [False, True]


def test_empty_batch() -> None:
    v = make_view(0)
    assert compile_expression("ip.src in {10.0.0.0/8} or tcp.flags.syn").evaluate(v).shape == (0,)
    assert CompiledRules(["tcp.flags.syn"]).first_match(v).shape == (0,)


def test_large_list_against_ipaddress() -> None:
    rng = np.random.default_rng(7)
    entries = [
        str(ipaddress.IPv4Network((int(x) << 8, 24))) for x in rng.integers(0, 1 << 24, 5000)
    ]
    entries += [f"2001:db8:{k:x}::/48" for k in range(0, 4000, 3)]
    addrs4 = [str(ipaddress.IPv4Address(int(x))) for x in rng.integers(0, 1 << 32, 300)]
    addrs4 += [e.split("/")[0] for e in entries[:50]]
    addrs6 = [f"2001:db8:{k:x}::5" for k in range(0, 60)]
    addrs = addrs4 + addrs6
    v = make_view(len(addrs), ip_version=[4] * len(addrs4) + [6] * len(addrs6), src=addrs)
    got = compile_expression("ip.src in $blocks", {"blocks": entries}).evaluate(v)
    nets = {ipaddress.ip_network(e) for e in entries}  # all /24 or /48: look up each one's
    prefix = {4: 24, 6: 48}
    want = [
        ipaddress.ip_network(f"{a}/{prefix[ipaddress.ip_address(a).version]}", strict=False) in nets
        for a in addrs
    ]
    assert got.tolist() == want
    assert sum(want) == 50 + 20  # every listed v4 network address, and k % 3 == 0 below 60


def test_first_match_order_enabled_and_rows() -> None:
    v = make_view(
        5, ints={"IPProtocol": [6, 6, 17, 17, 1], "DestinationPort": [22, 80, 53, 123, 0]}
    )
    rules = CompiledRules(
        ["tcp.dstport == 22", 'ip.proto eq "tcp"', "udp.dstport in {53 123}", "udp.dstport == 53"]
    )
    assert rules.first_match(v).tolist() == [0, 1, 2, 2, -1]
    assert rules.first_match(v, enabled=[False, True, False, True]).tolist() == [1, 1, 3, -1, -1]
    rows = np.array([True, False, True, False, True])
    assert rules.first_match(v, rows=rows).tolist() == [0, -1, 2, -1, -1]
    assert [m.tolist() for m in rules.evaluate(v)] == [
        [True, False, False, False, False],
        [True, True, False, False, False],
        [False, False, True, True, False],
        [False, False, True, False, False],
    ]


def test_shared_subexpressions_are_computed_once_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    from netlogpush.mitigation.firewall import vectors

    calls = []
    real = vectors.IntRanges.contains

    def counting(self: vectors.IntRanges, values: np.ndarray) -> np.ndarray:
        calls.append(tuple(self.ranges))
        return real(self, values)

    monkeypatch.setattr(vectors.IntRanges, "contains", counting)
    texts = [
        'ip.proto eq "tcp" and tcp.dstport in {22 80 443}',
        "tcp.dstport in {22 80 443} and ip.src in {10.0.0.0/8}",
        'ip.proto eq "tcp" and tcp.dstport in {22 80 443} and tcp.flags.syn',
    ]
    rules = CompiledRules(texts)
    # the port set and the protocol test (rule 3's "and" has three items: not the same node)
    assert rules.shared_subexpressions == 2
    v = make_view(3, ints={"IPProtocol": [6, 6, 17], "DestinationPort": [22, 25, 22], "TCPFlags": [2, 2, 2]},
                  src=["10.0.0.1", "10.0.0.1", "10.0.0.1"])  # fmt: skip
    masks = rules.evaluate(v)
    assert [m.tolist() for m in masks] == [
        [True, False, False],
        [True, False, False],
        [True, False, False],
    ]
    assert calls.count(((22, 22), (80, 80), (443, 443))) == 1  # one evaluation for three rules


def test_compile_errors_name_the_rule() -> None:
    with pytest.raises(RuleTypeError) as caught:
        CompiledRules(["tcp.flags.syn", "ip.src in { abc }"])
    assert caught.value.rule_index == 1  # type: ignore[attr-defined]
    assert "in rule 2: ip.src in { abc }" in caught.value.__notes__


def test_fields_used() -> None:
    rules = CompiledRules(
        ['ip.src.country == "US" or bit_slice("udp", 0, 8) == 1', "tcp.flags.syn"]
    )
    assert rules.fields_used() == {"ip.src.country", "udp", "tcp.flags.syn"}
