"""Baseline for bench_decode.py: the same header fields, decoded the usual way with dpkt.

One Python object per layer per packet and one dict per record: the straightforward
implementation that netlogpush's vectorised decoder is measured against. It extracts the
fields netlogpush's decoder fills (addresses, IP/IPv6 header fields and option lists, TCP
with its options, UDP, ICMP, GRE, the first DNS question of queries to port 53), so both do
comparable work. Used only by the benchmark; it is not a second decoder to maintain.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path
from typing import Any

import dpkt

LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_SLL, LINKTYPE_SLL2 = 1, 101, 113, 276
LINKTYPE_NULL, LINKTYPE_LOOP = 0, 108
EXT_ORDER = (0, 60, 43, 44, 51, 50, 135)


def _options(raw: bytes) -> list[tuple[int, bytes]]:
    """Kind/data pairs of an IPv4 or TCP option list; stops at EOL or a bad length."""
    out, i = [], 0
    while i < len(raw):
        kind = raw[i]
        if kind in (0, 1):
            out.append((kind, b""))
            i += 1
            if kind == 0:
                break
            continue
        if i + 1 >= len(raw) or raw[i + 1] < 2 or i + raw[i + 1] > len(raw):
            break
        out.append((kind, raw[i + 2 : i + raw[i + 1]]))
        i += raw[i + 1]
    return out


def _network(buf: bytes, linktype: int) -> dpkt.Packet | None:
    if linktype == LINKTYPE_ETHERNET:
        eth = dpkt.ethernet.Ethernet(buf)
        return eth.data if isinstance(eth.data, dpkt.ip.IP | dpkt.ip6.IP6) else None
    if linktype == LINKTYPE_SLL:
        pkt = dpkt.sll.SLL(buf).data
    elif linktype == LINKTYPE_SLL2:
        pkt = dpkt.sll2.SLL2(buf).data
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        pkt = dpkt.loopback.Loopback(buf).data
    else:
        pkt = buf
    if isinstance(pkt, bytes) and pkt:
        pkt = dpkt.ip.IP(pkt) if pkt[0] >> 4 == 4 else dpkt.ip6.IP6(pkt)
    return pkt if isinstance(pkt, dpkt.ip.IP | dpkt.ip6.IP6) else None


def decode_frame(buf: bytes, linktype: int) -> dict[str, Any] | None:
    """The record fields of one frame, or ``None`` when it has no decodable IP header."""
    try:
        ip = _network(buf, linktype)
    except (dpkt.UnpackError, struct.error, IndexError):
        return None
    if ip is None:
        return None
    r: dict[str, Any] = {}
    if isinstance(ip, dpkt.ip.IP):
        r["IPSourceAddress"] = socket.inet_ntop(socket.AF_INET, ip.src)
        r["IPDestinationAddress"] = socket.inet_ntop(socket.AF_INET, ip.dst)
        r["IPProtocol"] = ip.p
        r["IPTTL"] = ip.ttl
        r["IPTotalLength"] = ip.len
        r["IPHeaderLength"] = ip.hl * 4
        r["IPv4Identification"] = ip.id
        r["IPv4DontFragment"] = int(ip.df)
        r["IPMoreFragments"] = int(ip.mf)
        r["IPFragmentOffset"] = ip.offset
        r["IPv4DSCP"] = ip.tos >> 2
        r["IPv4ECN"] = ip.tos & 3
        r["IPv4Checksum"] = ip.sum
        r["IPv4Options"] = ",".join(str(k) for k, _ in _options(ip.opts))
        first = ip.offset == 0
    else:
        r["IPSourceAddress"] = socket.inet_ntop(socket.AF_INET6, ip.src)
        r["IPDestinationAddress"] = socket.inet_ntop(socket.AF_INET6, ip.dst)
        r["IPProtocol"] = ip.p
        r["IPTTL"] = ip.hlim
        r["IPTotalLength"] = ip.plen + 40
        r["IPv6DSCP"] = ip.fc >> 2
        r["IPv6ECN"] = ip.fc & 3
        r["IPv6FlowLabel"] = ip.flow
        exts = getattr(ip, "all_extension_headers", [])
        r["IPv6ExtensionHeaders"] = ",".join(str(e.nxt) for e in exts)
        r["IPHeaderLength"] = 40 + sum(len(e) for e in exts)
        first = True
        for e in exts:
            if isinstance(e, dpkt.ip6.IP6FragmentHeader):
                r["IPv6Identification"] = e.id
                r["IPFragmentOffset"] = e.frag_off * 8
                r["IPMoreFragments"] = e.m_flag
                first = e.frag_off == 0
    l4 = ip.data
    if not first:
        return r
    if isinstance(l4, dpkt.tcp.TCP):
        r["SourcePort"], r["DestinationPort"] = l4.sport, l4.dport
        r["TCPSequenceNumber"], r["TCPAcknowledgementNumber"] = l4.seq, l4.ack
        r["TCPDataOffset"] = l4.off * 4
        r["TCPFlags"] = l4.flags
        r["TCPWindowSize"], r["TCPChecksum"], r["TCPUrgentPointer"] = l4.win, l4.sum, l4.urp
        opts = _options(l4.opts)
        r["TCPOptions"] = ",".join(str(k) for k, _ in opts)
        for kind, data in opts:
            if kind == 2 and len(data) == 2:
                r.setdefault("TCPMSS", struct.unpack("!H", data)[0])
            elif kind == 3 and len(data) == 1:
                r.setdefault("TCPWindowScale", data[0])
            elif kind == 4:
                r["TCPSACKPermitted"] = 1
            elif kind == 8 and len(data) == 8:
                r["TCPTimestampValue"], r["TCPTimestampECR"] = struct.unpack("!II", data)
            elif kind == 5:
                edges = struct.unpack(f"!{len(data) // 4}I", data[: len(data) // 4 * 4])
                r["TCPSACKBlocks"] = ",".join(map(str, edges))
        if l4.dport == 53 and len(l4.data) > 2:
            _dns(r, l4.data[2:])
    elif isinstance(l4, dpkt.udp.UDP):
        r["SourcePort"], r["DestinationPort"] = l4.sport, l4.dport
        r["UDPChecksum"] = l4.sum
        r["UDPPayloadLength"] = max(l4.ulen - 8, 0)
        if l4.dport == 53:
            _dns(r, l4.data)
    elif isinstance(l4, dpkt.icmp.ICMP | dpkt.icmp6.ICMP6):
        r["ICMPType"], r["ICMPCode"], r["ICMPChecksum"] = l4.type, l4.code, l4.sum
    elif isinstance(l4, dpkt.gre.GRE):
        r["GREVersion"] = l4.v
        r["GREEtherType"] = l4.p
        r["GREKey"] = getattr(l4, "key", 0)
        r["GRESequenceNumber"] = getattr(l4, "seq", 0)
        r["GREChecksum"] = getattr(l4, "sum", 0)
        r["GREHeaderLength"] = len(l4) - len(l4.data)
    return r


def _dns(r: dict[str, Any], payload: bytes) -> None:
    try:
        msg = dpkt.dns.DNS(payload)
    except (dpkt.UnpackError, struct.error, IndexError):
        return
    if msg.qr == dpkt.dns.DNS_Q and msg.qd:
        r["DNSQueryName"] = msg.qd[0].name
        r["DNSQueryType"] = msg.qd[0].type


def decode_file(path: Path, limit: int | None = None) -> tuple[int, int]:
    """Decode up to ``limit`` frames; return (frames read, records made)."""
    frames = records = 0
    with path.open("rb") as f:
        reader = dpkt.pcap.Reader(f)
        linktype = reader.datalink()
        for _, buf in reader:
            frames += 1
            if decode_frame(buf, linktype) is not None:
                records += 1
            if limit is not None and frames >= limit:
                break
    return frames, records
