"""Sensitivity sets the threshold, the action sets the verdict and enforcement; sampled
input counts with its weight; ``ddos_dynamic`` judges selectivity against normal traffic."""

from __future__ import annotations

import numpy as np
import pytest
from dosd_traffic import (
    NTP_MONLIST,
    WEB,
    Component,
    Run,
    benign,
    generate,
    lookalike_syns,
    run,
    tcp_flood,
    udp_reflection,
    web_clients,
)

from netlogpush.mitigation.dosd import RULES_BY_SLUG, DosdConfig, DosdSystem
from netlogpush.mitigation.dosd.config import RuleDefault
from netlogpush.testing import packets as P

NTP = RULES_BY_SLUG["ntp-reflection"]


def _ntp_run(config: DosdConfig, rate: float = 3000) -> tuple[DosdSystem, Run]:
    traffic = generate([*benign(0.0, 6.0), udp_reflection(123, NTP_MONLIST, rate=rate)], seed=21)
    system = DosdSystem(config)
    return system, run(system, traffic)


@pytest.mark.parametrize(
    ("sensitivity", "threshold", "fires"),
    [("default", 1000.0, True), ("medium", 2000.0, True), ("low", 4000.0, False), ("eoff", 50000.0, False)],
)
def test_sensitivity_sets_the_threshold(sensitivity: str, threshold: float, fires: bool) -> None:
    """An NTP reflection at 3,000 pps against thresholds of 1,000 / 2,000 / 4,000 / 50,000."""
    assert NTP.threshold(sensitivity) == threshold
    config = DosdConfig(rules={"ntp-reflection": RuleDefault(sensitivity_level=sensitivity)})
    _system, r = _ntp_run(config)
    mitigations = r.all_mitigations()
    if fires:
        assert [(m.rule.slug, m.threshold) for m in mitigations] == [("ntp-reflection", threshold)]
        assert r.attack_drop_after_detection() >= 0.99
    else:
        assert mitigations == []
        assert not r.drop.any()


def test_log_action_gives_a_drop_verdict_that_is_not_enforced() -> None:
    config = DosdConfig(rules={NTP.id: RuleDefault(action="log")})
    _system, r = _ntp_run(config)
    atk = r.attack & r.drop
    assert r.attack_drop_after_detection() >= 0.99
    assert atk.sum() > 5000
    assert not r.enforce.any()
    assert r.attack_field("MitigationReason") == {"BLOCKED"}
    assert r.attack_field("RuleName") == {"NTP reflection"}


def test_sampled_attack_is_counted_with_its_weight() -> None:
    """1 frame in 100 with SampleInterval 100: 40 frames/s of NTP stand for 4,000 pps."""
    comps = [*benign(0.0, 8.0, scale=0.02), udp_reflection(123, NTP_MONLIST, rate=40, end=7.0)]
    traffic = generate(comps, seed=22)
    system = DosdSystem()
    r = run(system, traffic, sample_interval=100)
    (m,) = r.all_mitigations()
    assert m.rule is NTP
    assert m.fingerprint.constraints == (("len", (468,)), ("p0", (0xD700032A,)), ("p1", (0x00060048,)))
    detected = r.detected_at()
    assert detected is not None and detected <= 2.0 + 3.0
    assert r.attack_drop_after_detection() >= 0.99
    assert not (r.drop & ~r.attack).any()


def _dynamic_run(attack: Component) -> tuple[DosdSystem, Run]:
    # Busy web clients give the baseline its normal SYNs before the attack at 8 s.
    comps = [*benign(0.0, 11.0), web_clients(WEB, 6000, 0.0, 11.0, name="busy"), attack]
    traffic = generate(comps, seed=23)
    system = DosdSystem(DosdConfig(baseline_delay_s=1.0))
    return system, run(system, traffic)


def test_ddos_dynamic_logs_a_fingerprint_that_normal_traffic_shares() -> None:
    """SYNs with the clients' own length and two of their windows: the fingerprint has two
    fields of evidence, but a fifth of the normal SYNs match it, so it is only logged."""
    _system, r = _dynamic_run(lookalike_syns(rate=15000, start=8.0, end=10.0))
    (m,) = r.all_mitigations()
    assert m.rule.slug == "syn-flood" and m.setting.action == "ddos_dynamic"
    assert m.fingerprint.constraints == (
        ("dport", (443,)), ("flags", (P.SYN,)), ("len", (60,)), ("win", (64240, 65535)))
    assert m.specificity == 2.0
    assert m.judged and not m.selective
    assert 0.1 < m.normal_share < 0.4
    assert r.attack_drop_after_detection() >= 0.99
    assert not r.enforce.any()


def test_ddos_dynamic_blocks_a_fingerprint_normal_traffic_lacks() -> None:
    _system, r = _dynamic_run(tcp_flood(P.SYN, start=8.0, end=10.0))
    (m,) = r.all_mitigations()
    assert m.judged and m.selective and m.normal_share == 0.0
    atk = r.attack & r.drop
    assert np.all(r.enforce[atk])
