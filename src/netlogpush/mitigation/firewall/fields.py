"""The fields Magic Firewall rules can test: name, type, where the value comes from.

The list and the types are Cloudflare's ("Magic Firewall fields",
https://developers.cloudflare.com/magic-firewall/reference/magic-firewall-fields/). Each
field reads a ``PacketView`` column named like the ``network_analytics_logs`` field that
holds the same value, so the rules and the records never disagree about a packet.

A field that a packet does not have (``tcp.dstport`` of a UDP packet, ``ip.opt.type``
without options) is a *missing value*: every comparison with it is false, as the Rules
language documents ("Any comparison ... where <expr> evaluates to a missing value will
evaluate to false"). ``not`` still negates, so ``not tcp.dstport == 80`` matches UDP.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from netlogpush.decode.names import IP_PROTOCOL_NAMES


class FieldType(Enum):
    """Value types, named as Cloudflare's field reference names them."""

    INT = "Number"
    IP = "IP address"
    BYTES = "String"
    BOOL = "Boolean"


class Guard(Enum):
    """Which packets have a value for a field; the others have a missing value."""

    IP = "IPv4 or IPv6"
    IPV4 = "IPv4"
    IPV4_OPTIONS = "IPv4 with options"
    TCP = "TCP"
    UDP = "UDP"
    ICMP = "ICMP or ICMPv6"


class Source(Enum):
    """How a field's value is read from a ``PacketView``."""

    COLUMN = "integer column"
    FLAGS_BYTE = "low 8 bits of TCPFlags"
    FLAG = "one bit of TCPFlags"
    HEADER_WORDS = "IPHeaderLength in 32-bit words"
    OPTION_TYPE = "first IPv4 option byte"
    ADDRESS = "source or destination address"
    STRING = "string column"
    EITHER_STRING = "source or destination string column"
    PROTOCOL_NAME = "IPProtocol as a name"
    SIP = "UDP payload is a SIP message"
    RAW = "raw bytes of a header and what follows"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: FieldType
    source: Source
    guard: Guard
    #: ``PacketView`` columns the value comes from (two for ``ip.geoip.country``).
    columns: tuple[str, ...] = ()
    #: The bit for ``Source.FLAG``; the protocol name for ``Source.RAW``.
    bit: int = 0
    #: Largest value an INT field can have (its header field's width), for lookup tables.
    max_value: int = (1 << 63) - 1
    doc: str = ""


TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58

#: ``ip.proto`` values: IANA protocol keywords in lower case (``"tcp"``, ``"hopopt"``), as
#: Cloudflare's examples write them (``ip.proto eq "hopopt"``, ``ip.proto in {"esp" "tcp"}``).
#: Protocol 58 is IANA's ``ipv6-icmp`` (the dataset's ``IPProtocolName`` says ``ICMPV6``).
#: A protocol without a keyword here is its number in decimal (``"253"``).
PROTOCOL_NAMES: dict[int, str] = {
    number: ("ipv6-icmp" if number == ICMPV6 else name.lower())
    for number, name in IP_PROTOCOL_NAMES.items()
}
#: Names users are likely to try for a protocol whose keyword differs.
PROTOCOL_NAME_HINTS = {"icmpv6": "ipv6-icmp", "icmp6": "ipv6-icmp", "ipv6icmp": "ipv6-icmp"}


def protocol_name(number: int) -> str:
    return PROTOCOL_NAMES.get(number, str(number))


#: A UDP payload is "valid SIP" (field ``sip``) when it starts like a SIP message (RFC 3261
#: §7.1): a status line ``SIP/2.0 `` or a request line ``METHOD SP Request-URI`` whose URI
#: scheme is sip, sips or tel. Cloudflare does not publish its validator; this is the
#: start-line check, which is what separates SIP from the other UDP traffic on port 5060.
SIP_METHODS = (
    b"INVITE", b"ACK", b"BYE", b"CANCEL", b"REGISTER", b"OPTIONS", b"PRACK", b"SUBSCRIBE",
    b"NOTIFY", b"PUBLISH", b"INFO", b"REFER", b"MESSAGE", b"UPDATE",
)  # fmt: skip
SIP_PREFIXES: tuple[bytes, ...] = (
    b"SIP/2.0 ",
    *(method + b" " + scheme for method in SIP_METHODS for scheme in (b"sip:", b"sips:", b"tel:")),
)

