"""Live capture on a real veth pair (peer in a private netns), fed by tcpreplay."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from netlogpush.decode.frames import FrameBatch
from netlogpush.sources._bpf import BpfError, compile_filter
from netlogpush.sources.live import LiveCapture, LiveCaptureError
from netlogpush.testing import packets as p

pytestmark = [pytest.mark.root, pytest.mark.tool]

_ids = itertools.count()


@dataclass(frozen=True)
class Veth:
    host: str  # our end, in this namespace
    peer: str  # the other end, inside `netns`
    netns: str


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def _need(*tools: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("live capture and veth pairs need root")
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


@pytest.fixture
def veth(request: pytest.FixtureRequest) -> Veth:
    """A veth pair whose far end sits in a fresh netns with no addresses or routes, so
    replayed traffic cannot leave. Names carry the pid, so parallel runs don't clash."""
    _need("ip", "tcpreplay", "tcpdump")
    k = next(_ids)
    v = Veth(
        f"nl{os.getpid()}x{k}a"[-15:],
        f"nl{os.getpid()}x{k}b"[-15:],
        f"netlogpush-{os.getpid()}-{k}",
    )

    def cleanup() -> None:  # registered first: runs even if the setup below fails halfway
        subprocess.run(["ip", "link", "del", v.host], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", v.netns], capture_output=True, check=False)

    request.addfinalizer(cleanup)
    _sh("ip", "netns", "add", v.netns)
    _sh("ip", "link", "add", v.host, "type", "veth", "peer", "name", v.peer, "netns", v.netns)
    # No IPv6 on either end: the kernel would otherwise send router solicitations and MLD
    # reports of its own, and we want to see exactly the frames we replay.
    _sh("sysctl", "-qw", f"net.ipv6.conf.{v.host}.disable_ipv6=1")
    _sh("ip", "netns", "exec", v.netns, "sysctl", "-qw", f"net.ipv6.conf.{v.peer}.disable_ipv6=1")
    _sh("ip", "link", "set", v.host, "up")
    _sh("ip", "-n", v.netns, "link", "set", v.peer, "up")
    return v


def _frames(n: int = 120, vlans: bool = False) -> list[bytes]:
    """Distinct frames: UDP, TCP SYNs, ICMP echo, and IPv6 UDP."""
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            l3 = p.ipv4(
                p.udp(sport=10000 + i, dport=53, payload=b"q" * i),
                src="192.0.2.1",
                dst="198.51.100.2",
            )
        elif kind == 1:
            l3 = p.ipv4(
                p.tcp(sport=20000 + i, dport=80, flags=0x02), src="192.0.2.1", dst="198.51.100.2"
            )
        elif kind == 2:
            l3 = p.ipv4(
                p.icmp_echo(ident=7, seq=i, payload=b"ping"), src="192.0.2.1", dst="198.51.100.2"
            )
        else:
            l3 = p.ipv6(
                p.udp(sport=30000 + i, dport=443, payload=b"6" * i),
                src="2001:db8::1",
                dst="2001:db8::2",
            )
        ethertype = p.ETH_IPV6 if kind == 3 else p.ETH_IPV4
        out.append(p.ethernet(l3, ethertype=ethertype, vlans=[100 + i] if vlans and i % 3 else []))
    return out


def _replay(iface: str, frames: list[bytes], tmp_path: Path) -> None:
    pcap = tmp_path / "replay.pcap"
    p.write_pcap(pcap, frames)
    _sh("tcpreplay", "-q", "-i", iface, "--topspeed", str(pcap))


def _capture_while(
    cap: LiveCapture,
    action: Callable[[], None],
    settle_s: float = 0.4,
) -> tuple[list[FrameBatch], list[float]]:
    """Run ``action`` while a thread collects batches; stop ``settle_s`` after it returns."""
    batches: list[FrameBatch] = []
    arrivals: list[float] = []

    def collect() -> None:
        for b in cap.batches(duration_s=20):
            batches.append(b)
            arrivals.append(time.monotonic())

    t = threading.Thread(target=collect)
    t.start()
    try:
        action()
        time.sleep(settle_s)
    finally:
        cap.stop()
        t.join(timeout=30)
    assert not t.is_alive()
    return batches, arrivals


def _all_frames(batches: list[FrameBatch]) -> list[bytes]:
    return [b.frame(i) for b in batches for i in range(len(b))]


def test_captures_exactly_what_tcpreplay_sent(veth: Veth, tmp_path: Path) -> None:
    frames = _frames()
    with LiveCapture(veth.host, flush_ms=20) as cap:
        before = time.time_ns()
        batches, _ = _capture_while(cap, lambda: _replay(veth.host, frames, tmp_path))
        after = time.time_ns()
    got = _all_frames(batches)
    assert sorted(got) == sorted(frames)
    assert cap.frames == len(frames) and cap.kernel_drops == 0
    for b in batches:
        assert b.linktype.tolist() == [1] * len(b)
        assert b.sample_interval.tolist() == [1] * len(b)
        assert (b.caplen == b.wirelen).all()
        assert ((b.ts_ns >= before) & (b.ts_ns <= after)).all()
        assert not b.data[-128:].any()


def test_bpf_filter_keeps_only_udp(veth: Veth, tmp_path: Path) -> None:
    frames = _frames()
    udp = [
        f
        for f in frames
        if (f[12:14] == b"\x08\x00" and f[23] == 17) or (f[12:14] == b"\x86\xdd" and f[20] == 17)
    ]
    assert 0 < len(udp) < len(frames)
    with LiveCapture(veth.host, "udp", flush_ms=20) as cap:
        batches, _ = _capture_while(cap, lambda: _replay(veth.host, frames, tmp_path))
    assert sorted(_all_frames(batches)) == sorted(udp)


def test_flushes_on_count_and_on_time(veth: Veth, tmp_path: Path) -> None:
    frames = _frames(100)
    with LiveCapture(veth.host, batch_frames=16, flush_ms=20) as cap:
        batches, _ = _capture_while(cap, lambda: _replay(veth.host, frames, tmp_path))
    assert sum(len(b) for b in batches) == 100
    assert max(len(b) for b in batches) <= 16 and len(batches) >= 7
    # A huge batch size never fills: the timer must deliver the 5 frames soon after sending.
    sent_at: list[float] = []

    def send() -> None:
        _replay(veth.host, frames[:5], tmp_path)
        sent_at.append(time.monotonic())
        time.sleep(1.0)

    with LiveCapture(veth.host, batch_frames=1_000_000, flush_ms=50) as cap:
        batches, arrivals = _capture_while(cap, send, settle_s=0)
    assert sum(len(b) for b in batches) == 5
    assert arrivals[0] - sent_at[0] < 0.6


def test_max_frames_stops_exactly(veth: Veth, tmp_path: Path) -> None:
    frames = _frames(60)
    with LiveCapture(veth.host, flush_ms=20) as cap:
        result: list[FrameBatch] = []
        t = threading.Thread(
            target=lambda: result.extend(cap.batches(max_frames=25, duration_s=20))
        )
        t.start()
        time.sleep(0.2)
        _replay(veth.host, frames, tmp_path)
        t.join(timeout=30)
    assert sum(len(b) for b in result) == 25
    assert set(_all_frames(result)) <= set(frames)


def test_vlan_tags_stripped_on_receive_are_put_back(veth: Veth, tmp_path: Path) -> None:
    """The receiving end's kernel moves 802.1Q tags into metadata; we must restore them."""
    frames = _frames(60, vlans=True)
    script = (
        "from netlogpush.sources.live import LiveCapture\n"
        f"with LiveCapture({veth.peer!r}, flush_ms=20) as cap:\n"
        "    print('ready', flush=True)\n"
        "    for b in cap.batches(duration_s=3):\n"
        "        for i in range(len(b)):\n"
        "            print(b.frame(i).hex(), flush=True)\n"
    )
    # `ip netns exec` also gives the child the netns's own /sys/class/net.
    with subprocess.Popen(
        ["ip", "netns", "exec", veth.netns, sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        _replay(veth.host, frames, tmp_path)
        out = proc.stdout.read().split()
    assert proc.returncode == 0
    assert sorted(bytes.fromhex(x) for x in out) == sorted(frames)


def test_clear_errors() -> None:
    _need("tcpdump", "capsh")
    with pytest.raises(LiveCaptureError, match="no such network interface 'nl-absent0'"):
        LiveCapture("nl-absent0")
    with pytest.raises(LiveCaptureError, match="bad capture filter 'udp and bogus'"):
        LiveCapture("lo", "udp and bogus")
    proc = subprocess.run(
        [
            "capsh",
            "--drop=cap_net_raw",
            "--",
            "-c",
            f"{sys.executable} -c 'from netlogpush.sources.live import LiveCapture; "
            'LiveCapture("lo")\'',
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "LiveCaptureError: live capture on 'lo' needs root (or CAP_NET_RAW)" in proc.stderr


def test_compile_filter_is_tcpdumps_program() -> None:
    _need("tcpdump")
    prog = compile_filter("udp", snaplen=1500)
    # IPv4 branch, IPv6 branch, accept with the snap length, reject
    assert prog[0] == (0x28, 0, 0, 12)  # ldh [12]: the ethertype
    assert prog[-2:] == [(6, 0, 0, 1500), (6, 0, 0, 0)]
    with pytest.raises(BpfError, match="syntax error"):
        compile_filter("udp and and")
