"""Layer by layer: exact field values the decoder gives for hand-built packets.

Each test builds one packet with ``netlogpush.testing.packets``, runs it through the real
decoder and record builder (``Pipeline``), and compares every header field of the record
with the value it must have; fields a test does not name must be empty (0 or "").
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from itertools import product
from typing import Any

import numpy as np
import pytest

from netlogpush.dataset.fields import empty_value
from netlogpush.decode import DecodeStatus, FrameBatch, FrameBatchBuilder, decode
from netlogpush.decode.materialize import dns_name
from netlogpush.pipeline import Pipeline
from netlogpush.testing import packets as P

SRC4, DST4 = "198.51.100.7", "192.0.2.10"
SRC6, DST6 = "2001:db8:1:2:3:4:5:6", "2001:db8::10"
TS = 1_700_000_000_123_456_789

#: Every field the decoder (not enrichment or mitigation) fills.
HEADER_FIELDS = (
    "DNSQueryName", "DNSQueryType", "Datetime", "DestinationPort",
    "GREChecksum", "GREEtherType", "GREHeaderLength", "GREKey", "GRESequenceNumber", "GREVersion",
    "ICMPChecksum", "ICMPCode", "ICMPType",
    "IPDestinationAddress", "IPDestinationSubnet", "IPFragmentOffset", "IPHeaderLength",
    "IPMoreFragments", "IPProtocol", "IPProtocolName", "IPSourceAddress", "IPSourceSubnet",
    "IPTTL", "IPTTLBuckets", "IPTotalLength", "IPTotalLengthBuckets",
    "IPv4Checksum", "IPv4DSCP", "IPv4DontFragment", "IPv4ECN", "IPv4Identification", "IPv4Options",
    "IPv6DSCP", "IPv6ECN", "IPv6ExtensionHeaders", "IPv6FlowLabel", "IPv6Identification",
    "SourcePort",
    "TCPAcknowledgementNumber", "TCPChecksum", "TCPDataOffset", "TCPFlags", "TCPFlagsString",
    "TCPMSS", "TCPOptions", "TCPSACKBlocks", "TCPSACKPermitted", "TCPSequenceNumber",
    "TCPTimestampECR", "TCPTimestampValue", "TCPUrgentPointer", "TCPWindowScale", "TCPWindowSize",
    "UDPChecksum", "UDPPayloadLength",
)  # fmt: skip


# --- helpers -------------------------------------------------------------------------------


def batch_of(frames: Sequence[tuple[bytes, int]]) -> FrameBatch:
    b = FrameBatchBuilder()
    for frame, linktype in frames:
        b.append(frame, TS, linktype)
    return b.build()


def status_of(frame: bytes, linktype: int = P.LINKTYPE_ETHERNET) -> DecodeStatus:
    return DecodeStatus(int(decode(batch_of([(frame, linktype)])).status[0]))


def record(frame: bytes, linktype: int = P.LINKTYPE_ETHERNET) -> dict[str, Any]:
    """The record of one frame, restricted to the decoder's fields."""
    table = Pipeline().process(batch_of([(frame, linktype)]))
    assert table.num_rows == 1, f"no record (status {status_of(frame, linktype).name})"
    row: dict[str, Any] = table.to_pylist()[0]
    return {name: row[name] for name in HEADER_FIELDS}


def expect(**values: Any) -> dict[str, Any]:
    """A full header-field record: the given values, every other field empty."""
    unknown = set(values) - set(HEADER_FIELDS)
    assert not unknown, unknown
    return {name: values.get(name, empty_value(name)) for name in HEADER_FIELDS}


def u16_at(data: bytes, off: int) -> int:
    value: int = struct.unpack_from("!H", data, off)[0]
    return value


def eth(packet: bytes, **kw: Any) -> bytes:
    v6 = packet[0] >> 4 == 6
    return P.ethernet(packet, ethertype=P.ETH_IPV6 if v6 else P.ETH_IPV4, **kw)


def v4_base(packet: bytes, **kw: Any) -> dict[str, Any]:
    """The IPv4 header fields of ``packet`` (a bare IPv4 packet, default builder values)."""
    fields: dict[str, Any] = {
        "Datetime": TS,
        "IPSourceAddress": SRC4,
        "IPSourceSubnet": "198.51.100.0/24",
        "IPDestinationAddress": DST4,
        "IPDestinationSubnet": "192.0.2.0/24",
        "IPHeaderLength": (packet[0] & 0xF) * 4,
        "IPTotalLength": len(packet),
        "IPTotalLengthBuckets": len(packet) // 100 * 100,
        "IPTTL": 64,
        "IPTTLBuckets": 60,
        "IPv4Checksum": u16_at(packet, 10),
        "IPProtocol": packet[9],
    }
    fields.update(kw)
    return fields


def v6_base(packet: bytes, **kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "Datetime": TS,
        "IPSourceAddress": SRC6,
        "IPSourceSubnet": "2001:db8:1:2::/64",
        "IPDestinationAddress": DST6,
        "IPDestinationSubnet": "2001:db8::/64",
        "IPHeaderLength": 40,
        "IPTotalLength": len(packet),
        "IPTotalLengthBuckets": len(packet) // 100 * 100,
        "IPTTL": 64,
        "IPTTLBuckets": 60,
    }
    fields.update(kw)
    return fields


def tcp4(**kw: Any) -> bytes:
    return P.ipv4(P.tcp(**kw), src=SRC4, dst=DST4)


def udp4(**kw: Any) -> bytes:
    return P.ipv4(P.udp(**kw), src=SRC4, dst=DST4)


# --- link layers ---------------------------------------------------------------------------

UDP_PACKET = udp4(sport=5000, dport=6000, payload=b"hello")


def _udp_expected(packet: bytes = UDP_PACKET) -> dict[str, Any]:
    return expect(
        **v4_base(packet),
        IPProtocolName="UDP",
        SourcePort=5000,
        DestinationPort=6000,
        UDPPayloadLength=5,
        UDPChecksum=u16_at(packet, 26),
    )


