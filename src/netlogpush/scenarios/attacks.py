"""Attack vectors: what each DDoS attack's packets look like, stamped out with numpy.

Every vector is a function ``(ctx, n) -> [(frames, count)]`` that renders ``n`` attack
packets as one or more template batches (a vector with several packet sizes or flag
combinations has one template each). The packets are ingress only, from the Internet to
the victim, as a Magic Transit network receives them; the victim's answers (SYN-ACKs to
spoofed sources, ICMP unreachables) are not part of the attack.

Sources follow the attack's mechanics:
* direct floods (UDP, SYN, ACK, RST, ICMP, GRE, fragments) come from *spoofed* addresses,
  uniformly random over public space, with random source ports and IP IDs and TTLs of
  the usual initial values minus a few hops;
* reflection and amplification (SYN-ACK, DNS, NTP, SSDP, Memcached, CHARGEN) come from a
  *pool of real reflectors* (a few thousand addresses, some much busier than others, each
  with its own fixed TTL) and from the service's well-known port, with payloads shaped
  like the real responses (NTP ``monlist``: 440 bytes; DNS ``ANY``: 1.2-1.45 kB ...);
* the DNS query flood ("water torture") comes through open resolvers, asking the victim's
  authoritative server for random subdomains of the zone it serves.

Payload sources: NTP mode 7 (RFC 1305 appendix B / ntpd ``ntp_request.h``: response bit,
``more``, version 2, mode 7, implementation 3, request 42 MON_GETLIST_1, items of 72
bytes); Memcached UDP frame header (``protocol.txt``: request ID, sequence number, total
datagrams, reserved); CHARGEN (RFC 864: 72-character lines of a rotating ASCII pattern);
SSDP (UPnP Device Architecture 1.1, §1.3.3 search response).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from netlogpush.scenarios.streams import (
    U8,
    U32,
    U64,
    Template,
    eth,
    hop_ttl,
    random_public4,
    skewed,
)
from netlogpush.testing import packets as P

#: Ethernet (14) + IPv4 without options (20): where the transport header of every attack
#: template starts, for the extra fields patched inside it.
L4 = 34
TEMPLATE_SRC, TEMPLATE_DST = "198.51.100.1", "203.0.113.10"

Frames = list[tuple[U8, int]]  # (frames, wire length; 0 = frame width)


@dataclass(slots=True)
class AttackContext:
    """What the vectors of one scenario share: randomness, victims, reflector pools."""

    rng: np.random.Generator
    victims: U32  # a packet goes to one of these, uniformly (one address, or a prefix)
    port: int  # the attacked service's port, for floods at a service
    _pools: dict[str, tuple[U32, U64]] = field(default_factory=dict)
    _junk: dict[int, bytes] = field(default_factory=dict)

    def reflectors(self, service: str, size: int) -> tuple[U32, U64]:
        """The reflector pool for ``service``: addresses and each one's fixed TTL."""
        pool = self._pools.get(service)
        if pool is None:
            addrs = random_public4(self.rng, size)
            ttls = hop_ttl(self.rng, size, (64, 64, 128, 255))
            pool = self._pools[service] = (addrs, ttls)
        return pool

    def junk(self, size: int) -> bytes:
        """Random payload bytes, fixed for the scenario (tools send one buffer over and over)."""
        b = self._junk.get(size)
        if b is None:
            b = self._junk[size] = self.rng.bytes(size)
        return b

    def split(self, n: int, weights: Sequence[float]) -> list[int]:
        w = np.asarray(weights, np.float64)
        return [int(x) for x in self.rng.multinomial(n, w / w.sum())]

    def to_victims(self, n: int) -> U32:
        picked: U32 = self.victims[self.rng.integers(0, self.victims.shape[0], n)]
        return picked

    def spoofed(self, n: int) -> dict[str, npt.ArrayLike]:
        """Addressing of a spoofed flood packet: random source, port, ID and TTL."""
        r = self.rng
        return {
            "ip.src": random_public4(r, n),
            "ip.dst": self.to_victims(n),
            "ip.id": r.integers(0, 1 << 16, n, dtype=np.uint64),
            "ip.ttl": hop_ttl(r, n, (64, 128, 255)),
            "l4.sport": r.integers(1024, 1 << 16, n, dtype=np.uint64),
            "l4.dport": np.full(n, self.port, np.uint64),
        }

    def reflected(self, service: str, size: int, n: int) -> dict[str, npt.ArrayLike]:
        """Addressing of a reflected packet: a reflector's address and TTL, to the victim's
        spoofed source port (random)."""
        addrs, ttls = self.reflectors(service, size)
        idx = skewed(self.rng, addrs.shape[0], n)
        return {
            "ip.src": addrs[idx],
            "ip.dst": self.to_victims(n),
            "ip.id": self.rng.integers(0, 1 << 16, n, dtype=np.uint64),
            "ip.ttl": ttls[idx],
            "l4.dport": self.rng.integers(1024, 1 << 16, n, dtype=np.uint64),
        }


