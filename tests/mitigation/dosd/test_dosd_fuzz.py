"""Outside input never breaks dosd: random frames, and random "exported mitigations"."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlogpush.decode import decode
from netlogpush.decode.frames import FrameBatchBuilder
from netlogpush.mitigation.dosd import DosdConfig, DosdSystem
from netlogpush.mitigation.firewall import PacketView
from netlogpush.mitigation.stage import StageInput
from netlogpush.testing import packets as P

# Short ticks and heavy sampling weights (each frame stands for 1,000-5,000 packets), so that
# a few repeated frames make a flood and reach analysis, matching, rate limits and labels.
SYSTEM_CONFIG = DosdConfig(tick_ms=10, min_samples=1, analysis_samples=64, expiry_s=0.05)

def _packet(proto: int, sport: int, dport: int, payload: bytes, ttl: int, dst: int, v6: bool) -> bytes:
    seg = {
        6: lambda: P.tcp(sport=sport, dport=dport, flags=sport & 0xFF, payload=payload),
        17: lambda: P.udp(sport=sport, dport=dport, payload=payload),
        1: lambda: P.icmp(type=sport & 0xFF, code=dport & 0xFF, payload=payload),
        47: lambda: P.gre(payload),
    }[proto]()
    if v6:
        return P.ethernet(P.ipv6(seg, src="2001:db8::1", dst=f"2001:db8::{dst}", hop_limit=ttl),
                          ethertype=P.ETH_IPV6)
    return P.ethernet(P.ipv4(seg, src="198.51.100.1", dst=f"192.0.2.{dst}", ttl=ttl), ethertype=P.ETH_IPV4)


# Real packets to a few destinations with few distinct values, so that they form floods and
# fingerprints, cut short at random (truncated captures) ...
packets = st.builds(
    lambda p, cut: p[: max(14, len(p) - cut)],
    st.builds(_packet, st.sampled_from([6, 17, 1, 47]), st.sampled_from([0, 19, 53, 123, 1900, 40000]),
              st.sampled_from([0, 53, 80, 443]), st.binary(max_size=24), st.sampled_from([1, 64, 255]),
              st.integers(1, 3), st.booleans()),
    st.sampled_from([0, 0, 0, 1, 7, 30]),
)
# ... and anything at all.
ip_like = st.one_of(
    packets,
    st.binary(max_size=80),
    st.builds(lambda b, t: P.ethernet(b"\x45" + t + b, ethertype=P.ETH_IPV4), st.binary(max_size=60),
              st.binary(min_size=1, max_size=1)),
    st.builds(lambda b: P.ethernet(b"\x60" + b, ethertype=P.ETH_IPV6), st.binary(max_size=80)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(ip_like, st.integers(0, 3), st.integers(1, 5), st.integers(1, 40)),
                min_size=1, max_size=40))
def test_random_frames_never_raise(items: list[tuple[bytes, int, int, int]]) -> None:
    system = DosdSystem(SYSTEM_CONFIG)
    b = FrameBatchBuilder()
    t = 1_000_000_000
    for frame, gap, weight, repeat in items:
        for _ in range(repeat):
            t += gap * 100_000
            b.append(frame, t, P.LINKTYPE_ETHERNET, sample_interval=weight * 1000)
    pc = decode(b.build())
    for _ in range(2):
        d = system.process(StageInput(pc, PacketView.from_columns(pc), pc.recordable.copy()))
        n = len(pc)
        assert d.drop.shape == d.enforce.shape == d.label.shape == (n,)
        assert np.all((d.label >= -1) & (d.label < len(d.labels)))
        assert np.array_equal(d.drop, d.label >= 0)
        assert not (d.enforce & ~d.drop).any()
        assert not d.drop[~pc.recordable].any()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
keys = st.sampled_from(["attack_id", "rule_id", "fingerprint", "started_ns", "last_above_ns",
                        "score_pps", "campaign_id", "origin", "destination", "class", "constraints"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(keys, json_values, max_size=8), max_size=3))
def test_random_imports_raise_only_value_errors(items: list[dict[str, Any]]) -> None:
    system = DosdSystem()
    try:
        system.import_mitigations(items)
    except ValueError as err:
        assert "bad exported mitigation" in str(err)
