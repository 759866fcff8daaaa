"""Real switch datagrams from gopacket's test suite, cross-checked with tshark.

The byte vectors are read from the Debian package's Go source at test time (not copied into
this repository): golang-github-gopacket-gopacket-dev's layers/sflow_test.go.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import dpkt
import pytest

from netlogpush.decode import frames as fr
from netlogpush.sources.sflow import SflowDecoder

GO_TEST = Path("/usr/share/gocode/src/github.com/gopacket/gopacket/layers/sflow_test.go")

pytestmark = pytest.mark.skipif(
    not GO_TEST.exists(), reason="needs Debian golang-github-gopacket-gopacket-dev"
)


def go_bytes(name: str) -> bytes:
    pattern = r"var " + re.escape(name) + r" = \[\]byte\{(.*?)\}"
    m = re.search(pattern, GO_TEST.read_text(), re.S)
    assert m, name
    return bytes(int(x, 16) for x in re.findall(r"0x([0-9a-fA-F]{2})", m.group(1)))


def udp_payload(frame: bytes) -> bytes:
    """Strip Ethernet, IPv4 and UDP from a captured sFlow packet."""
    ip = dpkt.ethernet.Ethernet(frame).data
    assert isinstance(ip, dpkt.ip.IP) and ip.p == dpkt.ip.IP_PROTO_UDP
    return frame[14 + ip.hl * 4 + 8 :]


def test_packet1_from_a_live_switch() -> None:
    frame = go_bytes("SFlowTestPacket1")
    dec = SflowDecoder()
    batch, s = dec.decode([(udp_payload(frame), 7)])
    (agent,) = dec.agent_summaries()
    assert (agent.address, agent.sub_agent_id, agent.last_sequence) == ("10.1.248.22", 17, 40443)
    assert (s.flow_samples, s.counter_samples, s.frames, s.skipped_records) == (6, 1, 6, 6)
    assert s.malformed == {}
    assert batch.sample_interval.tolist() == [16000, 2000, 2000, 2000, 2000, 2000]
    assert batch.wirelen.tolist() == [0x5D2, 0x5EE, 0x446, 0x5EE, 0x5EE, 0x46]
    assert batch.caplen.tolist() == [128] * 5 + [66]
    assert set(batch.linktype.tolist()) == {fr.LINKTYPE_ETHERNET}
    # gopacket's own expectations slice the headers out of the captured frame.
    spans = [(134, 262), (350, 478), (566, 694), (958, 1086), (1174, 1302), (1390, 1456)]
    assert [batch.frame(i) for i in range(6)] == [frame[a:b] for a, b in spans]
    sources = {x.source_id_index: x for x in agent.sources}
    assert sorted(sources) == [0x213, 0x255, 0x257]
    assert (sources[0x257].first_sequence, sources[0x257].last_sequence) == (0x15E5C1E, 0x15E5C20)
    assert sources[0x257].samples == 3 and sources[0x257].samples_lost == 0
    assert sources[0x255].last_sample_pool == 0x9567E900
    assert sources[0x213].sampling_rate == 16000


def test_packet2_from_the_reference_agent() -> None:
    frame = go_bytes("SFlowTestPacket2")
    dec = SflowDecoder()
    batch, s = dec.decode([(udp_payload(frame), 7)])
    (agent,) = dec.agent_summaries()
    assert (agent.address, agent.sub_agent_id, agent.last_sequence) == ("192.168.91.17", 0, 46394)
    assert (s.flow_samples, s.frames, s.skipped_records) == (3, 3, 9)
    assert batch.sample_interval.tolist() == [1, 1, 1]
    assert batch.wirelen.tolist() == [70, 390, 70]
    spans = [(350, 416), (698, 826), (1106, 1172)]
    assert [batch.frame(i) for i in range(3)] == [frame[a:b] for a, b in spans]
    (src,) = agent.sources
    assert (src.first_sequence, src.last_sequence, src.samples_lost) == (139118, 139120, 0)
    assert src.last_sample_pool == 139120


def test_other_vectors() -> None:
    names = ["SFlowEthernetFramePacket", *(f"SFlowTestPacket{i}" for i in range(3, 14))]
    dec = SflowDecoder()
    batch, s = dec.decode([(go_bytes(n), 0) for n in names])
    # Three of gopacket's hand-made vectors have length fields that disagree with their
    # content (gopacket does not check them): packets 5 and 8 declare a 52-byte flow sample
    # holding a 56/68-byte one, packet 11 a 116-byte counter sample in 84 bytes (tshark
    # flags that one "Malformed Packet" too). They are cut there and counted.
    assert s.malformed == {"record_length_overflow": 2, "sample_length_overflow": 1}
    assert s.malformed_datagrams == 3
    # Ethernet-frame-data records (0:2), switch/tunnel records: no raw headers.
    assert len(batch) == 0
    assert s.flow_samples == 7 + 3  # SFlowEthernetFramePacket + packets 4, 6, 7
    assert s.counter_samples == 5  # packets 3, 9, 10, 12, 13
    agents = {(a.address, a.sub_agent_id): a for a in dec.agent_summaries()}
    eth = agents[("185.120.22.246", 100000)]
    (src,) = eth.sources
    assert (src.first_sequence, src.last_sequence, src.samples_lost) == (0x7D, 0x83, 0)
    assert (src.sampling_rate, src.last_sample_pool) == (1000, 0x1FFB8)


def _write_pcap(path: Path, frames: list[bytes]) -> None:
    with path.open("wb") as f:
        w = dpkt.pcap.Writer(f)
        for i, frame in enumerate(frames):
            w.writepkt(frame, ts=1_700_000_000 + i)


def _tshark_fields(pcap: Path, fields: list[str]) -> list[list[str]]:
    cmd = ["tshark", "-r", str(pcap), "-d", "udp.port==6343,sflow", "-T", "fields"]
    cmd += ["-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    return [line.split("|") for line in out.splitlines()]


@pytest.mark.tool
@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
def test_cross_check_with_tshark(tmp_path: Path) -> None:
    frames = [go_bytes("SFlowTestPacket1"), go_bytes("SFlowTestPacket2")]
    pcap = tmp_path / "sflow.pcap"
    _write_pcap(pcap, frames)
    fields = [
        "sflow_245.agent",
        "sflow_245.sequence_number",
        "sflow_245.numsamples",
        "sflow.flow_sample.sequence_number",
        "sflow.flow_sample.sampling_rate",
        "sflow_245.header.frame_length",
        "sflow_245.header.sampled_header_length",
        "sflow_245.header",
        "ip.src",
        "ip.dst",
    ]
    rows = _tshark_fields(pcap, fields)
    assert len(rows) == 2
    for frame, row in zip(frames, rows, strict=True):
        ts_agent, ts_seq, ts_n, ts_sseq, ts_rate, ts_flen, ts_hlen, ts_hdr, ts_src, ts_dst = row
        dec = SflowDecoder()
        batch, s = dec.decode([(udp_payload(frame), 0)])
        (agent,) = dec.agent_summaries()
        assert agent.address == ts_agent
        assert agent.last_sequence == int(ts_seq)
        assert s.flow_samples + s.counter_samples == int(ts_n)
        assert batch.sample_interval.tolist() == [int(x) for x in ts_rate.split(",")]
        assert batch.wirelen.tolist() == [int(x) for x in ts_flen.split(",")]
        assert batch.caplen.tolist() == [int(x) for x in ts_hlen.split(",")]
        # tshark shows each header with its XDR padding to a multiple of 4 bytes (which the
        # reference agent fills with junk); the header proper is what we must match.
        ts_headers = ts_hdr.split(",")
        assert len(ts_headers) == len(batch)
        for i, ts_h in enumerate(ts_headers):
            ours = batch.frame(i)
            assert ts_h[: 2 * len(ours)] == ours.hex()
            assert len(ts_h) == 2 * (len(ours) + (-len(ours) % 4))
        # tshark dissects the sampled headers: their IPv4 addresses follow the outer one.
        inner: list[tuple[str, str]] = []
        for i in range(len(batch)):
            ip = dpkt.ethernet.Ethernet(batch.frame(i)).data
            if isinstance(ip, dpkt.ip.IP):
                inner.append((dpkt.utils.inet_to_str(ip.src), dpkt.utils.inet_to_str(ip.dst)))
        assert list(zip(ts_src.split(",")[1:], ts_dst.split(",")[1:], strict=True)) == inner
        sample_seqs = sorted(int(x) for x in ts_sseq.split(","))
        got = sorted(
            seq for x in agent.sources for seq in range(x.first_sequence, x.last_sequence + 1)
        )
        assert got == sample_seqs