def _ip(seg: P.Segment | bytes, **kw: object) -> bytes:
    return P.ipv4(seg, src=TEMPLATE_SRC, dst=TEMPLATE_DST, **kw)  # type: ignore[arg-type]


def _render(frame: bytes, n: int, values: dict[str, npt.ArrayLike],
            extra: dict[str, tuple[int, int]] | None = None) -> tuple[U8, int]:
    return Template.get(frame, extra).render(n, values), 0


def _window(rng: np.random.Generator, n: int) -> U64:
    return rng.integers(1024, 1 << 16, n, dtype=np.uint64)


TCP_WINDOW = {"tcp.window": (L4 + 14, 2)}


# --- direct floods -------------------------------------------------------------------------


def udp_flood(ctx: AttackContext, n: int) -> Frames:
    """Spoofed UDP to random destination ports, a fixed junk payload of three sizes."""
    out: Frames = []
    for size, m in zip((512, 1024, 1400), ctx.split(n, (0.5, 0.3, 0.2)), strict=True):
        frame = eth(_ip(P.udp(sport=1, dport=1, payload=ctx.junk(size))))
        vals = ctx.spoofed(m)
        vals["l4.dport"] = ctx.rng.integers(1, 1 << 16, m, dtype=np.uint64)
        out.append(_render(frame, m, vals))
    return out


def syn_flood(ctx: AttackContext, n: int) -> Frames:
    """Spoofed SYNs at the service port: bare ones (hping-style) and ones with the MSS,
    SACK, timestamp and window-scale options (Mirai-style), random windows."""
    bare = eth(_ip(P.tcp(sport=1, dport=ctx.port, flags=P.SYN)))
    opts = eth(_ip(P.tcp(sport=1, dport=ctx.port, flags=P.SYN, options=[
        P.mss(1460), P.sack_permitted(), P.timestamps(0, 0), P.NOP, P.wscale(6)])))
    out: Frames = []
    for frame, m in zip((bare, opts), ctx.split(n, (0.5, 0.5)), strict=True):
        vals = ctx.spoofed(m)
        vals["tcp.seq"] = ctx.rng.integers(0, 1 << 32, m, dtype=np.uint64)
        vals["tcp.tsval"] = ctx.rng.integers(0, 1 << 32, m, dtype=np.uint64)
        vals["tcp.window"] = _window(ctx.rng, m)
        out.append(_render(frame, m, vals, TCP_WINDOW))
    return out


def ack_flood(ctx: AttackContext, n: int) -> Frames:
    """Spoofed ACKs with random sequence and acknowledgement numbers: bare, or with a
    512-byte junk payload (Mirai's ``ack``)."""
    bare = eth(_ip(P.tcp(sport=1, dport=ctx.port, flags=P.ACK)))
    data = eth(_ip(P.tcp(sport=1, dport=ctx.port, flags=P.ACK | P.PSH, payload=ctx.junk(512))))
    return _tcp_flood(ctx, n, ((bare, 0.6), (data, 0.4)))


def rst_flood(ctx: AttackContext, n: int) -> Frames:
    """Spoofed RSTs and RST-ACKs with random sequence numbers."""
    rst = eth(_ip(P.tcp(sport=1, dport=ctx.port, flags=P.RST)))
    rst_ack = eth(_ip(P.tcp(sport=1, dport=ctx.port, flags=P.RST | P.ACK)))
    return _tcp_flood(ctx, n, ((rst, 0.7), (rst_ack, 0.3)))


def _tcp_flood(ctx: AttackContext, n: int, templates: Sequence[tuple[bytes, float]]) -> Frames:
    out: Frames = []
    for (frame, _), m in zip(templates, ctx.split(n, [w for _, w in templates]), strict=True):
        vals = ctx.spoofed(m)
        vals["tcp.seq"] = ctx.rng.integers(0, 1 << 32, m, dtype=np.uint64)
        vals["tcp.ack"] = ctx.rng.integers(0, 1 << 32, m, dtype=np.uint64)
        vals["tcp.window"] = _window(ctx.rng, m)
        out.append(_render(frame, m, vals, TCP_WINDOW))
    return out


