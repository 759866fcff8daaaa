"""The configuration: Cloudflare's ddos_l4 JSON loads as is; mistakes get clear errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from netlogpush.mitigation.dosd import RULES_BY_SLUG, RULESET_ID, DosdConfig, OverrideRule
from netlogpush.mitigation.dosd.config import HeavyHitterConfig

NTP = RULES_BY_SLUG["ntp-reflection"].id

# The example of developers.cloudflare.com/ddos-protection/managed-rulesets/network/
# network-overrides/configure-api/, placeholders filled in.
DOCS_EXAMPLE = {
    "action": "execute",
    "expression": "ip.dst in { 1.1.1.0/24 }",
    "action_parameters": {
        "id": RULESET_ID,
        "overrides": {
            "sensitivity_level": "medium",
            "categories": [{"category": "udp", "sensitivity_level": "low"}],
            "rules": [{"id": NTP, "action": "block"}],
        },
    },
}
# ... and the same rule as the API returns it.
DOCS_RESPONSE = {
    **DOCS_EXAMPLE, "id": "2c0fc9fa937b11eaa1b71c4d701ab86e", "version": "1", "ref": "x",
    "last_updated": "2021-08-16T04:14:47.977741Z", "enabled": True,
    "action_parameters": {**DOCS_EXAMPLE["action_parameters"], "version": "latest"},
}


def test_defaults() -> None:
    c = DosdConfig()
    assert c.enabled and c.overrides == () and c.rules == {}
    assert (c.tick_ms, c.rate_window_s, c.expiry_s) == (100, 1.0, 15.0)
    assert c.heavy_hitters == HeavyHitterConfig()


def test_cloudflare_documented_override_loads() -> None:
    c = DosdConfig.model_validate({"overrides": [DOCS_EXAMPLE, DOCS_RESPONSE]})
    derived, given = c.overrides
    assert given.id == "2c0fc9fa937b11eaa1b71c4d701ab86e"
    assert len(derived.id) == 32 and derived.id == OverrideRule.model_validate(DOCS_EXAMPLE).id
    ov = given.action_parameters.overrides
    assert (ov.sensitivity_level, ov.categories[0].category, ov.rules[0].id) == ("medium", "udp", NTP)


def test_rules_by_slug_or_id() -> None:
    c = DosdConfig.model_validate({"rules": {"ntp-reflection": {"action": "log"}, NTP.upper(): {}}})
    assert list(c.rules) == [NTP]


def _err(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        DosdConfig.model_validate(data)
    return str(info.value)


def _rule(**params: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"expression": "ip.dst in {192.0.2.0/24}", "action_parameters": {"overrides": {}}}
    base["action_parameters"]["overrides"].update(params.pop("overrides", {}))
    base.update(params)
    return {"overrides": [base]}


@pytest.mark.parametrize(("data", "message"), [
    ({"bogus": 1}, "Extra inputs are not permitted"),
    ({"rules": {"ntp": {}}}, "no dosd rule 'ntp'; rules are: udp-flood, syn-flood"),
    ({"rules": {"ntp-reflection": {"action": "challenge"}}}, "Input should be 'block', 'log' or 'ddos_dynamic'"),
    (_rule(overrides={"action": "ddos_dynamic"}), "ddos_dynamic cannot be set in an override"),
    (_rule(overrides={"sensitivity_level": "high"}), "Input should be 'default', 'medium', 'low' or 'eoff'"),
    (_rule(overrides={"categories": [{"category": "http", "action": "log"}]}), "unknown category 'http'"),
    (_rule(overrides={"rules": [{"id": "0" * 32, "action": "log"}]}), "no dosd rule '00000000"),
    (_rule(overrides={"rules": [{"id": "ntp", "action": "log"}]}), "rule id must be 32 hexadecimal digits"),
    (_rule(overrides={"rules": [{"id": NTP, "enabled": False}]}), "cannot be disabled; set sensitivity_level eoff"),
    (_rule(overrides={"enabled": False}), "the DDoS managed ruleset cannot be disabled"),
    (_rule(expression="ip.dst in {192.0.2.0/24"), "invalid override expression: 1:"),
    (_rule(expression="ip.src.country eq \"CN\""), "field(s) ip.src.country not allowed in a ddos_l4 override"),
    (_rule(expression="ip.len gt " + "1" * 4000), "the limit is 4000"),
    (_rule(action="block"), "Input should be 'execute'"),
    ({"overrides": [{"action_parameters": {"id": "1" * 32}}]}, "must be the DDoS managed ruleset 3b64149b"),
    ({"overrides": [{"id": "a" * 32}, {"id": "a" * 32}]}, "appears twice"),
    ({"heavy_hitters": {"sketch_width": 1000}}, "sketch_width must be a power of two"),
    ({"heavy_hitters": {"prefix_length_v6": 60}}, "prefix_length_v6 must be a multiple of 8"),
    ({"min_samples": 5000}, "min_samples cannot exceed analysis_samples"),
    ({"tick_ms": 5}, "greater than or equal to 10"),
])
def test_invalid_configuration_is_refused_with_a_clear_message(data: dict[str, Any], message: str) -> None:
    assert message in _err(data)