LINK_CASES: list[tuple[str, bytes, int, int]] = [
    ("ethernet", eth(UDP_PACKET), P.LINKTYPE_ETHERNET, 14),
    ("802.1Q", eth(UDP_PACKET, vlans=[100]), P.LINKTYPE_ETHERNET, 18),
    ("802.1ad", eth(UDP_PACKET, vlans=[P.Vlan(7, tpid=P.ETH_8021AD)]), P.LINKTYPE_ETHERNET, 18),
    (
        "QinQ 802.1ad+802.1Q",
        eth(UDP_PACKET, vlans=[P.Vlan(7, tpid=P.ETH_8021AD), P.Vlan(100, pcp=5)]),
        P.LINKTYPE_ETHERNET,
        22,
    ),
    (
        "QinQ 0x9100 + two 802.1Q",
        eth(UDP_PACKET, vlans=[P.Vlan(1, tpid=0x9100), P.Vlan(2), P.Vlan(4095, dei=1)]),
        P.LINKTYPE_ETHERNET,
        26,
    ),
    ("0x9200 tag", eth(UDP_PACKET, vlans=[P.Vlan(3, tpid=0x9200)]), P.LINKTYPE_ETHERNET, 18),
    (
        "four tags (the most decoded)",
        eth(UDP_PACKET, vlans=[P.Vlan(1, tpid=P.ETH_8021AD), 2, 3, 4]),
        P.LINKTYPE_ETHERNET,
        30,
    ),
    ("ethernet padded", eth(UDP_PACKET, pad_to=60), P.LINKTYPE_ETHERNET, 14),
    ("SLL", P.sll(UDP_PACKET, protocol=P.ETH_IPV4), P.LINKTYPE_LINUX_SLL, 16),
    ("SLL2", P.sll2(UDP_PACKET, protocol=P.ETH_IPV4), P.LINKTYPE_LINUX_SLL2, 20),
    ("raw", UDP_PACKET, P.LINKTYPE_RAW, 0),
    ("raw DLT 12", UDP_PACKET, 12, 0),
    ("raw DLT 14", UDP_PACKET, 14, 0),
    ("IPv4 linktype", UDP_PACKET, 228, 0),
    ("NULL little-endian", P.null_link(UDP_PACKET, family=2), P.LINKTYPE_NULL, 4),
    (
        "NULL big-endian host",
        P.null_link(UDP_PACKET, family=2, big_endian=True),
        P.LINKTYPE_NULL,
        4,
    ),
    ("LOOP", P.null_link(UDP_PACKET, family=2, big_endian=True), P.LINKTYPE_LOOP, 4),
]


@pytest.mark.parametrize(
    ("frame", "linktype", "l3"), [c[1:] for c in LINK_CASES], ids=[c[0] for c in LINK_CASES]
)
def test_link_layers_find_the_ipv4_header(frame: bytes, linktype: int, l3: int) -> None:
    pc = decode(batch_of([(frame, linktype)]))
    assert pc.status.tolist() == [DecodeStatus.OK]
    assert pc.l4.tolist() == [l3 + 20]
    assert record(frame, linktype) == _udp_expected()


UDP6_PACKET = P.ipv6(P.udp(sport=5000, dport=6000, payload=b"hello"), src=SRC6, dst=DST6)


@pytest.mark.parametrize(
    ("frame", "linktype", "l3"),
    [
        (eth(UDP6_PACKET), P.LINKTYPE_ETHERNET, 14),
        (eth(UDP6_PACKET, vlans=[P.Vlan(7, tpid=P.ETH_8021AD), 8]), P.LINKTYPE_ETHERNET, 22),
        (P.sll(UDP6_PACKET, protocol=P.ETH_IPV6), P.LINKTYPE_LINUX_SLL, 16),
        (P.sll2(UDP6_PACKET, protocol=P.ETH_IPV6), P.LINKTYPE_LINUX_SLL2, 20),
        (UDP6_PACKET, P.LINKTYPE_RAW, 0),
        (UDP6_PACKET, 229, 0),
        *[(P.null_link(UDP6_PACKET, family=af), P.LINKTYPE_NULL, 4) for af in (10, 24, 28, 30)],
        *[
            (P.null_link(UDP6_PACKET, family=af, big_endian=True), P.LINKTYPE_LOOP, 4)
            for af in (24, 28, 30)
        ],
    ],
)
def test_link_layers_find_the_ipv6_header(frame: bytes, linktype: int, l3: int) -> None:
    pc = decode(batch_of([(frame, linktype)]))
    assert pc.status.tolist() == [DecodeStatus.OK]
    assert pc.l4.tolist() == [l3 + 40]
    assert record(frame, linktype) == expect(
        **v6_base(UDP6_PACKET),
        IPProtocol=17,
        IPProtocolName="UDP",
        SourcePort=5000,
        DestinationPort=6000,
        UDPPayloadLength=5,
        UDPChecksum=u16_at(UDP6_PACKET, 46),
    )


@pytest.mark.parametrize(
    ("frame", "linktype", "status"),
    [
        (P.ethernet(P.arp(), ethertype=P.ETH_ARP), P.LINKTYPE_ETHERNET, DecodeStatus.NOT_IP),
        (
            P.ethernet(P.arp(), ethertype=P.ETH_ARP, vlans=[5]),
            P.LINKTYPE_ETHERNET,
            DecodeStatus.NOT_IP,
        ),
        # Five tags: more than the decoder follows, so the EtherType it sees is a TPID.
        (eth(UDP_PACKET, vlans=[1, 2, 3, 4, 5]), P.LINKTYPE_ETHERNET, DecodeStatus.NOT_IP),
        (P.sll(P.arp(), protocol=P.ETH_ARP), P.LINKTYPE_LINUX_SLL, DecodeStatus.NOT_IP),
        (P.sll2(P.arp(), protocol=P.ETH_ARP), P.LINKTYPE_LINUX_SLL2, DecodeStatus.NOT_IP),
        (P.null_link(UDP_PACKET, family=7), P.LINKTYPE_NULL, DecodeStatus.NOT_IP),
        (P.null_link(UDP_PACKET, family=7, big_endian=True), P.LINKTYPE_LOOP, DecodeStatus.NOT_IP),
        (b"\x50" + UDP_PACKET[1:], P.LINKTYPE_RAW, DecodeStatus.NOT_IP),
        (eth(UDP_PACKET)[:13], P.LINKTYPE_ETHERNET, DecodeStatus.TRUNCATED_LINK),
        (eth(UDP_PACKET, vlans=[9])[:17], P.LINKTYPE_ETHERNET, DecodeStatus.TRUNCATED_LINK),
        (b"", P.LINKTYPE_ETHERNET, DecodeStatus.TRUNCATED_LINK),
        (
            P.sll(UDP_PACKET, protocol=P.ETH_IPV4)[:15],
            P.LINKTYPE_LINUX_SLL,
            DecodeStatus.TRUNCATED_LINK,
        ),
        (
            P.sll2(UDP_PACKET, protocol=P.ETH_IPV4)[:19],
            P.LINKTYPE_LINUX_SLL2,
            DecodeStatus.TRUNCATED_LINK,
        ),
        (b"\x02\x00\x00", P.LINKTYPE_NULL, DecodeStatus.TRUNCATED_LINK),
        (b"\x00\x00\x00", P.LINKTYPE_LOOP, DecodeStatus.TRUNCATED_LINK),
        (eth(UDP_PACKET)[:14], P.LINKTYPE_ETHERNET, DecodeStatus.TRUNCATED_IP),
        (eth(UDP_PACKET)[:33], P.LINKTYPE_ETHERNET, DecodeStatus.TRUNCATED_IP),
        (eth(UDP6_PACKET)[:53], P.LINKTYPE_ETHERNET, DecodeStatus.TRUNCATED_IP),
        (b"", 228, DecodeStatus.TRUNCATED_IP),
        (b"", P.LINKTYPE_RAW, DecodeStatus.TRUNCATED_IP),
        (UDP6_PACKET, 228, DecodeStatus.BAD_IP_VERSION),
        (udp4(sport=1, dport=2, payload=bytes(12)), 229, DecodeStatus.BAD_IP_VERSION),
        (
            P.ethernet(UDP6_PACKET, ethertype=P.ETH_IPV4),
            P.LINKTYPE_ETHERNET,
            DecodeStatus.BAD_IP_VERSION,
        ),
        (eth(UDP_PACKET), 147, DecodeStatus.UNSUPPORTED_LINKTYPE),
        (eth(UDP_PACKET), 65535, DecodeStatus.UNSUPPORTED_LINKTYPE),
    ],
)
def test_frames_without_an_ip_header_are_counted_not_recorded(
    frame: bytes, linktype: int, status: DecodeStatus
) -> None:
    assert status_of(frame, linktype) == status
    pipeline = Pipeline()
    assert pipeline.process(batch_of([(frame, linktype)])).num_rows == 0
    assert pipeline.stats.as_dict() == {
        "frames": 1,
        "ip_packets": 0,
        "records": 0,
        "problems": {status.reason: 1},
    }


