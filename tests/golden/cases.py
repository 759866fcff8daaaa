"""The golden cases: each a few frames built with ``netlogpush.testing.packets``.

``regenerate.py --inputs`` writes each case's ``input.pcap`` from here; the pcaps are
committed, so a change to the builder cannot silently change what the golden tests feed the
decoder. ``case.yaml`` (written from ``options``) holds the decode/encode options of a case.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from netlogpush.testing import packets as P
from netlogpush.testing.packets import (
    ACK,
    CWR,
    ECE,
    FIN,
    NOP,
    NS,
    PSH,
    RST,
    SYN,
    URG,
    Vlan,
    dns_query,
    dns_response,
    dns_tcp,
    ethernet,
    gre,
    icmp,
    icmp_echo,
    icmpv6,
    icmpv6_echo,
    ipv4,
    ipv6,
    link,
    mss,
    sack,
    sack_permitted,
    tcp,
    tcp_option,
    timestamps,
    udp,
    wscale,
)  # fmt: skip

C4, S4 = "198.51.100.7", "192.0.2.10"
C6, S6 = "2001:db8:c::7", "2001:db8:5::10"
START_NS = 1_700_000_000_000_000_000


@dataclass(frozen=True)
class Case:
    frames: list[bytes | tuple[bytes, int]]  # frame, or (frame, wire length) for snaplen cuts
    linktype: int = P.LINKTYPE_ETHERNET
    nanosecond: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def eth(pkt: bytes, **kw: Any) -> bytes:
    return link(P.LINKTYPE_ETHERNET, pkt, **kw)


def t4(seg: P.Segment, **kw: Any) -> bytes:
    return eth(ipv4(seg, src=C4, dst=S4, **kw))


def t6(seg: P.Segment | bytes, **kw: Any) -> bytes:
    return eth(ipv6(seg, src=C6, dst=S6, **kw))


LINUX_SYN = [mss(1460), sack_permitted(), timestamps(1000, 0), NOP, wscale(7)]


def _tcp4_handshake() -> Case:
    c, s = 0x11223344, 0xA0B0C0D0
    return Case([
        t4(tcp(sport=40000, dport=443, seq=c, flags=SYN, window=64240, options=LINUX_SYN),
           ttl=64, ident=0x1234, df=True),
        eth(ipv4(tcp(sport=443, dport=40000, seq=s, ack=c + 1, flags=SYN | ACK, window=65160,
                     options=[mss(1400), sack_permitted(), timestamps(2000, 1000), NOP,
                              wscale(9)]), src=S4, dst=C4, ttl=57, ident=0, df=True)),
        t4(tcp(sport=40000, dport=443, seq=c + 1, ack=s + 1, flags=ACK, window=502,
               options=[NOP, NOP, timestamps(1001, 2000)]), ttl=64, ident=0x1235, df=True),
        t4(tcp(sport=40000, dport=443, seq=c + 1, ack=s + 1, flags=PSH | ACK, window=502,
               options=[NOP, NOP, timestamps(1002, 2000)], payload=b"\x16\x03\x01" + bytes(97)),
           ttl=64, ident=0x1236, df=True, dscp=10, ecn=2),
        t4(tcp(sport=40000, dport=443, seq=c + 101, ack=s + 1, flags=FIN | ACK, window=502),
           ttl=64, ident=0x1237, df=True),
        eth(ipv4(tcp(sport=443, dport=40000, seq=s + 1, ack=c + 102, flags=RST | ACK, window=0),
                 src=S4, dst=C4, ttl=57)),
    ])


def _tcp_sack_timestamps() -> Case:
    base = 0x7FFFFF00  # blocks wrap past 2^31 and 2^32
    frames = []
    for n in range(1, 5):
        blocks = [(base + 1000 * i, base + 1000 * i + 500) for i in range(n)]
        opts = [NOP, NOP, sack(blocks)] if n == 4 else [NOP, NOP, timestamps(0xFFFFFFFF, 7),
                                                       NOP, NOP, sack(blocks)]
        frames.append(t4(tcp(sport=40000, dport=443, seq=5, ack=base, flags=ACK, options=opts)))
    frames.append(t4(tcp(sport=40000, dport=443, seq=5, ack=0xFFFFFFFF, flags=ACK,
                         options=[NOP, NOP, sack([(0xFFFFFF00, 0x00000100)])])))
    return Case(frames)


def _tcp_flags() -> Case:
    combos = [0, FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, NS, FIN | PSH | URG,
              SYN | ECE | CWR, 0xE00 | ACK, 0xFFF]
    return Case([
        t4(tcp(sport=40000 + i, dport=80, seq=i, ack=i * 2, flags=f, window=i * 1000,
               urg=0x55AA if f & URG else 0))
        for i, f in enumerate(combos)
    ])


def _tcp_options_odd() -> Case:
    win = [mss(1460), NOP, wscale(8), NOP, NOP, sack_permitted()]
    mac = [mss(1440), NOP, wscale(6), NOP, NOP, timestamps(7, 0), sack_permitted(), P.EOL]
    return Case([
        t4(tcp(sport=40000, dport=80, flags=SYN, options=win)),
        t4(tcp(sport=40000, dport=80, flags=SYN, options=mac)),
        t4(tcp(sport=40000, dport=80, flags=SYN, options=[mss(536), tcp_option(34, b"\xAA" * 8),
                                                          tcp_option(30, b"\x00\x81")])),
        t4(tcp(sport=40000, dport=80, flags=SYN, options=[wscale(14), P.EOL, b"\x02\x04\x05"])),
        t4(tcp(sport=40000, dport=80, flags=ACK, options=[NOP] * 8)),
        t4(tcp(sport=40000, dport=80, flags=SYN, options=[mss(1460), mss(9000), wscale(3),
                                                          wscale(5)])),
        t4(tcp(sport=40000, dport=80, flags=ACK, options=[NOP, NOP, timestamps(1, 2)] * 3)),
    ])


def _tcp6() -> Case:
    return Case([
        t6(tcp(sport=40000, dport=443, seq=1, flags=SYN, options=LINUX_SYN),
           flow_label=0xABCDE, tclass=0xB9, hop_limit=61),
        eth(ipv6(tcp(sport=443, dport=40000, seq=9, ack=2, flags=SYN | ACK,
                     options=[mss(1440), NOP, wscale(2)]), src=S6, dst=C6, flow_label=1)),
        t6(tcp(sport=40000, dport=443, seq=2, ack=10, flags=PSH | ACK, payload=b"x" * 1000),
           flow_label=0xFFFFF, tclass=3),
    ])


def _udp() -> Case:
    return Case([
        t4(udp(sport=40000, dport=443, payload=bytes(1200)), dscp=46),
        t4(udp(sport=40000, dport=4789, payload=bytes(50), checksum=0)),
        t4(udp(sport=123, dport=123, payload=b"\x23" + bytes(47))),
        t4(udp(sport=1, dport=65535)),
        t6(udp(sport=40000, dport=443, payload=bytes(1232)), tclass=0x2A),
        t6(udp(sport=5353, dport=5353, payload=b"\x00" * 12)),
    ])


DNS_CASES: list[tuple[Any, Any]] = [
    ("example.com", "A"), ("www.example.org", "AAAA"), ("example.com", "MX"),
    ("_dmarc.example.com", "TXT"), ("example.net", "NS"), ("1.2.0.192.in-addr.arpa", "PTR"),
    ("_sip._tcp.example.com", "SRV"), ("example.com", "ANY"), ("svc.example.com", "HTTPS"),
    ("example.com", "CAA"), ("private.example", 65280), (".", "NS"),
    ("UPPER.Case.Example.COM", "A"), ("a" * 63 + ".example", "A"),
    ((b"with space", b"example"), "A"), ((b"dot.inside", b"example"), "TXT"),
    ((b"caf\xc3\xa9", b"example"), "A"), ((b"back\\slash", b"quo\"te"), "A"),
]


def _dns_udp() -> Case:
    frames = [t4(udp(sport=40000 + i, dport=53, payload=dns_query(name, qt, txid=i)))
              for i, (name, qt) in enumerate(DNS_CASES)]
    return Case(frames)


def _dns_not_queries() -> Case:
    q = dns_query("example.com", "A", txid=7)
    return Case([
        eth(ipv4(udp(sport=53, dport=40000, payload=dns_response(
            "example.com", "A", txid=7, rdata=bytes([192, 0, 2, 1]))), src=S4, dst=C4)),
        t4(udp(sport=40000, dport=5353, payload=q)),  # mDNS port: not Cloudflare's DNS
        eth(ipv4(udp(sport=53, dport=40001, payload=q), src=S4, dst=C4)),  # from port 53
        t4(udp(sport=40000, dport=53, payload=q[:4] + b"\x00\x00" + q[6:])),  # QDCOUNT 0
        t6(udp(sport=40000, dport=53, payload=q)),
    ])


def _dns_tcp() -> Case:
    q = dns_tcp(dns_query("tcp.example.com", "AAAA", txid=0xBEEF))
    return Case([
        t4(tcp(sport=40000, dport=53, seq=1, ack=1, flags=PSH | ACK, payload=q)),
        t6(tcp(sport=40000, dport=53, seq=1, ack=1, flags=PSH | ACK,
               options=[NOP, NOP, timestamps(5, 6)],
               payload=dns_tcp(dns_query("v6.example", "MX", txid=1)))),
        eth(ipv4(tcp(sport=53, dport=40000, seq=1, ack=1, flags=PSH | ACK, payload=dns_tcp(
            dns_response("tcp.example.com", "AAAA", txid=0xBEEF))), src=S4, dst=C4)),
        t4(tcp(sport=40000, dport=53, seq=1, flags=SYN, options=LINUX_SYN)),
    ])


def _icmp4() -> Case:
    orig = ipv4(udp(sport=40000, dport=33434, payload=bytes(12)), src=C4, dst=S4)[:28]
    return Case([
        t4(icmp_echo(0x1234, 1, bytes(56))),
        eth(ipv4(icmp_echo(0x1234, 1, bytes(56), reply=True), src=S4, dst=C4)),
        eth(ipv4(icmp(type=3, code=3, payload=orig), src=S4, dst=C4)),
        eth(ipv4(icmp(type=11, code=0, payload=orig), src="203.0.113.1", dst=C4)),
        eth(ipv4(icmp(type=3, code=4, rest=b"\0\0\x05\xa0", payload=orig), src=S4, dst=C4)),
        eth(ipv4(icmp(type=5, code=1, rest=P.ip_bytes("192.0.2.1"), payload=orig), src=S4,
                 dst=C4)),
        t4(icmp(type=13, rest=b"\0\x01\0\x01", payload=bytes(12))),
    ])


def _icmp6() -> Case:
    orig = ipv6(udp(sport=40000, dport=33434), src=C6, dst=S6)
    return Case([
        t6(icmpv6_echo(0x4321, 9, bytes(32))),
        eth(ipv6(icmpv6_echo(0x4321, 9, bytes(32), reply=True), src=S6, dst=C6)),
        eth(ipv6(icmpv6(type=135, body=bytes(4) + P.ip_bytes(S6)), src=C6,
                 dst="ff02::1:ff00:10", hop_limit=255)),
        eth(ipv6(icmpv6(type=136, body=b"\x60\0\0\0" + P.ip_bytes(S6)), src=S6, dst=C6,
                 hop_limit=255)),
        eth(ipv6(icmpv6(type=133), src=C6, dst="ff02::2", hop_limit=255)),
        eth(ipv6(icmpv6(type=1, code=4, body=bytes(4) + orig), src=S6, dst=C6)),
        eth(ipv6(icmpv6(type=143, body=b"\0\0\0\x01\x04\0\0\0" + P.ip_bytes("ff05::1:3")),
                 src=C6, dst="ff02::16", hop_limit=1, ext=[P.hop_by_hop()])),
    ])


def _gre() -> Case:
    inner = ipv4(tcp(sport=40000, dport=443, seq=1, flags=SYN, options=LINUX_SYN),
                 src="10.1.1.1", dst="10.2.2.2")
    ppp = b"\xff\x03\x00\x21" + inner
    o4: dict[str, Any] = {"src": "203.0.113.1", "dst": "203.0.113.2"}
    return Case([
        eth(ipv4(gre(inner), **o4)),
        eth(ipv4(gre(inner, key=0xDEADBEEF), **o4)),
        eth(ipv4(gre(inner, seq=42), **o4)),
        eth(ipv4(gre(inner, checksum=True, key=1, seq=0xFFFFFFFF), **o4)),
        eth(ipv4(gre(ppp, proto=P.ETH_PPP, key=(len(ppp) << 16) | 0x1234, seq=3, version=1,
                     ack=2), **o4)),
        eth(ipv4(gre(b"", proto=P.ETH_PPP, key=0x1234, version=1, ack=9), **o4)),
        eth(ipv6(gre(inner, key=7), src="2001:db8:1::1", dst="2001:db8:1::2")),
        eth(ipv4(gre(ipv6(udp(sport=1, dport=2), src=C6, dst=S6), proto=P.ETH_IPV6), **o4)),
    ])


def _ipv4_options() -> Case:
    u = udp(sport=40000, dport=9, payload=b"opt")
    ts_opt = P.ipv4_option(68, b"\x05\x00" + bytes(8))
    return Case([
        t4(icmp_echo(1, 1, bytes(8)), options=P.record_route(9)),
        t4(u, options=P.router_alert()),
        t4(u, options=NOP + NOP + P.router_alert()),
        t4(u, options=P.record_route(1, [S4]) + P.EOL + b"\x07\x07"),
        t4(u, options=ts_opt),
        t4(u, options=P.ipv4_option(130, bytes(9)) + NOP + P.router_alert(1)),
        t4(u, options=NOP * 40),
    ])


def _ipv4_fragments() -> Case:
    data = udp(sport=40000, dport=5001, payload=bytes(range(256)) * 12).finalize(
        P.ip_bytes(C4), P.ip_bytes(S4))
    frames = []
    for off in range(0, len(data), 1480):
        frames.append(t4(data[off : off + 1480], proto=P.PROTO_UDP, ident=0xBEEF,
                         mf=off + 1480 < len(data), frag_offset=off))
    frames.append(t4(tcp(sport=1, dport=2).data[:8], proto=P.PROTO_TCP, mf=True, ident=2))
    frames.append(t4(b"\x00" * 16, proto=P.PROTO_TCP, frag_offset=8, ident=2))
    frames.append(t4(udp(sport=1, dport=2), df=True, evil=True, ident=0xFFFF))
    frames.append(t4(b"x" * 8, proto=P.PROTO_ICMP, frag_offset=65528, ident=3))
    return Case(frames)


def _ipv6_ext() -> Case:
    u = udp(sport=40000, dport=5000, payload=b"ext")
    data = udp(sport=40000, dport=5001, payload=bytes(2000)).finalize(
        P.ip_bytes(C6), P.ip_bytes(S6))
    return Case([
        t6(u, ext=[P.hop_by_hop()]),
        t6(tcp(sport=40000, dport=443, flags=SYN), ext=[P.dest_opts(b"\x1e\x04\0\0\0\0")]),
        t6(icmpv6_echo(1, 1), ext=[P.routing(["2001:db8:2::1", "2001:db8:2::2"], segments_left=0)]),
        t6(u, ext=[P.routing([S6], rtype=2, segments_left=1)]),
        t6(data[:1232], ext=[P.fragment(offset=0, more=True, ident=0xCAFEF00D)],
           next_header=P.PROTO_UDP),
        t6(data[1232:], ext=[P.fragment(offset=1232, more=False, ident=0xCAFEF00D)],
           next_header=P.PROTO_UDP),
        t6(u, ext=[P.fragment(offset=0, more=False, ident=5)]),  # atomic fragment
        t6(u, ext=[P.hop_by_hop(b"\x01\x00"), P.dest_opts(), P.routing(["2001:db8:2::1"],
                   rtype=2, segments_left=1), P.fragment(ident=6), P.dest_opts(b"\x01\x02\0\0")]),
        t6(b"", ext=[P.hop_by_hop()], next_header=P.PROTO_NONE),
        t6(b"\x00" * 8, ext=[P.fragment(offset=8, more=True, ident=7)], next_header=P.PROTO_TCP),
    ])


def _vlan() -> Case:
    pkt = ipv4(udp(sport=40000, dport=53, payload=dns_query("vlan.example")), src=C4, dst=S4)
    pkt6 = ipv6(tcp(sport=40000, dport=80, flags=SYN), src=C6, dst=S6)
    return Case([
        eth(pkt, vlans=[Vlan(100)]),
        eth(pkt, vlans=[Vlan(4094, pcp=7, dei=1)]),
        eth(pkt, vlans=[Vlan(300, tpid=P.ETH_8021AD), Vlan(42)]),
        eth(pkt6, vlans=[Vlan(300, tpid=P.ETH_8021AD), Vlan(42)]),
        eth(pkt, vlans=[Vlan(1, tpid=P.ETH_8021AD), Vlan(2, tpid=P.ETH_8021Q), Vlan(3)]),
        eth(pkt, vlans=[Vlan(0, pcp=5)]),  # priority tag only
        eth(ipv4(udp(sport=1, dport=2), src=C4, dst=S4), pad_to=60),
        eth(ipv4(tcp(sport=1, dport=2, flags=ACK), src=C4, dst=S4), pad_to=60,
            vlans=[Vlan(5)]),
    ])


def _linktype(lt: int) -> Case:
    return Case([
        link(lt, ipv4(udp(sport=40000, dport=53, payload=dns_query("link.example", "AAAA")),
                      src=C4, dst=S4)),
        link(lt, ipv6(tcp(sport=40000, dport=443, flags=SYN, options=LINUX_SYN), src=C6,
                      dst=S6)),
        link(lt, ipv4(icmp_echo(1, 2), src=C4, dst=S4)),
    ], linktype=lt)


def _malformed_ipv4() -> Case:
    good = ipv4(udp(sport=1, dport=2, payload=b"abcd"), src=C4, dst=S4)
    return Case([
        eth(good[:12]),
        eth(ipv4(udp(sport=1, dport=2), src=C4, dst=S4, ihl=3)),
        eth(ipv4(udp(sport=1, dport=2), src=C4, dst=S4, ihl=15)),
        eth(ipv4(udp(sport=1, dport=2), src=C4, dst=S4, total_length=1500)),
        eth(ipv4(udp(sport=1, dport=2), src=C4, dst=S4, total_length=10)),
        eth(ipv4(udp(sport=1, dport=2), src=C4, dst=S4,
                 options=P.ipv4_option(7, b"", length=0) + bytes(2))),
        eth(ipv4(udp(sport=1, dport=2), src=C4, dst=S4,
                 options=P.ipv4_option(7, b"\x04" + bytes(5), length=40))),
        eth(ipv4(udp(sport=1, dport=2), src=C4, dst=S4, options=b"\x07")),
        ethernet(b"\x55" + good[1:], ethertype=P.ETH_IPV4),
        ethernet(good, ethertype=P.ETH_IPV6),
        ethernet(b"", ethertype=P.ETH_IPV4),
        eth(ipv4(udp(sport=1, dport=2), src=C4, dst=S4, checksum=0xDEAD)),
    ])


def _malformed_ipv6() -> Case:
    good = ipv6(tcp(sport=1, dport=2, flags=SYN), src=C6, dst=S6)
    return Case([
        eth(good[:30]),
        eth(ipv6(udp(sport=1, dport=2), src=C6, dst=S6, payload_length=900)),
        eth(ipv6(b"\x11\x07" + bytes(6), src=C6, dst=S6, next_header=P.PROTO_HOPOPT)),
        eth(ipv6(b"\x11", src=C6, dst=S6, next_header=P.PROTO_DSTOPTS)),
        eth(ipv6(b"\x06\x00" + bytes(4), src=C6, dst=S6, next_header=P.PROTO_FRAGMENT)),
        eth(ipv6(b"", src=C6, dst=S6, next_header=P.PROTO_TCP)),
        eth(ipv6(b"".join(b"\x00\x00" + bytes(6) for _ in range(9)) + b"\x11\x00" + bytes(6),
                 src=C6, dst=S6, next_header=P.PROTO_HOPOPT)),
    ])


def _malformed_transport() -> Case:
    def tcp4(**kw: Any) -> bytes:
        return t4(tcp(**({"sport": 40000, "dport": 80, "seq": 1, "flags": SYN} | kw)))

    return Case([
        t4(tcp(sport=40000, dport=80).data[:12], proto=P.PROTO_TCP),
        tcp4(data_offset=3),
        tcp4(data_offset=15),
        tcp4(options=[tcp_option(2, b"\x05\xb4", length=0)]),
        tcp4(options=[tcp_option(3, b"\x07", length=1)]),
        tcp4(options=[tcp_option(2, b"\x05\xb4", length=40)]),
        tcp4(flags=ACK, ack=1, options=[NOP, NOP, tcp_option(5, bytes(9))]),
        tcp4(options=[tcp_option(2, b"\x05\xb4\x00\x00")]),
        tcp4(options=[mss(1460), tcp_option(8, bytes(6))]),
        t4(b"\x9c\x40\x00\x35", proto=P.PROTO_UDP),
        t4(udp(sport=40000, dport=9, payload=b"abc", length=100)),
        t4(udp(sport=40000, dport=9, payload=b"abc", length=4)),
        t4(b"\x08\x00", proto=P.PROTO_ICMP),
        t6(b"\x80", next_header=P.PROTO_ICMPV6),
        t4(b"\x20\x00\x08\x00\x00", proto=P.PROTO_GRE),
        t4(b"\xb0\x00\x08\x00" + bytes(10), proto=P.PROTO_GRE),
    ])


def _malformed_dns() -> Case:
    def q(payload: bytes) -> bytes:
        return t4(udp(sport=40000, dport=53, payload=payload))

    head = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)
    return Case([
        q(head + b"\x3fabc"),
        q(head + b"\xc0\x0c\x00\x01\x00\x01"),
        q(b"\x12\x34\x01"),
        q(head + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01"),
        q(head + b"\x03abc\x00\x00"),
        q(head + b"".join(b"\x3f" + b"a" * 63 for _ in range(5)) + b"\x00\x00\x01\x00\x01"),
        q(head + b"\x03www\x07example\x03com\x00\x00\x01\x00\x01" + b"trailing"),
        t4(tcp(sport=40000, dport=53, flags=PSH | ACK, payload=b"\x00")),
    ])


def _non_ip() -> Case:
    return Case([
        ethernet(P.arp(), ethertype=P.ETH_ARP),
        ethernet(P.arp(op=2, tha=P.MAC_B, spa=S4, tpa=C4), ethertype=P.ETH_ARP),
        ethernet(bytes.fromhex("020704020000000001040302") + bytes(4), ethertype=P.ETH_LLDP),
        ethernet(b"\x00" * 46, ethertype=0x8847),  # MPLS
        b"\x02\x00\x00\x00\x00\x0b\x02",
        b"",
        eth(ipv4(udp(sport=1, dport=2), src=C4, dst=S4)),  # one IP packet among them
    ])


def _snaplen() -> Case:
    big = ipv4(tcp(sport=443, dport=40000, seq=1, ack=2, flags=ACK, options=[
        NOP, NOP, timestamps(3, 4)], payload=bytes(1448)), src=S4, dst=C4)
    syn = ipv4(tcp(sport=40000, dport=443, flags=SYN, options=LINUX_SYN), src=C4, dst=S4)
    v6 = ipv6(udp(sport=1, dport=2, payload=bytes(100)), src=C6, dst=S6,
              ext=[P.hop_by_hop(), P.dest_opts(bytes(30))])
    dns = ipv4(udp(sport=40000, dport=53, payload=dns_query("cut.example.com")), src=C4, dst=S4)
    frames: list[bytes | tuple[bytes, int]] = []
    for f, cut in ((eth(big), 96), (eth(syn), 14 + 20 + 26), (eth(v6), 14 + 40 + 10),
                   (eth(dns), 14 + 28 + 20), (eth(big), 14 + 20 + 14)):
        frames.append((f[:cut], len(f)))
    return Case(frames)


def _timestamps_ns() -> Case:
    return Case([t4(udp(sport=1, dport=2)), t6(udp(sport=3, dport=4))], nanosecond=True,
                options={"timestamp_format": "rfc3339ns"})


def _field_selection() -> Case:
    return Case(
        [t4(tcp(sport=40000, dport=443, flags=SYN, options=LINUX_SYN)),
         t6(udp(sport=40000, dport=53, payload=dns_query("fields.example", "TXT")))],
        options={"field_names": ["Datetime", "IPSourceAddress", "IPProtocolName",
                                 "DestinationPort", "TCPFlagsString", "DNSQueryName",
                                 "SampleInterval"], "timestamp_format": "rfc3339"},
    )


CASES: dict[str, Case] = {
    "tcp4-handshake": _tcp4_handshake(),
    "tcp-sack-timestamps": _tcp_sack_timestamps(),
    "tcp-flags": _tcp_flags(),
    "tcp-options-odd": _tcp_options_odd(),
    "tcp6": _tcp6(),
    "udp": _udp(),
    "dns-udp-queries": _dns_udp(),
    "dns-not-queries": _dns_not_queries(),
    "dns-tcp": _dns_tcp(),
    "icmp4": _icmp4(),
    "icmp6": _icmp6(),
    "gre": _gre(),
    "ipv4-options": _ipv4_options(),
    "ipv4-fragments": _ipv4_fragments(),
    "ipv6-ext": _ipv6_ext(),
    "vlan-qinq-padding": _vlan(),
    "link-sll": _linktype(P.LINKTYPE_LINUX_SLL),
    "link-sll2": _linktype(P.LINKTYPE_LINUX_SLL2),
    "link-raw": _linktype(P.LINKTYPE_RAW),
    "link-null": _linktype(P.LINKTYPE_NULL),
    "link-loop": _linktype(P.LINKTYPE_LOOP),
    "malformed-ipv4": _malformed_ipv4(),
    "malformed-ipv6": _malformed_ipv6(),
    "malformed-transport": _malformed_transport(),
    "malformed-dns": _malformed_dns(),
    "non-ip": _non_ip(),
    "snaplen": _snaplen(),
    "timestamps-ns": _timestamps_ns(),
    "field-selection": _field_selection(),
}


def frame_times(case: Case) -> list[int]:
    """Timestamps: 1 ms apart from ``START_NS``, with sub-µs digits in nanosecond files."""
    extra = 123 if case.nanosecond else 0
    return [START_NS + i * 1_000_000 + extra for i in range(len(case.frames))]
