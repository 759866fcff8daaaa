"""Batch evaluation is exact: the same decisions however the packets are split into batches,
and the same as stepping every packet on its own or as a sequential reference."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
from atp_support import MS, SECOND, P, run, system
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.mitigation.flowtrackd import FlowtrackdSystem
from netlogpush.mitigation.flowtrackd.config import TrackerConfig
from netlogpush.mitigation.flowtrackd.rate import UNIT, RateDetector, clamp_scan
from netlogpush.mitigation.flowtrackd.table import mix64
from netlogpush.mitigation.flowtrackd.tracker import (
    BAD,
    FIN,
    PLAIN,
    RST,
    SYN,
    SYNACK,
    Tracker,
    seg_exclusive_max,
)
from netlogpush.testing.packets import ACK, PSH
from netlogpush.testing.packets import FIN as F_FIN
from netlogpush.testing.packets import RST as F_RST
from netlogpush.testing.packets import SYN as F_SYN


def scenario() -> list[P]:
    """Handshakes, data, closes, a SYN flood with one answered challenge, strays, IPv6,
    and gaps longer than the timeouts, interleaved in time."""
    out: list[P] = []
    t = 0
    for i in range(1, 7):  # a burst of SYNs: over the threshold from the fourth
        out.append(P(F_SYN, seq=100 * i, src=f"10.0.0.{i}", sport=1000, t=t))
    c6 = {"src": "10.0.0.6", "sport": 1000}
    out += [P(ACK, seq=i, ack=i, src=f"10.1.0.{i}", t=MS // 2) for i in range(1, 4)]  # strays
    out += [
        P(ACK, seq=1001, ack=1, t=1 * MS),  # stray
        P(F_SYN, seq=5000, t=2 * MS),
        P(ACK, seq=601, ack=9, t=3 * MS, **c6),  # type: ignore[arg-type]  # the answer
        P(ACK, seq=5001, ack=77, t=4 * MS),
        P(ACK | PSH, seq=5001, ack=77, payload=b"hello", t=5 * MS),
        P(ACK | PSH, seq=601, ack=9, payload=b"data", t=6 * MS, **c6),  # type: ignore[arg-type]
        P(ACK, seq=5001 + (1 << 26), ack=77, t=7 * MS),  # out of sequence
        P(F_FIN | ACK, seq=5006, ack=80, t=8 * MS),
        P(ACK, seq=5007, ack=81, t=9 * MS),
        P(ACK | PSH, seq=5007, ack=81, payload=b"late", t=10 * MS),  # already closed
        P(F_SYN | F_FIN, seq=1, t=11 * MS, **c6),  # type: ignore[arg-type]  # unexpected
        P(F_RST, seq=605, t=12 * MS, **c6),  # type: ignore[arg-type]
        P(F_SYN, seq=1, src="2001:db8:ffff::1", dst="2001:db8:1::1", t=13 * MS),
        P(ACK, seq=2, ack=3, src="2001:db8:ffff::1", dst="2001:db8:1::1", t=14 * MS),
        *[P(ACK, seq=i, ack=i, src=f"10.2.0.{i}", t=15 * MS) for i in range(1, 6)],
    ]
    t = 40 * SECOND  # NEW entries have expired, the detectors drained
    out += [
        P(ACK, seq=2, ack=3, src="2001:db8:ffff::1", dst="2001:db8:1::1", t=t),
        P(ACK, seq=101, ack=1, src="10.0.0.1", sport=1000, t=t + 1),  # its NEW is gone
        P(F_SYN, seq=7, src="10.0.0.1", sport=1000, t=t + 2),
        P(ACK, seq=8, ack=1, src="10.0.0.1", sport=1000, t=t + 3),
    ]
    return out


def scenario_system() -> FlowtrackdSystem:
    return system(
        prefixes=[{"prefix": "192.0.2.0/24"}, {"prefix": "2001:db8:1::/48"}],
        syn_protection={
            "rules": [{"mode": "enabled", "rate_sensitivity": 10, "burst_sensitivity": 3}]
        },
        tcp_flow_protection={
            "rules": [{"mode": "monitoring", "rate_sensitivity": 10, "burst_sensitivity": 2}]
        },
    )


def test_scenario_reasons() -> None:
    rows = run(scenario_system(), scenario())
    reasons = {r[3] for r in rows}
    assert reasons == {
        "",
        "CHALLENGE_NEEDED",
        "CHALLENGE_PASSED",
        "NOT_FOUND",
        "OUT_OF_SEQUENCE",
        "ALREADY_CLOSED",
        "UNEXPECTED",
    }
    assert {r[2] for r in rows} == {"", "NEW", "OPEN", "CLOSING", "CLOSED"}


def test_any_split_gives_the_same_decisions() -> None:
    packets = scenario()
    whole = run(scenario_system(), packets)
    n = len(packets)
    for cut in range(1, n):
        assert run(scenario_system(), packets, [cut]) == whole, cut
    rnd = random.Random(3)
    for _ in range(20):
        cuts = sorted(rnd.sample(range(1, n), rnd.randint(2, 12)))
        assert run(scenario_system(), packets, cuts) == whole, cuts
    assert run(scenario_system(), packets, list(range(1, n))) == whole


# -- the tracker on random packet sequences ------------------------------------------------

CLASS_MIXES = [
    (0.15, 0.05, 0.5, 0.1, 0.1, 0.1),
    (0.02, 0.01, 0.9, 0.03, 0.02, 0.02),
    (0.3, 0.3, 0.2, 0.05, 0.05, 0.1),
    (0.05, 0.0, 0.9, 0.0, 0.05, 0.0),
]
CONFIG = TrackerConfig(
    table_capacity=1 << 12,
    seq_window=1 << 16,
    new_timeout=30,
    open_timeout=100,
    closing_timeout=60,
    closed_timeout=20,
)


def random_packets(seed: int, n: int, tuples: int, mix: int) -> tuple[np.ndarray, ...]:
    """Packets on a few 4-tuples: sequence numbers mostly near each tuple's own, advancing
    (sometimes past the window), some random; gaps sometimes longer than the timeouts."""
    rng = np.random.default_rng(seed)
    tid = rng.integers(1, tuples + 1, n)
    keys = mix64(tid.astype(np.uint64))
    cls = rng.choice([SYN, SYNACK, PLAIN, FIN, RST, BAD], n, p=CLASS_MIXES[mix]).astype(np.int8)
    base = rng.integers(0, 1 << 32, tuples + 1)
    step = np.cumsum(rng.integers(0, 3000, n))
    near = (base[tid] + step % 50000) % (1 << 32)
    seq = np.where(rng.random(n) < 0.85, near, rng.integers(0, 1 << 32, n))
    seq = np.where(rng.random(n) < 0.3, (base[tid] + 1) % (1 << 32), seq)
    ack = np.where(rng.random(n) < 0.85, (base[tid] * 7 + step), rng.integers(0, 1 << 32, n))
    ack %= 1 << 32
    plen = np.where(rng.random(n) < 0.5, 0, rng.integers(1, 1500, n))
    gaps = rng.choice(
        [0, 10**6, 5 * 10**9, 40 * 10**9, 200 * 10**9], n, p=[0.3, 0.5, 0.1, 0.07, 0.03]
    )
    ts = np.cumsum(gaps).astype(np.int64)
    chal = rng.random(n) < 0.5
    synon = rng.random(n) < 0.8
    return (
        keys,
        cls,
        seq.astype(np.int64),
        ack.astype(np.int64),
        plen.astype(np.int64),
        ts,
        chal,
        synon,
    )


def track(
    args: tuple[np.ndarray, ...], cuts: list[int], general: bool
) -> tuple[np.ndarray, np.ndarray]:
    t = Tracker(CONFIG)
    t.force_general = general
    t.max_rounds = 1 << 30
    kinds, states = [], []
    for lo, hi in itertools.pairwise([0, *cuts, len(args[0])]):
        k, s = t.process(*(a[lo:hi] for a in args))
        kinds.append(k)
        states.append(s)
    return np.concatenate(kinds), np.concatenate(states)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 250),
    tuples=st.integers(1, 5),
    mix=st.integers(0, 3),
    data=st.data(),
)
def test_tracker_runs_equal_single_steps(
    seed: int, n: int, tuples: int, mix: int, data: st.DataObject
) -> None:
    args = random_packets(seed, n, tuples, mix)
    whole = track(args, [], general=False)
    single = track(args, list(range(1, n)), general=True)
    assert np.array_equal(whole[0], single[0])
    assert np.array_equal(whole[1], single[1])
    cuts = (
        sorted(set(data.draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=5)))) if n > 1 else []
    )
    split = track(args, cuts, general=False)
    assert np.array_equal(whole[0], split[0])
    assert np.array_equal(whole[1], split[1])


def test_a_tuple_under_a_crafted_attack_is_frozen_not_slow() -> None:
    # SYN and ACK alternating on one 4-tuple: every packet is a state change.
    n = 5000
    cls = np.where(np.arange(n) % 2 == 0, SYN, PLAIN).astype(np.int8)
    keys = np.full(n, 12345, np.uint64)
    seq = np.arange(n, dtype=np.int64) * 1000
    zeros = np.zeros(n, np.int64)
    t = Tracker(CONFIG)
    kind, _ = t.process(
        keys,
        cls,
        seq,
        zeros,
        zeros,
        np.arange(n, dtype=np.int64),
        np.zeros(n, bool),
        np.ones(n, bool),
    )
    assert t.stats["rounds"] == 64
    assert t.stats["frozen"] > 0
    assert kind.shape == (n,)


# -- the rate detectors ---------------------------------------------------------------------


def reference_levels(
    keys: list[int], ts: list[int], rate: list[int], burst: list[int], hold: float
) -> list[bool]:
    state: dict[int, tuple[int, int]] = {}
    out = []
    for k, t_ns, r, b in zip(keys, ts, rate, burst, strict=True):
        t = t_ns // 1000
        cap = (b + max(math.ceil(hold * r), 1)) * UNIT
        level, last = state.get(k, (0, t))
        level = min(cap, max(0, level - r * max(t - last, 0)) + UNIT)
        state[k] = (level, t)
        out.append(level > b * UNIT)
    return out


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(1, 4), st.sampled_from([0, 1000, 100_000, 1_000_000, 3 * 10**9])),
        min_size=1,
        max_size=300,
    ),
    hold=st.sampled_from([0.0, 0.5, 5.0]),
    data=st.data(),
)
def test_detector_matches_a_sequential_leaky_bucket(
    steps: list[tuple[int, int]], hold: float, data: st.DataObject
) -> None:
    keys = np.array([k for k, _ in steps], np.uint64)
    ts = np.cumsum([g for _, g in steps]).astype(np.int64)
    rate = np.array([0, 5, 100, 1000, 10**6], np.int64)[keys.astype(np.int64) % 5]
    burst = np.array([0, 3, 10, 50, 7], np.int64)[keys.astype(np.int64) % 5]
    want = reference_levels(keys.tolist(), ts.tolist(), rate.tolist(), burst.tolist(), hold)
    n = len(steps)
    cuts = (
        sorted(set(data.draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=4)))) if n > 1 else []
    )
    d = RateDetector(1024, hold)
    got = np.concatenate(
        [
            d.update(keys[a:b], ts[a:b], rate[a:b], burst[a:b])
            for a, b in itertools.pairwise([0, *cuts, n])
        ]
    )
    assert got.tolist() == want


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3000),
    runs=st.integers(0, 5),
)
def test_clamp_scan_matches_sequential_composition(seed: int, n: int, runs: int) -> None:
    rng = np.random.default_rng(seed)
    cap = int(rng.integers(1, 10**6))
    starts = sorted(set(rng.integers(1, n, runs).tolist())) if n > 1 else []
    first = np.zeros(n, np.int64)
    for lo, hi in itertools.pairwise([0, *starts, n]):
        first[lo:hi] = lo
    a = rng.integers(-cap, cap, n)
    lo_ = np.full(n, int(rng.integers(0, cap)))
    hi_ = np.full(n, cap)
    A, LO, HI = clamp_scan(a, lo_, hi_, first, cap)
    x0 = rng.integers(0, cap, n)[first]
    got = np.minimum(HI, np.maximum(LO, x0 + A))
    want = np.empty(n, np.int64)
    for i in range(n):
        prev = x0[i] if first[i] == i else want[i - 1]
        want[i] = min(hi_[i], max(lo_[i], prev + a[i]))
    assert got.tolist() == want.tolist()


@settings(max_examples=200, deadline=None)
@given(
    runs_=st.lists(
        st.lists(st.integers(-(1 << 62), 1 << 62), min_size=1, max_size=8), min_size=1, max_size=6
    ),
    floors=st.lists(st.integers(-(1 << 40), 1 << 40), min_size=6, max_size=6),
    narrow=st.booleans(),
)
def test_segmented_exclusive_max(runs_: list[list[int]], floors: list[int], narrow: bool) -> None:
    if narrow:  # sequence offsets are small; wide values take the run-by-run path
        runs_ = [[v >> 30 for v in r] for r in runs_]
    lens = [len(r) for r in runs_]
    offs = np.cumsum([0, *lens[:-1]]).astype(np.int64)
    rid = np.repeat(np.arange(len(lens)), lens).astype(np.int64)
    values = np.array([v for r in runs_ for v in r], np.int64)
    floor = np.array(floors[: len(lens)], np.int64)
    want = []
    for r, f in zip(runs_, floor.tolist(), strict=True):
        m = f
        for v in r:
            want.append(m)
            m = max(m, v)
    assert seg_exclusive_max(values, rid, offs, floor).tolist() == want