def icmp_flood(ctx: AttackContext, n: int) -> Frames:
    """Spoofed echo requests, ping-sized and MTU-sized."""
    out: Frames = []
    for size, m in zip((56, 1472), ctx.split(n, (0.6, 0.4)), strict=True):
        frame = eth(_ip(P.icmp_echo(1, 1, ctx.junk(size))))
        vals = ctx.spoofed(m)
        vals["icmp.id"] = ctx.rng.integers(0, 1 << 16, m, dtype=np.uint64)
        vals["icmp.seq"] = ctx.rng.integers(0, 1 << 16, m, dtype=np.uint64)
        out.append(_render(frame, m, vals))
    return out


def gre_flood(ctx: AttackContext, n: int) -> Frames:
    """Mirai's ``greip``: GRE carrying IPv4/UDP with a 512-byte payload, spoofed outside
    and inside, the inner packet also addressed to the victim."""
    inner = P.ipv4(P.udp(sport=1, dport=1, payload=ctx.junk(512)), src=TEMPLATE_SRC,
                   dst=TEMPLATE_DST)
    frame = eth(_ip(P.gre(inner)))
    vals = ctx.spoofed(n)
    r = ctx.rng
    vals |= {
        "inner.ip.src": random_public4(r, n),
        "inner.ip.dst": vals["ip.dst"],
        "inner.ip.id": r.integers(0, 1 << 16, n, dtype=np.uint64),
        "inner.ip.ttl": np.full(n, 64, np.uint64),
        "l4.dport": r.integers(1, 1 << 16, n, dtype=np.uint64),
    }
    return [_render(frame, n, vals)]


def fragment_flood(ctx: AttackContext, n: int) -> Frames:
    """Spoofed IPv4 fragments of 2 kB UDP datagrams that never complete: first fragments
    (more-fragments set, with the UDP header) and trailing ones (offset 1480, no ports)."""
    dgram = P.udp(sport=1, dport=1, payload=ctx.junk(2000)).finalize(
        P.ip_bytes(TEMPLATE_SRC), P.ip_bytes(TEMPLATE_DST))
    first = eth(_ip(dgram[:1480], proto=P.PROTO_UDP, mf=True))
    rest = eth(_ip(dgram[1480:], proto=P.PROTO_UDP, frag_offset=1480))
    out: Frames = []
    for frame, m in zip((first, rest), ctx.split(n, (0.5, 0.5)), strict=True):
        vals = ctx.spoofed(m)
        vals["l4.dport"] = ctx.rng.integers(1, 1 << 16, m, dtype=np.uint64)
        out.append(_render(frame, m, vals))
    return out


# --- reflection and amplification ----------------------------------------------------------


def synack_reflection(ctx: AttackContext, n: int) -> Frames:
    """SYN-ACKs from web and SSH servers on the Internet, answering SYNs spoofed with the
    victim's address: random sequence and acknowledgement numbers."""
    opts = [P.mss(1460), P.NOP, P.NOP, P.sack_permitted(), P.NOP, P.wscale(7)]
    out: Frames = []
    for port, m in zip((80, 443, 22), ctx.split(n, (0.45, 0.45, 0.1)), strict=True):
        frame = eth(_ip(P.tcp(sport=port, dport=1, flags=P.SYN | P.ACK, window=65160,
                              options=opts), df=True))
        vals = ctx.reflected("tcp", 8000, m)
        vals["tcp.seq"] = ctx.rng.integers(0, 1 << 32, m, dtype=np.uint64)
        vals["tcp.ack"] = ctx.rng.integers(0, 1 << 32, m, dtype=np.uint64)
        out.append(_render(frame, m, vals))
    return out


def dns_any_response(size: int, zone: str = "example-amp.org") -> bytes:
    """A DNS response of exactly ``size`` bytes to ``ANY zone``: TXT records filling it,
    then an EDNS OPT record (DO set), as open resolvers return for amplification."""
    question = P.dns_name(zone) + struct.pack("!HH", 255, 1)
    opt = b"\x00" + struct.pack("!HHIH", 41, 4096, 0x8000, 0)
    body = b""
    count = 0
    room = size - 12 - len(question) - len(opt)
    while room > 0:
        # pointer to the question name, TXT IN, TTL, rdlength, then one <len><text> string
        text = min(255, room - 13)
        if text < 0:
            body += bytes(room)  # cannot happen for the sizes used; keep the length exact
            break
        rd = bytes([text]) + bytes((65 + i % 26) for i in range(text))
        body += struct.pack("!HHHIH", 0xC00C, 16, 1, 3600, len(rd)) + rd
        count += 1
        room -= 12 + len(rd)
    head = struct.pack("!HHHHHH", 0, 0x8180, 1, count, 0, 1)
    return head + question + body + opt


