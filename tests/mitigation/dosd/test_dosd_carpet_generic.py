"""Carpet bombing is caught at the prefix; a flood without a signature is rate-limited by
the ``generic`` rule."""

from __future__ import annotations

import numpy as np
from dosd_traffic import (
    NTP_MONLIST,
    T0_NS,
    benign,
    generate,
    hosts,
    random_udp_flood,
    random_v6_hosts,
    run,
    udp_flood,
    udp_reflection,
)

from netlogpush.mitigation.dosd import RULES_BY_SLUG, DosdConfig, DosdSystem, OverrideRule

GENERIC = RULES_BY_SLUG["generic"]


def test_carpet_bombing_across_a_v4_24_is_caught_by_the_prefix() -> None:
    """6,000 pps of NTP replies spread over 256 hosts: 23 pps each, far below a host's
    threshold (1,000), three times the /24's (2,000)."""
    attack = udp_reflection(123, NTP_MONLIST, dst="192.0.2.0", rate=6000)
    attack.vary["ip.dst"] = hosts("192.0.2.0", 256)
    traffic = generate([*benign(0.0, 7.0), attack], seed=41)
    system = DosdSystem(DosdConfig(expiry_s=1.0))
    r = run(system, traffic)
    (m,) = r.all_mitigations()
    assert m.rule.slug == "ntp-reflection"
    assert m.fingerprint.dest.cidr() == "192.0.2.0/24"
    assert m.fingerprint.constraints == (("len", (468,)), ("p0", (0xD700032A,)), ("p1", (0x00060048,)))
    assert m.threshold == 2000.0  # the prefix's: twice a host's
    detected = r.detected_at()
    assert detected is not None and detected <= 2.0 + 3.0
    assert r.attack_drop_after_detection() >= 0.99
    assert r.benign_drop() < 0.001
    # No host of the /24 was hot on its own.
    assert all(g.dest.plen == 24 for g in system.groups.values() if g.cls.name == "NTP")


def test_carpet_bombing_across_a_v6_64() -> None:
    attack = udp_flood(dst="2001:db8:5::", v6=True, rate=40000)
    attack.vary["ip.dst"] = random_v6_hosts("2001:db8:5::")
    traffic = generate([*benign(0.0, 7.0), attack], seed=42)
    system = DosdSystem(DosdConfig(expiry_s=1.0))
    r = run(system, traffic)
    (m,) = r.all_mitigations()
    assert m.rule.slug == "udp-flood"
    assert m.fingerprint.dest.cidr() == "2001:db8:5::/64"
    assert m.fingerprint.constraints == (("len", (560,)), ("p0", (0,)), ("p1", (0,)), ("ttl", (64,)))
    assert r.attack_drop_after_detection() >= 0.99
    assert r.benign_drop() < 0.001


def test_generic_rule_rate_limits_a_flood_without_signature() -> None:
    """80,000 pps of UDP with random lengths, TTLs, ports and payload: no field has few
    enough values to be a signature, so the generic rule (50,000 pps) rate-limits it to its
    threshold: 5,000 packets per 100 ms tick get through, the rest are dropped."""
    traffic = generate([*benign(0.0, 5.0), random_udp_flood(rate=80000, start=2.0, end=4.0)], seed=43)
    system = DosdSystem(DosdConfig(expiry_s=1.0))
    r = run(system, traffic)
    (m,) = r.all_mitigations()
    assert m.rule is GENERIC
    assert m.fingerprint.dest.cidr() == "192.0.2.20/32"
    assert m.fingerprint.constraints == ()
    assert r.attack_field("MitigationReason") == {"RATE_LIMITED"}
    assert r.attack_field("RuleID") == {GENERIC.id}
    assert r.attack_field("AttackVector") == {"Generic Flood"}
    assert r.enforce[r.attack & r.drop].all()
    # Per full tick after the start: exactly the budget passes.
    ts_ns = (T0_NS + np.round(r.traffic.ts_s * 1e9)).astype(np.int64)
    ticks = ts_ns // system.clock.tick_ns
    end_tick = (T0_NS + 4 * 10**9) // system.clock.tick_ns
    assert end_tick - m.start_tick >= 10
    # Random ports sometimes hit 53, 123, … and put a packet in another class (not this
    # fingerprint's); count the plain UDP class only.
    sport = np.array([int.from_bytes(f[34:36], "big") for f in r.traffic.frames])
    dport = np.array([int.from_bytes(f[36:38], "big") for f in r.traffic.frames])
    plain = ~np.isin(sport, [19, 53, 123, 1900, 11211]) & (dport != 53)
    for t in range(m.start_tick, end_tick):
        sel = r.attack & plain & (ticks == t)
        assert sel.sum() > 6000
        assert int((sel & ~r.drop).sum()) == 5000
    # The flood is what it rate-limits: benign traffic passes.
    assert not (r.drop & ~r.attack).any()


def test_generic_rule_overridden_to_block_drops_all() -> None:
    rule = OverrideRule.model_validate({
        "id": "d4" * 16, "expression": "ip.dst in {192.0.2.20}",
        "action_parameters": {"overrides": {"categories": [{"category": "generic", "action": "block"}]}},
    })
    traffic = generate([*benign(0.0, 5.0), random_udp_flood(rate=80000, start=2.0, end=4.0)], seed=43)
    system = DosdSystem(DosdConfig(expiry_s=1.0, overrides=(rule,)))
    r = run(system, traffic)
    assert r.attack_drop_after_detection() >= 0.99
    assert r.attack_field("MitigationReason") == {"BLOCKED"}
    assert r.attack_field("RulesetOverrideID") == {"d4" * 16}
