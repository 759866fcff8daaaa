"""A small packet builder for tests and the traffic generator.

Every layer is one function that returns bytes (or, for transports whose checksum covers an
IP pseudo-header, a :class:`Segment` that the IP layer finishes). Layers nest inside out::

    frame = ethernet(ipv4(tcp(sport=40000, dport=443, flags=SYN, options=[mss(1460)]),
                          src="198.51.100.7", dst="192.0.2.10"), ethertype=ETH_IPV4)

All lengths and checksums are computed unless overridden, so tests can build malformed
packets on purpose (``ihl=3``, ``data_offset=4``, ``checksum=0xdead``).

Why hand-written instead of scapy: scapy builds ~10k packets/s and hides field layout; the
generator needs a million packets in seconds, which it gets from :class:`BatchTemplate`
(one packet built here, then fields patched and checksums fixed for whole numpy batches).
dpkt can build packets too, but not vectorised, and we want the builder to state plainly
which bytes it writes, because the tests compare decoded fields against these inputs.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]

# --- constants ---------------------------------------------------------------------------

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_8021Q = 0x8100
ETH_IPV6 = 0x86DD
ETH_8021AD = 0x88A8
ETH_PPP = 0x880B
ETH_LLDP = 0x88CC

PROTO_HOPOPT = 0
PROTO_ICMP = 1
PROTO_IGMP = 2
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ROUTING = 43
PROTO_FRAGMENT = 44
PROTO_GRE = 47
PROTO_ICMPV6 = 58
PROTO_NONE = 59
PROTO_DSTOPTS = 60

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
#: The ninth flag bit (NS, now AE) lives in the data-offset byte.
NS = 0x100

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

#: BSD address families for DLT_NULL / DLT_LOOP. IPv6 differs between BSDs; 24 is NetBSD/
#: OpenBSD, and every reader (tshark, libpcap) accepts 24, 28 and 30.
AF_INET = 2
AF_INET6 = 24

#: DNS QTYPE values by mnemonic (RFC 1035, 3596, 6895 registry).
QTYPES: dict[str, int] = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "HINFO": 13, "MX": 15, "TXT": 16,
    "AAAA": 28, "SRV": 33, "NAPTR": 35, "DS": 43, "RRSIG": 46, "DNSKEY": 48, "SVCB": 64,
    "HTTPS": 65, "ANY": 255, "CAA": 257,
}

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"


# --- checksums and addresses -------------------------------------------------------------


def ones_sum(data: bytes | bytearray, initial: int = 0) -> int:
    """Unfolded one's-complement sum of ``data`` as big-endian 16-bit words (RFC 1071)."""
    if len(data) % 2:
        data = bytes(data) + b"\x00"
    # int.from_bytes over 16-bit words would need a loop; struct does all words in C.
    words: tuple[int, ...] = struct.unpack(f"!{len(data) // 2}H", data)
    return initial + sum(words)


