"""The scenario generator: every scenario writes, reproduces, decodes cleanly, and its ground
truth labels exactly the packets that look like the attack."""

from __future__ import annotations

import importlib.util
import ipaddress
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlogpush.decode import decode
from netlogpush.scenarios.attacks import VECTORS, dns_any_response, ntp_monlist_response
from netlogpush.scenarios.catalog import (
    ATTACK_SCENARIOS,
    BENIGN_SCENARIOS,
    SCENARIOS,
    ScenarioSummary,
    write_scenario,
)
from netlogpush.scenarios.mixed import CUSTOMER_PREFIXES
from netlogpush.scenarios.truth import ATTACK, STREAMS, VICTIM_WEB, Truth, truth_path
from netlogpush.sources.pcap import iter_batches

SMALL = {"duration_s": 3.0, "attack_start_s": 1.0, "attack_duration_s": 1.5,
         "benign_pps": 3000.0, "attack_pps": 8000.0}  # fmt: skip
NS = 1_000_000_000
SYN, ACK, RST, FIN, PSH = 0x02, 0x10, 0x04, 0x01, 0x08


def ip(value: int) -> str:
    return str(ipaddress.IPv4Address(int(value)))


def addr(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


@dataclass
class Decoded:
    """The columns the checks need, for the whole capture (file order)."""

    n: int
    status: npt.NDArray[np.uint8]
    version: npt.NDArray[np.uint8]
    src: npt.NDArray[np.uint32]
    dst: npt.NDArray[np.uint32]
    ts: npt.NDArray[np.int64]
    f: dict[str, npt.NDArray[np.int64]]
    payload0: npt.NDArray[np.int64]  # first byte after the UDP header, -1 without one
    qnames: dict[int, bytes]  # packet index -> first question name (wire form)

    def __repr__(self) -> str:
        return f"Decoded({self.n} packets)"

    def col(self, name: str) -> npt.NDArray[np.int64]:
        return self.f[name]


FIELDS = ("IPProtocol", "SourcePort", "DestinationPort", "TCPFlags", "ICMPType",
          "IPMoreFragments", "IPFragmentOffset", "IPTotalLength", "TCPMSS", "TCPWindowScale",
          "TCPWindowSize")  # fmt: skip


def read(path: Path) -> Decoded:
    parts: dict[str, list[npt.NDArray[np.int64]]] = {k: [] for k in FIELDS}
    status, version, src, dst, ts, pay = [], [], [], [], [], []
    qnames: dict[int, bytes] = {}
    base = 0
    for batch in iter_batches(path):
        pc = decode(batch)
        for k in FIELDS:
            parts[k].append(pc.get(k).astype(np.int64))
        status.append(pc.status)
        version.append(pc.ip_version)
        src.append(pc.src4)
        dst.append(pc.dst4)
        ts.append(batch.ts_ns)
        udp = (pc.get("IPProtocol") == 17) & (pc.l4 >= 0)
        p0 = np.full(len(pc), -1, np.int64)
        p0[udp] = batch.data[pc.l4[udp] + 8]
        pay.append(p0)
        for r, a, b in zip(pc.dns.rows.tolist(), pc.dns.name_start.tolist(),
                           pc.dns.name_end.tolist(), strict=True):
            qnames[base + r] = batch.data[a:b].tobytes()
        base += len(pc)
    return Decoded(
        n=base, status=np.concatenate(status), version=np.concatenate(version),
        src=np.concatenate(src), dst=np.concatenate(dst), ts=np.concatenate(ts),
        f={k: np.concatenate(v) for k, v in parts.items()}, payload0=np.concatenate(pay),
        qnames=qnames,
    )  # fmt: skip


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ScenarioSummary]:
    d = tmp_path_factory.mktemp("scenarios")
    out = {}
    for name in SCENARIOS:
        kw = dict(SMALL)
        if name == "slow-ramp":
            kw |= {"attack_duration_s": 2.0, "ramp_s": 1.6}
        out[name] = write_scenario(name, d / f"{name}.pcap", seed=7, **kw)  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def decoded(written: dict[str, ScenarioSummary]) -> dict[str, Decoded]:
    return {name: read(s.path) for name, s in written.items()}


