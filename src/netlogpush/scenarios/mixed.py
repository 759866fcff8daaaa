"""A seeded, reproducible, varied capture: mostly benign traffic plus a share of bad frames.

The traffic is a set of *kinds*: short conversations (a TCP connection with options, a DNS
query and its answer, a ping, a GRE-tunnelled handshake, a fragmented datagram ...) and
single malformed frames. Each kind is built once with :mod:`netlogpush.testing.packets`,
with client and server sequence numbers, timestamps and IDs starting at zero; then every
session of that kind is stamped out in one numpy batch per packet of the conversation, with
its own addresses, client port, ISNs, TTLs, flow labels and IDs added, and checksums fixed
incrementally (:class:`~netlogpush.testing.packets.BatchTemplate`). Sessions start at
random times and their packets are spaced by a per-session round-trip time, and the whole
capture is sorted by time, so conversations interleave as on a real link while each stays
in order. That is how a million packets are written in about a second.

A pcap file has one link type, so SLL, SLL2, raw IP and BSD loopback captures are separate
files (``link=...``); VLAN and QinQ tags and Ethernet padding appear only on Ethernet.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from netlogpush.testing import packets as P

#: Link types by the name ``netlogpush generate --link`` takes.
LINKS: dict[str, int] = {
    "ethernet": P.LINKTYPE_ETHERNET,
    "raw": P.LINKTYPE_RAW,
    "sll": P.LINKTYPE_LINUX_SLL,
    "sll2": P.LINKTYPE_LINUX_SLL2,
    "null": P.LINKTYPE_NULL,
    "loop": P.LINKTYPE_LOOP,
}

CATEGORIES = (
    "tcp", "udp", "dns", "icmp", "icmpv6", "igmp", "gre", "ipv6-ext", "fragment",
    "non-ip", "malformed",
)  # fmt: skip

#: Template addresses; every session replaces them unless a kind fixes them.
C4, S4 = "198.51.100.1", "203.0.113.10"
C6, S6 = "2001:db8:c::1", "2001:db8:5::10"

DEFAULT_START_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z

#: The protected ("customer") network of the generated traffic: servers live in the first
#: and third prefix, GRE tunnel endpoints in the second and fourth. Every other address is
#: a client on the Internet, so with these prefixes configured, ``Direction`` is ``ingress``
#: for client-to-server packets and ``egress`` for the answers.
SERVERS4, TUNNELS4 = "203.0.113.0/24", "192.0.2.0/24"
SERVERS6, TUNNELS6 = "2001:db8:5::/64", "2001:db8:1::/64"
CUSTOMER_PREFIXES: tuple[str, ...] = (SERVERS4, TUNNELS4, SERVERS6, TUNNELS6)


@dataclass(frozen=True, slots=True)
class Step:
    """One packet of a conversation."""

    packet: bytes
    c2s: bool = True
    #: Time since the previous packet, in round-trip times of the session.
    gap: float = 0.0
    #: Link protocol; ``None`` means IPv4/IPv6 by the version nibble.
    ethertype: int | None = None
    #: Record only this many bytes from the start of ``packet`` (a snaplen cut).
    l3_caplen: int | None = None
    #: ``packet`` is the complete link-layer frame (runts).
    whole_frame: bool = False
    #: For the first fragment of a datagram: the one's-complement sum of the datagram's
    #: bytes in later fragments, so the transport checksum can be updated here.
    rest_sum: int | None = None


@dataclass(frozen=True, slots=True)
class Kind:
    """A conversation or single frame that the capture repeats with varied fields."""

    name: str
    category: str
    weight: float
    steps: tuple[Step, ...]
    #: Patch addresses, ports, sequence numbers and IDs per session.
    vary: bool = True
    #: Field names (``packets.layout``) left as built: multicast destinations, NDP hop limits.
    fixed: frozenset[str] = frozenset()
    #: Link types the kind exists on; ``None`` means all.
    links: frozenset[str] | None = None
    #: Outer addresses are GRE tunnel endpoints; the client/server are the inner ones.
    tunnel: bool = False
    vlans: tuple[P.Vlan, ...] = ()


@dataclass(slots=True)
class MixedSummary:
    """What was written: counts by kind and by category."""

    path: Path
    packets: int
    linktype: int
    by_kind: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)


# --- building conversations ----------------------------------------------------------------

IpWrap = Callable[[P.Segment | bytes, bool, int], bytes]


def _ip4(**kw: object) -> IpWrap:
    def wrap(seg: P.Segment | bytes, c2s: bool, k: int) -> bytes:
        src, dst = (C4, S4) if c2s else (S4, C4)
        return P.ipv4(seg, src=src, dst=dst, ident=k, **kw)  # type: ignore[arg-type]

    return wrap


def _ip6(**kw: object) -> IpWrap:
    def wrap(seg: P.Segment | bytes, c2s: bool, k: int) -> bytes:
        src, dst = (C6, S6) if c2s else (S6, C6)
        return P.ipv6(seg, src=src, dst=dst, **kw)  # type: ignore[arg-type]

    return wrap


SYN_LINUX = (P.mss(1460), P.sack_permitted(), P.timestamps(0, 0), P.NOP, P.wscale(7))
SYN_WINDOWS = (P.mss(1460), P.NOP, P.wscale(8), P.NOP, P.NOP, P.sack_permitted())
SYN_MAC = (
    P.mss(1440), P.NOP, P.wscale(6), P.NOP, P.NOP, P.timestamps(0, 0), P.sack_permitted(),
    P.EOL,
)  # fmt: skip


def _payload(n: int, tag: int = 0) -> bytes:
    return bytes((i * 7 + tag) & 0xFF for i in range(n))


def tcp_conversation(
    ip: IpWrap,
    *,
    dport: int,
    syn_options: Sequence[bytes] = SYN_LINUX,
    request: bytes = b"",
    responses: Sequence[int] = (),
    end: str = "fin",
    sack_loss: bool = False,
    ecn: bool = False,
    answer: bytes = b"",
) -> list[Step]:
    """A TCP connection with both ISNs and timestamp clocks at zero.

    ``end`` is ``"fin"`` (both sides close), ``"rst"`` (the server resets after the
    request), ``"refused"`` (RST to the SYN) or ``"open"`` (no close). With ``sack_loss``
    the second server segment is "lost" and the client's ACKs carry SACK blocks.
    """
    sport = 40000
    ts = any(o[:1] == b"\x08" for o in syn_options)
    steps: list[Step] = []
    seq = [0, 0]  # next sequence number: client, server
    tsv = [0, 0]
    ids = [0, 0]
    last_ts = [0, 0]

    def seg(c2s: bool, flags: int, payload: bytes = b"", opts: Sequence[bytes] = (), *,
            gap: float, ack: int | None = None, tos_ecn: int = 0) -> None:
        d = 0 if c2s else 1
        o = 1 - d
        tsv[d] += 1
        options = list(opts)
        if ts and not flags & P.SYN:
            options = [P.NOP, P.NOP, P.timestamps(tsv[d], last_ts[o]), *options]
        elif ts:
            options = [
                P.timestamps(tsv[d], last_ts[o]) if x[:1] == b"\x08" else x for x in options
            ]
        last_ts[d] = tsv[d]
        a = seq[o] if ack is None else ack
        s = P.tcp(
            sport=sport if c2s else dport,
            dport=dport if c2s else sport,
            seq=seq[d],
            ack=a if flags & P.ACK else 0,
            flags=flags,
            window=64240 if c2s else 65160,
            options=options,
            payload=payload,
        )
        pkt = ip(s, c2s, ids[d])
        if tos_ecn:
            pkt = _set_ecn(pkt, tos_ecn)
        ids[d] += 1
        seq[d] += len(payload) + (1 if flags & (P.SYN | P.FIN) else 0)
        steps.append(Step(pkt, c2s, gap))

    syn_flags = P.SYN | (P.ECE | P.CWR if ecn else 0)
    seg(True, syn_flags, opts=syn_options, gap=0)
    if end == "refused":
        seg(False, P.RST | P.ACK, gap=0.5)
        return steps
    synack_opts = [o for o in syn_options if o[:1] not in (b"\x03", b"\x00")]
    synack_opts += [P.NOP, P.wscale(9)]
    if not ts:
        synack_opts = [P.mss(1460), P.NOP, P.wscale(9), P.sack_permitted()]
    seg(False, P.SYN | P.ACK | (P.ECE if ecn else 0), opts=synack_opts, gap=0.5)
    seg(True, P.ACK, gap=0.5)
    if request:
        seg(True, P.PSH | P.ACK, request, gap=0.01, tos_ecn=2 if ecn else 0)
        seg(False, P.ACK, gap=0.5)
    if end == "rst":
        seg(False, P.RST | P.ACK, gap=0.1)
        return steps
    if answer:
        seg(False, P.PSH | P.ACK, answer, gap=0.05)
    lost_at = -1
    for i, size in enumerate(responses):
        if sack_loss and i == 1:
            lost_at = seq[1]
            seq[1] += size  # never sent: the hole the client SACKs around
            continue
        flags = P.PSH | P.ACK if i == len(responses) - 1 else P.ACK
        seg(False, flags, _payload(size, i), gap=0.05 if i else 0.3,
            tos_ecn=3 if ecn and i == 0 else 0)
        if lost_at >= 0:
            block = P.sack([(lost_at + responses[1], seq[1])])
            seg(True, P.ACK, opts=[P.NOP, P.NOP, block], ack=lost_at, gap=0.5)
        elif i % 2 == 1 or i == len(responses) - 1:
            seg(True, P.ACK | (P.ECE if ecn and i == 0 else 0), gap=0.5)
    if lost_at >= 0:  # the retransmission fills the hole
        save = seq[1]
        seq[1] = lost_at
        seg(False, P.ACK, _payload(responses[1], 1), gap=0.2)
        seq[1] = save
        seg(True, P.ACK, gap=0.5)
    if end == "fin":
        seg(True, P.FIN | P.ACK, gap=0.2)
        seg(False, P.FIN | P.ACK, gap=0.5)
        seg(True, P.ACK, gap=0.5)
    return steps


def _set_ecn(pkt: bytes, ecn: int) -> bytes:
    """Set the ECN bits of a built IPv4/IPv6 packet (fixing the IPv4 header checksum)."""
    b = bytearray(pkt)
    if b[0] >> 4 == 4:
        b[1] = (b[1] & 0xFC) | ecn
        b[10:12] = b"\0\0"
        b[10:12] = struct.pack("!H", P.inet_checksum(bytes(b[: (b[0] & 0xF) * 4])))
    else:
        b[1] = (b[1] & 0xCF) | (ecn << 4)
    return bytes(b)


def _fragments(
    ip: Callable[..., bytes], seg: P.Segment, src: str, dst: str, size: int, *, v6: bool
) -> list[Step]:
    """Split a transport datagram into fragments of ``size`` bytes (a multiple of 8)."""
    data = seg.finalize(P.ip_bytes(src), P.ip_bytes(dst))
    steps = []
    for off in range(0, len(data), size):
        chunk = data[off : off + size]
        more = off + size < len(data)
        if v6:
            pkt = ip(chunk, ext=[P.fragment(offset=off, more=more, ident=0)],
                     next_header=seg.proto)
        else:
            pkt = ip(chunk, proto=seg.proto, mf=more, frag_offset=off)
        rest = P.ones_sum(data[size:]) if off == 0 else None
        steps.append(Step(pkt, True, 0.0 if off == 0 else 0.001, rest_sum=rest))
    return steps


#: (name, qtype) pairs of the DNS kinds: common names and types, and odd ones (a 63-byte
#: label, a long name, the root, an IDN, upper case, a space, an underscore, UTF-8 bytes,
#: a dot inside a label, a private-use type).
DNS_QUESTIONS: tuple[tuple[str | tuple[bytes, ...], str | int], ...] = (
    ("example.com", "A"),
    ("www.example.org", "AAAA"),
    ("example.com", "MX"),
    ("_dmarc.example.com", "TXT"),
    ("api.example.net", "A"),
    ("cdn-01.static.example.com", "AAAA"),
    ("_sip._tcp.example.com", "SRV"),
    ("1.2.0.192.in-addr.arpa", "PTR"),
    ("example.net", "NS"),
    (".", "NS"),
    ("xn--bcher-kva.example", "A"),
    ("UPPER.Case.Example.COM", "A"),
    ("a" * 63 + ".example.com", "A"),
    (".".join([f"label{i:02d}" + "x" * 50 for i in range(4)]) + ".example", "TXT"),
    ("svc.example.com", "HTTPS"),
    ("example.com", "CAA"),
    ("example.com", "ANY"),
    ("example.com", "SOA"),
    ("alias.example.com", "CNAME"),
    ("example.com", "DNSKEY"),
    ("sip.example.com", "NAPTR"),
    ("under_score.example", "A"),
    ("x.y.z.w.v.u.t.s.r.q.p.example", "AAAA"),
    ("wpad", "A"),
    ("private.example", 65280),
    ((b"with space", b"example"), "A"),
    ((b"caf\xc3\xa9", b"example"), "A"),
    ((b"dot.inside", b"example"), "TXT"),
)


def _rdata(qtype: str | int) -> bytes:
    return {
        "A": bytes([192, 0, 2, 80]),
        "AAAA": P.ip_bytes("2001:db8::80"),
        "MX": b"\x00\x0a" + P.dns_name("mail.example.com"),
        "TXT": b"\x0bv=spf1 -all",
        "NS": P.dns_name("ns1.example.com"),
        "PTR": P.dns_name("host.example.com"),
    }.get(qtype if isinstance(qtype, str) else "", b"")


def _benign_kinds() -> list[Kind]:
    ip4, ip6 = _ip4(df=True), _ip6()
    ip6f = _ip6(flow_label=0, tclass=0x20)  # CS1
    hello = _payload(517, 22)
    k: list[Kind] = []

    def add(name: str, cat: str, w: float, steps: Sequence[Step], **kw: object) -> None:
        k.append(Kind(name, cat, w, tuple(steps), **kw))  # type: ignore[arg-type]

    # TCP (~52 %)
    add("tcp4-https-linux", "tcp", 0.14, tcp_conversation(
        ip4, dport=443, request=hello, responses=(1448, 1448, 1448, 600)))
    add("tcp4-http-windows", "tcp", 0.07, tcp_conversation(
        _ip4(df=True, ttl=128), dport=80, syn_options=SYN_WINDOWS,
        request=b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", responses=(1460, 1200)))
    add("tcp4-mac-sack", "tcp", 0.05, tcp_conversation(
        ip4, dport=443, syn_options=SYN_MAC, request=hello, responses=(1448, 1448, 1448, 900),
        sack_loss=True))
    add("tcp4-reset", "tcp", 0.03, tcp_conversation(
        ip4, dport=8080, request=_payload(120), end="rst"))
    add("tcp4-refused", "tcp", 0.03, tcp_conversation(ip4, dport=23, end="refused"))
    add("tcp4-ecn", "tcp", 0.02, tcp_conversation(
        ip4, dport=443, request=hello, responses=(1448, 700), ecn=True))
    add("tcp6-https-linux", "tcp", 0.10, tcp_conversation(
        ip6, dport=443, request=hello, responses=(1428, 1428, 500)))
    add("tcp6-http-mac", "tcp", 0.03, tcp_conversation(
        ip6f, dport=80, syn_options=SYN_MAC, request=_payload(300), responses=(1428,)))
    add("tcp4-ack", "tcp", 0.03, [Step(ip4(P.tcp(
        sport=40000, dport=443, seq=1000, ack=5000, flags=P.ACK,
        options=[P.NOP, P.NOP, P.timestamps(10, 20)]), True, 0))])
    add("tcp4-urgent", "tcp", 0.003, [Step(ip4(P.tcp(
        sport=40000, dport=23, seq=77, ack=88, flags=P.URG | P.PSH | P.ACK, urg=1,
        payload=b"\xff\xf4\xff\xfd\x06"), True, 0))])
    big = ip4(P.tcp(sport=443, dport=40000, seq=1, ack=1, flags=P.ACK, payload=_payload(1448)),
              False, 0)
    add("tcp4-snaplen", "tcp", 0.01, [Step(big, False, 0, l3_caplen=96)])

    # UDP (~9 %)
    ef = _ip4(df=True, dscp=46)  # Expedited Forwarding, as real-time media is marked
    add("udp4-quic", "udp", 0.035, [
        Step(ip4(P.udp(sport=40000, dport=443, payload=_payload(1250, 1)), True, 0), True, 0),
        Step(ip4(P.udp(sport=443, dport=40000, payload=_payload(1250, 2)), False, 0), False, 0.5),
        Step(ip4(P.udp(sport=40000, dport=443, payload=_payload(60, 3)), True, 1), True, 0.5),
        Step(ip4(P.udp(sport=443, dport=40000, payload=_payload(300, 4)), False, 1), False, 0.5),
    ])
    af11_ect0 = _ip6(tclass=(10 << 2) | 2)  # DSCP AF11, ECN ECT(0)
    add("udp6-quic", "udp", 0.025, [
        Step(af11_ect0(P.udp(sport=40000, dport=443, payload=_payload(1232, 1)), True, 0),
             True, 0),
        Step(af11_ect0(P.udp(sport=443, dport=40000, payload=_payload(1232, 2)), False, 0),
             False, 0.5),
    ])
    ntp = b"\x23" + bytes(47)
    add("udp4-rtp", "udp", 0.01, [
        Step(ef(P.udp(sport=40000, dport=5004, payload=_payload(172, 5)), True, k), True, 0.02)
        for k in range(6)
    ])
    add("udp4-ntp", "udp", 0.01, [
        Step(_ip4()(P.udp(sport=40000, dport=123, payload=ntp), True, 0), True, 0),
        Step(_ip4()(P.udp(sport=123, dport=40000, payload=b"\x24" + bytes(47)), False, 0),
             False, 0.5),
    ])
    add("udp4-no-checksum", "udp", 0.01, [Step(_ip4()(P.udp(
        sport=40000, dport=4789, payload=_payload(50), checksum=0), True, 0), True, 0)])
    add("udp4-syslog", "udp", 0.01, [Step(_ip4(dscp=8)(P.udp(
        sport=40000, dport=514, payload=b"<34>Oct 11 22:14:15 host su: test"), True, 0))])

    # DNS (~12 %)
    n = len(DNS_QUESTIONS)
    for i, (qname, qtype) in enumerate(DNS_QUESTIONS):
        q = P.dns_query(qname, qtype, txid=0)
        r = P.dns_response(qname, qtype, txid=0, rdata=_rdata(qtype))
        label = f"{i:02d}"
        add(f"dns4-udp-{label}", "dns", 0.07 / n, [
            Step(_ip4()(P.udp(sport=40000, dport=53, payload=q), True, 0), True, 0),
            Step(_ip4()(P.udp(sport=53, dport=40000, payload=r), False, 0), False, 0.5),
        ])
        if i % 3 == 0:
            add(f"dns6-udp-{label}", "dns", 0.03 / (n // 3 + 1), [
                Step(ip6(P.udp(sport=40000, dport=53, payload=q), True, 0), True, 0),
                Step(ip6(P.udp(sport=53, dport=40000, payload=r), False, 0), False, 0.5),
            ])
        if i % 4 == 1:
            add(f"dns4-tcp-{label}", "dns", 0.02 / (n // 4 + 1), tcp_conversation(
                ip4, dport=53, request=P.dns_tcp(q), answer=P.dns_tcp(r)))

    # ICMP (~4.5 %) and ICMPv6 (~3 %)
    add("icmp4-echo", "icmp", 0.025, [
        Step(_ip4()(P.icmp_echo(0, 1, _payload(56)), True, 0), True, 0),
        Step(_ip4()(P.icmp_echo(0, 1, _payload(56), reply=True), False, 0), False, 0.5),
        Step(_ip4()(P.icmp_echo(0, 2, _payload(56)), True, 1), True, 2),
        Step(_ip4()(P.icmp_echo(0, 2, _payload(56), reply=True), False, 1), False, 0.5),
    ])
    rr = _ip4(options=P.record_route(9))
    add("icmp4-echo-record-route", "icmp", 0.003, [
        Step(rr(P.icmp_echo(0, 1, _payload(56)), True, 0), True, 0),
        Step(_ip4(options=P.record_route(9, [S4, "192.0.2.254"]))(
            P.icmp_echo(0, 1, _payload(56), reply=True), False, 0), False, 0.5),
    ])
    orig = P.ipv4(P.udp(sport=40000, dport=33434, payload=bytes(12)), src=C4, dst=S4)[:28]
    add("icmp4-port-unreachable", "icmp", 0.008, [Step(_ip4()(
        P.icmp(type=3, code=3, payload=orig), False, 0), False, 0)])
    add("icmp4-ttl-exceeded", "icmp", 0.005, [Step(_ip4()(
        P.icmp(type=11, code=0, payload=orig), False, 0), False, 0)])
    add("icmp4-frag-needed", "icmp", 0.002, [Step(_ip4()(
        P.icmp(type=3, code=4, rest=b"\0\0\x05\xa0", payload=orig), False, 0), False, 0)])
    add("icmp6-echo", "icmpv6", 0.015, [
        Step(ip6(P.icmpv6_echo(0, 1, _payload(56)), True, 0), True, 0),
        Step(ip6(P.icmpv6_echo(0, 1, _payload(56), reply=True), False, 0), False, 0.5),
    ])
    ns_dst = "ff02::1:ff00:10"
    add("icmp6-neighbor", "icmpv6", 0.008, [
        Step(P.ipv6(P.icmpv6(type=135, body=bytes(4) + P.ip_bytes(S6)), src=C6, dst=ns_dst,
                    hop_limit=255), True, 0),
        Step(P.ipv6(P.icmpv6(type=136, body=b"\x60\0\0\0" + P.ip_bytes(S6)), src=S6, dst=C6,
                    hop_limit=255), False, 0.5),
    ], fixed=frozenset({"ip.dst", "ip6.hlim"}))
    add("icmp6-router-solicit", "icmpv6", 0.002, [Step(P.ipv6(
        P.icmpv6(type=133), src=C6, dst="ff02::2", hop_limit=255), True, 0)],
        fixed=frozenset({"ip.dst", "ip6.hlim"}))
    igmp = bytes([0x16, 0, 0, 0]) + P.ip_bytes("239.1.2.3")
    igmp = igmp[:2] + struct.pack("!H", P.inet_checksum(igmp)) + igmp[4:]
    add("igmp4-report-router-alert", "igmp", 0.003, [Step(P.ipv4(
        igmp, src=C4, dst="239.1.2.3", proto=P.PROTO_IGMP, ttl=1, options=P.router_alert()),
        True, 0)], fixed=frozenset({"ip.dst", "ip.ttl"}))

    # GRE (~4 %): outer addresses are tunnel endpoints.
    def tun4(seg: P.Segment | bytes, c2s: bool, k: int) -> bytes:
        return P.ipv4(seg, src="192.0.2.1" if c2s else "192.0.2.2",
                      dst="192.0.2.2" if c2s else "192.0.2.1", ident=k)

    def inner_tcp(**g: object) -> list[Step]:
        hs = tcp_conversation(_ip4(df=True), dport=443, request=_payload(200), end="open")
        return [replace(s, packet=tun4(P.gre(s.packet, **g), s.c2s, i))  # type: ignore[arg-type]
                for i, s in enumerate(hs)]

    add("gre-plain-tcp", "gre", 0.012, inner_tcp(), tunnel=True)
    add("gre-key-tcp", "gre", 0.008, inner_tcp(key=0), tunnel=True)
    add("gre-csum-key-seq-tcp", "gre", 0.006, inner_tcp(checksum=True, key=0, seq=0),
        tunnel=True)
    dnsq = _ip4()(P.udp(sport=40000, dport=53, payload=P.dns_query("tunnel.example", "A",
                                                                       txid=0)), True, 0)
    add("gre-seq-dns", "gre", 0.005, [Step(tun4(P.gre(dnsq, seq=0), True, 0))], tunnel=True)
    ping = _ip4()(P.icmp_echo(0, 1, _payload(32)), True, 0)
    add("gre6-outer-icmp", "gre", 0.004, [Step(P.ipv6(P.gre(ping, key=0),
                                                      src="2001:db8:1::1", dst="2001:db8:1::2"))],
        tunnel=True)
    ppp = b"\xff\x03\x00\x21" + ping
    add("gre-pptp-v1", "gre", 0.003, [Step(tun4(P.gre(
        ppp, proto=P.ETH_PPP, key=(len(ppp) << 16) | 0x1234, seq=0, version=1, ack=0),
        True, 0))], tunnel=True)

    # IPv6 extension headers (~3 %)
    hbh_ra = P.hop_by_hop()
    mld = P.icmpv6(type=143, body=b"\0\0\0\x01" + b"\x04\0\0\0" + P.ip_bytes("ff05::1:3"))
    add("ip6-hbh-mld", "ipv6-ext", 0.005, [Step(P.ipv6(
        mld, src=C6, dst="ff02::16", hop_limit=1, ext=[hbh_ra]), True, 0)],
        fixed=frozenset({"ip.dst", "ip6.hlim"}))
    add("ip6-hbh-udp", "ipv6-ext", 0.006, [Step(_ip6(ext=[P.hop_by_hop(b"\x01\x02\0\0")])(
        P.udp(sport=40000, dport=5000, payload=_payload(40)), True, 0))])
    add("ip6-dstopts-tcp", "ipv6-ext", 0.006, tcp_conversation(
        _ip6(ext=[P.dest_opts(b"\x1e\x04\0\0\0\0")], flow_label=0), dport=443,
        request=_payload(64), end="open"))
    add("ip6-routing-icmp6", "ipv6-ext", 0.004, [Step(_ip6(ext=[P.routing(
        ["2001:db8:2::1", "2001:db8:2::2"], segments_left=0)])(
        P.icmpv6_echo(0, 1, _payload(16)), True, 0))])
    add("ip6-chain-udp", "ipv6-ext", 0.005, [Step(_ip6(ext=[
        P.hop_by_hop(b"\x01\x00"), P.dest_opts(), P.routing(["2001:db8:2::1"], rtype=2,
                                                            segments_left=1),
        P.fragment(offset=0, more=False, ident=0), P.dest_opts(b"\x01\x02\0\0")])(
        P.udp(sport=40000, dport=9, payload=_payload(24)), True, 0))])

    # Fragments (~2 %)
    f4 = _fragments(lambda c, **kw: P.ipv4(c, src=C4, dst=S4, ttl=64, **kw),
                    P.udp(sport=40000, dport=5001, payload=_payload(2992)), C4, S4, 1480,
                    v6=False)
    add("frag4-udp", "fragment", 0.008, f4, fixed=frozenset({"l4.sport", "l4.dport"}))
    f4i = _fragments(lambda c, **kw: P.ipv4(c, src=C4, dst=S4, **kw),
                     P.icmp_echo(7, 1, _payload(2000)), C4, S4, 1480, v6=False)
    add("frag4-icmp", "fragment", 0.004, f4i, fixed=frozenset({"icmp.id", "icmp.seq"}))
    f6 = _fragments(lambda c, **kw: P.ipv6(c, src=C6, dst=S6, **kw),
                    P.udp(sport=40000, dport=5001, payload=_payload(2400)), C6, S6, 1232,
                    v6=True)
    add("frag6-udp", "fragment", 0.006, f6, fixed=frozenset({"l4.sport", "l4.dport"}))

    # Snap-truncated IPv6 data (the record is shorter than the packet on the wire)
    big6 = ip6(P.tcp(sport=443, dport=40000, seq=1, ack=1, flags=P.ACK,
                     payload=_payload(1400)), False, 0)
    add("tcp6-snaplen", "tcp", 0.004, [Step(big6, False, 0, l3_caplen=128)])
    return k


def _malformed_kinds() -> list[Kind]:
    """Single frames a decoder must count and survive (static: no per-session variation)."""
    good_tcp = P.ipv4(P.tcp(sport=40000, dport=80, seq=1, flags=P.SYN), src=C4, dst=S4)
    good_udp = P.ipv4(P.udp(sport=40000, dport=53, payload=P.dns_query("ok.example")),
                      src=C4, dst=S4)
    good6 = P.ipv6(P.tcp(sport=40000, dport=80, flags=P.SYN), src=C6, dst=S6)

    def tcp4(**kw: object) -> bytes:
        base: dict[str, object] = {"sport": 40000, "dport": 80, "seq": 1, "flags": P.SYN}
        return P.ipv4(P.tcp(**(base | kw)), src=C4, dst=S4)  # type: ignore[arg-type]

    dns_bad_label = (P.dns_query("ok.example")[:12] + b"\x3fabc")
    dns_loop = P.dns_query("x")[:12] + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    frames: list[tuple[str, bytes, int | None, frozenset[str] | None]] = [
        ("ipv4-header-truncated", good_tcp[:12], None, None),
        ("ipv4-ihl-below-5", P.ipv4(P.udp(sport=1, dport=2), src=C4, dst=S4, ihl=3), None, None),
        ("ipv4-ihl-beyond-packet", P.ipv4(P.udp(sport=1, dport=2), src=C4, dst=S4, ihl=15),
         None, None),
        ("ipv4-total-length-beyond-frame", P.ipv4(P.udp(sport=1, dport=2), src=C4, dst=S4,
                                                  total_length=1500), None, None),
        ("ipv4-total-length-below-header", P.ipv4(P.udp(sport=1, dport=2), src=C4, dst=S4,
                                                  total_length=10), None, None),
        ("ipv4-option-length-zero", P.ipv4(P.udp(sport=1, dport=2), src=C4, dst=S4,
                                           options=P.ipv4_option(7, b"", length=0) + bytes(2)),
         None, None),
        ("ipv4-option-length-overrun", P.ipv4(P.udp(sport=1, dport=2), src=C4, dst=S4,
                                              options=P.ipv4_option(7, b"\x04" + bytes(5),
                                                                    length=40)), None, None),
        ("ip-version-5", b"\x55" + good_tcp[1:], P.ETH_IPV4, None),
        ("ipv6-header-truncated", good6[:30], None, None),
        ("ipv6-payload-length-beyond-frame", P.ipv6(P.udp(sport=1, dport=2), src=C6, dst=S6,
                                                    payload_length=900), None, None),
        ("ipv6-ext-truncated", P.ipv6(b"\x11\x07" + bytes(6), src=C6, dst=S6,
                                      next_header=P.PROTO_HOPOPT), None, None),
        ("tcp-header-truncated", P.ipv4(P.tcp(sport=40000, dport=80).data[:12], src=C4, dst=S4,
                                        proto=P.PROTO_TCP), None, None),
        ("tcp-data-offset-below-5", tcp4(data_offset=3), None, None),
        ("tcp-data-offset-beyond-segment", tcp4(data_offset=15), None, None),
        ("tcp-option-length-zero", tcp4(options=[P.tcp_option(2, b"\x05\xb4", length=0)]),
         None, None),
        ("tcp-option-length-one", tcp4(options=[P.tcp_option(3, b"\x07", length=1)]), None, None),
        ("tcp-option-length-overrun", tcp4(options=[P.tcp_option(2, b"\x05\xb4", length=40)]),
         None, None),
        ("tcp-sack-bad-length", tcp4(flags=P.ACK, ack=1, options=[
            P.NOP, P.NOP, P.tcp_option(5, bytes(9))]), None, None),
        ("tcp-mss-bad-length", tcp4(options=[P.tcp_option(2, b"\x05\xb4\x00\x00")]), None, None),
        ("udp-header-truncated", P.ipv4(b"\x9c\x40\x00\x35", src=C4, dst=S4,
                                        proto=P.PROTO_UDP), None, None),
        ("udp-length-beyond-datagram", P.ipv4(P.udp(sport=40000, dport=9, payload=b"abc",
                                                    length=100), src=C4, dst=S4), None, None),
        ("udp-length-below-8", P.ipv4(P.udp(sport=40000, dport=9, payload=b"abc", length=4),
                                      src=C4, dst=S4), None, None),
        ("icmp-truncated", P.ipv4(b"\x08\x00", src=C4, dst=S4, proto=P.PROTO_ICMP), None, None),
        ("gre-truncated", P.ipv4(b"\x20\x00\x08\x00\x00", src=C4, dst=S4, proto=P.PROTO_GRE),
         None, None),
        ("dns-label-beyond-message", P.ipv4(P.udp(sport=40000, dport=53, payload=dns_bad_label),
                                            src=C4, dst=S4), None, None),
        ("dns-pointer-loop", P.ipv4(P.udp(sport=40000, dport=53, payload=dns_loop),
                                    src=C4, dst=S4), None, None),
        ("dns-truncated-header", P.ipv4(P.udp(sport=40000, dport=53, payload=b"\x12\x34\x01"),
                                        src=C4, dst=S4), None, None),
        ("frame-snap-inside-udp", good_udp[:24], None, None),
        ("ipv4-tiny-fragment", P.ipv4(P.tcp(sport=40000, dport=80).data[:8], src=C4, dst=S4,
                                      proto=P.PROTO_TCP, mf=True), None, None),
        ("arp-request", P.arp(), P.ETH_ARP, frozenset({"ethernet", "sll", "sll2"})),
        ("arp-reply", P.arp(op=2, tha=P.MAC_B, spa="192.0.2.2", tpa="192.0.2.1"), P.ETH_ARP,
         frozenset({"ethernet", "sll", "sll2"})),
        ("lldp", bytes.fromhex("020704020000000001040302") + bytes(4), P.ETH_LLDP,
         frozenset({"ethernet", "sll", "sll2"})),
        ("empty-ip", b"", P.ETH_IPV4, frozenset({"ethernet", "sll", "sll2", "null", "loop"})),
    ]
    kinds = []
    for name, pkt, et, links in frames:
        cat = "non-ip" if name in ("arp-request", "arp-reply", "lldp") else "malformed"
        kinds.append(Kind(name, cat, 1.0, (Step(pkt, True, 0, ethertype=et),), vary=False,
                          links=links))
    runt = Step(bytes.fromhex("0200000000") + b"\x08", True, 0, whole_frame=True)
    kinds.append(Kind("link-runt", "malformed", 1.0, (runt,), vary=False,
                      links=frozenset({"ethernet", "sll", "sll2", "null", "loop"})))
    return kinds


def kinds(link: str = "ethernet", malformed: float = 0.02) -> list[Kind]:
    """Every kind written on ``link``, with weights summing to 1 (VLAN variants split out)."""
    benign = _benign_kinds()
    bad = [x for x in _malformed_kinds() if x.links is None or link in x.links]
    out: list[Kind] = []
    bw = sum(x.weight for x in benign)
    for x in benign if malformed < 1.0 else []:
        w = x.weight / bw * (1.0 - malformed)
        if link == "ethernet":
            out.append(replace(x, weight=w * 0.80))
            out.append(replace(x, name=x.name + "+vlan", weight=w * 0.15,
                               vlans=(P.Vlan(100, pcp=3),)))
            out.append(replace(x, name=x.name + "+qinq", weight=w * 0.05,
                               vlans=(P.Vlan(300, tpid=P.ETH_8021AD), P.Vlan(42))))
        else:
            out.append(replace(x, weight=w))
    for x in bad if malformed > 0.0 else []:
        out.append(replace(x, weight=malformed / len(bad)))
    return out


# --- rendering -----------------------------------------------------------------------------


def _frame(kind: Kind, step: Step, link: str) -> bytes:
    if step.whole_frame:
        return step.packet
    lt = LINKS[link]
    if step.ethertype is None:
        # Frames from the client are as captured on receipt: short ones NIC-padded to 60.
        # Malformed frames are not, or padding would complete a truncated header.
        pad = 60 if step.c2s and kind.vary else 0
        return P.link(lt, step.packet, vlans=kind.vlans, pad_to=pad)
    if lt == P.LINKTYPE_ETHERNET:
        return P.ethernet(step.packet, ethertype=step.ethertype, vlans=kind.vlans)
    if lt == P.LINKTYPE_LINUX_SLL:
        return P.sll(step.packet, protocol=step.ethertype)
    if lt == P.LINKTYPE_LINUX_SLL2:
        return P.sll2(step.packet, protocol=step.ethertype)
    if lt in (P.LINKTYPE_NULL, P.LINKTYPE_LOOP):
        return P.null_link(step.packet, family=P.AF_INET, big_endian=lt == P.LINKTYPE_LOOP)
    return step.packet


@dataclass(slots=True)
class _Sessions:
    """Per-session random parameters, each an array of length ``n``."""

    n: int
    rng: np.random.Generator
    v6: bool
    client: npt.NDArray[np.generic]
    server: npt.NDArray[np.generic]
    tun_a: npt.NDArray[np.generic]
    tun_b: npt.NDArray[np.generic]
    cport: npt.NDArray[np.uint32]
    bases: dict[str, npt.NDArray[np.uint64]] = field(default_factory=dict)

    def base(self, name: str, bits: int = 32) -> npt.NDArray[np.uint64]:
        if name not in self.bases:
            self.bases[name] = self.rng.integers(0, 1 << bits, self.n, dtype=np.uint64)
        return self.bases[name]


def _v4(rng: np.random.Generator, n: int) -> npt.NDArray[np.uint32]:
    first = rng.integers(1, 224, n, dtype=np.uint32)
    first[np.isin(first, (10, 127, 100, 169, 172, 192))] = 45
    low = rng.integers(0, 1 << 24, n, dtype=np.uint32)
    return (first << np.uint32(24)) | low


def _v6(rng: np.random.Generator, n: int, prefix: bytes = b"") -> npt.NDArray[np.uint8]:
    a = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    if prefix:
        a[:, : len(prefix)] = np.frombuffer(prefix, np.uint8)
    else:
        a[:, 0] = 0x20 | (a[:, 0] & 0x1F)  # global unicast, 2000::/3
    return a


def _net24(prefix: str) -> np.uint32:
    return np.uint32(int.from_bytes(P.ip_bytes(prefix.split("/")[0]), "big"))


def _net64(prefix: str) -> bytes:
    return P.ip_bytes(prefix.split("/")[0])[:8]


def _read(frame: bytes, off: int, width: int) -> int:
    return int.from_bytes(frame[off : off + width], "big")


def _values(
    kind: Kind, step: Step, lay: P.Layout, frame: bytes, s: _Sessions, pools: _Pools
) -> dict[str, npt.ArrayLike]:
    d = "c" if step.c2s else "s"
    o = "s" if step.c2s else "c"
    vals: dict[str, npt.ArrayLike] = {}
    for name, (off, width) in lay.fields.items():
        if name in kind.fixed:
            continue
        t = np.uint64(_read(frame, off, width) if width <= 4 else 0)
        mask = np.uint64((1 << (8 * width)) - 1) if width <= 4 else np.uint64(0)
        src, dst = (s.client, s.server) if step.c2s else (s.server, s.client)
        if name in ("ip.src", "ip.dst") and kind.tunnel:
            a, b = (s.tun_a, s.tun_b) if step.c2s else (s.tun_b, s.tun_a)
            if width == 16:
                a, b = (pools.tun6_a, pools.tun6_b) if step.c2s else (pools.tun6_b, pools.tun6_a)
            vals[name] = a if name == "ip.src" else b
        elif name in ("ip.src", "inner.ip.src"):
            vals[name] = src
        elif name in ("ip.dst", "inner.ip.dst"):
            vals[name] = dst
        elif name in ("ip.ttl", "inner.ip.ttl", "ip6.hlim"):
            vals[name] = s.base("ttl_" + d, 8)
        elif name in ("ip.id", "inner.ip.id"):
            vals[name] = (s.base(name + d, 16) + t) & mask
        elif name == "ip6.vtf":
            vals[name] = (t & np.uint64(0xFFF00000)) | s.base("fl_" + d, 20)
        elif name == "ip6.frag_id":
            vals[name] = (s.base("frag_" + d) + t) & mask
        elif (name == "l4.sport" and step.c2s) or (name == "l4.dport" and not step.c2s):
            vals[name] = s.cport
        elif name == "tcp.seq":
            vals[name] = (s.base("isn_" + d) + t) & mask
        elif name == "tcp.ack" or name.startswith("tcp.sack"):
            if t:
                vals[name] = (s.base("isn_" + o) + t) & mask
        elif name == "tcp.tsval":
            vals[name] = (s.base("ts_" + d) + t) & mask
        elif name == "tcp.tsecr":
            if t:
                vals[name] = (s.base("ts_" + o) + t) & mask
        elif name == "dns.id":
            vals[name] = s.base("dns", 16)
        elif name == "icmp.id":
            vals[name] = s.base("icmp", 16)
        elif name == "icmp.seq":
            vals[name] = (s.base("icmpseq", 15) + t) & mask
        elif name == "gre.key":
            vals[name] = s.base("grekey") if not t >> np.uint64(16) else t
        elif name == "gre.seq":
            vals[name] = (s.base("greseq_" + d, 24) + t) & mask
    return vals


@dataclass(slots=True)
class _Pools:
    """Address pools shared by all kinds: a skewed client population, a few servers."""

    clients4: npt.NDArray[np.uint32]
    clients6: npt.NDArray[np.uint8]
    servers4: npt.NDArray[np.uint32]
    servers6: npt.NDArray[np.uint8]
    tun4: npt.NDArray[np.uint32]
    tun6_a: npt.NDArray[np.uint8]
    tun6_b: npt.NDArray[np.uint8]


def _pick(rng: np.random.Generator, pool: npt.NDArray[np.generic], n: int) -> npt.NDArray[np.generic]:
    # Cubing a uniform variate skews picks towards the head of the pool: a few heavy
    # talkers and a long tail, as in real traffic.
    idx = (rng.random(n) ** 3 * pool.shape[0]).astype(np.intp)
    picked: npt.NDArray[np.generic] = pool[idx]
    return picked


def _ttl(rng: np.random.Generator, n: int, initial: Sequence[int]) -> npt.NDArray[np.uint64]:
    init = rng.choice(np.asarray(initial, dtype=np.int64), n)
    return (init - rng.integers(1, 25, n)).astype(np.uint64)


def _sessions(kinds_: Sequence[Kind], packets: int) -> list[int]:
    """Sessions per kind so that the packet total is exactly ``packets``.

    When there is room, every kind appears at least once (small test captures still cover
    every protocol); the rounding remainder is filled with single-packet kinds.
    """
    lens = [len(k.steps) for k in kinds_]
    floor_all = packets >= 4 * sum(lens)
    least = 1 if floor_all else 0
    counts = [max(least, int(packets * k.weight / n)) for k, n in zip(kinds_, lens, strict=True)]
    total = sum(c * n for c, n in zip(counts, lens, strict=True))
    while total > packets:
        i = max((j for j in range(len(counts)) if counts[j] > least),
                key=lambda j: counts[j] * lens[j])
        counts[i] -= 1
        total -= lens[i]
    singles = sorted((i for i, n in enumerate(lens) if n == 1),
                     key=lambda i: (not kinds_[i].vary, -kinds_[i].weight))[:3]
    for i in range(packets - total):
        counts[singles[i % len(singles)]] += 1
    return counts


def generate(
    packets: int = 100_000,
    seed: int = 0,
    *,
    link: str = "ethernet",
    malformed: float = 0.02,
    start_ns: int = DEFAULT_START_NS,
    rate_pps: float = 20_000.0,
    nanosecond: bool = False,
) -> tuple[bytes, dict[str, int]]:
    """Return the pcap records (headers and frames, without the file header) and the
    number of packets written per kind."""
    if link not in LINKS:
        raise ValueError(f"unknown link {link!r}; one of {', '.join(LINKS)}")
    if not 0.0 <= malformed <= 1.0:
        raise ValueError("malformed must be a share between 0 and 1")
    rng = np.random.default_rng(seed)
    ks = kinds(link, malformed)
    counts = _sessions(ks, packets)
    npool = max(64, min(packets // 4, 200_000))
    pools = _Pools(
        clients4=_v4(rng, npool),
        clients6=_v6(rng, npool),
        servers4=_net24(SERVERS4) | rng.integers(1, 255, 32, dtype=np.uint32),
        servers6=_v6(rng, 32, _net64(SERVERS6)),
        tun4=_net24(TUNNELS4) | rng.integers(1, 255, 8, dtype=np.uint32),
        tun6_a=_v6(rng, 1, _net64(TUNNELS6)),
        tun6_b=_v6(rng, 1, _net64(TUNNELS6)),
    )
    duration_ns = int(packets / rate_pps * 1e9)
    tick = 1 if nanosecond else 1000

    blobs: list[tuple[bytes, int, npt.NDArray[np.int64], int]] = []  # records, width, ts, n
    per_kind: Counter[str] = Counter()
    for kind, n in zip(ks, counts, strict=True):
        if n == 0:
            continue
        v6 = kind.steps[0].packet[:1] and kind.steps[0].packet[0] >> 4 == 6
        sess = _Sessions(
            n=n, rng=rng, v6=bool(v6),
            client=_pick(rng, pools.clients6 if v6 else pools.clients4, n),
            server=_pick(rng, pools.servers6 if v6 else pools.servers4, n),
            tun_a=pools.tun4[rng.integers(0, 4, n)],
            tun_b=pools.tun4[rng.integers(4, 8, n)],
            cport=rng.integers(32768, 61000, n, dtype=np.uint32),
        )
        sess.bases["ttl_c"] = _ttl(rng, n, (64, 128, 255))
        sess.bases["ttl_s"] = _ttl(rng, n, (64,))
        # Inner packets of a tunnel are IPv4 even when the outer one is IPv6.
        if kind.tunnel and v6:
            sess.client = _pick(rng, pools.clients4, n)
            sess.server = _pick(rng, pools.servers4, n)
        start = start_ns + rng.integers(0, max(duration_ns, 1), n, dtype=np.int64)
        rtt = np.clip(rng.lognormal(np.log(30e6), 1.0, n), 2e5, 4e8)
        cum = 0.0
        for k, step in enumerate(kind.steps):
            cum += step.gap
            frame = _frame(kind, step, link)
            lt = LINKS[link]
            ts = (start + (cum * rtt).astype(np.int64) + k * 1000) // tick * tick
            rows = _render(kind, step, frame, lt, sess, pools)
            l3 = len(frame) - len(step.packet) if not step.whole_frame else 0
            cap = len(frame) if step.l3_caplen is None else min(len(frame), l3 + step.l3_caplen)
            hdr = P.pcap_record_headers(ts, np.full(n, cap), np.full(n, len(frame)),
                                        nanosecond=nanosecond)
            rec = np.empty((n, 16 + cap), dtype=np.uint8)
            rec[:, :16] = hdr
            rec[:, 16:] = rows[:, :cap]
            blobs.append((rec.tobytes(), 16 + cap, ts, n))
        per_kind[kind.name] += n * len(kind.steps)

    all_ts = np.concatenate([b[2] for b in blobs]) if blobs else np.empty(0, np.int64)
    order = np.argsort(all_ts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0])
    out: npt.NDArray[np.object_] = np.empty(order.shape[0], dtype=object)
    pos = 0
    for blob, width, _, n in blobs:
        out[rank[pos : pos + n]] = [blob[i : i + width] for i in range(0, n * width, width)]
        pos += n
    return b"".join(out.tolist()), dict(per_kind)


def _render(
    kind: Kind, step: Step, frame: bytes, linktype: int, sess: _Sessions, pools: _Pools
) -> npt.NDArray[np.uint8]:
    if not kind.vary:
        return np.broadcast_to(np.frombuffer(frame, np.uint8), (sess.n, len(frame)))
    lay = P.layout(frame, linktype)
    checksums = list(lay.checksums)
    udp = lay.l4_proto == P.PROTO_UDP and lay.l4_offset >= 0
    if udp and step.rest_sum is None and _read(frame, lay.l4_offset + 6, 2) == 0:
        # A UDP checksum of zero means "none" (IPv4): keep it zero.
        checksums = [c for c in checksums if c.at != lay.l4_offset + 6]
    if step.rest_sum is not None and lay.l4_proto == P.PROTO_UDP:
        udp_len = _read(frame, lay.l4_offset + 4, 2)
        const = P.PROTO_UDP + udp_len + step.rest_sum
        checksums.insert(0, P.Checksum(lay.l4_offset + 6, lay.l4_offset, lay.l4_end,
                                       lay.pseudo, const, True))
    tmpl = BatchCache.get(frame, lay.fields, checksums)
    return tmpl.render(sess.n, _values(kind, step, lay, frame, sess, pools))


class BatchCache:
    """Templates by frame, so repeated calls (tests, several files) build each once."""

    _cache: dict[bytes, P.BatchTemplate] = {}  # noqa: RUF012

    @classmethod
    def get(
        cls, frame: bytes, fields: dict[str, tuple[int, int]], checksums: Sequence[P.Checksum]
    ) -> P.BatchTemplate:
        t = cls._cache.get(frame)
        if t is None:
            t = cls._cache[frame] = P.BatchTemplate(frame, fields, checksums)
        return t


def write_mixed_pcap(
    path: str | Path,
    packets: int = 100_000,
    seed: int = 0,
    *,
    link: str = "ethernet",
    malformed: float = 0.02,
    start_ns: int = DEFAULT_START_NS,
    rate_pps: float = 20_000.0,
    nanosecond: bool = False,
) -> MixedSummary:
    """Write a reproducible mixed capture of exactly ``packets`` frames to ``path``.

    The same arguments always give the same bytes. ``link`` is one of :data:`LINKS`;
    ``malformed`` is the share of malformed and non-IP frames; packets start at
    ``start_ns`` and sessions begin at random over ``packets / rate_pps`` seconds;
    ``nanosecond`` writes a nanosecond-resolution pcap.
    """
    records, per_kind = generate(
        packets, seed, link=link, malformed=malformed, start_ns=start_ns, rate_pps=rate_pps,
        nanosecond=nanosecond,
    )
    p = Path(path)
    with p.open("wb") as f:
        f.write(P.pcap_header(LINKS[link], nanosecond=nanosecond))
        f.write(records)
    cats: Counter[str] = Counter()
    by_name = {k.name: k.category for k in kinds(link, malformed)}
    for name, c in per_kind.items():
        cats[by_name[name]] += c
    return MixedSummary(p, sum(per_kind.values()), LINKS[link], per_kind, dict(cats))
