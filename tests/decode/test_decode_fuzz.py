"""Decoder properties over random, mutated and truncated frames of every link type.

The decoder reads outside input, so whatever the bytes: it never raises, every status is a
``DecodeStatus``, every field fits its header field, offsets stay inside the frame, and a
frame decodes the same alone as among others (bytes past a frame's end must never leak in).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from netlogpush.dataset.fields import FIELD_NAMES
from netlogpush.dataset.formats import encode_ndjson
from netlogpush.dataset.records import SCHEMA
from netlogpush.decode import DecodeStatus, FrameBatch, FrameBatchBuilder, PacketColumns, decode
from netlogpush.decode.ipv6 import EXTENSION_HEADERS
from netlogpush.pipeline import Pipeline
from netlogpush.testing import packets as P

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SUPPORTED = (0, 1, 12, 14, 101, 108, 113, 228, 229, 276)
LINKTYPES = (*SUPPORTED, 147, 9999)

U16, U32 = 0xFFFF, 0xFFFFFFFF
#: The largest value each decoded field can hold (its header field's width). A field the
#: decoder starts to fill without an entry here fails the test, on purpose.
MAX: dict[str, int] = {
    "SourcePort": U16, "DestinationPort": U16,
    "IPTTL": 255, "IPProtocol": 255, "IPHeaderLength": 40 + 8 * 2048,
    "IPTotalLength": U16 + 40, "IPFragmentOffset": 8191 * 8, "IPMoreFragments": 1,
    "IPv4DSCP": 63, "IPv4ECN": 3, "IPv4DontFragment": 1, "IPv4Identification": U16, "IPv4Checksum": U16,
    "IPv6DSCP": 63, "IPv6ECN": 3, "IPv6FlowLabel": 2**20 - 1, "IPv6Identification": U32,
    "TCPSequenceNumber": U32, "TCPAcknowledgementNumber": U32, "TCPDataOffset": 60, "TCPFlags": 0xFFF,
    "TCPWindowSize": U16, "TCPChecksum": U16, "TCPUrgentPointer": U16, "TCPMSS": U16,
    "TCPWindowScale": 255, "TCPSACKPermitted": 1, "TCPTimestampValue": U32, "TCPTimestampECR": U32,
    "UDPPayloadLength": U16 - 8, "UDPChecksum": U16,
    "ICMPType": 255, "ICMPCode": 255, "ICMPChecksum": U16,
    "GREVersion": 7, "GREEtherType": U16, "GREHeaderLength": 20, "GREChecksum": U16, "GREKey": U32,
    "GRESequenceNumber": U32,
}  # fmt: skip
MULTIPLE_OF = {"IPFragmentOffset": 8, "TCPDataOffset": 4, "GREHeaderLength": 4, "IPHeaderLength": 4}
#: Fields that only packets of these IP protocols may carry.
PROTOCOL_FIELDS = {
    "TCP": (6,),
    "UDP": (17,),
    "ICMP": (1, 58),
    "GRE": (47,),
    "SourcePort": (6, 17),
    "DestinationPort": (6, 17),
}

#: What a cut-short valid packet may report: OK (the cut is in a payload) or a problem named
#: for truncation or for a header that no longer fits.
TRUNCATION_STATUSES = {
    s
    for s in DecodeStatus
    if s == DecodeStatus.OK or s.name.startswith(("TRUNCATED_", "BAD_", "MALFORMED_"))
}


# --- strategies ----------------------------------------------------------------------------

ports = st.integers(0, U16)
#: Destination ports of non-DNS packets: random bytes sent to port 53 are malformed DNS.
not_dns = ports.filter(lambda p: p != 53)
addr4 = st.builds(lambda b: ".".join(map(str, b)), st.binary(min_size=4, max_size=4))
addr6 = st.binary(min_size=16, max_size=16)
tcp_options = st.lists(
    st.one_of(
        st.just(P.NOP),
        st.builds(P.mss, ports),
        st.builds(P.wscale, st.integers(0, 14)),
        st.just(P.sack_permitted()),
        st.builds(P.timestamps, st.integers(0, U32), st.integers(0, U32)),
        st.builds(
            P.sack,
            st.lists(st.tuples(st.integers(0, U32), st.integers(0, U32)), min_size=1, max_size=3),
        ),
    ),
    max_size=4,
).filter(lambda opts: sum(map(len, opts)) <= 40)


@st.composite
def transports(draw: st.DrawFn, v6: bool) -> P.Segment:
    kind = draw(st.sampled_from(["tcp", "udp", "icmp", "gre", "dns_udp", "dns_tcp"]))
    if kind == "tcp":
        return P.tcp(
            sport=draw(ports), dport=draw(not_dns), seq=draw(st.integers(0, U32)),
            ack=draw(st.integers(0, U32)), flags=draw(st.integers(0, 0x1FF)),
            window=draw(ports), urg=draw(ports), options=draw(tcp_options),
            payload=draw(st.binary(max_size=20)),
        )  # fmt: skip
    if kind == "udp":
        return P.udp(sport=draw(ports), dport=draw(not_dns), payload=draw(st.binary(max_size=30)))
    if kind == "icmp":
        if v6:
            return P.icmpv6(type=draw(st.integers(0, 255)), code=draw(st.integers(0, 255)))
        return P.icmp(type=draw(st.integers(0, 255)), code=draw(st.integers(0, 255)))
    if kind == "gre":
        return P.gre(
            draw(st.binary(max_size=30)),
            checksum=draw(st.booleans()),
            key=draw(st.none() | st.integers(0, U32)),
            seq=draw(st.none() | st.integers(0, U32)),
        )
    labels = draw(st.lists(st.binary(min_size=1, max_size=12), min_size=0, max_size=4))
    message = P.dns_query(labels, draw(st.integers(0, U16)))
    if kind == "dns_udp":
        return P.udp(sport=draw(ports), dport=53, payload=message)
    return P.tcp(sport=draw(ports), dport=53, flags=P.PSH | P.ACK, options=draw(tcp_options),
                 payload=P.dns_tcp(message))  # fmt: skip


@st.composite
def ip_packets(draw: st.DrawFn) -> bytes:
    """A well-formed IPv4 or IPv6 packet of any supported transport."""
    if draw(st.booleans()):
        frag = draw(st.sampled_from([(False, 0), (True, 0), (False, 1480), (True, 8)]))
        options = draw(st.sampled_from([b"", P.router_alert(), P.NOP + P.record_route(2)]))
        seg = draw(transports(False))
        return P.ipv4(
            seg.data if frag[1] else seg, proto=seg.proto, src=draw(addr4), dst=draw(addr4),
            ttl=draw(st.integers(0, 255)), ident=draw(ports), df=draw(st.booleans()), mf=frag[0],
            frag_offset=frag[1], dscp=draw(st.integers(0, 63)), ecn=draw(st.integers(0, 3)), options=options,
        )  # fmt: skip
    ext_choices = [
        P.hop_by_hop(),
        P.dest_opts(),
        P.routing(["2001:db8::1"], segments_left=0),
        P.fragment(offset=0, more=True, ident=draw(st.integers(0, U32))),
    ]
    ext = draw(st.lists(st.sampled_from(ext_choices), max_size=3))
    return P.ipv6(
        draw(transports(True)), src=draw(addr6), dst=draw(addr6), hop_limit=draw(st.integers(0, 255)),
        tclass=draw(st.integers(0, 255)), flow_label=draw(st.integers(0, 2**20 - 1)), ext=ext,
    )  # fmt: skip


@st.composite
def semi_valid_packets(draw: st.DrawFn) -> bytes:
    """A valid IP header over random transport bytes, to reach the deep decoders with junk."""
    payload = draw(st.binary(max_size=60))
    if draw(st.booleans()):
        proto = draw(st.sampled_from([1, 6, 17, 47, 58, 0, 255]))
        ihl = draw(st.sampled_from([None, None, 6, 15, 2]))
        return P.ipv4(payload, proto=proto, src="10.0.0.1", dst="10.0.0.2", ihl=ihl)
    nh = draw(st.sampled_from([*EXTENSION_HEADERS, 6, 17, 58, 47, 59]))
    return P.ipv6(payload, next_header=nh, src="2001:db8::1", dst="2001:db8::2")


@st.composite
def framed(draw: st.DrawFn, packet: bytes) -> tuple[bytes, int]:
    """``packet`` wrapped in a random supported link layer."""
    v6 = packet[0] >> 4 == 6
    linktype = draw(st.sampled_from(SUPPORTED))
    if linktype == P.LINKTYPE_ETHERNET:
        tpids = st.sampled_from([0x8100, 0x88A8, 0x9100, 0x9200])
        vlans = draw(st.lists(st.builds(lambda t: P.Vlan(5, tpid=t), tpids), max_size=3))
        return P.ethernet(packet, ethertype=P.ETH_IPV6 if v6 else P.ETH_IPV4, vlans=vlans), linktype
    if linktype in (228, 229):
        return packet, 229 if v6 else 228
    if linktype in (12, 14):
        return packet, linktype
    return P.link(linktype, packet), linktype


valid_frames = ip_packets().flatmap(framed)


@st.composite
def mutated(draw: st.DrawFn, frame: tuple[bytes, int]) -> tuple[bytes, int]:
    data, linktype = bytearray(frame[0]), frame[1]
    for _ in range(draw(st.integers(0, 4))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data), linktype


any_frames = st.one_of(
    st.tuples(st.binary(max_size=120), st.sampled_from(LINKTYPES)),
    valid_frames,
    valid_frames.flatmap(mutated),
    semi_valid_packets().flatmap(framed),
    semi_valid_packets().flatmap(framed).flatmap(mutated),
)
frame_lists = st.lists(any_frames, min_size=1, max_size=8)


# --- helpers -------------------------------------------------------------------------------


def batch_of(frames: Sequence[tuple[bytes, int]]) -> FrameBatch:
    b = FrameBatchBuilder()
    for i, (frame, linktype) in enumerate(frames):
        b.append(frame, 1_600_000_000_000_000_000 + i, linktype)
    return b.build()


def _list_row(pc: PacketColumns, name: str, i: int) -> tuple[int, ...]:
    col = pc.lists.get(name)
    if col is None:
        return ()
    k = np.flatnonzero(col.rows == i)
    assert k.size <= 1, f"{name}: row {i} listed {k.size} times"
    return tuple(col.values[k[0], : col.counts[k[0]]].tolist()) if k.size else ()


def row_view(pc: PacketColumns, i: int) -> dict[str, Any]:
    """Everything the decoder says about frame ``i``, with offsets relative to the frame."""
    base = int(pc.frames.offsets[i])
    view: dict[str, Any] = {
        "status": DecodeStatus(int(pc.status[i])),
        "ip_version": int(pc.ip_version[i]),
        "src4": int(pc.src4[i]),
        "dst4": int(pc.dst4[i]),
        "src6": pc.src6[i].tobytes(),
        "dst6": pc.dst6[i].tobytes(),
        "l4": int(pc.l4[i]) - base if pc.l4[i] >= 0 else -1,
    }
    view |= {name: int(col[i]) for name, col in pc.fields.items() if col[i]}
    view |= {name: v for name in pc.lists if (v := _list_row(pc, name, i))}
    k = np.flatnonzero(pc.dns.rows == i)
    assert k.size <= 1
    if k.size:
        s, e = int(pc.dns.name_start[k[0]]), int(pc.dns.name_end[k[0]])
        view["dns"] = (pc.frames.data[s:e].tobytes(), int(pc.dns.qtype[k[0]]))
    return view


def check_invariants(pc: PacketColumns) -> None:
    frames = pc.frames
    assert pc.status.dtype == np.uint8
    for name, col in pc.fields.items():
        assert name in MAX, f"no bound known for {name}"
        assert col.shape == (len(pc),)
        assert int(col.max(initial=0)) <= MAX[name], name
        if name in MULTIPLE_OF:
            assert not (col % MULTIPLE_OF[name]).any(), name
    for i in range(len(pc)):
        status = DecodeStatus(int(pc.status[i]))  # raises for a value that is not a status
        view = row_view(pc, i)
        version = view["ip_version"]
        assert version in (0, 4, 6)
        assert bool(pc.recordable[i]) == (version != 0), status
        if version == 0:
            assert set(view) == {"status", "ip_version", "src4", "dst4", "src6", "dst6", "l4"}
            assert (view["src4"], view["src6"], view["l4"]) == (0, bytes(16), -1)
            continue
        if view["l4"] >= 0:
            assert view["l4"] <= int(frames.caplen[i])
        proto = view.get("IPProtocol", 0)
        for name in view:
            for prefix, protos in PROTOCOL_FIELDS.items():
                if name.startswith(prefix):
                    assert proto in protos, (name, proto)
            other = "IPv6" if version == 4 else "IPv4"
            assert not name.startswith(other), (name, version)
        if version == 4:
            assert view["src6"] == view["dst6"] == bytes(16)
            assert view.get("IPHeaderLength", 0) <= 60
        else:
            assert view["src4"] == view["dst4"] == 0
            assert 40 <= view["IPHeaderLength"] <= int(frames.caplen[i])
            assert set(view.get("IPv6ExtensionHeaders", ())) <= set(EXTENSION_HEADERS)
        for name in ("IPv4Options", "TCPOptions"):
            assert all(0 <= k <= 255 for k in view.get(name, ()))
        assert len(view.get("TCPSACKBlocks", ())) % 2 == 0
        if "dns" in view:
            start, end = int(frames.offsets[i]), int(frames.offsets[i] + frames.caplen[i])
            k = int(np.flatnonzero(pc.dns.rows == i)[0])
            assert start <= pc.dns.name_start[k] < pc.dns.name_end[k] <= end
            assert len(view["dns"][0]) <= 255


# --- properties ----------------------------------------------------------------------------


@FUZZ
@given(frame_lists)
def test_any_bytes_decode_within_bounds(frames: list[tuple[bytes, int]]) -> None:
    check_invariants(decode(batch_of(frames)))


@FUZZ
@given(
    st.lists(st.tuples(st.binary(max_size=80), st.sampled_from(LINKTYPES)), min_size=1, max_size=12)
)
def test_random_bytes_of_every_linktype(frames: list[tuple[bytes, int]]) -> None:
    pc = decode(batch_of(frames))
    check_invariants(pc)
    for i, (_, linktype) in enumerate(frames):
        if linktype not in SUPPORTED:
            assert pc.status[i] == DecodeStatus.UNSUPPORTED_LINKTYPE


@FUZZ
@given(frame_lists, frame_lists)
def test_batch_independence(
    first: list[tuple[bytes, int]], second: list[tuple[bytes, int]]
) -> None:
    alone = [row_view(decode(batch_of([f])), 0) for f in first + second]
    a, b = decode(batch_of(first)), decode(batch_of(second))
    both = decode(batch_of(first + second))
    assert [row_view(a, i) for i in range(len(a))] + [
        row_view(b, i) for i in range(len(b))
    ] == alone
    assert [row_view(both, i) for i in range(len(both))] == alone


def _stable(name: str, version: int) -> bool:
    # Where the IPv6 chain walk stops decides these; every other field has a fixed position.
    return not (version == 6 and name in ("IPHeaderLength", "IPProtocol"))


def cuts(data: bytes, linktype: int, filler: int) -> PacketColumns:
    """Every truncation of ``data``, each followed by a frame of ``filler`` bytes.

    A read past a cut's end sees the filler; decoding with different fillers must agree.
    """
    frames: list[tuple[bytes, int]] = []
    for n in range(len(data)):
        frames += [(data[:n], linktype), (bytes([filler]) * 100, 147)]
    return decode(batch_of(frames))


_A4, _B4, _A6, _B6 = "192.0.2.1", "198.51.100.2", "2001:db8::1", "2001:db8:1::2"
#: One packet of every layer the decoder reads, so each is cut at every length on every run.
EXAMPLES = [
    (P.ethernet(P.ipv4(P.gre(b"inner", checksum=True, key=7, seq=9), src=_A4, dst=_B4),
                ethertype=P.ETH_IPV4, vlans=[P.Vlan(1, tpid=P.ETH_8021AD), 2]), 1),
    (P.ipv4(P.gre(b"ppp", proto=P.ETH_PPP, key=5, seq=6, version=1, ack=7), src=_A4, dst=_B4), 101),
    (P.link(P.LINKTYPE_LINUX_SLL, P.ipv4(
        P.tcp(sport=1, dport=2, options=[P.mss(1460), P.NOP, P.wscale(7), P.sack_permitted(),
                                         P.timestamps(1, 2), P.sack([(3, 4), (5, 6)])]),
        src=_A4, dst=_B4, options=P.NOP + P.router_alert(), df=True)), 113),
    (P.link(P.LINKTYPE_LINUX_SLL2, P.ipv6(
        P.tcp(sport=3, dport=53, options=[P.NOP, P.NOP], payload=P.dns_tcp(P.dns_query("a.example", "MX"))),
        src=_A6, dst=_B6, ext=[P.hop_by_hop(), P.routing([_A6], segments_left=0), P.fragment(more=True, ident=3)])), 276),
    (P.link(P.LINKTYPE_NULL, P.ipv6(P.udp(sport=9, dport=53, payload=P.dns_query([b"x.y", b"\\z"], 65280)),
                                    src=_A6, dst=_B6, ext=[P.dest_opts()])), 0),
    (P.link(P.LINKTYPE_LOOP, P.ipv6(P.icmpv6_echo(1, 2, b"hi"), src=_A6, dst=_B6, flow_label=0xFFFFF)), 108),
    (P.ipv4(P.icmp(type=3, code=4), src=_A4, dst=_B4), 228),
]  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_frames)
@example(EXAMPLES[0])
@example(EXAMPLES[1])
@example(EXAMPLES[2])
@example(EXAMPLES[3])
@example(EXAMPLES[4])
@example(EXAMPLES[5])
@example(EXAMPLES[6])
def test_truncation_at_every_length(frame: tuple[bytes, int]) -> None:
    data, linktype = frame
    full_pc = decode(batch_of([frame]))
    full = row_view(full_pc, 0)
    assert full["status"] == DecodeStatus.OK
    l3 = int(full_pc.l4[0]) - full["IPHeaderLength"] if full["l4"] >= 0 else None
    views = [cuts(data, linktype, filler) for filler in (0x00, 0x01, 0xA5)]
    for n in range(len(data)):
        view = row_view(views[0], 2 * n)
        assert row_view(views[1], 2 * n) == row_view(views[2], 2 * n) == view, n
        assert view["status"] in TRUNCATION_STATUSES, (n, view["status"])
        if not views[0].recordable[2 * n]:
            continue
        assert view["ip_version"] == full["ip_version"]
        for key in ("src4", "dst4", "src6", "dst6"):
            assert view[key] == full[key], (n, key)
        assert view["l4"] in (full["l4"], -1), n
        for name, value in view.items():
            if name in MAX and _stable(name, full["ip_version"]):
                assert value == full.get(name), (n, name)
            elif isinstance(value, tuple) and name != "dns":
                assert value == full[name][: len(value)], (n, name)  # a prefix of the full list
        assert view.get("dns", full.get("dns")) == full.get("dns")
    if l3 is not None:
        # Once the whole fixed IP header is there, the frame is a record with its addresses.
        fixed = 20 if full["ip_version"] == 4 else 40
        first = l3 - int(full_pc.frames.offsets[0]) + fixed
        assert all(views[0].recordable[2 * first :: 2])


@FUZZ
@given(frame_lists, st.integers(1, 4))
def test_pipeline_gives_84_field_records_for_any_batch(
    frames: list[tuple[bytes, int]], interval: int
) -> None:
    batch = batch_of(frames)
    pipeline = Pipeline(sample_interval=interval, seed=1)
    table = pipeline.process(batch)
    assert table.schema == SCHEMA
    assert table.column_names == list(FIELD_NAMES)
    pc = decode(batch)
    assert table.num_rows <= int(pc.recordable.sum())
    if interval == 1:
        assert table.num_rows == int(pc.recordable.sum())
    stats = pipeline.stats.as_dict()
    assert (stats["frames"], stats["records"]) == (len(frames), table.num_rows)
    lines = bytes(encode_ndjson(table)).splitlines()
    assert len(lines) == table.num_rows
    for line, row in zip(lines, table.to_pylist(), strict=True):
        assert orjson.loads(line) == row


@pytest.mark.parametrize("linktype", LINKTYPES)
def test_empty_and_tiny_frames(linktype: int) -> None:
    frames = [(bytes([b]) * n, linktype) for n in range(6) for b in (0x00, 0x45, 0x60, 0xFF)]
    pc = decode(batch_of(frames))
    check_invariants(pc)
    assert not pc.recordable.any()


def test_empty_batch() -> None:
    pc = decode(FrameBatch.empty())
    assert len(pc) == 0 and pc.problems() == {}
    assert Pipeline().process(FrameBatch.empty()).schema == SCHEMA