def test_catalog_names_every_required_scenario() -> None:
    assert set(SCENARIOS) == {
        "benign-web", "benign-dns", "benign-mixed", "udp-flood", "syn-flood",
        "synack-reflection", "ack-flood", "rst-flood", "icmp-flood", "gre-flood",
        "dns-amplification", "dns-query-flood", "ntp-reflection", "ssdp-reflection",
        "memcached-reflection", "chargen-reflection", "fragment-flood", "carpet-bombing",
        "slow-ramp", "syn-flood-hidden",
    }  # fmt: skip
    assert set(BENIGN_SCENARIOS) == {"benign-web", "benign-dns", "benign-mixed"}
    for s in SCENARIOS.values():
        assert len(s.description) > 30
        assert (s.vector is None) == (s.name in BENIGN_SCENARIOS)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_counts_truth_and_file_agree(
    name: str, written: dict[str, ScenarioSummary], decoded: dict[str, Decoded]
) -> None:
    s, d = written[name], decoded[name]
    truth = Truth.load(s.path)
    assert s.truth_path == truth_path(s.path) and s.truth_path.exists()
    assert d.n == s.packets == len(truth) == sum(s.by_stream.values())
    assert np.array_equal(d.ts, truth.ts_ns)  # the truth is in file order
    assert np.all(np.diff(d.ts) >= 0)
    assert s.attack_packets == int(truth.attack.sum())
    assert truth.scenario == name and truth.seed == 7
    if name in BENIGN_SCENARIOS:
        assert s.attack_packets == 0 and truth.vector == "" and truth.attack_start_ns == 0
        return
    assert truth.vector == VECTORS[SCENARIOS[name].vector or ""].name == s.vector
    at = truth.ts_ns[truth.attack]
    assert truth.attack_start_ns == at[0] and truth.attack_end_ns == at[-1] + 1
    # the attack runs where it was asked to, to within a few of its packet gaps
    late = 0.1 if name == "slow-ramp" else 0.01  # a ramp starts near 0 pps
    assert 0 <= (at[0] - (s.start_ns + 1 * NS)) < late * NS
    assert at[-1] < s.start_ns + 2.5 * NS + 1000 + (0.5 * NS if name == "slow-ramp" else 0)
    assert s.by_stream["mixed"] > 0 and s.by_stream["web"] > 0 and s.by_stream["dns"] > 0


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_decodes_without_problems(name: str, decoded: dict[str, Decoded]) -> None:
    d = decoded[name]
    bad = Counter(d.status[d.status != 0].tolist())
    if name == "benign-mixed":
        # only the deliberately malformed frames of the mixed capture (2 %)
        assert 0 < sum(bad.values()) < 0.04 * d.n
    else:
        assert not bad, bad
        assert set(np.unique(d.version).tolist()) <= {4, 6}


def test_attack_rates_follow_the_request(written: dict[str, ScenarioSummary]) -> None:
    for name in ("udp-flood", "syn-flood", "ntp-reflection", "dns-query-flood"):
        s = written[name]
        # Poisson arrivals at 8000 pps for 1.5 s: 12000 +- a few hundred
        assert abs(s.attack_packets - 12_000) < 500, (name, s.attack_packets)
        assert abs(s.packets - s.attack_packets - 9_000) < 300, (name, s.packets)


def _attack(name: str, decoded: dict[str, Decoded], written: dict[str, ScenarioSummary]
            ) -> tuple[Decoded, npt.NDArray[np.bool_]]:
    return decoded[name], Truth.load(written[name].path).attack


def _outside(a: npt.NDArray[np.uint32]) -> bool:
    nets = [ipaddress.ip_network(p) for p in CUSTOMER_PREFIXES if ":" not in p]
    return not any(ipaddress.IPv4Address(int(x)) in n for x in np.unique(a)[:2000] for n in nets)


# What every attack packet of a scenario looks like (and the victim it hits).
REFLECTION_PORTS = {"dns-amplification": 53, "ntp-reflection": 123, "ssdp-reflection": 1900,
                    "memcached-reflection": 11211, "chargen-reflection": 19}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REFLECTION_PORTS))
