"""The rule built from the dashboard's filters selects exactly the packets the filters select.

Packets: a generated capture (varied traffic with IPv6, GRE, fragments, ICMP and malformed
frames) plus hand-built edge cases (the AE flag, TCP headers cut short, trailing fragments,
port 0, unnamed protocols, IPv4-mapped IPv6 addresses). Each packet is decoded once; the same
frames give the records (real pipeline, every packet sampled) and the firewall's PacketView.
For random filter sets the compiled rule's verdict per packet must equal the analytics
filter's (``Filter.sql`` run by DuckDB on the records), and so must the firewall's
per-packet reference interpreter.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pytest
from dashboard_support import ASN_TSV
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlogpush.analytics.queries import DIMENSIONS, Filter
from netlogpush.config import Settings
from netlogpush.dashboard.rule_from_filters import (
    NO_EQUIVALENT,
    RULE_FIELDS,
    expression_from_filters,
    rule_from_filters,
)
from netlogpush.decode import FrameBatch, FrameBatchBuilder, decode
from netlogpush.decode.names import IP_PROTOCOL_NAMES, tcp_flags_string
from netlogpush.enrich import Enricher
from netlogpush.mitigation.firewall import PacketView, compile_expression
from netlogpush.mitigation.firewall.reference import evaluate
from netlogpush.pipeline import Pipeline
from netlogpush.scenarios.catalog import write_scenario
from netlogpush.sources.pcap import iter_batches
from netlogpush.testing import packets as P

T0 = 1_767_225_600_000_000_000


def edge_frames() -> list[bytes]:
    """Packets where a record's value and the rules language's view of a field differ."""
    src, dst = "65.1.2.3", "192.0.2.10"

    def eth4(body: bytes) -> bytes:
        return P.ethernet(body, ethertype=P.ETH_IPV4)

    def eth6(body: bytes) -> bytes:
        return P.ethernet(body, ethertype=P.ETH_IPV6)

    frames = []
    for flags in (P.SYN | P.NS, P.NS, 0, 0xE00, 0x1FF, P.SYN, P.SYN | P.ACK, P.ACK | P.NS):
        frames.append(eth4(P.ipv4(P.tcp(sport=1234, dport=80, flags=flags), src=src, dst=dst)))
        frames.append(eth6(P.ipv6(P.tcp(sport=0, dport=443, flags=flags), src="2001:db8::7", dst="2001:db8::1")))  # fmt: skip
    whole = P.ipv4(P.tcp(sport=5, dport=6, flags=P.SYN | P.NS), src=src, dst=dst)[20:]
    for cut in (2, 4, 13, 14):  # TCP headers cut short: ports and flags partly missing
        frames.append(eth4(P.ipv4(whole[:cut], src=src, dst=dst, proto=P.PROTO_TCP)))
    seg = P.ipv4(P.tcp(sport=7, dport=8, flags=P.SYN), src=src, dst=dst, mf=True)
    frames.append(eth4(seg))  # first fragment
    frames.append(eth4(P.ipv4(b"x" * 24, src=src, dst=dst, proto=P.PROTO_TCP, frag_offset=24)))
    frames.append(eth4(P.ipv4(b"y" * 16, src=src, dst=dst, proto=P.PROTO_UDP, frag_offset=8)))
    frames.append(eth4(P.ipv4(P.udp(sport=0, dport=0), src=src, dst=dst)))
    frames.append(eth4(P.ipv4(P.udp(sport=53, dport=0, payload=b"z" * 1500), src=src, dst=dst)))
    frames.append(eth4(P.ipv4(b"\x00" * 40, src=src, dst=dst, proto=253)))
    frames.append(eth4(P.ipv4(b"\x00" * 40, src=src, dst=dst, proto=132)))
    frames.append(eth4(P.ipv4(P.icmp_echo(1, 1), src="10.0.0.1", dst=dst)))
    frames.append(eth6(P.ipv6(P.icmpv6_echo(1, 1), src="::ffff:1.2.3.4", dst="2001:db8::1")))
    frames.append(eth6(P.ipv6(P.udp(sport=9, dport=9), src="2001:db8:0:0:1::1", dst="2001:db8::1")))
    return frames


@dataclass(repr=False)
class Packets:
    view: PacketView
    rows: npt.NDArray[np.int64]  # the recordable packets, in record order
    records: pa.Table

    def __repr__(self) -> str:  # hypothesis prints fixtures with a failure
        return f"Packets({self.records.num_rows} records)"


def decode_with_records(frames: FrameBatch, enricher: Enricher) -> Packets:
    pc = decode(frames)
    extra = enricher.enrich(pc.ip_version, pc.src4, pc.dst4, pc.src6, pc.dst6)
    view = PacketView.from_columns(pc, dict(extra))
    records = Pipeline(1, 0, enricher).process(frames)
    rows = np.flatnonzero(pc.recordable)
    assert records.num_rows == rows.size  # one record per packet: every one sampled
    assert records.column("Datetime").to_pylist() == frames.ts_ns[rows].tolist()
    return Packets(view, rows, records)


@pytest.fixture(scope="module")
def packets(tmp_path_factory: pytest.TempPathFactory) -> list[Packets]:
    tmp = tmp_path_factory.mktemp("rule")
    (tmp / "asn.tsv").write_text(ASN_TSV)
    enricher = Enricher.from_config(Settings(databases=[tmp / "asn.tsv"]))
    path = Path(tmp / "mixed.pcap")
    write_scenario("benign-mixed", path, seed=5, duration_s=1, benign_pps=2500)
    out = [decode_with_records(batch, enricher) for batch in iter_batches(path)]
    builder = FrameBatchBuilder()
    for i, frame in enumerate(edge_frames()):
        builder.append(frame, T0 + i, P.LINKTYPE_ETHERNET)
    out.append(decode_with_records(builder.build(), enricher))
    return out


@pytest.fixture(scope="module")
def observed(packets: list[Packets]) -> dict[str, list[Any]]:
    """Per dimension, the values the records hold (what a user clicks in the dashboard)."""
    table = pa.concat_tables(p.records for p in packets)
    return {d: sorted(set(table.column(DIMENSIONS[d]).to_pylist())) for d in RULE_FIELDS}


def analytics_mask(p: Packets, filters: list[Filter]) -> npt.NDArray[np.bool_]:
    con = duckdb.connect()
    try:
        table = p.records.append_column("_row", pa.array(np.arange(p.records.num_rows)))
        con.register("t", table)
        where = " AND ".join(f"({f.sql()})" for f in filters)
        hit = [r[0] for r in con.execute(f"SELECT _row FROM t WHERE {where}").fetchall()]
    finally:
        con.close()
    mask = np.zeros(p.records.num_rows, np.bool_)
    mask[hit] = True
    return mask


def _random_value(dim: str) -> st.SearchStrategy[Any]:
    v4 = st.integers(0, (1 << 32) - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
    # Written as records write them (inet_ntop: "::0.1.0.0", not Python's "::1:0").
    v6 = st.integers(0, (1 << 128) - 1).map(
        lambda n: socket.inet_ntop(socket.AF_INET6, n.to_bytes(16, "big"))
    )
    strategies: dict[str, st.SearchStrategy[Any]] = {
        "source_ip": st.one_of(v4, v6),
        "destination_ip": v4,
        "destination_prefix": st.integers(0, (1 << 24) - 1).map(
            lambda n: f"{ipaddress.IPv4Address(n << 8)}/24"
        ),
        "source_asn": st.integers(0, (1 << 32) - 1),
        "source_country": st.text(max_size=3),
        "source_port": st.integers(0, 65535),
        "destination_port": st.integers(0, 65535),
        "protocol": st.sampled_from(["", *IP_PROTOCOL_NAMES.values()]),
        "tcp_flag": st.integers(0, 0x1FF).map(tcp_flags_string),
        "packet_size": st.integers(0, 655).map(lambda n: n * 100),
    }
    return strategies[dim]


@st.composite
def filter_sets(draw: st.DrawFn, observed: dict[str, list[Any]]) -> list[Filter]:
    out = []
    for _ in range(draw(st.integers(1, 3))):
        dim = draw(st.sampled_from(sorted(RULE_FIELDS)))
        value = st.one_of(st.sampled_from(observed[dim]), _random_value(dim))
        values = draw(st.lists(value, min_size=1, max_size=4, unique=True))
        out.append(Filter(dim, tuple(values), draw(st.booleans())))
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_rule_selects_what_the_filters_select(
    data: st.DataObject, packets: list[Packets], observed: dict[str, list[Any]]
) -> None:
    filters = data.draw(filter_sets(observed))
    rule = rule_from_filters(filters)
    compiled = compile_expression(rule.expression)
    for p in packets:
        got = compiled.evaluate(p.view)[p.rows]
        want = analytics_mask(p, filters)
        assert got.tolist() == want.tolist(), rule.expression


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_reference_interpreter_agrees_on_the_edge_cases(
    data: st.DataObject, packets: list[Packets], observed: dict[str, list[Any]]
) -> None:
    filters = data.draw(filter_sets(observed))
    compiled = compile_expression(expression_from_filters(filters))
    edge = packets[-1]
    reference = evaluate(compiled.tree, edge.view)[edge.rows]
    assert reference.tolist() == analytics_mask(edge, filters).tolist(), compiled.text


def test_the_edge_cases_are_in_the_data(observed: dict[str, list[Any]]) -> None:
    """The property above only means something if the awkward values occur."""
    flags = observed["tcp_flag"]
    assert {"", "SYN-AE", "AE", "SYN", "ACK-AE"} <= set(flags)
    assert 0 in observed["destination_port"] and 0 in observed["source_port"]
    assert "" in observed["protocol"] and "::ffff:1.2.3.4" in observed["source_ip"]
    assert {"ICMPV6", "GRE", "SCTP"} <= set(observed["protocol"])
    assert len(observed["source_asn"]) >= 4 and "" in observed["source_country"]


@pytest.mark.parametrize(
    ("filters", "expression"),
    [
        ([Filter("source_ip", ("192.0.2.1",))], "ip.src eq 192.0.2.1"),
        (
            [Filter("source_ip", ("192.0.2.1", "2001:db8::1")), Filter("source_country", ("CN",), True)],
            'ip.src in {192.0.2.1 2001:db8::1} and not (ip.src.country eq "CN")',
        ),
        (
            [Filter("destination_port", (443, 80))],
            "(tcp.dstport in {80 443} or udp.dstport in {80 443})",
        ),
        (
            [Filter("source_port", (0,))],
            "not (tcp.srcport ne 0 or udp.srcport ne 0)",
        ),
        ([Filter("protocol", ("ICMPV6", "UDP"))], 'ip.proto in {"udp" "ipv6-icmp"}'),
        ([Filter("packet_size", (1500, 0, 100))], "ip.len in {0..199 1500..1599}"),
        ([Filter("destination_prefix", ("198.51.100.0/24",))], "ip.dst in {198.51.100.0/24}"),
        ([Filter("source_asn", (13335,), True)], "not (ip.src.asnum eq 13335)"),
        (
            [Filter("tcp_flag", ("SYN",))],
            '(tcp.flags eq 0x02 and not bit_slice("tcp", 96, 112) & 0x100)',
        ),
    ],
)  # fmt: skip
def test_readable_expressions(filters: list[Filter], expression: str) -> None:
    rule = rule_from_filters(filters)
    assert (rule.expression, rule.action) == (expression, "block")


@pytest.mark.parametrize("dim", sorted(NO_EQUIVALENT))
def test_dimensions_without_a_field_are_refused(dim: str) -> None:
    with pytest.raises(ValueError, match=f"the filter on {dim} cannot become a firewall rule"):
        rule_from_filters([Filter("source_asn", (1,)), Filter(dim, ("x",))])


def test_every_dimension_is_either_translated_or_refused() -> None:
    assert set(RULE_FIELDS) | set(NO_EQUIVALENT) == set(DIMENSIONS)
    assert not set(RULE_FIELDS) & set(NO_EQUIVALENT)


@pytest.mark.parametrize(
    ("f", "message"),
    [
        (Filter("source_ip", ("010.0.0.1",)), "not an IP address"),
        (Filter("source_ip", ("2001:DB8::1",)), "not written as records write it (2001:db8::1)"),
        (Filter("destination_prefix", ("10.0.0.1/24",)), "not a /24 or /64 network"),
        (Filter("destination_prefix", ("10.0.0.0/16",)), "not a /24 (IPv4) or /64 (IPv6) subnet"),
        (Filter("destination_port", (70000,)), "not a port"),
        (Filter("source_asn", (-1,)), "not an AS number"),
        (Filter("tcp_flag", ("ACK-SYN",)), "not written as records write it ('SYN-ACK')"),
        (Filter("tcp_flag", ("NS",)), "not a TCPFlagsString value"),
        (Filter("protocol", ("tcp",)), "not a protocol name as IPProtocolName writes it"),
        (Filter("packet_size", (150,)), "multiples of 100"),
        (Filter("source_country", ("\ud800",)), "not valid text"),
        (Filter("source_asn", ()), "has no values"),
    ],
)
def test_values_a_record_never_holds_are_refused(f: Filter, message: str) -> None:
    with pytest.raises(ValueError) as err:
        rule_from_filters([f])
    assert message in str(err.value)
    with pytest.raises(ValueError, match="no filters"):
        rule_from_filters([])
