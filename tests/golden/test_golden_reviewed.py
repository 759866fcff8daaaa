"""Golden cases checked field by field against what ``cases.py`` built.

``tests/test_golden.py`` only proves the decoder still prints what it printed when the
expected files were written. Here the values come from the builder's inputs (written out by
hand) or from the input frames' own bytes (checksums), and both the decoder's records and the
committed ``expected.ndjson`` must hold them.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import orjson
import pytest

from netlogpush.pipeline import decode_file

GOLDEN = Path(__file__).parent


def frames(case: str) -> list[bytes]:
    """The captured bytes of each frame of a case's input (a plain pcap walk)."""
    raw = (GOLDEN / case / "input.pcap").read_bytes()
    out, pos = [], 24
    while pos < len(raw):
        caplen = struct.unpack_from("<I", raw, pos + 8)[0]
        out.append(raw[pos + 16 : pos + 16 + caplen])
        pos += 16 + caplen
    return out


def u16(frame: bytes, off: int) -> int:
    return int(struct.unpack_from("!H", frame, off)[0])


def records(case: str) -> list[dict[str, Any]]:
    """The decoder's records, after checking the committed expected file agrees with them."""
    got: list[dict[str, Any]] = decode_file(GOLDEN / case / "input.pcap").to_pylist()
    lines = (GOLDEN / case / "expected.ndjson").read_bytes().splitlines()
    assert len(lines) == len(got)
    for rec, line in zip(got, lines, strict=True):
        expected = orjson.loads(line)
        assert {k: rec[k] for k in expected if k != "Datetime"} == {
            k: v for k, v in expected.items() if k != "Datetime"
        }
    return got


def check(rec: dict[str, Any], **want: Any) -> None:
    assert {k: rec[k] for k in want} == want


def test_tcp4_handshake() -> None:
    r = records("tcp4-handshake")
    f = frames("tcp4-handshake")
    assert len(r) == 6
    check(r[0], IPSourceAddress="198.51.100.7", IPDestinationAddress="192.0.2.10",
          IPSourceSubnet="198.51.100.0/24", IPDestinationSubnet="192.0.2.0/24",
          IPProtocol=6, IPProtocolName="TCP", IPTTL=64, IPTTLBuckets=60, IPTotalLength=60,
          IPHeaderLength=20, IPv4Identification=0x1234, IPv4DontFragment=1, IPMoreFragments=0,
          IPFragmentOffset=0, IPv4Options="", SourcePort=40000, DestinationPort=443,
          TCPSequenceNumber=0x11223344, TCPAcknowledgementNumber=0, TCPFlags=2,
          TCPFlagsString="SYN", TCPDataOffset=40, TCPWindowSize=64240, TCPMSS=1460,
          TCPSACKPermitted=1, TCPTimestampValue=1000, TCPTimestampECR=0, TCPWindowScale=7,
          TCPOptions="2,4,8,1,3", TCPSACKBlocks="", IPv4Checksum=u16(f[0], 24),
          TCPChecksum=u16(f[0], 50), SampleInterval=1, Datetime=1_700_000_000_000_000_000)
    check(r[1], IPSourceAddress="192.0.2.10", IPTTL=57, TCPFlags=0x12,
          TCPFlagsString="SYN-ACK", TCPSequenceNumber=0xA0B0C0D0,
          TCPAcknowledgementNumber=0x11223345, TCPMSS=1400, TCPWindowScale=9,
          TCPTimestampValue=2000, TCPTimestampECR=1000, TCPWindowSize=65160)
    check(r[3], IPTotalLength=20 + 32 + 100, IPTotalLengthBuckets=100, IPv4DSCP=10, IPv4ECN=2,
          TCPFlags=0x18, TCPFlagsString="PSH-ACK", TCPOptions="1,1,8", TCPDataOffset=32,
          TCPTimestampValue=1002, TCPTimestampECR=2000, TCPMSS=0, TCPSACKPermitted=0)
    check(r[4], TCPFlagsString="FIN-ACK", TCPSequenceNumber=0x11223344 + 101, TCPOptions="")
    check(r[5], TCPFlags=0x14, TCPFlagsString="RST-ACK", TCPWindowSize=0,
          IPv4DontFragment=0, IPv4Identification=0)