def test_reflection_packets_come_from_the_service_port_to_the_victim(
    name: str, decoded: dict[str, Decoded], written: dict[str, ScenarioSummary]
) -> None:
    d, a = _attack(name, decoded, written)
    victim = addr(SCENARIOS[name].victim)
    assert np.all(d.col("IPProtocol")[a] == 17)
    assert np.all(d.col("SourcePort")[a] == REFLECTION_PORTS[name])
    assert np.all(d.dst[a] == victim)
    assert _outside(d.src[a])
    # a reflector pool: far fewer sources than packets, some busier than others
    srcs, counts = np.unique(d.src[a], return_counts=True)
    assert 50 < srcs.size < a.sum() / 2 and counts.max() > 10 * np.median(counts)
    length = d.col("IPTotalLength")[a]
    expected = {"dns-amplification": {1260, 1480}, "ntp-reflection": {468},
                "memcached-reflection": {1428}, "chargen-reflection": {398, 546, 1064}}
    if name in expected:
        assert set(np.unique(length).tolist()) == expected[name]
    if name == "ntp-reflection":
        assert np.all(d.payload0[a] == 0xD7)  # response, more, version 2, mode 7
    if name == "ssdp-reflection":
        assert np.all(d.payload0[a] == ord("H"))  # "HTTP/1.1 200 OK"


def test_benign_traffic_to_the_reflection_victims_is_not_labelled(
    decoded: dict[str, Decoded], written: dict[str, ScenarioSummary]
) -> None:
    """The resolver host gets real DNS and NTP answers too: those stay benign."""
    for name, port in (("dns-amplification", 53), ("ntp-reflection", 123)):
        d, a = _attack(name, decoded, written)
        benign = ~a & (d.dst == addr(SCENARIOS[name].victim)) & (d.col("SourcePort") == port)
        assert benign.sum() > 20
        if port == 123:
            assert np.all(d.col("IPTotalLength")[benign] == 76)  # 48-byte NTP answers


def test_direct_floods(decoded: dict[str, Decoded], written: dict[str, ScenarioSummary]) -> None:
    flags_of = {"syn-flood": {SYN}, "ack-flood": {ACK, ACK | PSH}, "rst-flood": {RST, RST | ACK},
                "synack-reflection": {SYN | ACK}}  # fmt: skip
    for name, flags in flags_of.items():
        d, a = _attack(name, decoded, written)
        assert np.all(d.col("IPProtocol")[a] == 6)
        assert set(np.unique(d.col("TCPFlags")[a]).tolist()) == flags, name
        assert np.all(d.dst[a] == addr("203.0.113.10"))
    d, a = _attack("syn-flood", decoded, written)
    assert np.all(d.col("DestinationPort")[a] == 443)
    assert np.unique(d.src[a]).size > 0.99 * a.sum()  # spoofed: (almost) every source new
    assert _outside(d.src[a])
    d, a = _attack("synack-reflection", decoded, written)
    assert set(np.unique(d.col("SourcePort")[a]).tolist()) == {22, 80, 443}
    d, a = _attack("udp-flood", decoded, written)
    assert np.all(d.col("IPProtocol")[a] == 17) and np.all(d.dst[a] == addr("203.0.113.10"))
    assert np.unique(d.col("DestinationPort")[a]).size > 0.8 * a.sum()
    d, a = _attack("icmp-flood", decoded, written)
    assert np.all(d.col("IPProtocol")[a] == 1) and np.all(d.col("ICMPType")[a] == 8)
    d, a = _attack("gre-flood", decoded, written)
    assert np.all(d.col("IPProtocol")[a] == 47) and np.all(d.dst[a] == addr("192.0.2.1"))


def test_fragment_flood_is_all_fragments(
    decoded: dict[str, Decoded], written: dict[str, ScenarioSummary]
) -> None:
    d, a = _attack("fragment-flood", decoded, written)
    mf, off = d.col("IPMoreFragments")[a], d.col("IPFragmentOffset")[a]
    assert np.all((mf == 1) | (off > 0))
    first = (mf == 1) & (off == 0)
    assert 0.4 < first.mean() < 0.6
    assert set(np.unique(off).tolist()) == {0, 1480}  # offsets in bytes, as tshark shows them
    assert np.all(d.col("IPTotalLength")[a][first] == 1500)