# --- IPv4 ----------------------------------------------------------------------------------


def test_ipv4_header_fields() -> None:
    packet = P.ipv4(
        P.udp(sport=1, dport=2, payload=bytes(1472)),
        src=SRC4, dst=DST4, ttl=54, ident=0xBEEF, df=True, dscp=46, ecn=3,
    )  # fmt: skip
    assert len(packet) == 1500
    assert record(eth(packet)) == expect(
        **v4_base(packet, IPTTL=54, IPTTLBuckets=50, IPTotalLengthBuckets=1500),
        IPv4Identification=0xBEEF,
        IPv4DontFragment=1,
        IPv4DSCP=46,
        IPv4ECN=3,
        IPProtocolName="UDP",
        SourcePort=1,
        DestinationPort=2,
        UDPPayloadLength=1472,
        UDPChecksum=u16_at(packet, 26),
    )


def test_cloudflare_observed_record_is_reproduced() -> None:
    """The anonymised Cloudflare record of reference §1.6, rebuilt as a packet."""
    observed = json.loads(
        '{"DestinationPort":80,"GREChecksum":0,"GREEtherType":0,"GREHeaderLength":0,"GREKey":0,'
        '"GRESequenceNumber":0,"GREVersion":0,"ICMPChecksum":0,"ICMPCode":0,"ICMPType":0,'
        '"IPDestinationAddress":"81.2.69.142","IPFragmentOffset":0,"IPHeaderLength":20,'
        '"IPMoreFragments":0,"IPProtocol":6,"IPProtocolName":"TCP","IPSourceAddress":"81.2.69.144",'
        '"IPTTL":114,"IPTTLBuckets":110,"IPTotalLength":76,"IPTotalLengthBuckets":0,'
        '"IPv4Checksum":22885,"IPv4DSCP":0,"IPv4DontFragment":1,"IPv4ECN":0,'
        '"IPv4Identification":30225,"IPv4Options":"","IPv6DSCP":0,"IPv6ECN":0,'
        '"IPv6ExtensionHeaders":"","IPv6FlowLabel":0,"IPv6Identification":0,"SourcePort":59840,'
        '"TCPAcknowledgementNumber":1753901439,"TCPChecksum":26035,"TCPDataOffset":56,'
        '"TCPFlags":16,"TCPFlagsString":"ACK","TCPMSS":0,"TCPOptions":"1,1,5",'
        '"TCPSACKBlocks":"1756364199,1756365599,1756347399,1756348799,1756330863,1756332263,'
        '1756319663,1756321063","TCPSACKPermitted":0,"TCPSequenceNumber":2715105212,'
        '"TCPTimestampECR":0,"TCPTimestampValue":0,"TCPUrgentPointer":0,"TCPWindowScale":0,'
        '"TCPWindowSize":32767,"UDPChecksum":0,"UDPPayloadLength":0}'
    )
    blocks = [
        (1756364199, 1756365599),
        (1756347399, 1756348799),
        (1756330863, 1756332263),
        (1756319663, 1756321063),
    ]
    packet = P.ipv4(
        P.tcp(
            sport=59840, dport=80, seq=2715105212, ack=1753901439, flags=P.ACK, window=32767,
            options=[P.NOP, P.NOP, P.sack(blocks)], checksum=26035,
        ),
        src="81.2.69.144", dst="81.2.69.142", ttl=114, ident=30225, df=True, checksum=22885,
    )  # fmt: skip
    rec = record(eth(packet))
    assert {name: rec[name] for name in observed} == observed


@pytest.mark.parametrize(
    ("options", "text", "header_length"),
    [
        (P.NOP + P.router_alert() + P.NOP * 3, "1,148,1,1,1", 28),
        (P.NOP + P.record_route(1) + P.router_alert(), "1,7,148", 32),
        # Padding: the first EOL is listed (as tshark lists it), the walk stops there.
        (P.record_route(2) + P.router_alert(), "7,148,0", 36),
        (P.router_alert() + P.EOL + P.NOP * 2 + P.router_alert(), "148,0", 32),
        (P.record_route(9, filled=["192.0.2.1"]), "7,0", 60),
        (P.ipv4_option(130, bytes(9)), "130,0", 32),  # security, 11 bytes
    ],
)
def test_ipv4_options(options: bytes, text: str, header_length: int) -> None:
    packet = P.ipv4(P.udp(sport=1, dport=2), src=SRC4, dst=DST4, options=options)
    assert status_of(eth(packet)) == DecodeStatus.OK
    rec = record(eth(packet))
    assert (rec["IPv4Options"], rec["IPHeaderLength"]) == (text, header_length)
    assert (rec["SourcePort"], rec["DestinationPort"]) == (1, 2)