def test_tcp_sack_and_flags() -> None:
    r = records("tcp-sack-timestamps")
    base = 0x7FFFFF00
    check(r[1], TCPSACKBlocks=f"{base},{base + 500},{base + 1000},{base + 1500}",
          TCPTimestampValue=0xFFFFFFFF, TCPTimestampECR=7, TCPOptions="1,1,8,1,1,5")
    check(r[3], TCPOptions="1,1,5", TCPDataOffset=20 + 36, TCPSACKBlocks=",".join(
        str(base + 1000 * i + d) for i in range(4) for d in (0, 500)))
    check(r[4], TCPSACKBlocks=f"{0xFFFFFF00},{0x100}", TCPAcknowledgementNumber=0xFFFFFFFF)
    flags = records("tcp-flags")
    check(flags[0], TCPFlags=0, TCPFlagsString="")
    check(flags[6], TCPFlags=0x20, TCPFlagsString="URG", TCPUrgentPointer=0x55AA)
    check(flags[9], TCPFlags=0x100, TCPFlagsString="AE")
    check(flags[10], TCPFlags=0x29, TCPFlagsString="FIN-PSH-URG")
    check(flags[12], TCPFlags=0xE10, TCPFlagsString="ACK")  # reserved bits kept, not named
    odd = records("tcp-options-odd")
    check(odd[1], TCPOptions="2,1,3,1,1,8,4,0", TCPMSS=1440, TCPWindowScale=6,
          TCPTimestampValue=7, TCPSACKPermitted=1)
    check(odd[3], TCPOptions="3,0", TCPWindowScale=14, TCPMSS=0)  # nothing read after EOL
    check(odd[5], TCPOptions="2,2,3,3,0", TCPMSS=1460, TCPWindowScale=3)  # first one wins


def test_ipv6_extension_headers() -> None:
    r = records("ipv6-ext")
    check(r[0], IPv6ExtensionHeaders="0", IPHeaderLength=48, IPProtocol=17,
          IPProtocolName="UDP", IPTotalLength=40 + 8 + 11, UDPPayloadLength=3,
          IPSourceAddress="2001:db8:c::7", IPSourceSubnet="2001:db8:c::/64")
    check(r[2], IPv6ExtensionHeaders="43", IPHeaderLength=40 + 40, IPProtocol=58,
          ICMPType=128)
    check(r[4], IPv6ExtensionHeaders="44", IPv6Identification=0xCAFEF00D, IPMoreFragments=1,
          IPFragmentOffset=0, IPTotalLength=1280, SourcePort=40000, DestinationPort=5001,
          UDPPayloadLength=2000)
    check(r[5], IPFragmentOffset=1232, IPMoreFragments=0, SourcePort=0, UDPPayloadLength=0,
          IPv6Identification=0xCAFEF00D, IPProtocol=17)
    check(r[7], IPv6ExtensionHeaders="0,60,43,44,60", IPHeaderLength=40 + 8 + 8 + 24 + 8 + 8,
          IPv6Identification=6, IPProtocol=17)
    check(r[8], IPProtocol=59, IPv6ExtensionHeaders="0")
    tcp6 = records("tcp6")
    check(tcp6[0], IPv6FlowLabel=0xABCDE, IPv6DSCP=0xB9 >> 2, IPv6ECN=1, IPTTL=61,
          IPv4Checksum=0, IPv4Identification=0)
    check(tcp6[2], IPv6FlowLabel=0xFFFFF, IPv6ECN=3, IPTotalLength=40 + 20 + 1000)


def test_ipv4_fragments_and_options() -> None:
    r = records("ipv4-fragments")
    check(r[0], IPMoreFragments=1, IPFragmentOffset=0, IPv4Identification=0xBEEF,
          SourcePort=40000, DestinationPort=5001, UDPPayloadLength=3072, IPTotalLength=1500)
    check(r[1], IPMoreFragments=1, IPFragmentOffset=1480, SourcePort=0, UDPChecksum=0)
    check(r[2], IPMoreFragments=0, IPFragmentOffset=2960, IPTotalLength=20 + 3080 - 2960)
    check(r[6], IPFragmentOffset=65528, IPProtocol=1, ICMPType=0)
    o = records("ipv4-options")
    check(o[0], IPv4Options="7,0", IPHeaderLength=60, ICMPType=8)
    check(o[2], IPv4Options="1,1,148,0", IPHeaderLength=28)
    check(o[5], IPv4Options="130,1,148", IPHeaderLength=36)


