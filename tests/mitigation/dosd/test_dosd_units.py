"""The parts: decayed rates against a reference, candidate chains, classes, payload words."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.decode import decode
from netlogpush.decode.frames import FrameBatchBuilder
from netlogpush.mitigation.dosd.classes import TrafficClass as C
from netlogpush.mitigation.dosd.classes import classify
from netlogpush.mitigation.dosd.features import Features, payload_words
from netlogpush.mitigation.dosd.fingerprints import Dest, Fingerprint, candidates
from netlogpush.mitigation.dosd.heavy_hitters import HeavyHitters
from netlogpush.testing import packets as P

TICK_S, TAU_S = 0.1, 1.0


def reference_rates(keys: list[int], ticks: list[int], weights: list[float]) -> dict[tuple[int, int], float]:
    """Per (key, tick): r <- alpha^gap * r + (1 - alpha) * count / T, packet by packet."""
    alpha = math.exp(-TICK_S / TAU_S)
    state: dict[int, tuple[float, int]] = {}
    out: dict[tuple[int, int], float] = {}
    for k, t, w in zip(keys, ticks, weights, strict=True):
        r, last = state.get(k, (0.0, t))
        r = r * alpha ** (t - last) + (1 - alpha) * w / TICK_S
        state[k] = (r, t)
        out[(k, t)] = r
    return out


streams = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 3), st.sampled_from([1.0, 2.0, 100.0])),
    min_size=1, max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(streams, st.integers(1, 5))
def test_exact_rates_match_the_reference_whatever_the_batches(events: list[tuple[int, int, float]], parts: int) -> None:
    keys = [1000 + k for k, _, _ in events]
    ticks = list(np.cumsum([d for _, d, _ in events]))
    weights = [w for _, _, w in events]
    expected = reference_rates(keys, ticks, weights)
    hh = HeavyHitters(1024, 64, TICK_S, TAU_S)
    got: dict[tuple[int, int], float] = {}
    # Every key in every batch would keep the exact table; here keys may skip batches and
    # come back seeded from the sketch, which (few keys, 1024 buckets) has no collisions.
    cuts = np.linspace(0, len(events), parts + 1).astype(int)
    for a, b in itertools.pairwise(cuts):
        if a == b:
            continue
        k = np.array(keys[a:b], np.uint64)
        w = hh.update([(k, np.full(b - a, 1e-12))], np.array(weights[a:b]), np.array(ticks[a:b], np.int64))[0]
        for i in range(len(w)):
            got[(int(w.key[i]), int(w.tick[i]))] = float(w.rate[i])  # later batches update a split tick
    assert got.keys() == expected.keys()
    for key, rate in expected.items():
        assert math.isclose(got[key], rate, rel_tol=1e-9), key


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 2)), min_size=1, max_size=300))
def test_sketch_never_underestimates(events: list[tuple[int, int]]) -> None:
    keys = np.array([k for k, _ in events], np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    ticks = np.cumsum([d for _, d in events]).astype(np.int64)
    hh = HeavyHitters(1024, 16, TICK_S, TAU_S)
    hh.update([(keys, np.full(keys.size, np.inf))], np.ones(keys.size), ticks)
    ref = reference_rates(keys.tolist(), ticks.tolist(), [1.0] * keys.size)
    last = {k: (r * math.exp(-(TICK_S / TAU_S) * (int(ticks[-1]) - t))) for (k, t), r in ref.items()}
    est = hh.estimate(np.array(list(last), np.uint64))
    assert np.all(est >= np.array(list(last.values())) - 1e-9)


def test_candidate_chain_orders_by_coverage_and_stops_under_the_threshold() -> None:
    # 900 attack samples (len 40, ttl 64, sport random), 100 benign (len 52, ttl varied).
    rng = np.random.default_rng(1)
    n = 1000
    values = {
        "dport": np.full(n, 443), "flags": np.full(n, 2),
        "len": np.r_[np.full(900, 40), np.full(100, 52)],
        "ttl": np.r_[np.full(900, 64), rng.integers(30, 60, 100)],
        "sport": rng.integers(1024, 65535, n), "win": np.r_[np.full(900, 512), np.full(100, 64240)],
    }
    chain = candidates(values, np.ones(n), C.SYN, rate=20000.0, chain_pps=5000.0,
                       heavy_pps=1000.0, max_values=4)
    # At 20,000 pps the benign length and window (2,000 pps each) are heavy too: sets of
    # two. Full coverage first, evidence fields before the others at equal coverage.
    assert [c.constraints for c in chain] == [
        (),
        (("len", (40, 52)),),
        (("len", (40, 52)), ("win", (512, 64240))),
        (("dport", (443,)), ("len", (40, 52)), ("win", (512, 64240))),
        (("dport", (443,)), ("flags", (2,)), ("len", (40, 52)), ("win", (512, 64240))),
        (("dport", (443,)), ("flags", (2,)), ("len", (40, 52)), ("ttl", (64,)), ("win", (512, 64240))),
    ]
    assert [round(c.share, 3) for c in chain] == [1.0, 1.0, 1.0, 1.0, 1.0, 0.9]
    # At 5,000 pps the benign part (500 pps) is not heavy: single values, and ttl keeps 4,500 < 5,000.
    chain = candidates(values, np.ones(n), C.SYN, rate=5000.0, chain_pps=4000.0,
                       heavy_pps=1000.0, max_values=4)
    assert chain[-1].constraints == (("dport", (443,)), ("flags", (2,)), ("len", (40,)),
                                     ("ttl", (64,)), ("win", (512,)))
    assert Fingerprint(Dest.parse("192.0.2.1/32"), C.SYN, chain[-1].constraints).specificity == 3.0


def _frames(frames: list[bytes]) -> Features:
    b = FrameBatchBuilder()
    for i, f in enumerate(frames):
        b.append(f, 1_000_000_000 + i, P.LINKTYPE_ETHERNET)
    pc = decode(b.build())
    return Features.build(pc, np.arange(len(pc), dtype=np.int64), np.zeros(len(pc), np.int64))


def eth(pkt: bytes) -> bytes:
    return P.ethernet(pkt, ethertype=P.ETH_IPV6 if pkt[0] >> 4 == 6 else P.ETH_IPV4)


def test_classes_of_decoded_packets() -> None:
    src, dst = "198.51.100.1", "192.0.2.1"
    frames = [
        (P.ipv4(P.udp(sport=123, dport=999), src=src, dst=dst), C.NTP),
        (P.ipv4(P.udp(sport=1900, dport=999), src=src, dst=dst), C.SSDP),
        (P.ipv4(P.udp(sport=11211, dport=999), src=src, dst=dst), C.MEMCACHED),
        (P.ipv4(P.udp(sport=19, dport=999), src=src, dst=dst), C.CHARGEN),
        (P.ipv4(P.udp(sport=53, dport=53), src=src, dst=dst), C.DNS_AMP),
        (P.ipv4(P.udp(sport=999, dport=53), src=src, dst=dst), C.DNS_QUERY),
        (P.ipv4(P.udp(sport=999, dport=443), src=src, dst=dst), C.UDP),
        (P.ipv4(P.tcp(sport=1, dport=2, flags=P.SYN | P.ECE | P.CWR), src=src, dst=dst), C.SYN),
        (P.ipv4(P.tcp(sport=1, dport=2, flags=P.SYN | P.ACK), src=src, dst=dst), C.SYNACK),
        (P.ipv4(P.tcp(sport=1, dport=2, flags=P.RST | P.ACK), src=src, dst=dst), C.RST),
        (P.ipv4(P.tcp(sport=1, dport=2, flags=P.PSH | P.ACK), src=src, dst=dst), C.ACK),
        (P.ipv4(P.tcp(sport=1, dport=2, flags=P.FIN | P.PSH | P.URG), src=src, dst=dst), C.TCP_OTHER),
        (P.ipv4(P.icmp_echo(1, 1), src=src, dst=dst), C.ICMP),
        (P.ipv6(P.icmpv6_echo(1, 1), src="2001:db8::1", dst="2001:db8::2"), C.ICMP),
        (P.ipv4(P.gre(b"\x45" + bytes(19)), src=src, dst=dst), C.GRE),
        (P.ipv4(bytes(8), proto=50, src=src, dst=dst), C.OTHER),
        (P.ipv4(bytes(64), proto=17, src=src, dst=dst, frag_offset=1480), C.FRAGMENT),
        (P.ipv4(P.udp(sport=53, dport=9, payload=bytes(64)), src=src, dst=dst, mf=True), C.FRAGMENT),
        (P.ipv6(P.udp(sport=1, dport=2), src="2001:db8::1", dst="2001:db8::2",
                ext=[P.fragment(offset=8, more=True)]), C.FRAGMENT),
    ]
    f = _frames([eth(p) for p, _ in frames])
    assert [C(int(c)).name for c in f.cls] == [c.name for _, c in frames]
    b = FrameBatchBuilder()
    b.append(P.ethernet(P.arp(spa=src, tpa=dst), ethertype=P.ETH_ARP), 0, P.LINKTYPE_ETHERNET)
    pc = decode(b.build())
    cls = classify(pc.ip_version, pc.get("IPProtocol"), pc.get("TCPFlags"), pc.get("SourcePort"),
                   pc.get("DestinationPort"), pc.get("IPFragmentOffset"), pc.get("IPMoreFragments"))
    assert cls.tolist() == [C.NONE]


def reference_words(frame: bytes, l4: int, ip_end: int) -> tuple[int, int]:
    body = frame[l4 + 8 : ip_end][:8].ljust(8, b"\x00")
    return int.from_bytes(body[:4], "big"), int.from_bytes(body[4:], "big")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=12), st.integers(0, 30), st.booleans())
def test_payload_words_stop_at_the_packet_and_capture_end(payload: bytes, cut: int, v6: bool) -> None:
    seg = P.udp(sport=1, dport=2, payload=payload)
    pkt = P.ipv6(seg, src="2001:db8::1", dst="2001:db8::2") if v6 else P.ipv4(seg, src="10.0.0.1", dst="10.0.0.2")
    frame = P.ethernet(pkt, ethertype=P.ETH_IPV6 if v6 else P.ETH_IPV4, pad_to=64)
    frame = frame[: len(frame) - cut] if cut < len(frame) - (14 + len(pkt) - len(payload)) else frame
    nxt = P.ethernet(P.ipv4(P.udp(sport=3, dport=4, payload=b"\xff" * 16), src="10.0.0.3", dst="10.0.0.4"),
                     ethertype=P.ETH_IPV4)
    b = FrameBatchBuilder()
    b.append(frame, 0, P.LINKTYPE_ETHERNET, wirelen=len(frame) + cut)
    b.append(nxt, 1, P.LINKTYPE_ETHERNET)
    pc = decode(b.build())
    p0, p1 = payload_words(pc, np.array([0], np.int64))
    l4 = 14 + (40 if v6 else 20)
    ip_end = min(14 + len(pkt), len(frame))
    assert (int(p0[0]), int(p1[0])) == reference_words(frame, l4, ip_end)


def test_fingerprint_match_agrees_with_its_values() -> None:
    rng = np.random.default_rng(3)
    frames = []
    for i in range(300):
        dst = f"192.0.2.{i % 3}"
        frames.append(eth(P.ipv4(P.udp(sport=int(rng.integers(1, 4)), dport=9, payload=bytes(int(rng.integers(0, 3)))),
                                 src="198.51.100.1", dst=dst, ttl=int(rng.integers(60, 63)))))
    f = _frames(frames)
    fp = Fingerprint(Dest.parse("192.0.2.1/32"), C.UDP, (("len", (29, 30)), ("ttl", (61,))))
    pos = fp.match(f)
    want = [i for i in range(300) if i % 3 == 1 and f.values("len")[i] in (29, 30) and f.values("ttl")[i] == 61]
    assert pos.tolist() == want and len(want) > 10
    assert fp.match(f, 100, 200).tolist() == [p for p in want if 100 <= p < 200]
    prefix = Fingerprint(Dest.parse("192.0.2.0/24"), C.UDP, (("ttl", (61,)),))
    assert len(prefix.match(f)) == int((f.values("ttl") == 61).sum())


def test_dest_round_trips_and_describes() -> None:
    for cidr in ("192.0.2.10/32", "192.0.2.0/24", "2001:db8:5::/64", "2001:db8::1/128"):
        assert Dest.parse(cidr).cidr() == cidr
    fp = Fingerprint(Dest.parse("192.0.2.10/32"), C.NTP, (("len", (468,)), ("p0", (0xD700032A,))))
    assert fp.describe() == (
        'ip.dst in {192.0.2.10} and ip.proto eq "udp" and udp.srcport eq 123 and '
        "ip.len in {468} and p0 in {0xd700032a}")
    assert Fingerprint.from_json(fp.to_json()) == fp
    assert fp.canonical() == "192.0.2.10/32;ntp;len=468;p0=3607102250"
