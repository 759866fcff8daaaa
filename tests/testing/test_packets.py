"""The packet builder: layouts, checksums, batch templates and the pcap writer.

Independent references: tshark verifies every checksum, dpkt reads the pcap files back,
and batch-rendered frames must equal frames built one by one.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from decimal import Decimal
from pathlib import Path

import dpkt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.testing import packets as P

ADDR4 = st.integers(0, 2**32 - 1).map(lambda a: ".".join(str((a >> s) & 255) for s in (24, 16, 8, 0)))
PORT = st.integers(0, 65535)
U32 = st.integers(0, 2**32 - 1)


def test_checksum_examples() -> None:
    # RFC 1071 §3 example words 0001 f203 f4f5 f6f7: sum ddf2, checksum 220d.
    assert P.fold(P.ones_sum(bytes.fromhex("0001f203f4f5f6f7"))) == 0xDDF2
    assert P.inet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert P.inet_checksum(b"\x01") == 0xFEFF  # odd length: padded with a zero byte


@given(st.binary(min_size=0, max_size=200))
def test_checksum_verifies_to_zero(data: bytes) -> None:
    data += bytes(len(data) % 2)
    csum = P.inet_checksum(data)
    assert P.inet_checksum(data + struct.pack("!H", csum)) == 0


def test_ipv4_header_fields() -> None:
    pkt = P.ipv4(b"xy", src="192.0.2.1", dst="198.51.100.2", proto=17, ttl=9, ident=0xABCD,
                 df=True, mf=True, frag_offset=1480, dscp=46, ecn=3,
                 options=P.router_alert())
    assert pkt[0] == 0x46 and pkt[1] == (46 << 2) | 3
    assert struct.unpack("!HHHBB", pkt[2:10]) == (26, 0xABCD, 0x6000 | 185, 9, 17)
    assert pkt[12:20] == bytes([192, 0, 2, 1, 198, 51, 100, 2])
    assert P.inet_checksum(pkt[:24]) == 0
    with pytest.raises(ValueError):
        P.ipv4(b"", src="192.0.2.1", dst="192.0.2.2", proto=1, frag_offset=3)


def test_ipv6_chain_and_fragment() -> None:
    pkt = P.ipv6(P.udp(sport=1, dport=2, payload=b"abc"), src="2001:db8::1", dst="2001:db8::2",
                 tclass=0xB8, flow_label=0xABCDE,
                 ext=[P.hop_by_hop(), P.fragment(offset=16, more=True, ident=0x01020304)])
    assert struct.unpack("!IHBB", pkt[:8]) == ((6 << 28) | (0xB8 << 20) | 0xABCDE, 8 + 8 + 11,
                                               0, 64)
    assert pkt[40] == 44 and pkt[41] == 0  # HBH: next is fragment, 8 bytes
    assert pkt[48:56] == bytes([17, 0]) + struct.pack("!HI", 16 | 1, 0x01020304)


def test_tcp_options_and_data_offset() -> None:
    seg = P.tcp(sport=1, dport=2, flags=P.SYN | P.NS, options=[P.mss(1460), P.sack_permitted(),
                                                              P.timestamps(1, 2), P.NOP,
                                                              P.wscale(7)])
    assert seg.data[12] >> 4 == 10 and seg.data[12] & 1 == 1  # 40 bytes; NS bit
    assert seg.data[20:24] == b"\x02\x04\x05\xb4"
    assert len(P.tcp(sport=1, dport=2, options=[P.wscale(1)]).data) == 24  # padded with EOL
    assert P.tcp(sport=1, dport=2, data_offset=3).data[12] >> 4 == 3


def test_dns_encoding() -> None:
    q = P.dns_query("www.Example.com", "AAAA", txid=0x1234)
    assert q[:12] == bytes.fromhex("123401000001000000000000")
    assert q[12:] == b"\x03www\x07Example\x03com\x00\x00\x1c\x00\x01"
    assert P.dns_name(".") == b"\x00"
    assert P.dns_name([b"a.b", b"c"]) == b"\x03a.b\x01c\x00"
    assert P.dns_tcp(b"abc") == b"\x00\x03abc"


def _tcp_frame(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, tsval: int) -> bytes:
    return P.ethernet(P.ipv4(P.tcp(sport=sport, dport=dport, seq=seq, ack=ack, flags=P.ACK,
                                   options=[P.NOP, P.NOP, P.timestamps(tsval, 5)],
                                   payload=b"payload!"), src=src, dst=dst, df=True),
                      ethertype=P.ETH_IPV4, vlans=[P.Vlan(7)])


@settings(max_examples=60, deadline=None)
@given(ADDR4, ADDR4, PORT, PORT, U32, U32, U32)
def test_batch_render_equals_building_each(
    src: str, dst: str, sport: int, dport: int, seq: int, ack: int, tsval: int
) -> None:
    template = _tcp_frame("0.0.0.0", "0.0.0.0", 0, 0, 0, 1, 0)
    lay = P.layout(template)
    bt = P.BatchTemplate(template, lay.fields, lay.checksums)
    rows = bt.render(2, {
        "ip.src": np.frombuffer(P.ip_bytes(src), ">u4").repeat(2),
        "ip.dst": np.frombuffer(P.ip_bytes(dst), ">u4").repeat(2),
        "l4.sport": sport, "l4.dport": dport, "tcp.seq": seq, "tcp.ack": ack,
        "tcp.tsval": tsval,
    })
    want = _tcp_frame(src, dst, sport, dport, seq, ack, tsval)
    assert rows[0].tobytes() == want and rows[1].tobytes() == want


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16), PORT,
       st.integers(0, 2**20 - 1))
def test_batch_render_ipv6_udp_and_gre(src: bytes, dst: bytes, sport: int, label: int) -> None:
    def frame(s: bytes, d: bytes, p: int, fl: int) -> bytes:
        inner = P.ipv4(P.udp(sport=p, dport=53, payload=P.dns_query("x.example")),
                       src="10.0.0.1", dst="10.0.0.2")
        outer = P.ipv6(P.gre(inner, checksum=True, key=9), src=s, dst=d, flow_label=fl)
        return P.ethernet(outer, ethertype=P.ETH_IPV6)

    template = frame(bytes(16), bytes(16), 0, 0)
    lay = P.layout(template)
    assert {"ip.src", "ip.dst", "ip6.vtf", "gre.key", "inner.ip.src", "l4.sport",
            "dns.id"} <= set(lay.fields)
    bt = P.BatchTemplate(template, lay.fields, lay.checksums)
    out = bt.render(1, {
        "ip.src": np.frombuffer(src, np.uint8)[None, :],
        "ip.dst": np.frombuffer(dst, np.uint8)[None, :],
        "ip6.vtf": (6 << 28) | label,
        "l4.sport": sport,
    })
    assert out[0].tobytes() == frame(src, dst, sport, label)


def test_udp_zero_checksum_is_sent_as_ffff() -> None:
    # Find a payload whose UDP checksum computes to 0: then 0xFFFF goes on the wire.
    for i in range(70000):
        seg = P.udp(sport=1, dport=2, payload=struct.pack("!H", i))
        data = seg.finalize(P.ip_bytes("192.0.2.1"), P.ip_bytes("192.0.2.2"))
        if data[6:8] == b"\xff\xff":
            break
    else:
        pytest.fail("no payload gave a zero checksum")
    lay = P.layout(P.ipv4(P.udp(sport=1, dport=2, payload=struct.pack("!H", i)),
                          src="192.0.2.1", dst="192.0.2.2"), P.LINKTYPE_RAW)
    frame = P.ipv4(seg, src="192.0.2.1", dst="192.0.2.2")
    bt = P.BatchTemplate(frame, lay.fields, lay.checksums)
    assert bt.render(1, {})[0, 26:28].tobytes() == b"\xff\xff"


@pytest.mark.parametrize("nanosecond", [False, True])
def test_pcap_writer_read_back_by_dpkt(tmp_path: Path, nanosecond: bool) -> None:
    path = tmp_path / "x.pcap"
    frames = [(b"\x01" * 60, 1_700_000_000_123_456_789), (b"\x02" * 100, 1_700_000_001_000_000_001, 1500)]
    assert P.write_pcap(path, frames, P.LINKTYPE_LINUX_SLL2, nanosecond=nanosecond) == 2
    with path.open("rb") as f:
        reader = dpkt.pcap.Reader(f)
        assert reader.datalink() == P.LINKTYPE_LINUX_SLL2
        got = list(reader)
    assert [buf for _, buf in got] == [b"\x01" * 60, b"\x02" * 100]
    if nanosecond:
        assert got[0][0] == Decimal("1700000000.123456789")  # dpkt keeps ns exactly
    else:
        assert got[0][0] == pytest.approx(1_700_000_000.123456, abs=1e-7)
    raw = path.read_bytes()
    assert struct.unpack_from("<II", raw, 24 + 16 + 60 + 8) == (100, 1500)  # caplen, wirelen


def test_pcap_writer_cuts_at_snaplen(tmp_path: Path) -> None:
    path = tmp_path / "s.pcap"
    with P.PcapWriter(path, P.LINKTYPE_RAW, snaplen=64) as w:
        w.write(bytes(200), 0)
    assert struct.unpack_from("<II", path.read_bytes(), 24 + 8) == (64, 200)


@pytest.mark.tool
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_finds_every_checksum_correct(tmp_path: Path) -> None:
    c4, s4, c6, s6 = "198.51.100.1", "192.0.2.1", "2001:db8::1", "2001:db8::2"
    inner = P.ipv4(P.icmp_echo(1, 2, b"ping"), src="10.0.0.1", dst="10.0.0.2")
    frames = [
        P.link(1, P.ipv4(P.tcp(sport=1, dport=2, options=[P.mss(1460)], payload=b"x"), src=c4,
                         dst=s4, options=P.record_route(2))),
        P.link(1, P.ipv4(P.udp(sport=1, dport=53, payload=P.dns_query("a.example")), src=c4,
                         dst=s4)),
        P.link(1, P.ipv6(P.udp(sport=1, dport=2, payload=b"odd"), src=c6, dst=s6,
                         ext=[P.hop_by_hop(), P.routing([s6], rtype=2, segments_left=1)])),
        P.link(1, P.ipv6(P.icmpv6_echo(1, 1, b"abc"), src=c6, dst=s6)),
        P.link(1, P.ipv4(P.gre(inner, checksum=True, key=1, seq=2), src=c4, dst=s4)),
    ]
    path = tmp_path / "c.pcap"
    P.write_pcap(path, frames)
    out = subprocess.run(
        ["tshark", "-r", str(path), "-V", "-o", "ip.check_checksum:TRUE", "-o",
         "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    assert "incorrect" not in out and "Bad checksum" not in out
    # IPv4 x3 (one inner), TCP, UDP x2, ICMP, ICMPv6, GRE: 10 checksums verified.
    assert out.count("[correct]") == 10