def test_gre() -> None:
    r = records("gre")
    f = frames("gre")
    check(r[0], IPProtocol=47, IPProtocolName="GRE", GREVersion=0, GREEtherType=0x0800,
          GREHeaderLength=4, GREKey=0, GRESequenceNumber=0, GREChecksum=0,
          IPSourceAddress="203.0.113.1", SourcePort=0, TCPFlags=0)  # the inner packet is not ours
    check(r[1], GREKey=0xDEADBEEF, GREHeaderLength=8)
    check(r[3], GREChecksum=u16(f[3], 14 + 20 + 4), GREKey=1, GRESequenceNumber=0xFFFFFFFF,
          GREHeaderLength=16)
    check(r[4], GREVersion=1, GREEtherType=0x880B, GREKey=(64 << 16) | 0x1234,
          GRESequenceNumber=3, GREHeaderLength=16)
    check(r[6], IPSourceAddress="2001:db8:1::1", GREKey=7, IPProtocol=47)


def test_dns() -> None:
    r = records("dns-udp-queries")
    names = [(x["DNSQueryName"], x["DNSQueryType"]) for x in r]
    assert names[:11] == [
        ("example.com", "A"), ("www.example.org", "AAAA"), ("example.com", "MX"),
        ("_dmarc.example.com", "TXT"), ("example.net", "NS"), ("1.2.0.192.in-addr.arpa", "PTR"),
        ("_sip._tcp.example.com", "SRV"), ("example.com", "ANY"), ("svc.example.com", "HTTPS"),
        ("example.com", "CAA"), ("private.example", "TYPE65280"),
    ]
    assert names[11] == ("", "NS")  # the root
    assert names[13] == ("a" * 63 + ".example", "A")
    assert names[14:17] == [("with\\032space.example", "A"), ("dot\\.inside.example", "TXT"),
                            ("caf\\195\\169.example", "A")]
    not_queries = records("dns-not-queries")
    assert [x["DNSQueryName"] for x in not_queries] == ["", "", "", "", "example.com"]
    t = records("dns-tcp")
    check(t[0], DNSQueryName="tcp.example.com", DNSQueryType="AAAA", IPProtocol=6)
    check(t[1], DNSQueryName="v6.example", DNSQueryType="MX")
    check(t[2], DNSQueryName="")


@pytest.mark.parametrize(
    ("case", "index", "want"),
    [
        ("malformed-ipv4", 0, {"IPHeaderLength": 12, "IPProtocol": 17, "SourcePort": 0}),
        ("malformed-ipv4", 7, {"IPv4Checksum": 0xDEAD}),
        ("malformed-transport", 1, {"TCPDataOffset": 12, "TCPOptions": ""}),
        ("malformed-transport", 10, {"UDPPayloadLength": 92}),
        ("malformed-transport", 11, {"UDPPayloadLength": 0}),
        ("malformed-dns", 6, {"DNSQueryName": "www.example.com", "DNSQueryType": "A"}),
        ("malformed-dns", 1, {"DNSQueryName": "", "DNSQueryType": ""}),
        ("snaplen", 1, {"TCPOptions": "2,4", "TCPMSS": 1460, "TCPTimestampValue": 0}),
        ("snaplen", 0, {"IPTotalLength": 1500, "TCPTimestampValue": 3, "TCPTimestampECR": 4}),
        ("vlan-qinq-padding", 6, {"IPTotalLength": 28, "UDPPayloadLength": 0}),
    ],
)
def test_malformed_and_cut(case: str, index: int, want: dict[str, Any]) -> None:
    check(records(case)[index], **want)


def test_no_records_without_ip() -> None:
    assert len(records("non-ip")) == 1
    assert len(frames("non-ip")) == 7
