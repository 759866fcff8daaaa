"""The decoder: a ``FrameBatch`` in, ``PacketColumns`` out, link layer to DNS.

Each layer decodes all the packets of the batch that reach it at once, then hands the
offsets of the next header on. A packet that is cut short or malformed keeps what was
decoded before the problem and carries a ``DecodeStatus`` naming it; nothing raises.
"""

from __future__ import annotations

import numpy as np

from netlogpush.decode.columns import PacketColumns
from netlogpush.decode.dns import dns_payloads
from netlogpush.decode.frames import FrameBatch
from netlogpush.decode.gre import decode_gre
from netlogpush.decode.icmp import decode_icmp
from netlogpush.decode.ipv4 import decode_ipv4
from netlogpush.decode.ipv6 import decode_ipv6
from netlogpush.decode.link import ETHERTYPE_IPV4, ETHERTYPE_IPV6, decode_link
from netlogpush.decode.status import DecodeStatus
from netlogpush.decode.tcp import decode_tcp
from netlogpush.decode.udp import decode_udp

PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_GRE, PROTO_ICMPV6 = 1, 6, 17, 47, 58


def decode(frames: FrameBatch) -> PacketColumns:
    n = len(frames)
    status = np.zeros(n, np.uint8)
    pc = PacketColumns(
        frames=frames,
        status=status,
        ip_version=np.zeros(n, np.uint8),
        src4=np.zeros(n, np.uint32),
        dst4=np.zeros(n, np.uint32),
        src6=np.zeros((n, 16), np.uint8),
        dst6=np.zeros((n, 16), np.uint8),
        l4=np.full(n, -1, np.int64),
    )
    if n == 0:
        return pc
    end = frames.offsets + frames.caplen.astype(np.int64)
    l3, ethertype = decode_link(frames, status)
    linked = status == DecodeStatus.OK
    proto = np.zeros(n, np.uint32)
    for ethertype_value, decode_ip in (
        (ETHERTYPE_IPV4, decode_ipv4),
        (ETHERTYPE_IPV6, decode_ipv6),
    ):
        rows = np.flatnonzero(linked & (ethertype == ethertype_value))
        if rows.size:
            pc.l4[rows], proto[rows] = decode_ip(pc, rows, l3, end)

    # The IP packet ends where its length field says, not where the frame does: Ethernet pads
    # short frames, and the padding must not be read as transport or DNS bytes.
    total = pc.get("IPTotalLength").astype(np.int64)
    jumbo = (pc.ip_version == 6) & (total == 40)  # IPv6 payload length 0: a jumbogram
    bounded = (pc.ip_version > 0) & ~jumbo & (total > 0)
    end = np.where(bounded, np.minimum(end, l3 + total), end)
    has_l4 = pc.l4 >= 0
    by_proto: dict[int, np.ndarray] = {}
    for value, decode_l4 in (
        (PROTO_TCP, decode_tcp),
        (PROTO_UDP, decode_udp),
        (PROTO_ICMP, decode_icmp),
        (PROTO_ICMPV6, decode_icmp),
        (PROTO_GRE, decode_gre),
    ):
        rows = np.flatnonzero(has_l4 & (proto == value))
        by_proto[value] = rows
        if rows.size:
            decode_l4(pc, rows, pc.l4[rows], end[rows])
    udp, tcp = by_proto[PROTO_UDP], by_proto[PROTO_TCP]
    dns_payloads(pc, udp, pc.l4[udp], tcp, pc.l4[tcp], end)
    return pc
