"""A real sFlow exporter, pmacct's ``pmacctd`` with the ``sfprobe`` plugin, into our collector.

pmacctd reads a pcap this test writes and exports sFlow v5 to the collector on loopback.
What pmacct says it exported (its own flow-sample sequence numbers and sample_pool) must
all arrive: no lost datagrams, no lost samples. pmacct emits ~1.5% more samples than the
pcap has packets (cause unknown, see /work/shared/reference/local-tools.md), so the pcap's
packet count is not the reference.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import threading
import time
from pathlib import Path

import dpkt
import pytest

from netlogpush.decode import frames as fr
from netlogpush.sources.sflow import CollectorStats, SflowCollector

pytestmark = [
    pytest.mark.tool,
    pytest.mark.skipif(shutil.which("pmacctd") is None, reason="needs pmacct (pmacctd)"),
]

N_PACKETS = 2000
Tuple = tuple[str, str, int, int]


def _packet(rng: random.Random, i: int) -> bytes:
    kind = i % 4
    sport, dport = rng.randint(1024, 65535), rng.choice([80, 443, 53, 123, 9999])
    if kind == 0:
        l4: dpkt.Packet = dpkt.tcp.TCP(sport=sport, dport=dport, flags=dpkt.tcp.TH_SYN)
    elif kind == 1:
        l4 = dpkt.tcp.TCP(
            sport=sport,
            dport=dport,
            flags=dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK,
            data=bytes(rng.randint(0, 1400)),
        )
    else:
        l4 = dpkt.udp.UDP(sport=sport, dport=dport, data=bytes(rng.randint(0, 600)))
        l4.ulen = 8 + len(l4.data)
    proto = 6 if kind < 2 else 17
    if kind == 3:
        ip: dpkt.Packet = dpkt.ip6.IP6(
            src=bytes.fromhex("20010db8000000000000000000000001")[:-1]
            + bytes([rng.randint(1, 250)]),
            dst=bytes.fromhex("20010db8000000010000000000000010"),
            nxt=proto,
            hlim=64,
            data=l4,
        )
        ip.plen = len(bytes(l4))
        etype = dpkt.ethernet.ETH_TYPE_IP6
    else:
        ip = dpkt.ip.IP(
            src=bytes([198, 51, 100, rng.randint(1, 250)]),
            dst=bytes([192, 0, 2, 10]),
            p=proto,
            ttl=64,
            data=l4,
        )
        ip.len = 20 + len(bytes(l4))
        etype = dpkt.ethernet.ETH_TYPE_IP
    eth = dpkt.ethernet.Ethernet(
        src=b"\x02\x00\x00\x00\x00\x01", dst=b"\x02\x00\x00\x00\x00\x02", type=etype, data=ip
    )
    return bytes(eth)


def _tuple(frame: bytes) -> Tuple | None:
    ip = dpkt.ethernet.Ethernet(frame).data
    if isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6):
        l4 = ip.data
        proto = ip.p if isinstance(ip, dpkt.ip.IP) else ip.nxt
        dport = getattr(l4, "dport", -1)
        return (dpkt.utils.inet_to_str(ip.src), dpkt.utils.inet_to_str(ip.dst), proto, dport)
    return None


@pytest.fixture(scope="module")
def input_pcap(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    rng = random.Random(6343)
    packets = [_packet(rng, i) for i in range(N_PACKETS)]
    path = tmp_path_factory.mktemp("pmacct") / "input.pcap"
    with path.open("wb") as f:
        w = dpkt.pcap.Writer(f)
        for i, p in enumerate(packets):
            w.writepkt(p, ts=1_700_000_000 + i / 1000)
    return path, packets


def _export(
    pcap: Path, workdir: Path, sampling_rate: int | None
) -> tuple[list[fr.FrameBatch], CollectorStats]:
    batches: list[fr.FrameBatch] = []
    with SflowCollector("127.0.0.1", 0, batch_ms=50) as col:
        reader = threading.Thread(target=lambda: batches.extend(col.batches()), daemon=True)
        reader.start()
        conf = workdir / "sfprobe.conf"
        lines = [
            "daemonize: false",
            f"pcap_savefile: {pcap}",
            "pcap_savefile_wait: true",  # else it may exit before flushing
            "plugins: sfprobe",
            f"sfprobe_receiver: 127.0.0.1:{col.port}",
            "sfprobe_agentip: 127.0.0.1",
            "plugin_pipe_size: 10240000",
            "plugin_buffer_size: 10240",
        ]
        if sampling_rate:
            lines.append(f"sampling_rate: {sampling_rate}")
        conf.write_text("\n".join(lines) + "\n")
        log = (workdir / "pmacctd.log").open("w")
        proc = subprocess.Popen(["pmacctd", "-f", str(conf)], cwd=workdir, stdout=log, stderr=log)
        try:
            # pmacctd keeps running after the file (pcap_savefile_wait); it is done when
            # nothing new has arrived for a second.
            deadline = time.monotonic() + 20
            last, quiet_since = -1, time.monotonic()
            while time.monotonic() < deadline:
                time.sleep(0.1)
                n = col.stats.datagrams
                if n != last:
                    last, quiet_since = n, time.monotonic()
                elif n > 0 and time.monotonic() - quiet_since > 1.0:
                    break
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            log.close()
        time.sleep(0.2)
        col.stop()
        reader.join(timeout=10)
        stats = col.stats
    return batches, stats


@pytest.mark.parametrize("rate", [1, 10])
def test_pmacct_sfprobe_export_arrives_complete(
    rate: int, input_pcap: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    pcap, packets = input_pcap
    t0 = time.monotonic()
    batches, stats = _export(pcap, tmp_path, None if rate == 1 else rate)
    assert time.monotonic() - t0 < 30

    (agent,) = stats.agents
    assert agent.address == "127.0.0.1"
    # Every datagram pmacct numbered arrived, none twice.
    assert (agent.first_sequence, agent.last_sequence) == (1, stats.datagrams)
    assert agent.datagrams_lost == 0 and agent.restarts == 0
    assert stats.kernel_drops == 0
    assert stats.decode.malformed == {}
    (src,) = agent.sources
    # Flow samples: all that pmacct's own sequence numbers say it sent.
    assert src.first_sequence == 1
    assert src.samples == src.last_sequence == stats.decode.flow_samples
    assert src.samples_lost == 0 and src.agent_drops == 0
    assert src.sampling_rate == rate
    # sample_pool counts the packets pmacct saw. At 1 in 1 each was a sample; at 1 in N
    # pmacct picks them at random, so about pool/N were (4 sigma of a binomial).
    assert src.last_sample_pool >= N_PACKETS
    if rate == 1:
        assert src.samples == src.last_sample_pool
    else:
        expected = src.last_sample_pool / rate
        assert abs(src.samples - expected) <= 4 * (expected * (1 - 1 / rate)) ** 0.5 + 1

    frames = [b.frame(i) for b in batches for i in range(len(b))]
    assert len(frames) == src.samples
    assert {int(x) for b in batches for x in b.sample_interval} == {rate}
    assert {int(x) for b in batches for x in b.linktype} == {fr.LINKTYPE_ETHERNET}
    # Each sampled header is the start of an input packet (pmacct takes up to 128 bytes),
    # and its frame_length is that packet's length plus the 4-byte FCS.
    lengths: dict[bytes, set[int]] = {}
    for p in packets:
        lengths.setdefault(p[:128], set()).add(len(p))
    wirelen = [int(x) for b in batches for x in b.wirelen]
    for frame, wl in zip(frames, wirelen, strict=True):
        assert frame in lengths
        assert wl - 4 in lengths[frame]
    inputs = {_tuple(p) for p in packets}
    sampled = {_tuple(f) for f in frames}
    assert None not in sampled and sampled <= inputs
    if rate == 1:
        assert sampled == inputs