def fold(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def inet_checksum(data: bytes | bytearray, initial: int = 0) -> int:
    """The Internet checksum of ``data`` (plus an already-summed ``initial``)."""
    return ~fold(ones_sum(data, initial)) & 0xFFFF


@lru_cache(maxsize=4096)
def ip_bytes(addr: str) -> bytes:
    """Packed address (4 or 16 bytes) of a textual IPv4 or IPv6 address."""
    return ipaddress.ip_address(addr).packed


def mac_bytes(mac: str) -> bytes:
    out = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(out) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return out


def _addr(a: str | bytes) -> bytes:
    return a if isinstance(a, bytes) else ip_bytes(a)


# --- link layers ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Vlan:
    """One 802.1Q/802.1ad tag. QinQ: ``[Vlan(100, tpid=ETH_8021AD), Vlan(200)]``."""

    vid: int
    pcp: int = 0
    dei: int = 0
    tpid: int = ETH_8021Q

    def pack(self) -> bytes:
        return struct.pack("!HH", self.tpid, (self.pcp << 13) | (self.dei << 12) | self.vid)


def ethernet(
    payload: bytes,
    *,
    ethertype: int,
    src: str = MAC_A,
    dst: str = MAC_B,
    vlans: Sequence[Vlan | int] = (),
    pad_to: int = 0,
) -> bytes:
    """Ethernet II frame, with VLAN tags outermost first (no FCS).

    ``pad_to=60`` adds the zero padding a NIC puts on short frames, which a decoder must
    ignore by trusting the IP length.
    """
    tags = b"".join((v if isinstance(v, Vlan) else Vlan(v)).pack() for v in vlans)
    frame = mac_bytes(dst) + mac_bytes(src) + tags + struct.pack("!H", ethertype) + payload
    if len(frame) < pad_to:
        frame += bytes(pad_to - len(frame))
    return frame


def sll(
    payload: bytes, *, protocol: int, pkttype: int = 0, hatype: int = 1, addr: str = MAC_A
) -> bytes:
    """Linux cooked capture v1 header (16 bytes): LINKTYPE_LINUX_SLL."""
    a = mac_bytes(addr)
    return struct.pack("!HHH", pkttype, hatype, len(a)) + a.ljust(8, b"\0") + struct.pack(
        "!H", protocol
    ) + payload


def sll2(
    payload: bytes,
    *,
    protocol: int,
    ifindex: int = 2,
    hatype: int = 1,
    pkttype: int = 0,
    addr: str = MAC_A,
) -> bytes:
    """Linux cooked capture v2 header (20 bytes): LINKTYPE_LINUX_SLL2."""
    a = mac_bytes(addr)
    return (
        struct.pack("!HHIHBB", protocol, 0, ifindex, hatype, pkttype, len(a))
        + a.ljust(8, b"\0")
        + payload
    )


def null_link(payload: bytes, *, family: int, big_endian: bool = False) -> bytes:
    """DLT_NULL (host order, written little-endian here) or DLT_LOOP (``big_endian``)."""
    return struct.pack(">I" if big_endian else "<I", family) + payload


def link(linktype: int, packet: bytes, *, vlans: Sequence[Vlan | int] = (), pad_to: int = 0) -> bytes:
    """Wrap an IP packet (version from its first nibble) or, for Ethernet, any payload."""
    v6 = bool(packet) and packet[0] >> 4 == 6
    proto = ETH_IPV6 if v6 else ETH_IPV4
    if linktype == LINKTYPE_ETHERNET:
        return ethernet(packet, ethertype=proto, vlans=vlans, pad_to=pad_to)
    if linktype == LINKTYPE_RAW:
        return packet
    if linktype == LINKTYPE_LINUX_SLL:
        return sll(packet, protocol=proto)
    if linktype == LINKTYPE_LINUX_SLL2:
        return sll2(packet, protocol=proto)
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        return null_link(
            packet, family=AF_INET6 if v6 else AF_INET, big_endian=linktype == LINKTYPE_LOOP
        )
    raise ValueError(f"unsupported linktype {linktype}")


def arp(
    *,
    op: int = 1,
    sha: str = MAC_A,
    spa: str = "192.0.2.1",
    tha: str = "00:00:00:00:00:00",
    tpa: str = "192.0.2.2",
) -> bytes:
    """ARP payload for Ethernet/IPv4 (ethertype ``ETH_ARP``): the decoder's non-IP case."""
    return (
        struct.pack("!HHBBH", 1, ETH_IPV4, 6, 4, op)
        + mac_bytes(sha) + ip_bytes(spa) + mac_bytes(tha) + ip_bytes(tpa)
    )


# --- transport segments --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """A transport payload of IP whose checksum the IP layer may still have to fill in.

    ``checksum_at`` is the offset of a zeroed checksum field that covers the IP
    pseudo-header (TCP, UDP, ICMPv6); ``None`` means ``data`` is final (ICMP, GRE, or an
    explicit checksum override).
    """

    proto: int
    data: bytes
    checksum_at: int | None = None
    zero_as_ffff: bool = False

    def finalize(self, src: bytes, dst: bytes) -> bytes:
        if self.checksum_at is None:
            return self.data
        pseudo = src + dst + struct.pack("!HH", self.proto, len(self.data))
        if len(src) == 16:
            pseudo = src + dst + struct.pack("!IxxxB", len(self.data), self.proto)
        csum = inet_checksum(self.data, ones_sum(pseudo))
        if csum == 0 and self.zero_as_ffff:
            csum = 0xFFFF
        at = self.checksum_at
        return self.data[:at] + struct.pack("!H", csum) + self.data[at + 2 :]


def _pad4(options: bytes) -> bytes:
    """Pad an option list with EOL (zero) bytes to a multiple of 4."""
    return options + bytes(-len(options) % 4)


# TCP options (RFC 9293, 7323, 2018)
NOP = b"\x01"
EOL = b"\x00"


def tcp_option(kind: int, data: bytes = b"", length: int | None = None) -> bytes:
    """A TCP/IP option with a length byte; ``length`` overrides it to build bad options."""
    return bytes([kind, len(data) + 2 if length is None else length]) + data


def mss(value: int) -> bytes:
    return tcp_option(2, struct.pack("!H", value))


def wscale(shift: int) -> bytes:
    return tcp_option(3, bytes([shift]))


def sack_permitted() -> bytes:
    return tcp_option(4)


def sack(blocks: Sequence[tuple[int, int]]) -> bytes:
    return tcp_option(5, b"".join(struct.pack("!II", left, right) for left, right in blocks))


def timestamps(val: int, ecr: int) -> bytes:
    return tcp_option(8, struct.pack("!II", val, ecr))


def tcp(
    *,
    sport: int,
    dport: int,
    seq: int = 0,
    ack: int = 0,
    flags: int = ACK,
    window: int = 65535,
    urg: int = 0,
    options: Sequence[bytes] = (),
    payload: bytes = b"",
    data_offset: int | None = None,
    checksum: int | None = None,
) -> Segment:
    """TCP segment. ``data_offset`` (32-bit words) overrides the computed header length."""
    opts = _pad4(b"".join(options))
    doff = (20 + len(opts)) // 4 if data_offset is None else data_offset
    off_flags = (doff << 12) | (flags & 0xFFF)  # 3 reserved bits, AE, CWR ... FIN
    head = struct.pack("!HHIIHHHH", sport, dport, seq, ack, off_flags, window, checksum or 0, urg)
    data = head + opts + payload
    return Segment(PROTO_TCP, data, None if checksum is not None else 16)


def udp(
    *,
    sport: int,
    dport: int,
    payload: bytes = b"",
    length: int | None = None,
    checksum: int | None = None,
) -> Segment:
    """UDP datagram; a computed checksum of 0 is sent as 0xFFFF (RFC 768)."""
    ln = 8 + len(payload) if length is None else length
    data = struct.pack("!HHHH", sport, dport, ln, checksum or 0) + payload
    return Segment(PROTO_UDP, data, None if checksum is not None else 6, zero_as_ffff=True)


def icmp(*, type: int, code: int = 0, rest: bytes = b"\0\0\0\0", payload: bytes = b"") -> Segment:
    """ICMPv4 message; the checksum covers the message only."""
    body = struct.pack("!BBH", type, code, 0) + rest + payload
    csum = inet_checksum(body)
    return Segment(PROTO_ICMP, body[:2] + struct.pack("!H", csum) + body[4:])


def icmp_echo(ident: int, seq: int, payload: bytes = b"", *, reply: bool = False) -> Segment:
    return icmp(type=0 if reply else 8, rest=struct.pack("!HH", ident, seq), payload=payload)


def icmpv6(*, type: int, code: int = 0, body: bytes = b"\0\0\0\0") -> Segment:
    """ICMPv6 message; its checksum covers the IPv6 pseudo-header."""
    return Segment(PROTO_ICMPV6, struct.pack("!BBH", type, code, 0) + body, 2)


def icmpv6_echo(ident: int, seq: int, payload: bytes = b"", *, reply: bool = False) -> Segment:
    return icmpv6(type=129 if reply else 128, body=struct.pack("!HH", ident, seq) + payload)


def gre(
    payload: bytes,
    *,
    proto: int = ETH_IPV4,
    checksum: bool = False,
    key: int | None = None,
    seq: int | None = None,
    version: int = 0,
    ack: int | None = None,
) -> Segment:
    """GRE header (RFC 2784/2890; version 1 is PPTP's enhanced GRE with ``ack``).

    With ``checksum`` the C bit is set and the checksum covers GRE header and payload.
    """
    flags = (0x8000 if checksum else 0) | (0x2000 if key is not None else 0)
    flags |= 0x1000 if seq is not None else 0
    flags |= 0x0080 if ack is not None else 0
    flags |= version & 7
    head = struct.pack("!HH", flags, proto)
    if checksum:
        head += b"\0\0\0\0"  # checksum + reserved1
    if key is not None:
        head += struct.pack("!I", key)
    if seq is not None:
        head += struct.pack("!I", seq)
    if ack is not None:
        head += struct.pack("!I", ack)
    data = head + payload
    if checksum:
        data = data[:4] + struct.pack("!H", inet_checksum(data)) + data[6:]
    return Segment(PROTO_GRE, data)


# --- IPv4 ----------------------------------------------------------------------------------


def ipv4_option(kind: int, data: bytes = b"", length: int | None = None) -> bytes:
    return tcp_option(kind, data, length)


def record_route(slots: int = 9, filled: Sequence[str] = ()) -> bytes:
    """Record Route (type 7) with ``slots`` address slots, the first ``filled`` used."""
    addrs = b"".join(ip_bytes(a) for a in filled).ljust(4 * slots, b"\0")
    return ipv4_option(7, bytes([4 + 4 * len(filled)]) + addrs)


def router_alert(value: int = 0) -> bytes:
    """Router Alert (type 148, RFC 2113)."""
    return ipv4_option(148, struct.pack("!H", value))


def ipv4(
    payload: bytes | Segment,
    *,
    src: str | bytes,
    dst: str | bytes,
    proto: int | None = None,
    ttl: int = 64,
    ident: int = 0,
    df: bool = False,
    mf: bool = False,
    evil: bool = False,
    frag_offset: int = 0,
    dscp: int = 0,
    ecn: int = 0,
    options: bytes = b"",
    ihl: int | None = None,
    total_length: int | None = None,
    checksum: int | None = None,
) -> bytes:
    """IPv4 packet. ``frag_offset`` is in BYTES (a multiple of 8), as tshark shows it.

    Options are padded with EOL to a multiple of 4; ``ihl`` (32-bit words),
    ``total_length`` and ``checksum`` override the computed values.
    """
    if frag_offset % 8:
        raise ValueError("fragment offset must be a multiple of 8 bytes")
    s, d = _addr(src), _addr(dst)
    if isinstance(payload, Segment):
        proto = payload.proto if proto is None else proto
        body = payload.finalize(s, d)
    else:
        body = payload
    if proto is None:
        raise ValueError("proto is required for a bytes payload")
    opts = _pad4(options)
    hl = (20 + len(opts)) // 4 if ihl is None else ihl
    tl = 20 + len(opts) + len(body) if total_length is None else total_length
    frag = (0x8000 if evil else 0) | (0x4000 if df else 0) | (0x2000 if mf else 0)
    frag |= frag_offset // 8
    head = struct.pack(
        "!BBHHHBBH4s4s", 0x40 | (hl & 0xF), (dscp << 2) | ecn, tl, ident, frag, ttl, proto, 0, s, d
    ) + opts
    csum = inet_checksum(head) if checksum is None else checksum
    return head[:10] + struct.pack("!H", csum) + head[12:] + body


# --- IPv6 ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ext:
    """One IPv6 extension header; ``body`` excludes the next-header byte."""

    kind: int
    body: bytes
    final_dst: bytes | None = None  # a routing header's last address, for pseudo-headers


def _tlv_ext(kind: int, options: bytes) -> Ext:
    # next header (1) + hdr ext len (1) + options, padded with PadN to a multiple of 8.
    pad = -(2 + len(options)) % 8
    if pad == 1:
        options += b"\x00"  # Pad1
    elif pad:
        options += bytes([1, pad - 2]) + bytes(pad - 2)
    return Ext(kind, bytes([(2 + len(options)) // 8 - 1]) + options)


def hop_by_hop(options: bytes = b"\x05\x02\x00\x00") -> Ext:
    """Hop-by-hop options (0); the default option is a Router Alert (MLD)."""
    return _tlv_ext(PROTO_HOPOPT, options)


def dest_opts(options: bytes = b"") -> Ext:
    """Destination options (60); empty means padding only."""
    return _tlv_ext(PROTO_DSTOPTS, options)


def routing(addresses: Sequence[str], *, rtype: int = 0, segments_left: int | None = None) -> Ext:
    """Routing header (43), type 0/2 layout: reserved word then addresses."""
    addrs = b"".join(ip_bytes(a) for a in addresses)
    left = len(addresses) if segments_left is None else segments_left
    body = bytes([2 * len(addresses), rtype, left]) + b"\0\0\0\0" + addrs
    return Ext(PROTO_ROUTING, body, addrs[-16:] if addrs and left else None)


def fragment(*, offset: int = 0, more: bool = False, ident: int = 0) -> Ext:
    """Fragment header (44). ``offset`` in bytes (multiple of 8)."""
    if offset % 8:
        raise ValueError("fragment offset must be a multiple of 8 bytes")
    return Ext(PROTO_FRAGMENT, struct.pack("!BHI", 0, offset | int(more), ident))


def ipv6(
    payload: bytes | Segment,
    *,
    src: str | bytes,
    dst: str | bytes,
    next_header: int | None = None,
    hop_limit: int = 64,
    tclass: int = 0,
    flow_label: int = 0,
    ext: Sequence[Ext] = (),
    payload_length: int | None = None,
) -> bytes:
    """IPv6 packet with extension headers in the order given (next-header chain computed)."""
    s, d = _addr(src), _addr(dst)
    final = d
    for e in ext:
        if e.final_dst is not None:
            final = e.final_dst
    if isinstance(payload, Segment):
        next_header = payload.proto if next_header is None else next_header
        body = payload.finalize(s, final)
    else:
        body = payload
    if next_header is None:
        raise ValueError("next_header is required for a bytes payload")
    chain = b""
    for i, e in enumerate(ext):
        nxt = ext[i + 1].kind if i + 1 < len(ext) else next_header
        chain += bytes([nxt]) + e.body
    first = ext[0].kind if ext else next_header
    plen = len(chain) + len(body) if payload_length is None else payload_length
    vtf = (6 << 28) | (tclass << 20) | flow_label
    return struct.pack("!IHBB16s16s", vtf, plen, first, hop_limit, s, d) + chain + body


# --- DNS -----------------------------------------------------------------------------------


def dns_name(name: str | Sequence[bytes]) -> bytes:
    """Wire form of a name: a dotted string (``"."`` is the root) or explicit raw labels."""
    if isinstance(name, str):
        labels = [lb.encode("latin-1") for lb in name.rstrip(".").split(".")] if name != "." else []
        labels = [lb for lb in labels if lb] if name != "." else []
    else:
        labels = list(name)
    return b"".join(bytes([len(lb)]) + lb for lb in labels) + b"\x00"


def qtype_value(qtype: str | int) -> int:
    return qtype if isinstance(qtype, int) else QTYPES[qtype]


def dns_query(
    name: str | Sequence[bytes], qtype: str | int = "A", *, txid: int = 0x1234, rd: bool = True
) -> bytes:
    """A DNS query message with one question (class IN)."""
    flags = 0x0100 if rd else 0
    return (
        struct.pack("!HHHHHH", txid, flags, 1, 0, 0, 0)
        + dns_name(name)
        + struct.pack("!HH", qtype_value(qtype), 1)
    )


def dns_response(
    name: str | Sequence[bytes], qtype: str | int = "A", *, txid: int = 0x1234, rdata: bytes = b""
) -> bytes:
    """A response echoing the question with one answer whose owner is a pointer to it."""
    qt = qtype_value(qtype)
    msg = (
        struct.pack("!HHHHHH", txid, 0x8180, 1, 1 if rdata else 0, 0, 0)
        + dns_name(name)
        + struct.pack("!HH", qt, 1)
    )
    if rdata:
        msg += struct.pack("!HHHIH", 0xC00C, qt, 1, 300, len(rdata)) + rdata
    return msg


def dns_tcp(message: bytes) -> bytes:
    """DNS over TCP: the message behind its 2-byte length prefix (RFC 1035 §4.2.2)."""
    return struct.pack("!H", len(message)) + message


# --- pcap writing --------------------------------------------------------------------------

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D


def pcap_header(linktype: int, *, snaplen: int = 262144, nanosecond: bool = False) -> bytes:
    """Classic pcap global header (little-endian, version 2.4)."""
    magic = PCAP_MAGIC_NS if nanosecond else PCAP_MAGIC_US
    return struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def pcap_record_header(ts_ns: int, caplen: int, wirelen: int, *, nanosecond: bool = False) -> bytes:
    sec, frac = divmod(ts_ns, 1_000_000_000)
    return struct.pack("<IIII", sec, frac if nanosecond else frac // 1000, caplen, wirelen)


def pcap_record_headers(
    ts_ns: npt.NDArray[np.int64],
    caplen: npt.NDArray[np.integer],
    wirelen: npt.NDArray[np.integer],
    *,
    nanosecond: bool = False,
) -> U8:
    """Record headers for many packets at once, as an ``(n, 16)`` uint8 array."""
    n = ts_ns.shape[0]
    h = np.empty((n, 4), dtype="<u4")
    h[:, 0] = ts_ns // 1_000_000_000
    frac = ts_ns % 1_000_000_000
    h[:, 1] = frac if nanosecond else frac // 1000
    h[:, 2] = caplen
    h[:, 3] = wirelen
    return h.view(np.uint8).reshape(n, 16)


class PcapWriter:
    """Writes classic pcap: ``with PcapWriter(path, LINKTYPE_ETHERNET) as w: w.write(f, ts)``."""

    def __init__(
        self,
        dest: str | Path | BinaryIO,
        linktype: int,
        *,
        snaplen: int = 262144,
        nanosecond: bool = False,
    ) -> None:
        self._own = isinstance(dest, str | Path)
        self._f: BinaryIO = open(dest, "wb") if isinstance(dest, str | Path) else dest  # noqa: SIM115
        self.nanosecond = nanosecond
        self.snaplen = snaplen
        self._f.write(pcap_header(linktype, snaplen=snaplen, nanosecond=nanosecond))

    def write(self, frame: bytes, ts_ns: int = 0, *, wirelen: int | None = None) -> None:
        """Write one frame; a frame longer than the snaplen is cut, keeping its wire length."""
        wl = len(frame) if wirelen is None else wirelen
        frame = frame[: self.snaplen]
        self._f.write(pcap_record_header(ts_ns, len(frame), wl, nanosecond=self.nanosecond))
        self._f.write(frame)

    def write_raw(self, records: bytes) -> None:
        """Append already-encoded record headers and frames (the generator's bulk path)."""
        self._f.write(records)

    def close(self) -> None:
        if self._own:
            self._f.close()
        else:
            self._f.flush()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def write_pcap(
    path: str | Path,
    frames: Iterable[bytes | tuple[bytes, int] | tuple[bytes, int, int]],
    linktype: int = LINKTYPE_ETHERNET,
    *,
    nanosecond: bool = False,
    snaplen: int = 262144,
    start_ns: int = 1_700_000_000_000_000_000,
    step_ns: int = 1_000_000,
) -> int:
    """Write frames to ``path``; each item is a frame, ``(frame, ts_ns)`` or
    ``(frame, ts_ns, wirelen)``. Frames without a timestamp get ``start_ns + i * step_ns``.
    Returns the number of frames written."""
    n = 0
    with PcapWriter(path, linktype, snaplen=snaplen, nanosecond=nanosecond) as w:
        for i, item in enumerate(frames):
            if isinstance(item, bytes | bytearray):
                w.write(bytes(item), start_ns + i * step_ns)
            elif len(item) == 2:
                w.write(item[0], item[1])
            else:
                w.write(item[0], item[1], wirelen=item[2])
            n += 1
    return n


# --- batch templates -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checksum:
    """Where a 16-bit Internet checksum lives and what it covers, in frame offsets.

    ``pseudo`` are frame ranges (the IP addresses) summed as a pseudo-header; ``const`` is
    the sum of every other constant word (protocol, length, data outside this frame).
    """

    at: int
    start: int
    end: int
    pseudo: tuple[tuple[int, int], ...] = ()
    const: int = 0
    zero_as_ffff: bool = False


@dataclass(slots=True)
class _Prepared:
    spec: Checksum
    static: int
    positions: npt.NDArray[np.intp]
    weights: npt.NDArray[np.uint64]


_BE = {1: ">u1", 2: ">u2", 4: ">u4", 8: ">u8"}


class BatchTemplate:
    """One packet, stamped out ``n`` times with some fields replaced per copy.

    Checksums are updated incrementally: the sum over the bytes that never change is
    computed once, and per copy only the replaced bytes are added, so the cost does not grow
    with the payload size. ``checksums`` must be listed inner first (TCP before IPv4, inner
    IPv4 before an outer GRE checksum) because an earlier checksum is a changing byte for a
    later one.
    """

    def __init__(
        self,
        frame: bytes,
        fields: Mapping[str, tuple[int, int]],
        checksums: Sequence[Checksum] = (),
    ) -> None:
        self.frame = frame
        self.template: U8 = np.frombuffer(frame, dtype=np.uint8).copy()
        self.fields = dict(fields)
        for name, (off, width) in self.fields.items():
            if off < 0 or off + width > len(frame):
                raise ValueError(f"field {name} at {off}+{width} is outside the frame")
        dynamic: set[int] = set()
        for off, width in self.fields.values():
            dynamic.update(range(off, off + width))
        self._prepared: list[_Prepared] = []
        for spec in checksums:
            own = {spec.at, spec.at + 1}
            static_frame = bytearray(frame)
            for p in dynamic | own:
                static_frame[p] = 0
            static = ones_sum(bytes(static_frame[spec.start : spec.end]), spec.const)
            pos: list[int] = []
            wts: list[int] = []
            for p in sorted(dynamic - own):
                if spec.start <= p < spec.end:
                    pos.append(p)
                    wts.append(256 if (p - spec.start) % 2 == 0 else 1)
            for rs, re in spec.pseudo:
                static = ones_sum(bytes(static_frame[rs:re]), static)
                for p in sorted(dynamic):
                    if rs <= p < re:
                        pos.append(p)
                        wts.append(256 if (p - rs) % 2 == 0 else 1)
            self._prepared.append(
                _Prepared(spec, static, np.asarray(pos, np.intp), np.asarray(wts, np.uint64))
            )
            dynamic |= own

    def __len__(self) -> int:
        return len(self.frame)

    def render(self, n: int, values: Mapping[str, npt.ArrayLike]) -> U8:
        """Return an ``(n, len)`` array of frames with ``values`` written and checksums fixed.

        A value is a scalar, a length-``n`` integer array (written big-endian), or an
        ``(n, width)`` uint8 array (for 16-byte IPv6 addresses).
        """
        out: U8 = np.empty((n, len(self.frame)), dtype=np.uint8)
        out[:] = self.template
        for name, val in values.items():
            off, width = self.fields[name]
            arr = np.asarray(val)
            if arr.ndim == 2:
                out[:, off : off + width] = arr
            elif width in _BE:
                be = np.broadcast_to(arr, (n,)).astype(_BE[width])
                out[:, off : off + width] = be.view(np.uint8).reshape(n, width)
            else:
                raise ValueError(f"field {name}: width {width} needs an (n, {width}) array")
        for prep in self._prepared:
            total = np.full(n, prep.static, dtype=np.uint64)
            if prep.positions.size:
                total += out[:, prep.positions].astype(np.uint64) @ prep.weights
            for _ in range(3):
                total = (total & np.uint64(0xFFFF)) + (total >> np.uint64(16))
            csum = (~total) & np.uint64(0xFFFF)
            if prep.spec.zero_as_ffff:
                csum[csum == 0] = 0xFFFF
            out[:, prep.spec.at] = (csum >> np.uint64(8)).astype(np.uint8)
            out[:, prep.spec.at + 1] = (csum & np.uint64(0xFF)).astype(np.uint8)
        return out


@dataclass(slots=True)
class Layout:
    """Offsets of the fields the generator varies, found by walking a frame we built."""

    fields: dict[str, tuple[int, int]] = field(default_factory=dict)
    checksums: list[Checksum] = field(default_factory=list)
    l4_proto: int = -1
    fragmented: bool = False
    #: Innermost transport header: frame offset, end (by the IP lengths), pseudo-header ranges.
    l4_offset: int = -1
    l4_end: int = -1
    pseudo: tuple[tuple[int, int], ...] = ()


def _link_offset(frame: bytes, linktype: int) -> tuple[int, int]:
    """(offset of the network header, ethertype) for a well-formed frame."""
    if linktype == LINKTYPE_ETHERNET:
        off, et = 12, struct.unpack_from("!H", frame, 12)[0]
        while et in (ETH_8021Q, ETH_8021AD):
            off += 4
            et = struct.unpack_from("!H", frame, off)[0]
        return off + 2, et
    if linktype == LINKTYPE_LINUX_SLL:
        return 16, struct.unpack_from("!H", frame, 14)[0]
    if linktype == LINKTYPE_LINUX_SLL2:
        return 20, struct.unpack_from("!H", frame, 0)[0]
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        return 4, ETH_IPV6 if frame[4] >> 4 == 6 else ETH_IPV4
    if linktype == LINKTYPE_RAW:
        return 0, ETH_IPV6 if frame[0] >> 4 == 6 else ETH_IPV4
    raise ValueError(f"unsupported linktype {linktype}")


def layout(frame: bytes, linktype: int = LINKTYPE_ETHERNET) -> Layout:
    """Walk a frame made by this module and return where its variable fields are.

    Field names: ``ip.src``, ``ip.dst``, ``ip.id``, ``ip.ttl`` (IPv4) or ``ip6.vtf`` (the
    version/class/flow word), ``ip6.hlim``, ``ip6.frag_id``; ``inner.*`` for the IPv4 packet
    inside GRE; ``gre.key``, ``gre.seq``; ``l4.sport``, ``l4.dport``, ``tcp.seq``,
    ``tcp.ack``, ``tcp.tsval``, ``tcp.tsecr``, ``tcp.sack0``.. (SACK edges); ``icmp.id``, ``icmp.seq``; ``dns.id``. A
    fragment's transport checksum is not listed (it spans other frames).
    """
    lay = Layout()
    off, et = _link_offset(frame, linktype)
    prefix = ""
    outer: list[Checksum] = []
    ip_csum: Checksum | None = None
    while True:
        if et == ETH_IPV4:
            hl = (frame[off] & 0xF) * 4
            tl = struct.unpack_from("!H", frame, off + 2)[0]
            fr = struct.unpack_from("!H", frame, off + 6)[0]
            proto = frame[off + 9]
            lay.fields |= {
                prefix + "ip.id": (off + 4, 2),
                prefix + "ip.ttl": (off + 8, 1),
                prefix + "ip.src": (off + 12, 4),
                prefix + "ip.dst": (off + 16, 4),
            }
            ip_csum = Checksum(off + 10, off, off + hl)
            pseudo: tuple[tuple[int, int], ...] = ((off + 12, off + 20),)
            l4 = off + hl
            l4_len = tl - hl
            frag = bool(fr & 0x3FFF)
            first_fragment = fr & 0x1FFF == 0
        elif et == ETH_IPV6:
            lay.fields |= {
                prefix + "ip6.vtf": (off, 4),
                prefix + "ip6.hlim": (off + 7, 1),
                prefix + "ip.src": (off + 8, 16),
                prefix + "ip.dst": (off + 24, 16),
            }
            ip_csum = None
            first_fragment = True
            pseudo = ((off + 8, off + 40),)
            proto = frame[off + 6]
            l4 = off + 40
            l4_len = struct.unpack_from("!H", frame, off + 4)[0]
            frag = False
            while proto in (PROTO_HOPOPT, PROTO_ROUTING, PROTO_FRAGMENT, PROTO_DSTOPTS):
                nxt, hlen = frame[l4], (frame[l4 + 1] + 1) * 8
                if proto == PROTO_FRAGMENT:
                    hlen = 8
                    lay.fields[prefix + "ip6.frag_id"] = (l4 + 4, 4)
                    fo = struct.unpack_from("!H", frame, l4 + 2)[0]
                    # An atomic fragment (offset 0, M=0) is a whole datagram.
                    frag = frag or fo != 0
                    first_fragment = fo >> 3 == 0
                if proto == PROTO_ROUTING and frame[l4 + 3]:
                    pseudo = ((off + 8, off + 24), (l4 + hlen - 16, l4 + hlen))
                l4 += hlen
                l4_len -= hlen
                proto = nxt
        else:
            return lay
        end = l4 + l4_len
        lay.l4_proto = proto
        lay.l4_offset, lay.l4_end, lay.pseudo = l4, end, pseudo
        lay.fragmented = lay.fragmented or frag
        csums: list[Checksum] = []
        if proto == PROTO_GRE and not frag:
            gflags = struct.unpack_from("!H", frame, l4)[0]
            g = l4 + 4
            gre_csum = None
            if gflags & 0x8000:
                gre_csum = Checksum(g, l4, end)
                g += 4
            if gflags & 0x2000:
                lay.fields["gre.key"] = (g, 4)
                g += 4
            if gflags & 0x1000:
                lay.fields["gre.seq"] = (g, 4)
                g += 4
            inner_et = struct.unpack_from("!H", frame, l4 + 2)[0]
            if prefix or inner_et not in (ETH_IPV4, ETH_IPV6):
                break
            # The GRE and outer IPv4 checksums are outside the inner packet's (and the GRE
            # one covers it), so they are computed after the inner ones.
            outer = [c for c in (gre_csum, ip_csum) if c is not None]
            off, et, prefix = g, inner_et, "inner."
            continue
        if proto in (PROTO_TCP, PROTO_UDP) and first_fragment:
            lay.fields |= {"l4.sport": (l4, 2), "l4.dport": (l4 + 2, 2)}
            sport, dport = struct.unpack_from("!HH", frame, l4)
        if proto == PROTO_TCP and first_fragment:
            lay.fields |= {"tcp.seq": (l4 + 4, 4), "tcp.ack": (l4 + 8, 4)}
            doff = (frame[l4 + 12] >> 4) * 4
            o = l4 + 20
            while o < l4 + doff:
                kind = frame[o]
                if kind == 0:
                    break
                if kind == 1:
                    o += 1
                    continue
                if kind == 8:
                    lay.fields |= {"tcp.tsval": (o + 2, 4), "tcp.tsecr": (o + 6, 4)}
                if kind == 5:
                    for i in range((frame[o + 1] - 2) // 4):
                        lay.fields[f"tcp.sack{i}"] = (o + 2 + 4 * i, 4)
                o += frame[o + 1]
            if not frag:
                csums.append(Checksum(l4 + 16, l4, end, pseudo, PROTO_TCP + l4_len))
            if 53 in (sport, dport) and end - (l4 + doff) >= 4:
                lay.fields["dns.id"] = (l4 + doff + 2, 2)
        elif proto == PROTO_UDP and first_fragment:
            if not frag:
                csums.append(Checksum(l4 + 6, l4, end, pseudo, PROTO_UDP + l4_len, True))
            if 53 in (sport, dport):
                lay.fields["dns.id"] = (l4 + 8, 2)
        elif proto in (PROTO_ICMP, PROTO_ICMPV6) and not frag:
            if frame[l4] in (0, 8, 128, 129):
                lay.fields |= {"icmp.id": (l4 + 4, 2), "icmp.seq": (l4 + 6, 2)}
            if proto == PROTO_ICMP:
                csums.append(Checksum(l4 + 2, l4, end))
            else:
                csums.append(Checksum(l4 + 2, l4, end, pseudo, PROTO_ICMPV6 + l4_len))
        if ip_csum is not None:
            csums.append(ip_csum)
        lay.checksums = csums + outer
        return lay
    lay.checksums = [c for c in (ip_csum,) if c is not None]
    return lay