#: ``bit_slice`` limits, from Cloudflare's functions reference: a slice is at most 32 bits and
#: no offset may exceed 2,040 bits.
BIT_SLICE_MAX_WIDTH = 32
BIT_SLICE_MAX_OFFSET = 2040

_TCP_FLAGS = (("fin", 0), ("syn", 1), ("reset", 2), ("push", 3), ("ack", 4), ("urg", 5))


def _registry() -> dict[str, FieldSpec]:
    f = FieldSpec
    i, ip, s, b = FieldType.INT, FieldType.IP, FieldType.BYTES, FieldType.BOOL
    specs = [
        f("cf.colo.name", s, Source.STRING, Guard.IP, ("ColoName",), doc="data center, e.g. sfo06"),
        f("cf.colo.region", s, Source.STRING, Guard.IP, ("ColoRegion",), doc="e.g. WNAM"),
        f("icmp", s, Source.RAW, Guard.ICMP, doc="raw ICMP header and payload"),
        f("icmp.type", i, Source.COLUMN, Guard.ICMP, ("ICMPType",), max_value=255),
        f("icmp.code", i, Source.COLUMN, Guard.ICMP, ("ICMPCode",), max_value=255),
        f("ip", s, Source.RAW, Guard.IP, doc="raw IP header and payload"),
        f("ip.src", ip, Source.ADDRESS, Guard.IP, ("src",)),
        f("ip.dst", ip, Source.ADDRESS, Guard.IP, ("dst",)),
        f("ip.src.country", s, Source.STRING, Guard.IP, ("SourceCountry",)),
        f("ip.dst.country", s, Source.STRING, Guard.IP, ("DestinationCountry",)),
        f(
            "ip.geoip.country",
            s,
            Source.EITHER_STRING,
            Guard.IP,
            ("SourceCountry", "DestinationCountry"),
            doc="deprecated: true when the source or the destination country matches",
        ),
        f("ip.src.asnum", i, Source.COLUMN, Guard.IP, ("SourceASN",)),
        f("ip.dst.asnum", i, Source.COLUMN, Guard.IP, ("DestinationASN",)),
        f("ip.hdr_len", i, Source.HEADER_WORDS, Guard.IPV4, ("IPHeaderLength",), max_value=15),
        f("ip.len", i, Source.COLUMN, Guard.IP, ("IPTotalLength",), max_value=0xFFFF + 40),
        f("ip.opt.type", i, Source.OPTION_TYPE, Guard.IPV4_OPTIONS, max_value=255),
        f("ip.proto", s, Source.PROTOCOL_NAME, Guard.IP, ("IPProtocol",)),
        f("ip.ttl", i, Source.COLUMN, Guard.IP, ("IPTTL",), max_value=255),
        f("sip", b, Source.SIP, Guard.UDP),
        f("tcp", s, Source.RAW, Guard.TCP, doc="raw TCP header and payload"),
        f("tcp.flags", i, Source.FLAGS_BYTE, Guard.TCP, ("TCPFlags",), max_value=255),
        f("tcp.flags.cwr", b, Source.FLAG, Guard.TCP, ("TCPFlags",), bit=7),
        f("tcp.flags.ecn", b, Source.FLAG, Guard.TCP, ("TCPFlags",), bit=6),
        *(
            f(f"tcp.flags.{n}", b, Source.FLAG, Guard.TCP, ("TCPFlags",), bit=k)
            for n, k in _TCP_FLAGS
        ),
        f("tcp.srcport", i, Source.COLUMN, Guard.TCP, ("SourcePort",), max_value=0xFFFF),
        f("tcp.dstport", i, Source.COLUMN, Guard.TCP, ("DestinationPort",), max_value=0xFFFF),
        f("udp", s, Source.RAW, Guard.UDP, doc="raw UDP header and payload"),
        f("udp.srcport", i, Source.COLUMN, Guard.UDP, ("SourcePort",), max_value=0xFFFF),
        f("udp.dstport", i, Source.COLUMN, Guard.UDP, ("DestinationPort",), max_value=0xFFFF),
    ]
    return {spec.name: spec for spec in specs}


FIELDS: dict[str, FieldSpec] = _registry()

#: ``bit_slice``'s first argument: the raw field whose bytes are sliced.
RAW_FIELDS: dict[str, FieldSpec] = {
    name: spec for name, spec in FIELDS.items() if spec.source is Source.RAW
}
FUNCTIONS = ("bit_slice",)
