"""ddos_l4 override rules: scoped by expression, at ruleset, category or rule level; the
first matching rule that configures the managed rule applies and its ID is logged."""

from __future__ import annotations

from typing import Any

import numpy as np
from dosd_traffic import NTP_MONLIST, WEB, WEB2, Run, benign, generate, run, udp_reflection

from netlogpush.mitigation.dosd import (
    RULES_BY_SLUG,
    RULESET_ID,
    DosdConfig,
    DosdSystem,
    OverrideRule,
)

NTP = RULES_BY_SLUG["ntp-reflection"]
O1, O2, O3 = "a1" * 16, "b2" * 16, "c3" * 16


def override(rule_id: str, expression: str, **overrides: Any) -> OverrideRule:
    return OverrideRule.model_validate({
        "id": rule_id, "action": "execute", "expression": expression,
        "action_parameters": {"id": RULESET_ID, "overrides": overrides},
    })


def two_attacks(*rules: OverrideRule) -> tuple[DosdSystem, Run, np.ndarray, np.ndarray]:
    """NTP reflection at 3,000 pps to each of two servers."""
    comps = [*benign(0.0, 6.0), udp_reflection(123, NTP_MONLIST, dst=WEB, name="a"),
             udp_reflection(123, NTP_MONLIST, dst=WEB2, name="b")]
    traffic = generate(comps, seed=31)
    system = DosdSystem(DosdConfig(overrides=rules))
    r = run(system, traffic)
    names = np.array(traffic.names)[traffic.comp]
    return system, r, names == "a", names == "b"


def by_dest(system: DosdSystem, r: Run) -> dict[str, Any]:
    return {m.fingerprint.dest.address(): m for m in r.all_mitigations()}


def test_rule_override_in_scope_logs_and_names_itself() -> None:
    rule = override(O1, f"ip.dst in {{{WEB}}}", rules=[{"id": NTP.id, "action": "log"}])
    system, r, a, b = two_attacks(rule)
    assert sorted(by_dest(system, r)) == [WEB, WEB2]
    da, db = a & r.drop, b & r.drop
    assert da.sum() > 5000 and db.sum() > 5000
    # In scope: logged (verdict drop, not enforced), RulesetOverrideID is the override's.
    assert not r.enforce[da].any()
    assert set(r.fields["RulesetOverrideID"][da].tolist()) == {O1}
    # Out of scope: the defaults (block), no override ID.
    assert r.enforce[db].all()
    assert set(r.fields["RulesetOverrideID"][db].tolist()) == {""}


def test_category_override_raises_the_threshold_in_scope_only() -> None:
    """``low`` for the reflection category makes 3,000 pps too little for .10; .11 is out
    of the expression's scope and still mitigated."""
    rule = override(O2, f"ip.dst in {{{WEB}}}", categories=[{"category": "reflection", "sensitivity_level": "low"}])
    system, r, a, b = two_attacks(rule)
    assert sorted(by_dest(system, r)) == [WEB2]
    assert not r.drop[a].any()
    assert set(r.fields["RulesetOverrideID"][b & r.drop].tolist()) == {""}


def test_ruleset_override_scoped_by_port_expression() -> None:
    rule = override(O3, "udp.srcport eq 123", sensitivity_level="eoff")
    system, r, _a, _b = two_attacks(rule)
    assert system.stats.activated == 0 and not r.drop.any()


def test_rule_setting_beats_category_beats_ruleset_within_one_override() -> None:
    rule = override(
        O1, "ip.dst in {192.0.2.0/24}", sensitivity_level="eoff", action="block",
        categories=[{"category": "udp", "sensitivity_level": "low", "action": "log"}],
        rules=[{"id": NTP.id, "sensitivity_level": "default"}],
    )
    system, r, _a, _b = two_attacks(rule)
    ms = by_dest(system, r)
    assert sorted(ms) == [WEB, WEB2]
    # sensitivity from the rule entry, action from the category entry
    assert {(m.setting.sensitivity, m.setting.action, m.threshold) for m in ms.values()} == {
        ("default", "log", 1000.0)}
    assert not r.enforce.any()
    assert set(r.fields["RulesetOverrideID"][r.drop].tolist()) == {O1}


def test_first_matching_override_that_configures_the_rule_applies() -> None:
    skipped = override(O1, f"ip.dst in {{{WEB}}}", categories=[{"category": "tcp", "action": "log"}])
    first = override(O2, f"ip.dst in {{{WEB}}}", rules=[{"id": NTP.id, "action": "log"}])
    second = override(O3, "ip.dst in {192.0.2.0/24}", action="block")
    _system, r, a, b = two_attacks(skipped, first, second)
    da, db = a & r.drop, b & r.drop
    assert set(r.fields["RulesetOverrideID"][da].tolist()) == {O2}
    assert not r.enforce[da].any()
    assert set(r.fields["RulesetOverrideID"][db].tolist()) == {O3}
    assert r.enforce[db].all()


def test_override_scope_is_per_packet() -> None:
    """Scope by destination port: the attack's random ports split it between the override
    (logged, override ID) and the defaults (blocked)."""
    rule = override(O1, "udp.dstport lt 32768", rules=[{"id": NTP.id, "action": "log"}])
    _system, r, a, b = two_attacks(rule)
    dropped = (a | b) & r.drop
    ports = np.array([int.from_bytes(f[36:38], "big") for f in r.traffic.frames])
    low = dropped & (ports < 32768)
    high = dropped & (ports >= 32768)
    assert low.sum() > 2000 and high.sum() > 2000
    assert set(r.fields["RulesetOverrideID"][low].tolist()) == {O1}
    assert not r.enforce[low].any()
    assert set(r.fields["RulesetOverrideID"][high].tolist()) == {""}
    assert r.enforce[high].all()