@pytest.mark.parametrize(
    ("options", "text"),
    [
        (P.NOP + P.ipv4_option(7, b"\x04\x00", length=1) + P.NOP, "1"),  # length below 2
        (P.ipv4_option(148, b"\x00\x00", length=9) + bytes(3), ""),  # runs past the header
        (P.NOP * 3 + b"\x07", "1,1,1"),  # a kind without its length byte
    ],
)
def test_bad_ipv4_options_keep_the_record(options: bytes, text: str) -> None:
    packet = P.ipv4(P.udp(sport=1, dport=2), src=SRC4, dst=DST4, options=options)
    assert status_of(eth(packet)) == DecodeStatus.BAD_IP_OPTIONS
    rec = record(eth(packet))
    assert rec["IPv4Options"] == text
    # The option area is still skipped by its IHL: the transport header is found.
    assert (rec["SourcePort"], rec["DestinationPort"]) == (1, 2)


def test_first_fragment_has_ports_and_more_fragments() -> None:
    packet = P.ipv4(
        P.tcp(sport=1000, dport=2000, seq=7, flags=P.SYN), src=SRC4, dst=DST4, mf=True, ident=77
    )
    rec = record(eth(packet))
    assert (rec["IPMoreFragments"], rec["IPFragmentOffset"], rec["IPv4Identification"]) == (
        1,
        0,
        77,
    )
    assert (rec["SourcePort"], rec["DestinationPort"], rec["TCPSequenceNumber"]) == (1000, 2000, 7)
    assert rec["TCPFlagsString"] == "SYN"


@pytest.mark.parametrize("more", [True, False])
def test_non_first_fragment_has_no_transport_fields(more: bool) -> None:
    # The payload looks like a TCP header; a non-first fragment must not be read as one.
    payload = P.tcp(sport=1000, dport=2000, seq=7, flags=P.SYN).data
    packet = P.ipv4(
        payload, proto=P.PROTO_TCP, src=SRC4, dst=DST4, mf=more, frag_offset=1480, ident=77
    )
    pc = decode(batch_of([(eth(packet), 1)]))
    assert pc.l4.tolist() == [-1]
    assert record(eth(packet)) == expect(
        **v4_base(packet),
        IPProtocolName="TCP",
        IPMoreFragments=int(more),
        IPFragmentOffset=1480,  # bytes: 185 units of 8
        IPv4Identification=77,
    )


def test_fragment_offset_is_in_bytes_up_to_the_largest() -> None:
    packet = P.ipv4(b"x" * 8, proto=P.PROTO_UDP, src=SRC4, dst=DST4, frag_offset=8191 * 8, df=True)
    rec = record(eth(packet))
    assert (rec["IPFragmentOffset"], rec["IPv4DontFragment"], rec["IPMoreFragments"]) == (
        65528,
        1,
        0,
    )


@pytest.mark.parametrize("ihl", [0, 3, 4])
def test_ihl_below_five_is_a_bad_header_length(ihl: int) -> None:
    packet = P.ipv4(P.udp(sport=1, dport=2), src=SRC4, dst=DST4, ihl=ihl)
    assert status_of(eth(packet)) == DecodeStatus.BAD_IP_HEADER_LENGTH
    rec = record(eth(packet))
    assert (rec["IPHeaderLength"], rec["SourcePort"], rec["UDPPayloadLength"]) == (ihl * 4, 0, 0)
    assert (rec["IPSourceAddress"], rec["IPTTL"], rec["IPProtocolName"]) == (SRC4, 64, "UDP")


def test_ihl_past_the_frame_is_a_bad_header_length() -> None:
    packet = P.ipv4(b"", proto=P.PROTO_UDP, src=SRC4, dst=DST4, ihl=15)
    assert status_of(eth(packet)) == DecodeStatus.BAD_IP_HEADER_LENGTH
    assert record(eth(packet))["IPHeaderLength"] == 60


@pytest.mark.parametrize("total", [0, 19])
def test_total_length_below_the_header_is_bad(total: int) -> None:
    frame = eth(P.ipv4(P.udp(sport=1, dport=2), src=SRC4, dst=DST4, total_length=total))
    assert status_of(frame) == DecodeStatus.BAD_IP_TOTAL_LENGTH
    rec = record(frame)
    assert (rec["IPTotalLength"], rec["IPHeaderLength"], rec["SourcePort"]) == (total, 20, 0)
    assert (rec["IPSourceAddress"], rec["IPProtocolName"]) == (SRC4, "UDP")


def test_bytes_after_a_header_only_total_length_are_not_the_transport() -> None:
    # Total Length 20 says the datagram is its header alone: the UDP bytes after it are
    # frame trailer, so the transport header is missing, not decoded from the trailer.
    frame = eth(P.ipv4(P.udp(sport=1, dport=2), src=SRC4, dst=DST4, total_length=20))
    assert status_of(frame) == DecodeStatus.TRUNCATED_TRANSPORT
    rec = record(frame)
    assert (rec["SourcePort"], rec["DestinationPort"], rec["IPTotalLength"]) == (0, 0, 20)


@pytest.mark.parametrize(
    ("ttl", "bucket"), [(0, 0), (9, 0), (10, 10), (54, 50), (114, 110), (255, 250)]
)
def test_ttl_buckets(ttl: int, bucket: int) -> None:
    rec = record(eth(P.ipv4(P.udp(sport=1, dport=2), src=SRC4, dst=DST4, ttl=ttl)))
    assert (rec["IPTTL"], rec["IPTTLBuckets"]) == (ttl, bucket)


@pytest.mark.parametrize(
    ("total", "bucket"),
    [(28, 0), (76, 0), (99, 0), (100, 100), (1499, 1400), (1500, 1500), (65535, 65500)],
)
def test_total_length_buckets(total: int, bucket: int) -> None:
    # The header's Total Length is reported as written, even when the capture holds less.
    packet = P.ipv4(P.udp(sport=1, dport=2), src=SRC4, dst=DST4, total_length=total)
    rec = record(eth(packet))
    assert (rec["IPTotalLength"], rec["IPTotalLengthBuckets"]) == (total, bucket)


@pytest.mark.parametrize(
    ("proto", "name"),
    [(1, "ICMP"), (2, "IGMP"), (6, "TCP"), (17, "UDP"), (47, "GRE"), (50, "ESP"), (51, "AH"),
     (58, "ICMPV6"), (132, "SCTP"), (4, "IPV4"), (41, "IPV6"), (253, "")],
)  # fmt: skip
def test_protocol_names_are_upper_case(proto: int, name: str) -> None:
    # Non-first fragments: the payload is not decoded, only the protocol number named.
    packet = P.ipv4(bytes(8), proto=proto, src=SRC4, dst=DST4, frag_offset=8)
    rec = record(eth(packet))
    assert (rec["IPProtocol"], rec["IPProtocolName"]) == (proto, name)