def test_dns_query_flood_asks_random_subdomains_of_the_victim_zone(
    decoded: dict[str, Decoded], written: dict[str, ScenarioSummary]
) -> None:
    d, a = _attack("dns-query-flood", decoded, written)
    assert np.all(d.dst[a] == addr("203.0.113.53")) and np.all(d.col("DestinationPort")[a] == 53)
    rows = np.flatnonzero(a)
    names = [d.qnames[int(r)] for r in rows]
    assert len(names) == rows.size  # every attack packet is a well-formed query
    assert all(n[0] == 12 and n[13:] == b"\x07example\x03com\x00" for n in names)
    labels = {n[1:13] for n in names}
    assert len(labels) > 0.99 * len(names)
    assert all(lb.isalnum() and lb.lower() == lb for lb in labels)
    # and legitimate queries reach the same server, for names it really serves
    benign = [d.qnames[int(r)] for r in np.flatnonzero(~a & (d.dst == addr("203.0.113.53")))
              if int(r) in d.qnames]  # fmt: skip
    assert len(benign) > 20 and not any(n[0] == 12 and len(n) == 27 for n in benign)


def test_carpet_bombing_spreads_over_the_prefix(
    decoded: dict[str, Decoded], written: dict[str, ScenarioSummary]
) -> None:
    d, a = _attack("carpet-bombing", decoded, written)
    dsts, counts = np.unique(d.dst[a], return_counts=True)
    assert dsts.size == 254
    assert all(ipaddress.IPv4Address(int(x)) in ipaddress.ip_network("203.0.113.0/24")
               for x in dsts)
    assert counts.max() < 5 * counts.mean()
    assert Truth.load(written["carpet-bombing"].path).victims == ("203.0.113.0/24",)


def test_slow_ramp_rises(decoded: dict[str, Decoded], written: dict[str, ScenarioSummary]) -> None:
    s = written["slow-ramp"]
    d, a = _attack("slow-ramp", decoded, written)
    t = (d.ts[a] - (s.start_ns + NS)) / NS  # seconds since the attack began
    per_bin = np.histogram(t, bins=4, range=(0.0, 1.6))[0]
    assert np.all(np.diff(per_bin) > 0), per_bin  # rising through the ramp
    # the rate at the top of the ramp is the requested 8000 pps
    assert abs(np.sum((t >= 1.6) & (t < 2.0)) / 0.4 - 8000) < 800


def test_hidden_syn_flood_looks_like_its_legitimate_clients(
    decoded: dict[str, Decoded], written: dict[str, ScenarioSummary]
) -> None:
    s = written["syn-flood-hidden"]
    truth = Truth.load(s.path)
    d, a = decoded["syn-flood-hidden"], truth.attack
    victim = addr("203.0.113.10")
    syn = (d.col("IPProtocol") == 6) & (d.col("TCPFlags") == SYN)
    legit = (truth.stream == VICTIM_WEB) & syn & (d.dst == victim)
    assert a.sum() > 0 and legit.sum() > 50
    assert np.all(syn[a]) and np.all(d.dst[a] == victim)
    assert np.all(d.col("DestinationPort")[a] == 443)
    for col in ("TCPMSS", "TCPWindowScale", "TCPWindowSize"):
        assert set(np.unique(d.col(col)[a]).tolist()) <= set(np.unique(d.col(col)[legit]).tolist())
    # the legitimate clients complete their handshakes and send data
    data = (truth.stream == VICTIM_WEB) & (d.dst == victim) & ((d.col("TCPFlags") & PSH) > 0)
    assert data.sum() > 0.5 * legit.sum()
    assert s.by_stream["victim-web"] > 0 and STREAMS[ATTACK] == "attack"


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    for name in ("ntp-reflection", "benign-web", "syn-flood-hidden"):
        a, b, c = (tmp_path / f"{name}-{x}.pcap" for x in "abc")
        write_scenario(name, a, seed=3, **SMALL)  # type: ignore[arg-type]
        write_scenario(name, b, seed=3, **SMALL)  # type: ignore[arg-type]
        write_scenario(name, c, seed=4, **SMALL)  # type: ignore[arg-type]
        assert a.read_bytes() == b.read_bytes()
        assert truth_path(a).read_bytes() == truth_path(b).read_bytes()
        assert a.read_bytes() != c.read_bytes()


