"""Traffic classes: which managed rule a packet can trigger, by protocol, flags and port.

Each packet gets exactly one class, from lookup tables (no per-packet branching): the
heavy-hitter counters key destinations by (destination, class), so a SYN flood and the web
traffic of the same server are counted apart and a busy server does not look like a flood
of everything at once.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]


class TrafficClass(IntEnum):
    NONE = 0  # not an IP packet, or not seen by dosd
    FRAGMENT = 1  # an IP fragment, first (more-fragments set) or not
    NTP = 2  # UDP source port 123
    SSDP = 3  # UDP source port 1900
    MEMCACHED = 4  # UDP source port 11211
    CHARGEN = 5  # UDP source port 19
    DNS_AMP = 6  # UDP source port 53
    DNS_QUERY = 7  # UDP destination port 53
    UDP = 8  # other UDP
    SYN = 9  # SYN without ACK or RST
    SYNACK = 10  # SYN and ACK, no RST
    RST = 11  # RST set
    ACK = 12  # ACK without SYN or RST
    TCP_OTHER = 13  # FIN-only, NULL, Xmas, …
    ICMP = 14  # ICMP or ICMPv6
    GRE = 15
    OTHER = 16  # any other IP protocol

    @classmethod
    def watched(cls) -> list[TrafficClass]:
        return [c for c in cls if c is not cls.NONE]

    @property
    def is_tcp(self) -> bool:
        return TrafficClass.SYN <= self <= TrafficClass.TCP_OTHER

    @property
    def is_udp(self) -> bool:
        return TrafficClass.NTP <= self <= TrafficClass.UDP

    @property
    def is_reflection(self) -> bool:
        return TrafficClass.NTP <= self <= TrafficClass.DNS_AMP


N_CLASSES = len(TrafficClass)
C = TrafficClass

#: UDP source ports of the reflection vectors.
REFLECTION_PORTS: dict[int, TrafficClass] = {
    123: C.NTP, 1900: C.SSDP, 11211: C.MEMCACHED, 19: C.CHARGEN, 53: C.DNS_AMP,
}


def _proto_table() -> U8:
    t = np.full(256, C.OTHER, np.uint8)
    t[6] = C.ACK  # refined by the flags table
    t[17] = C.UDP  # refined by the port tables
    t[1] = t[58] = C.ICMP
    t[47] = C.GRE
    return t


def _flags_table() -> U8:
    flags = np.arange(1 << 12)
    syn, rst, ack = (flags & 0x02) != 0, (flags & 0x04) != 0, (flags & 0x10) != 0
    out = np.full(flags.size, C.TCP_OTHER, np.uint8)
    out[ack] = C.ACK
    out[syn & ~ack] = C.SYN
    out[syn & ack] = C.SYNACK
    out[rst] = C.RST
    return out


def _sport_table() -> U8:
    t = np.zeros(1 << 16, np.uint8)
    for port, cls in REFLECTION_PORTS.items():
        t[port] = cls
    return t


_PROTO, _FLAGS, _SPORT = _proto_table(), _flags_table(), _sport_table()


def classify(
    ip_version: npt.NDArray[np.integer],
    proto: npt.NDArray[np.integer],
    flags: npt.NDArray[np.integer],
    sport: npt.NDArray[np.integer],
    dport: npt.NDArray[np.integer],
    frag_offset: npt.NDArray[np.integer],
    more_fragments: npt.NDArray[np.integer],
) -> U8:
    """The class of each packet (``TrafficClass`` codes), from the decoded header columns."""
    cls = _PROTO[proto & 0xFF]
    is_tcp = proto == 6
    if is_tcp.any():
        cls = np.where(is_tcp, _FLAGS[flags & 0xFFF], cls)
    is_udp = proto == 17
    if is_udp.any():
        refl = _SPORT[sport & 0xFFFF]
        udp = np.where(refl != 0, refl, np.where(dport == 53, np.uint8(C.DNS_QUERY), cls))
        cls = np.where(is_udp, udp, cls)
    # A first fragment has ports, but a flood of them is a fragment flood all the same
    # (and its trailing fragments, without ports, belong with it).
    cls = np.where((frag_offset != 0) | (more_fragments != 0), np.uint8(C.FRAGMENT), cls)
    out: U8 = np.where(ip_version != 0, cls, np.uint8(C.NONE)).astype(np.uint8, copy=False)
    return out