def dns_amplification(ctx: AttackContext, n: int) -> Frames:
    """``ANY`` responses of 1232 and 1452 bytes from open resolvers (source port 53)."""
    out: Frames = []
    for size, m in zip((1232, 1452), ctx.split(n, (0.4, 0.6)), strict=True):
        frame = eth(_ip(P.udp(sport=53, dport=1, payload=dns_any_response(size))))
        vals = ctx.reflected("dns", 6000, m)
        vals["dns.id"] = ctx.rng.integers(0, 1 << 16, m, dtype=np.uint64)
        out.append(_render(frame, m, vals))
    return out


#: The zone the victim's authoritative server answers for (benign queries ask it too).
FLOOD_ZONE = "example.com"
_LABEL_CHARS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", np.uint8)
LABEL_LEN = 12


def dns_query_flood(ctx: AttackContext, n: int) -> Frames:
    """Random-subdomain ("water torture") queries for ``<12 random chars>.example.com``,
    relayed by open resolvers to the victim's authoritative server."""
    # The label is a placeholder; every packet gets its own random one below.
    labels = (b"x" * LABEL_LEN, *(p.encode() for p in FLOOD_ZONE.split(".")))
    q = P.dns_query(labels, "A", txid=0, rd=False)
    frame = eth(_ip(P.udp(sport=1, dport=53, payload=q)))
    label_at = L4 + 8 + 12 + 1  # UDP header, DNS header, the label's length byte
    vals = ctx.reflected("resolvers", 3000, n)
    vals["l4.sport"] = ctx.rng.integers(1024, 1 << 16, n, dtype=np.uint64)
    vals["l4.dport"] = np.full(n, 53, np.uint64)
    vals["dns.id"] = ctx.rng.integers(0, 1 << 16, n, dtype=np.uint64)
    vals["dns.label"] = _LABEL_CHARS[ctx.rng.integers(0, _LABEL_CHARS.size, (n, LABEL_LEN))]
    return [_render(frame, n, vals, {"dns.label": (label_at, LABEL_LEN)})]


def ntp_monlist_response(rng: np.random.Generator, items: int = 6) -> bytes:
    """A ``MON_GETLIST_1`` response datagram: 8-byte mode 7 header, ``items`` x 72 bytes."""
    head = bytes([0xD7, 0x00, 0x03, 0x2A]) + struct.pack("!HH", items, 72)
    return head + rng.bytes(72 * items)


def ntp_reflection(ctx: AttackContext, n: int) -> Frames:
    """``monlist`` responses (440-byte payloads) from NTP servers' port 123."""
    frame = eth(_ip(P.udp(sport=123, dport=1, payload=ntp_monlist_response(ctx.rng))))
    return [_render(frame, n, ctx.reflected("ntp", 3000, n))]


def ssdp_response(st: str, n: int) -> bytes:
    return (
        "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nDATE: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
        "EXT:\r\nLOCATION: http://192.168.1.1:49152/rootDesc.xml\r\n"
        "SERVER: Linux/3.14 UPnP/1.0 miniupnpd/2.0\r\n"
        f"ST: {st}\r\nUSN: uuid:2f402f80-da50-11e1-9b23-00178809ea{n:02x}::{st}\r\n\r\n"
    ).encode()


def ssdp_reflection(ctx: AttackContext, n: int) -> Frames:
    """``M-SEARCH ssdp:all`` answers from home routers' port 1900: one per device type."""
    sts = ("upnp:rootdevice", "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
           "urn:schemas-upnp-org:service:WANIPConnection:1")
    out: Frames = []
    for i, (st, m) in enumerate(zip(sts, ctx.split(n, (1, 1, 1)), strict=True)):
        frame = eth(_ip(P.udp(sport=1900, dport=1, payload=ssdp_response(st, i))))
        out.append(_render(frame, m, ctx.reflected("ssdp", 5000, m)))
    return out


