"""Mitigations over time: determinism, campaigns, sharing between collectors, expiry,
reconfiguration, and packets that never reached dosd."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dosd_traffic import (
    NTP_MONLIST,
    T0_NS,
    WEB,
    WEB2,
    Traffic,
    benign,
    generate,
    run,
    stage_input,
    tcp_flood,
    udp_reflection,
)

from netlogpush.mitigation.dosd import RULES_BY_SLUG, DosdConfig, DosdSystem
from netlogpush.mitigation.dosd.config import RuleDefault
from netlogpush.testing import packets as P


def ntp_traffic(seed: int = 51, end: float = 6.0) -> Traffic:
    return generate([*benign(0.0, end), udp_reflection(123, NTP_MONLIST)], seed=seed)


def test_same_input_same_output() -> None:
    traffic = ntp_traffic()
    a = run(DosdSystem(), traffic)
    b = run(DosdSystem(), traffic)
    assert np.array_equal(a.drop, b.drop) and np.array_equal(a.enforce, b.enforce)
    for name in a.fields:
        assert np.array_equal(a.fields[name], b.fields[name]), name
    assert a.attack_field("AttackID") == b.attack_field("AttackID")


def test_batch_size_does_not_change_the_mitigation() -> None:
    traffic = ntp_traffic()
    small = run(DosdSystem(), traffic, batch_size=1000)
    large = run(DosdSystem(), traffic, batch_size=50_000)
    key = [(m.attack_id, m.fingerprint, m.start_tick) for m in small.all_mitigations()]
    assert key == [(m.attack_id, m.fingerprint, m.start_tick) for m in large.all_mitigations()]
    assert np.array_equal(small.drop, large.drop)


def test_packets_that_did_not_reach_dosd_pass_unlabelled() -> None:
    traffic = ntp_traffic()
    system = DosdSystem()
    seen_drop = 0
    for fb in traffic.batches():
        inp = stage_input(fb)
        inp.active = inp.active.copy()
        inp.active[::2] = False
        d = system.process(inp)
        assert not d.drop[::2].any() and not d.enforce[::2].any()
        assert (d.label[::2] == -1).all()
        seen_drop += int(d.drop.sum())
    assert seen_drop > 3000


def test_campaign_groups_mitigations_of_one_prefix() -> None:
    """NTP reflection at .10 and a SYN flood at .11 at the same time: one campaign for the
    /24; a second NTP attack much later is a new campaign."""
    comps = [*benign(0.0, 12.0, scale=0.3), udp_reflection(123, NTP_MONLIST, dst=WEB),
             tcp_flood(P.SYN, dst=WEB2, start=2.5, end=5.0),
             udp_reflection(123, NTP_MONLIST, dst=WEB, start=10.0, end=12.0, name="later")]
    traffic = generate(comps, seed=52)
    system = DosdSystem(DosdConfig(expiry_s=1.0, campaign_gap_s=2.0))
    r = run(system, traffic)
    ms = r.all_mitigations()
    assert [(m.rule.slug, m.fingerprint.dest.address()) for m in ms] == [
        ("ntp-reflection", WEB), ("syn-flood", WEB2), ("ntp-reflection", WEB)]
    assert ms[0].campaign_id == ms[1].campaign_id != ms[2].campaign_id
    assert len({m.attack_id for m in ms}) == 3
    names = np.array(traffic.names)[traffic.comp]
    assert set(r.fields["AttackCampaignID"][(names == "attack") & r.drop].tolist()) == {ms[0].campaign_id}


def test_mitigation_shared_with_another_collector_is_global() -> None:
    """Collector A detects the attack and exports its mitigations; collector B, whose own
    threshold would never fire (eoff), imports them and drops with scope global and the same
    attack ID."""
    traffic = ntp_traffic()
    a = DosdSystem(DosdConfig(collector_id="colo-a"))
    batches = traffic.batches()
    half = len(batches) // 2
    for fb in batches[:half]:
        a.process(stage_input(fb))
    exported = json.loads(json.dumps(a.export_mitigations()))  # through the wire format
    assert [e["rule_id"] for e in exported] == [RULES_BY_SLUG["ntp-reflection"].id]
    assert exported[0]["origin"] == "colo-a"

    b = DosdSystem(DosdConfig(rules={"ntp-reflection": RuleDefault(sensitivity_level="eoff")}))
    assert b.import_mitigations(exported) == 1
    assert b.import_mitigations(exported) == 0  # the same attack again refreshes it
    dropped = set()
    for fb in batches[half:]:
        d = b.process(stage_input(fb))
        rows = np.flatnonzero(d.drop)
        fields = d.label_fields(rows)
        dropped |= {(s, i) for s, i in zip(fields["MitigationScope"], fields["AttackID"], strict=True)}
    assert dropped == {("global", exported[0]["attack_id"])}
    assert b.stats.activated == 0 and b.stats.imported == 1
    assert b.export_mitigations() == []  # global ones are not passed on again by default
    assert len(b.export_mitigations(include_global=True)) == 1


@pytest.mark.parametrize("bad", [
    {"rule_id": "0" * 32}, {"attack_id": "x", "rule_id": "nope", "fingerprint": {}, "started_ns": 0},
    {"attack_id": "x", "rule_id": RULES_BY_SLUG["udp-flood"].id, "started_ns": 0,
     "fingerprint": {"destination": "192.0.2.1/32", "class": "udp", "constraints": {"flags": [2]}}},
    {"attack_id": "x", "rule_id": RULES_BY_SLUG["udp-flood"].id, "started_ns": "soon",
     "fingerprint": {"destination": "192.0.2.1/32", "class": "udp"}},
])
def test_malformed_import_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="bad exported mitigation"):
        DosdSystem().import_mitigations([bad])


def test_default_expiry_is_fifteen_seconds_after_the_last_busy_tick() -> None:
    traffic = generate([*benign(0.0, 24.0, scale=0.2), udp_reflection(123, NTP_MONLIST, end=5.0)], seed=53)
    system = DosdSystem()
    r = run(system, traffic)
    (m,) = system.ended
    assert system.active == []
    assert system.expiry_ticks == 150
    assert m.end_tick == m.last_above + 150
    last_s = (m.last_above * system.clock.tick_ns - T0_NS) / 1e9
    assert 4.5 < last_s < 5.0
    assert not r.drop[r.traffic.ts_s > 5.0].any()


def test_reconfigure_keeps_active_mitigations() -> None:
    traffic = ntp_traffic()
    system = DosdSystem()
    batches = traffic.batches(2000)
    for fb in batches[:4]:
        system.process(stage_input(fb))
    (m,) = system.active
    assert system.process(stage_input(batches[4])).enforce.sum() > 100
    system.reconfigure(DosdConfig(rules={"ntp-reflection": RuleDefault(action="log")}))
    assert system.active == [m]
    d = system.process(stage_input(batches[5]))
    assert d.drop.sum() > 100 and not d.enforce.any()
    system.reconfigure(DosdConfig(tick_ms=50))  # a new clock: rates and mitigations restart
    assert system.active == []