def test_snaplen_cuts_frames_and_keeps_wire_lengths(tmp_path: Path) -> None:
    full = write_scenario("dns-amplification", tmp_path / "f.pcap", seed=1, **SMALL)  # type: ignore[arg-type]
    cut = write_scenario("dns-amplification", tmp_path / "c.pcap", seed=1, snaplen=128,
                         **SMALL)  # type: ignore[arg-type]
    assert cut.packets == full.packets
    assert cut.path.stat().st_size < full.path.stat().st_size / 4
    caps, wires = [], []
    for batch in iter_batches(cut.path):
        caps.append(batch.caplen)
        wires.append(batch.wirelen)
    cap, wire = np.concatenate(caps), np.concatenate(wires)
    truth = Truth.load(cut.path)
    assert cap.max() == 128
    assert set(np.unique(wire[truth.attack]).tolist()) == {14 + 1260, 14 + 1480}
    assert np.array_equal(truth.stream, Truth.load(full.path).stream)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        write_scenario("teardrop", tmp_path / "x.pcap")
    with pytest.raises(ValueError):
        write_scenario("udp-flood", tmp_path / "x.pcap", duration_s=0)
    with pytest.raises(ValueError):
        write_scenario("udp-flood", tmp_path / "x.pcap", snaplen=20)
    with pytest.raises(ValueError, match=r"after the 5\.0 s capture ends"):
        write_scenario("udp-flood", tmp_path / "x.pcap", duration_s=5.0, attack_start_s=6.0)


def test_payload_builders() -> None:
    for size in (1232, 1452, 600):
        assert len(dns_any_response(size)) == size
    r = ntp_monlist_response(np.random.default_rng(0))
    assert len(r) == 440 and r[:4] == b"\xd7\x00\x03\x2a"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), name=st.sampled_from(ATTACK_SCENARIOS),
       pps=st.floats(500.0, 20_000.0))
def test_any_seed_and_rate_gives_a_clean_labelled_capture(
    tmp_path: Path, seed: int, name: str, pps: float
) -> None:
    s = write_scenario(name, tmp_path / "p.pcap", seed=seed, duration_s=1.0, attack_start_s=0.3,
                       attack_duration_s=0.5, benign_pps=1000.0, attack_pps=pps,
                       ramp_s=0.2 if name == "slow-ramp" else None)
    d = read(s.path)
    truth = Truth.load(s.path)
    assert d.n == len(truth) == s.packets
    assert not np.any(d.status)
    a = truth.attack
    if a.any():
        victims = ipaddress.ip_network(SCENARIOS[name].victim)
        assert all(ipaddress.IPv4Address(int(x)) in victims for x in np.unique(d.dst[a]))
        t = d.ts[a] - s.start_ns
        assert t.min() >= 0.3 * NS and t.max() < 0.8 * NS