def memcached_reflection(ctx: AttackContext, n: int) -> Frames:
    """Memcached ``get`` answers over UDP from port 11211: a stored value of ~100 kB split
    into 1400-byte datagrams behind the 8-byte UDP frame header."""
    first = struct.pack("!HHHH", 0, 0, 72, 0) + b"VALUE a 0 100000\r\n"
    first += ctx.junk(1400 - len(first))
    rest = struct.pack("!HHHH", 0, 1, 72, 0) + ctx.junk(1392)
    extra = {"mc.request": (L4 + 8, 2), "mc.seq": (L4 + 10, 2)}
    out: Frames = []
    for payload, m in zip((first, rest), ctx.split(n, (1, 71)), strict=True):
        frame = eth(_ip(P.udp(sport=11211, dport=1, payload=payload)))
        vals = ctx.reflected("memcached", 1500, m)
        vals["mc.request"] = ctx.rng.integers(0, 1 << 16, m, dtype=np.uint64)
        if payload is rest:
            vals["mc.seq"] = ctx.rng.integers(1, 72, m, dtype=np.uint64)
        out.append(_render(frame, m, vals, extra))
    return out


def chargen_payload(lines: int, first: int = 0) -> bytes:
    """RFC 864 output: 72 printable characters per line, each line starting one later."""
    chars = bytes(range(33, 127))
    out = b""
    for i in range(lines):
        s = (first + i) % len(chars)
        out += (chars[s:] + chars[:s])[:72] + b"\r\n"
    return out


def chargen_reflection(ctx: AttackContext, n: int) -> Frames:
    """CHARGEN answers from port 19 of 5, 7 and 14 lines (370-1036 bytes)."""
    out: Frames = []
    for lines, m in zip((5, 7, 14), ctx.split(n, (0.3, 0.3, 0.4)), strict=True):
        frame = eth(_ip(P.udp(sport=19, dport=1, payload=chargen_payload(lines, lines))))
        out.append(_render(frame, m, ctx.reflected("chargen", 800, m)))
    return out


def syn_flood_lookalike(ctx: AttackContext, n: int) -> Frames:
    """Spoofed SYNs shaped like a Linux client's (same options, window, TTLs), so no
    header field tells them from the real clients' SYNs they hide among."""
    frame = eth(_ip(P.tcp(sport=1, dport=ctx.port, flags=P.SYN, window=64240, options=[
        P.mss(1460), P.sack_permitted(), P.timestamps(0, 0), P.NOP, P.wscale(7)]), df=True))
    vals = ctx.spoofed(n)
    vals["ip.ttl"] = hop_ttl(ctx.rng, n, (64, 128))
    vals["l4.sport"] = ctx.rng.integers(32768, 61000, n, dtype=np.uint64)
    vals["tcp.seq"] = ctx.rng.integers(0, 1 << 32, n, dtype=np.uint64)
    vals["tcp.tsval"] = ctx.rng.integers(0, 1 << 32, n, dtype=np.uint64)
    return [_render(frame, n, vals)]


# --- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Vector:
    """An attack vector: its name in the truth and how its packets are made."""

    slug: str
    name: str  # as Cloudflare names the vector (``AttackVector``)
    render: Callable[[AttackContext, int], Frames]
    pps: float  # default peak rate
    port: int = 0  # the attacked service port, when the vector aims at one


VECTORS: dict[str, Vector] = {v.slug: v for v in (
    Vector("udp-flood", "UDP flood", udp_flood, 100_000),
    Vector("syn-flood", "SYN flood", syn_flood, 80_000, 443),
    Vector("synack-reflection", "SYN-ACK reflection", synack_reflection, 50_000),
    Vector("ack-flood", "ACK flood", ack_flood, 80_000, 443),
    Vector("rst-flood", "RST flood", rst_flood, 50_000, 443),
    Vector("icmp-flood", "ICMP flood", icmp_flood, 50_000),
    Vector("gre-flood", "GRE flood", gre_flood, 30_000),
    Vector("dns-amplification", "DNS amplification", dns_amplification, 40_000),
    Vector("dns-query-flood", "DNS query flood", dns_query_flood, 30_000, 53),
    Vector("ntp-reflection", "NTP reflection", ntp_reflection, 40_000),
    Vector("ssdp-reflection", "SSDP reflection", ssdp_reflection, 40_000),
    Vector("memcached-reflection", "Memcached reflection", memcached_reflection, 20_000),
    Vector("chargen-reflection", "CHARGEN reflection", chargen_reflection, 30_000),
    Vector("fragment-flood", "IP fragment flood", fragment_flood, 40_000),
    Vector("syn-flood-lookalike", "SYN flood", syn_flood_lookalike, 30_000, 443),
)}  # fmt: skip


def render(vector: Vector, ctx: AttackContext, n: int) -> Frames:
    """``n`` packets of ``vector`` (possibly in several template batches)."""
    if n <= 0:
        return []
    return [(f, w) for f, w in vector.render(ctx, n) if f.shape[0]]