def test_subnets() -> None:
    packet = P.ipv4(P.udp(sport=1, dport=2), src="10.1.2.255", dst="255.255.255.255")
    rec = record(eth(packet))
    assert rec["IPSourceAddress"] == "10.1.2.255"
    assert rec["IPSourceSubnet"] == "10.1.2.0/24"
    assert rec["IPDestinationAddress"] == "255.255.255.255"
    assert rec["IPDestinationSubnet"] == "255.255.255.0/24"

    packet = P.ipv6(P.udp(sport=1, dport=2), src="2001:db8:aaaa:bbbb:cccc::1", dst="::1")
    rec = record(eth(packet))
    assert rec["IPSourceAddress"] == "2001:db8:aaaa:bbbb:cccc::1"
    assert rec["IPSourceSubnet"] == "2001:db8:aaaa:bbbb::/64"
    assert rec["IPDestinationAddress"] == "::1"
    assert rec["IPDestinationSubnet"] == "::/64"


def test_mixed_families_in_one_batch_keep_their_addresses() -> None:
    frames = [
        eth(P.ipv4(P.udp(sport=1, dport=2), src="203.0.113.1", dst="203.0.113.2")),
        eth(P.ipv6(P.udp(sport=1, dport=2), src="fe80::1", dst="ff02::fb")),
        eth(P.ipv4(P.udp(sport=1, dport=2), src="0.0.0.0", dst="1.2.3.4")),
    ]
    table = Pipeline().process(batch_of([(f, 1) for f in frames]))
    assert table.column("IPSourceAddress").to_pylist() == ["203.0.113.1", "fe80::1", "0.0.0.0"]
    assert table.column("IPDestinationSubnet").to_pylist() == [
        "203.0.113.0/24",
        "ff02::/64",
        "1.2.3.0/24",
    ]


# --- IPv6 ----------------------------------------------------------------------------------


def test_ipv6_header_fields() -> None:
    packet = P.ipv6(
        P.icmpv6_echo(7, 9, b"ping"), src=SRC6, dst=DST6, hop_limit=255, tclass=(46 << 2) | 1,
        flow_label=0xABCDE,
    )  # fmt: skip
    assert record(eth(packet)) == expect(
        **v6_base(packet, IPTTL=255, IPTTLBuckets=250),
        IPProtocol=58,
        IPProtocolName="ICMPV6",
        IPv6DSCP=46,
        IPv6ECN=1,
        IPv6FlowLabel=0xABCDE,
        ICMPType=128,
        ICMPCode=0,
        ICMPChecksum=u16_at(packet, 42),
    )


def test_ipv6_largest_flow_label() -> None:
    packet = P.ipv6(P.udp(sport=1, dport=2), src=SRC6, dst=DST6, flow_label=0xFFFFF, tclass=0xFF)
    rec = record(eth(packet))
    assert (rec["IPv6FlowLabel"], rec["IPv6DSCP"], rec["IPv6ECN"]) == (0xFFFFF, 63, 3)


def test_ipv6_extension_chain() -> None:
    ext = [
        P.hop_by_hop(),
        P.routing([DST6], segments_left=0),
        P.fragment(offset=0, more=True, ident=0xDEADBEEF),
        P.dest_opts(),
    ]
    packet = P.ipv6(P.udp(sport=53000, dport=4789, payload=b"vxlan!"), src=SRC6, dst=DST6, ext=ext)
    ext_len = 8 + 24 + 8 + 8
    assert record(eth(packet)) == expect(
        **v6_base(packet, IPHeaderLength=40 + ext_len),
        IPProtocol=17,
        IPProtocolName="UDP",
        IPv6ExtensionHeaders="0,43,44,60",
        IPv6Identification=0xDEADBEEF,
        IPMoreFragments=1,
        SourcePort=53000,
        DestinationPort=4789,
        UDPPayloadLength=6,
        UDPChecksum=u16_at(packet, 40 + ext_len + 6),
    )


def test_ipv6_non_first_fragment_has_no_ports() -> None:
    body = P.udp(sport=1, dport=2, payload=bytes(8)).data
    packet = P.ipv6(
        body, next_header=P.PROTO_UDP, src=SRC6, dst=DST6,
        ext=[P.fragment(offset=1448, more=False, ident=5)],
    )  # fmt: skip
    assert decode(batch_of([(eth(packet), 1)])).l4.tolist() == [-1]
    assert record(eth(packet)) == expect(
        **v6_base(packet, IPHeaderLength=48),
        IPProtocol=17,
        IPProtocolName="UDP",
        IPv6ExtensionHeaders="44",
        IPv6Identification=5,
        IPFragmentOffset=1448,
    )


def test_ipv6_authentication_header_length_is_in_4_byte_units() -> None:
    # AH (51): payload length 4 -> (4 + 2) * 4 = 24 bytes.
    ah = bytes([P.PROTO_TCP, 4]) + bytes(22)
    packet = P.ipv6(
        ah + P.tcp(sport=1, dport=2, flags=P.RST, checksum=0).data,
        next_header=51,
        src=SRC6,
        dst=DST6,
    )
    rec = record(eth(packet))
    assert (rec["IPv6ExtensionHeaders"], rec["IPHeaderLength"], rec["IPProtocol"]) == ("51", 64, 6)
    assert (rec["SourcePort"], rec["TCPFlagsString"]) == (1, "RST")


def test_ipv6_no_next_header() -> None:
    packet = P.ipv6(b"", next_header=P.PROTO_NONE, src=SRC6, dst=DST6, ext=[P.dest_opts()])
    rec = record(eth(packet))
    assert (rec["IPProtocol"], rec["IPProtocolName"], rec["IPv6ExtensionHeaders"]) == (
        59,
        "IPV6-NONXT",
        "60",
    )
    assert decode(batch_of([(eth(packet), 1)])).l4.tolist() == [-1]


def test_ipv6_chain_of_eight_is_walked_and_nine_is_too_long() -> None:
    eight = P.ipv6(P.udp(sport=1, dport=2), src=SRC6, dst=DST6, ext=[P.dest_opts()] * 8)
    assert status_of(eth(eight)) == DecodeStatus.OK
    rec = record(eth(eight))
    assert (rec["IPv6ExtensionHeaders"], rec["IPHeaderLength"], rec["SourcePort"]) == (
        ",".join(["60"] * 8),
        40 + 64,
        1,
    )
    nine = P.ipv6(P.udp(sport=1, dport=2), src=SRC6, dst=DST6, ext=[P.dest_opts()] * 9)
    assert status_of(eth(nine)) == DecodeStatus.IPV6_EXTENSION_CHAIN_TOO_LONG
    rec = record(eth(nine))
    assert (rec["IPv6ExtensionHeaders"], rec["IPHeaderLength"], rec["IPProtocol"]) == (
        ",".join(["60"] * 8),
        40 + 64,
        60,
    )
    assert (rec["SourcePort"], rec["UDPPayloadLength"]) == (0, 0)