def test_a_million_packets_in_a_few_seconds(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    s = write_scenario("syn-flood", tmp_path / "big.pcap", seed=1, duration_s=12.0,
                       attack_start_s=1.0, attack_duration_s=10.0, benign_pps=10_000.0,
                       attack_pps=90_000.0)
    took = time.perf_counter() - t0
    assert s.packets > 1_000_000
    # about 1.2 s on the 2-core machine; allow for a loaded CI box
    assert took < 8.0, took


#: Scenarios whose attack packets carry junk to random ports: tshark guesses a protocol from
#: the port (H.225, LISP, collectd ...) and reports the junk as malformed. Memcached answers
#: split over datagrams are malformed to tshark too (it does not reassemble them).
JUNK = {"udp-flood", "gre-flood", "carpet-bombing", "slow-ramp", "memcached-reflection",
        "ssdp-reflection"}  # fmt: skip


@pytest.mark.tool
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_finds_no_bad_checksums_or_malformed_packets(
    written: dict[str, ScenarioSummary],
) -> None:
    """tshark, an independent decoder, accepts every packet: checksums right, protocols
    well formed, except random junk where tshark guesses a protocol by port. QUIC stand-ins
    (UDP 443 with filler payloads) are not checked for form: tshark's QUIC dissector rejects
    the filler and tshark then tries the client port's protocol (41170 is MANOLITO)."""
    for name, s in written.items():
        out = subprocess.run(
            ["tshark", "-r", str(s.path), "-T", "fields", "-e", "frame.number",
             "-e", "udp.srcport", "-e", "udp.dstport", "-e", "_ws.expert.message",
             "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
             "-o", "udp.check_checksum:TRUE"],
            capture_output=True, text=True, check=True, timeout=120,
        ).stdout  # fmt: skip
        truth = Truth.load(s.path)
        bad: Counter[tuple[str, str]] = Counter()
        for line in out.splitlines():
            number, sport, dport, messages = [*line.split("\t", 3), "", "", ""][:4]
            stream = STREAMS[truth.stream[int(number) - 1]]
            quic = stream != "attack" and "443" in (sport, dport)
            if "Bad checksum" in messages:
                bad[(stream, "checksum")] += 1
            elif "Malformed" in messages and not quic:
                bad[(stream, "malformed")] += 1
        assert not [k for k in bad if k[1] == "checksum"], (name, bad)
        if name == "benign-mixed":
            assert 0 < bad[("mixed", "malformed")] < 0.02 * s.packets  # made so on purpose
            continue
        junk = bad.pop(("attack", "malformed"), 0)
        assert not bad, (name, bad)
        assert junk < (0.01 * s.attack_packets if name in JUNK else 1), (name, junk)


def _fastnetmon_driver() -> ModuleType:
    """bench/fastnetmon.py (a script, not part of the package)."""
    path = Path(__file__).resolve().parents[2] / "bench" / "fastnetmon.py"
    spec = importlib.util.spec_from_file_location("bench_fastnetmon", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_fastnetmon_driver_config_and_notify_parsing(tmp_path: Path) -> None:
    fnm = _fastnetmon_driver()
    if not fnm.FASTNETMON_CONF.exists():
        pytest.skip("fastnetmon is not installed (/etc/fastnetmon.conf is missing)")
    conf = fnm.fastnetmon_config(tmp_path, 16001, 12345, 3).read_text()
    settings = dict(
        (k.strip(), v.strip()) for k, _, v in (line.partition("=") for line in conf.splitlines())
        if not k.lstrip().startswith("#") and v
    )  # fmt: skip
    assert settings["disable_usage_report"] == "on"  # it reports usage to its vendor otherwise
    assert settings["sflow"] == "on" and settings["sflow_host"] == "127.0.0.1"
    assert settings["sflow_port"] == "16001" and settings["threshold_pps"] == "12345"
    assert settings["enable_api"] == "off" and settings["prometheus"] == "off"
    assert settings["pid_path"].startswith(str(tmp_path))
    bans = fnm.parse_notify(
        "NOTIFY 1700000000.5 203.0.113.10 incoming 31000 ban\nIP: 203.0.113.10\n"
        "Attack type: syn_flood\nAttack protocol: tcp\nEND\n"
        "NOTIFY 1700000001.0 203.0.113.10 incoming 31000 attack_details\nAttack type: x\nEND\n"
    )
    assert [(b.ip, b.action, b.pps, b.attack_type, b.protocol, b.wall) for b in bans] == [
        ("203.0.113.10", "ban", 31000, "syn_flood", "tcp", 1700000000.5),
        ("203.0.113.10", "attack_details", 31000, "x", "", 1700000001.0),
    ]


@pytest.mark.tool
@pytest.mark.skipif(shutil.which("fastnetmon") is None or shutil.which("pmacctd") is None,
                    reason="fastnetmon or pmacctd is not installed")
def test_fastnetmon_sees_the_syn_flood_scenario_as_a_syn_flood(tmp_path: Path) -> None:
    """An independent, real detector (FastNetMon fed sFlow by pmacctd at packet-time pace)
    bans the victim of the generated SYN flood, calls it a SYN flood, and bans nothing
    else: the scenario is an attack by someone else's definition too."""
    fnm = _fastnetmon_driver()
    s = write_scenario("syn-flood", tmp_path / "syn.pcap", seed=2, duration_s=6.0,
                       attack_start_s=2.0, attack_duration_s=3.0, benign_pps=3000.0,
                       attack_pps=30_000.0, snaplen=128)  # fmt: skip
    res = fnm.run_fastnetmon(s.path, attack_start_ns=s.attack_start_ns, victims=s.victims,
                             threshold_pps=10_000, tail_s=2.0, workdir=tmp_path / "fnm")
    assert res.available and res.reason == "", res.reason
    assert res.detected and res.attack_type == "syn_flood", res
    assert res.ttd_s is not None and -0.5 < res.ttd_s < 3.0
    assert res.false_bans == []