def test_truncated_ipv6_extension_keeps_what_was_walked() -> None:
    packet = P.ipv6(
        P.udp(sport=1, dport=2), src=SRC6, dst=DST6, ext=[P.hop_by_hop(), P.routing([DST6, SRC6])]
    )
    frame = eth(packet)[: 14 + 40 + 8 + 20]  # the routing header (40 bytes) is cut
    assert status_of(frame) == DecodeStatus.TRUNCATED_IPV6_EXTENSION
    rec = record(frame)
    assert (rec["IPv6ExtensionHeaders"], rec["IPHeaderLength"], rec["IPProtocol"]) == ("0", 48, 43)
    assert (rec["IPSourceAddress"], rec["SourcePort"]) == (SRC6, 0)


# --- TCP -----------------------------------------------------------------------------------


def test_tcp_syn_options() -> None:
    seg = P.tcp(
        sport=40000, dport=443, seq=0xFFFFFFFF, flags=P.SYN, window=64240,
        options=[P.mss(1460), P.sack_permitted(), P.timestamps(0x01020304, 0xFFFFFFFE), P.NOP, P.wscale(7)],
    )  # fmt: skip
    packet = P.ipv4(seg, src=SRC4, dst=DST4, df=True)
    assert record(eth(packet)) == expect(
        **v4_base(packet),
        IPProtocolName="TCP",
        IPv4DontFragment=1,
        SourcePort=40000,
        DestinationPort=443,
        TCPSequenceNumber=0xFFFFFFFF,
        TCPFlags=2,
        TCPFlagsString="SYN",
        TCPWindowSize=64240,
        TCPDataOffset=40,
        TCPOptions="2,4,8,1,3",
        TCPMSS=1460,
        TCPSACKPermitted=1,
        TCPTimestampValue=0x01020304,
        TCPTimestampECR=0xFFFFFFFE,
        TCPWindowScale=7,
        TCPChecksum=u16_at(packet, 36),
    )


def test_tcp_sack_blocks_and_padding() -> None:
    seg = P.tcp(
        sport=1, dport=2, ack=99, flags=P.ACK, urg=0,
        options=[P.NOP, P.NOP, P.timestamps(5, 6), P.sack([(10, 20), (4294967295, 0)])],
    )  # fmt: skip
    rec = record(eth(P.ipv4(seg, src=SRC4, dst=DST4)))
    # 2 NOPs + 10 (TS) + 18 (SACK) = 30 bytes, padded with EOL to 32.
    assert rec["TCPDataOffset"] == 52
    assert rec["TCPOptions"] == "1,1,8,5,0"
    assert rec["TCPSACKBlocks"] == "10,20,4294967295,0"
    assert (rec["TCPTimestampValue"], rec["TCPTimestampECR"], rec["TCPAcknowledgementNumber"]) == (
        5,
        6,
        99,
    )


def test_tcp_option_with_wrong_length_is_listed_but_not_read() -> None:
    # MSS with length 3 is not an MSS option the decoder can read; its kind is still listed.
    seg = P.tcp(sport=1, dport=2, options=[P.tcp_option(2, b"\x05", 3), P.NOP, P.mss(1200)])
    rec = record(eth(P.ipv4(seg, src=SRC4, dst=DST4)))
    assert (rec["TCPOptions"], rec["TCPMSS"]) == ("2,1,2", 1200)


@pytest.mark.parametrize(
    ("flags", "value", "text"),
    [
        (0, 0, ""),
        (P.SYN | P.ACK, 0x012, "SYN-ACK"),
        (P.PSH | P.ACK, 0x018, "PSH-ACK"),
        (P.FIN | P.ACK, 0x011, "FIN-ACK"),
        (P.RST | P.ACK, 0x014, "RST-ACK"),
        (P.URG | P.ACK | P.PSH, 0x038, "PSH-ACK-URG"),
        (P.SYN | P.ECE | P.CWR, 0x0C2, "SYN-ECE-CWR"),
        (P.NS, 0x100, "AE"),
        (0x1FF, 0x1FF, "FIN-SYN-RST-PSH-ACK-URG-ECE-CWR-AE"),
    ],
)
def test_tcp_flags(flags: int, value: int, text: str) -> None:
    rec = record(eth(tcp4(sport=1, dport=2, flags=flags)))
    assert (rec["TCPFlags"], rec["TCPFlagsString"]) == (value, text)


def test_tcp_flags_include_the_reserved_bits() -> None:
    packet = bytearray(tcp4(sport=1, dport=2, flags=P.ACK))
    packet[32] |= 0x0E  # the three reserved bits beside NS/AE
    rec = record(eth(bytes(packet)))
    assert (rec["TCPFlags"], rec["TCPFlagsString"], rec["TCPDataOffset"]) == (0xE10, "ACK", 20)


def test_tcp_header_fields() -> None:
    packet = tcp4(
        sport=65535, dport=0, seq=123456789, ack=987654321, flags=P.URG | P.ACK, window=0, urg=0xABCD,
        payload=b"data",
    )  # fmt: skip
    assert record(eth(packet)) == expect(
        **v4_base(packet),
        IPProtocolName="TCP",
        SourcePort=65535,
        DestinationPort=0,
        TCPSequenceNumber=123456789,
        TCPAcknowledgementNumber=987654321,
        TCPFlags=0x30,
        TCPFlagsString="ACK-URG",
        TCPWindowSize=0,
        TCPUrgentPointer=0xABCD,
        TCPDataOffset=20,
        TCPChecksum=u16_at(packet, 36),
    )


@pytest.mark.parametrize("words", [0, 4])
def test_tcp_data_offset_below_five_words(words: int) -> None:
    frame = eth(tcp4(sport=1, dport=2, data_offset=words))
    assert status_of(frame) == DecodeStatus.BAD_TCP_DATA_OFFSET
    rec = record(frame)
    assert (rec["TCPDataOffset"], rec["SourcePort"], rec["TCPOptions"]) == (words * 4, 1, "")


def test_tcp_options_cut_by_the_capture_are_read_as_far_as_they_go() -> None:
    seg = P.tcp(
        sport=1, dport=2, flags=P.SYN, options=[P.mss(1400), P.NOP, P.wscale(2), P.timestamps(1, 2)]
    )
    frame = eth(P.ipv4(seg, src=SRC4, dst=DST4))[: 14 + 20 + 20 + 8]  # MSS, NOP, WS fit; TS is cut
    assert status_of(frame) == DecodeStatus.TRUNCATED_TRANSPORT
    rec = record(frame)
    assert (rec["TCPDataOffset"], rec["TCPOptions"], rec["TCPMSS"], rec["TCPWindowScale"]) == (
        40, "2,1,3", 1400, 2,
    )  # fmt: skip
    assert rec["TCPTimestampValue"] == 0


def test_bad_tcp_option_length() -> None:
    seg = P.tcp(sport=1, dport=2, options=[P.NOP, P.tcp_option(8, b"", 1), P.NOP, P.NOP])
    frame = eth(P.ipv4(seg, src=SRC4, dst=DST4))
    assert status_of(frame) == DecodeStatus.BAD_TCP_OPTIONS
    assert record(frame)["TCPOptions"] == "1"


def test_truncated_tcp_header_keeps_the_fields_it_holds() -> None:
    frame = eth(tcp4(sport=1234, dport=80, seq=5, ack=6, flags=P.SYN))[: 14 + 20 + 12]
    assert status_of(frame) == DecodeStatus.TRUNCATED_TRANSPORT
    rec = record(frame)
    assert (rec["SourcePort"], rec["DestinationPort"], rec["TCPSequenceNumber"]) == (1234, 80, 5)
    assert (rec["TCPAcknowledgementNumber"], rec["TCPFlags"], rec["TCPDataOffset"], rec["TCPFlagsString"]) == (
        6, 0, 0, "",
    )  # fmt: skip


# --- UDP, ICMP -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "payload_length"), [(8, 0), (7, 0), (0, 0), (508, 500), (65535, 65527)]
)
def test_udp_payload_length_is_the_length_field_minus_8(length: int, payload_length: int) -> None:
    rec = record(eth(udp4(sport=1, dport=2, payload=bytes(4), length=length)))
    assert rec["UDPPayloadLength"] == payload_length


def test_truncated_udp() -> None:
    frame = eth(udp4(sport=7, dport=9, payload=b"abc"))[: 14 + 20 + 6]
    assert status_of(frame) == DecodeStatus.TRUNCATED_TRANSPORT
    rec = record(frame)
    assert (
        rec["SourcePort"],
        rec["DestinationPort"],
        rec["UDPPayloadLength"],
        rec["UDPChecksum"],
    ) == (7, 9, 3, 0)


def test_icmp() -> None:
    packet = P.ipv4(P.icmp(type=3, code=4, rest=b"\x00\x00\x05\xdc"), src=SRC4, dst=DST4)
    assert record(eth(packet)) == expect(
        **v4_base(packet),
        IPProtocolName="ICMP",
        ICMPType=3,
        ICMPCode=4,
        ICMPChecksum=u16_at(packet, 22),
    )


def test_truncated_icmp() -> None:
    frame = eth(P.ipv4(P.icmp_echo(1, 1), src=SRC4, dst=DST4))[: 14 + 20 + 2]
    assert status_of(frame) == DecodeStatus.TRUNCATED_TRANSPORT
    rec = record(frame)
    assert (rec["ICMPType"], rec["ICMPCode"], rec["ICMPChecksum"]) == (8, 0, 0)


# --- GRE -----------------------------------------------------------------------------------

INNER = P.ipv4(P.udp(sport=1, dport=2), src="10.0.0.1", dst="10.0.0.2")


@pytest.mark.parametrize(("checksum", "key", "seq"), list(product([False, True], repeat=3)))
def test_gre_flag_combinations(checksum: bool, key: bool, seq: bool) -> None:
    seg = P.gre(INNER, checksum=checksum, key=0xFEEDBEEF if key else None, seq=42 if seq else None)
    packet = P.ipv4(seg, src=SRC4, dst=DST4)
    length = 4 + 4 * (checksum + key + seq)
    assert record(eth(packet)) == expect(
        **v4_base(packet),
        IPProtocolName="GRE",
        GREVersion=0,
        GREEtherType=0x0800,
        GREHeaderLength=length,
        GREChecksum=u16_at(packet, 24) if checksum else 0,
        GREKey=0xFEEDBEEF if key else 0,
        GRESequenceNumber=42 if seq else 0,
    )


@pytest.mark.parametrize(
    ("seq", "ack", "length"), [(None, None, 8), (7, None, 12), (None, 9, 12), (7, 9, 16)]
)
def test_gre_version_1(seq: int | None, ack: int | None, length: int) -> None:
    seg = P.gre(
        b"\xff\x03\x00\x21", proto=P.ETH_PPP, key=(4 << 16) | 0x1234, seq=seq, version=1, ack=ack
    )
    rec = record(eth(P.ipv4(seg, src=SRC4, dst=DST4)))
    assert (rec["GREVersion"], rec["GREEtherType"], rec["GREHeaderLength"]) == (1, 0x880B, length)
    assert (rec["GREKey"], rec["GRESequenceNumber"]) == ((4 << 16) | 0x1234, seq or 0)


def test_gre_ack_bit_counts_only_in_version_1() -> None:
    body = struct.pack("!HH", 0x0080, 0x0800) + INNER
    rec = record(eth(P.ipv4(body, proto=P.PROTO_GRE, src=SRC4, dst=DST4)))
    assert (rec["GREVersion"], rec["GREHeaderLength"]) == (0, 4)


def test_gre_routing_bit_brings_the_checksum_word() -> None:
    body = struct.pack("!HHHH", 0x4000, 0x0800, 0xAAAA, 0) + INNER
    rec = record(eth(P.ipv4(body, proto=P.PROTO_GRE, src=SRC4, dst=DST4)))
    assert rec["GREHeaderLength"] == 8


def test_truncated_gre() -> None:
    seg = P.gre(INNER, key=1, seq=2)
    frame = eth(P.ipv4(seg, src=SRC4, dst=DST4))[: 14 + 20 + 10]
    assert status_of(frame) == DecodeStatus.TRUNCATED_GRE
    rec = record(frame)
    assert (rec["GREHeaderLength"], rec["GREKey"], rec["GRESequenceNumber"]) == (12, 1, 0)


# --- DNS -----------------------------------------------------------------------------------


def dns_udp(message: bytes, sport: int = 33333, dport: int = 53) -> bytes:
    return eth(P.ipv4(P.udp(sport=sport, dport=dport, payload=message), src=SRC4, dst=DST4))


def dns_tcp(message: bytes, dport: int = 53) -> bytes:
    seg = P.tcp(sport=33333, dport=dport, flags=P.PSH | P.ACK, options=[P.NOP, P.NOP, P.timestamps(1, 2)],
                payload=P.dns_tcp(message))  # fmt: skip
    return eth(P.ipv4(seg, src=SRC4, dst=DST4))


@pytest.mark.parametrize(
    ("qtype", "name"),
    [("A", "A"), ("AAAA", "AAAA"), ("MX", "MX"), ("TXT", "TXT"), ("HTTPS", "HTTPS"), ("ANY", "ANY"),
     (65280, "TYPE65280"), (0, "TYPE0"), (257, "CAA")],
)  # fmt: skip
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_dns_query(qtype: str | int, name: str, transport: str) -> None:
    message = P.dns_query("www.Example.com", qtype)
    frame = dns_udp(message) if transport == "udp" else dns_tcp(message)
    assert status_of(frame) == DecodeStatus.OK
    rec = record(frame)
    assert (rec["DNSQueryName"], rec["DNSQueryType"]) == ("www.Example.com", name)


def test_dns_name_escapes_odd_bytes() -> None:
    labels = [b"a.b", b"c\\d", b"\x00\x7f\xff", b"e f", b"\xc3\xa9t\xc3\xa9", b"ok-_*"]
    rec = record(dns_udp(P.dns_query(labels, "A")))
    assert rec["DNSQueryName"] == "a\\.b.c\\\\d.\\000\\127\\255.e\\032f.\\195\\169t\\195\\169.ok-_*"
    assert dns_name(P.dns_name(labels)) == rec["DNSQueryName"]


def test_dns_name_one_byte_too_long() -> None:
    labels = [b"x" * 63] * 3 + [b"y" * 62]  # 256 bytes on the wire
    assert len(P.dns_name(labels)) == 256
    assert status_of(dns_udp(P.dns_query(labels, "A"))) == DecodeStatus.MALFORMED_DNS


def test_dns_longest_name() -> None:
    labels = [b"x" * 63] * 3 + [b"y" * 61]  # 4 * 64 - 2 + 1 = 255 bytes on the wire
    assert len(P.dns_name(labels)) == 255
    rec = record(dns_udp(P.dns_query(labels, "NS")))
    assert rec["DNSQueryName"] == ".".join(lb.decode() for lb in labels)


@pytest.mark.parametrize(
    "frame",
    [
        dns_udp(
            P.dns_response("example.com", "A", rdata=b"\x01\x02\x03\x04"), sport=53, dport=40000
        ),
        dns_udp(P.dns_response("example.com", "A", rdata=b"\x01\x02\x03\x04"), sport=53, dport=53),
        dns_udp(P.dns_query("example.com"), sport=53, dport=5353),  # a query, but not to port 53
        dns_udp(struct.pack("!HHHHHH", 1, 0x0100, 0, 0, 0, 0)),  # no question
        dns_tcp(P.dns_response("example.com", "MX")),
    ],
    ids=["response", "response to 53", "query from 53", "qdcount 0", "tcp response"],
)
def test_dns_only_queries_to_port_53_are_decoded(frame: bytes) -> None:
    assert status_of(frame) == DecodeStatus.OK
    rec = record(frame)
    assert (rec["DNSQueryName"], rec["DNSQueryType"]) == ("", "")


@pytest.mark.parametrize(
    "message",
    [
        # A compression pointer in the question name.
        struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)
        + b"\x03www\xc0\x0c"
        + struct.pack("!HH", 1, 1),
        # A label type 0x40 (extended label, obsolete).
        struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x41" + struct.pack("!HH", 1, 1),
        # The question ends without QTYPE/QCLASS.
        P.dns_query("example.com")[:-3],
        # The name runs past the end.
        struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x07exa",
        # A name longer than 255 bytes.
        struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)
        + (b"\x3f" + b"z" * 63) * 5
        + b"\x00\x00\x01\x00\x01",
    ],
    ids=["pointer", "label type", "no qtype", "cut name", "too long"],
)
def test_malformed_dns_question(message: bytes) -> None:
    frame = dns_udp(message)
    assert status_of(frame) == DecodeStatus.MALFORMED_DNS
    rec = record(frame)
    assert (rec["DNSQueryName"], rec["DNSQueryType"], rec["DestinationPort"]) == ("", "", 53)


def test_dns_queries_in_a_batch_land_on_their_own_rows() -> None:
    frames = [
        dns_tcp(P.dns_query("tcp.example", "AAAA")),
        eth(udp4(sport=1, dport=2)),
        dns_udp(P.dns_query("udp.example", "MX")),
        dns_udp(P.dns_query("second.example", "TXT")),
    ]
    table = Pipeline().process(batch_of([(f, 1) for f in frames]))
    assert table.column("DNSQueryName").to_pylist() == [
        "tcp.example",
        "",
        "udp.example",
        "second.example",
    ]
    assert table.column("DNSQueryType").to_pylist() == ["AAAA", "", "MX", "TXT"]


def test_ethernet_padding_changes_nothing() -> None:
    packet = P.ipv4(
        P.udp(sport=40000, dport=53, payload=P.dns_query("a.io", "A")), src=SRC4, dst=DST4
    )
    # Zero bytes after the IP packet (NIC padding, or a trailer) are not part of it.
    assert record(P.ethernet(packet, ethertype=P.ETH_IPV4, pad_to=128)) == record(eth(packet))


def test_bytes_past_the_ip_total_length_are_not_decoded() -> None:
    udp = P.udp(sport=1111, dport=53, payload=P.dns_query("ab", "A")).data
    # The IP datagram holds 4 bytes of the UDP header; the rest of the frame is a trailer.
    frame = eth(P.ipv4(udp, proto=P.PROTO_UDP, src=SRC4, dst=DST4, total_length=24))
    assert status_of(frame) == DecodeStatus.TRUNCATED_TRANSPORT
    rec = record(frame)
    assert (rec["SourcePort"], rec["DestinationPort"]) == (1111, 53)
    assert (rec["UDPPayloadLength"], rec["DNSQueryName"], rec["DNSQueryType"]) == (0, "", "")


def test_list_columns_of_many_rows() -> None:
    frames = [
        eth(tcp4(sport=i, dport=1, options=[P.NOP] * (i % 5) + [P.mss(1000 + i)]))
        for i in range(12)
    ]
    table = Pipeline().process(batch_of([(f, 1) for f in frames]))
    expected = [
        ",".join(["1"] * (i % 5) + ["2"] + (["0"] if (i % 5 + 4) % 4 else [])) for i in range(12)
    ]
    assert table.column("TCPOptions").to_pylist() == expected
    assert table.column("TCPMSS").to_pylist() == [1000 + i for i in range(12)]
    assert np.array_equal(table.column("SourcePort").to_numpy(), np.arange(12))
