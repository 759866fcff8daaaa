"""The REST shapes the API issue mounts: phase entry points (magic_transit, ddos_l4) and
Advanced TCP Protection's configs, as plain functions over the running settings.

Bodies are the ones in Cloudflare's docs (cited beside each), answers are compared whole.
Every change must produce new validated settings and tell ``on_change``; every refusal must
change nothing.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chain_support import SERVER, Pkt, rows, settings
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from netlogpush.config import Settings
from netlogpush.mitigation.atp_api import MAX_BULK, AdvancedTcpProtection, AtpError
from netlogpush.mitigation.dosd.ruleset import RULES_BY_SLUG, RULESET_ID
from netlogpush.mitigation.firewall.config import FirewallRule
from netlogpush.mitigation.reload import Reloader, SettingsStore
from netlogpush.mitigation.ruleset_ids import derived_id
from netlogpush.mitigation.rulesets import DDOS_L4_RULESET_ID, PhaseEntrypoints, RulesetError
from netlogpush.pipeline import pipeline_from_settings

NTP_RULE = RULES_BY_SLUG["ntp-reflection"].id
MT_RULESET = derived_id("ruleset", "magic_transit", "default")


def clock() -> Callable[[], datetime]:
    """Each call one second later than the last, from 2026-01-01T00:00:00Z."""
    ticks = itertools.count()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return lambda: start + timedelta(seconds=next(ticks))


def ts(second: int) -> str:
    return f"2026-01-01T00:00:{second:02d}Z"


@pytest.fixture
def changes() -> list[Settings]:
    return []


@pytest.fixture
def store(changes: list[Settings]) -> SettingsStore:
    base = settings({
        "firewall": {
            "lists": {"bad_hosts": ["203.0.113.0/24"]},
            "ruleset": {"rules": [{"expression": "ip.src in $bad_hosts", "action": "block"}]},
        },
        "flowtrackd": {"prefixes": [{"prefix": "192.0.2.0/24", "comment": "web"}]},
    })  # fmt: skip
    return SettingsStore(base, on_change=changes.append)


@pytest.fixture
def entrypoints(store: SettingsStore) -> PhaseEntrypoints:
    return PhaseEntrypoints(store, clock=clock())


# --- magic_transit ------------------------------------------------------------------------------


def test_get_magic_transit_is_the_configured_ruleset(entrypoints: PhaseEntrypoints) -> None:
    rule_id = derived_id("rule", MT_RULESET, "0", "ip.src in $bad_hosts")
    assert entrypoints.get("magic_transit") == {
        "id": MT_RULESET, "name": "default", "description": "", "kind": "root", "phase": "magic_transit",
        "version": "1", "last_updated": ts(0),
        "rules": [{"id": rule_id, "expression": "ip.src in $bad_hosts", "action": "block", "description": "",
                   "enabled": True, "version": "1", "last_updated": ts(0), "ref": rule_id}],
    }  # fmt: skip


def test_put_magic_transit_the_docs_example(
    entrypoints: PhaseEntrypoints, store: SettingsStore, changes: list[Settings]
) -> None:
    # developers.cloudflare.com/magic-firewall/how-to/add-rules/ ("Skip action").
    body: dict[str, Any] = {
        "name": "Example ruleset", "kind": "root", "phase": "magic_transit",
        "description": "Example ruleset description",
        "rules": [
            {"action": "skip", "action_parameters": {"ruleset": "current"},
             "expression": "tcp.dstport in { 8080 } ", "description": "Allow port 8080"},
            {"action": "block", "expression": "tcp.dstport in { 1..65535 }", "description": "Block all TCP ports"},
        ],
    }  # fmt: skip
    result = entrypoints.put("magic_transit", body)
    ids = [derived_id("rule", MT_RULESET, str(i), r["expression"]) for i, r in enumerate(body["rules"])]
    assert result == {
        "id": MT_RULESET,  # the entry point keeps its id
        "name": "Example ruleset", "description": "Example ruleset description", "kind": "root",
        "phase": "magic_transit", "version": "2", "last_updated": ts(1),
        "rules": [
            {"id": ids[0], "expression": "tcp.dstport in { 8080 } ", "action": "skip",
             "action_parameters": {"ruleset": "current"}, "description": "Allow port 8080", "enabled": True,
             "version": "1", "last_updated": ts(1), "ref": ids[0]},
            {"id": ids[1], "expression": "tcp.dstport in { 1..65535 }", "action": "block",
             "description": "Block all TCP ports", "enabled": True, "version": "1", "last_updated": ts(1),
             "ref": ids[1]},
        ],
    }  # fmt: skip
    assert entrypoints.get("magic_transit") == result
    [new] = changes
    assert new is store.current
    assert [(r.action, r.expression) for r in new.mitigation.firewall.ruleset.rules] == [
        ("skip", "tcp.dstport in { 8080 } "), ("block", "tcp.dstport in { 1..65535 }")]  # fmt: skip
    assert new.mitigation.firewall.lists == {"bad_hosts": ["203.0.113.0/24"]}  # untouched
    assert new.mitigation.flowtrackd == store.current.mitigation.flowtrackd


def test_get_put_round_trip_keeps_ids_and_bumps_only_changed_rules(entrypoints: PhaseEntrypoints) -> None:
    first = entrypoints.put("magic_transit", {"rules": [
        {"expression": "tcp.dstport eq 22", "action": "log"},
        {"expression": "udp.dstport eq 53", "action": "block"},
    ]})  # fmt: skip
    edited = copy.deepcopy(first)  # what a client GETs, edits and PUTs back, server fields and all
    edited["rules"][1]["action"] = "skip"
    edited["rules"].insert(0, {"expression": "ip.src in $bad_hosts"})
    second = entrypoints.put("magic_transit", edited)
    assert second["version"] == "3"
    assert [(r["id"], r["version"], r["last_updated"]) for r in second["rules"]] == [
        (derived_id("rule", MT_RULESET, "0", "ip.src in $bad_hosts"), "1", ts(2)),  # new
        (first["rules"][0]["id"], "1", ts(1)),  # unchanged: same id, version and time
        (first["rules"][1]["id"], "2", ts(2)),  # changed
    ]
    # Putting the same thing again is not a change.
    assert entrypoints.put("magic_transit", second)["version"] == "3"


def test_put_magic_transit_errors_point_at_each_problem(
    entrypoints: PhaseEntrypoints, store: SettingsStore, changes: list[Settings]
) -> None:
    before = store.current
    body = {
        "phase": "magic_transit",
        "rules": [
            {"expression": "ip.src in $nope", "action": "block"},
            {"expression": "tcp.dstport eq 22", "action": "allow"},
            {"expression": "tcp.dstport in {22 ", "action": "block"},
            {"action": "block"},
            {"id": "0123456789abcdef0123456789abcdef", "expression": "udp"},
            {"id": "0123456789ABCDEF0123456789ABCDEF", "expression": "tcp.dstport eq 1"},
        ],
    }
    with pytest.raises(RulesetError) as info:
        entrypoints.put("magic_transit", body)
    err = info.value
    assert err.status == 400
    assert [(e["code"], e["source"]["pointer"]) for e in err.errors] == [
        (20021, "/rules/5/id"),
        (20021, "/rules/0/expression"),
        (20021, "/rules/2/expression"),
        (20021, "/rules/4/expression"),
        (20021, "/rules/1/action"),
        (20021, "/rules/3/expression"),
    ]
    messages = [e["message"] for e in err.errors]
    assert messages[0] == "/rules/5/id: the id 0123456789ABCDEF0123456789ABCDEF is also rule 4's"
    assert messages[1].startswith("/rules/0/expression: 1:11: unknown list $nope")
    assert messages[2] == ("/rules/2/expression: 1:19: expected a value or '}', got the end of the "
                           "expression (in 'tcp.dstport in {22 ')")  # fmt: skip
    assert messages[4] == "/rules/1/action: Input should be 'block', 'skip' or 'log'"
    assert messages[5] == "/rules/3/expression: Field required"
    assert store.current is before and changes == []
    assert entrypoints.get("magic_transit")["version"] == "1"


@pytest.mark.parametrize(
    ("body", "pointer", "message"),
    [
        ({"phase": "ddos_l4", "rules": []}, "/phase", "must be 'magic_transit' at this URL, got 'ddos_l4'"),
        ({"kind": "custom", "rules": []}, "/kind", "an entry point ruleset is of kind 'root', got 'custom'"),
        ({"rules": {"a": 1}}, "/rules", "must be a list of rules"),
        ({"rules": [], "colour": "red"}, "/colour", "Extra inputs are not permitted"),
    ],
)
def test_put_magic_transit_envelope_errors(
    entrypoints: PhaseEntrypoints, body: dict[str, Any], pointer: str, message: str
) -> None:
    with pytest.raises(RulesetError) as info:
        entrypoints.put("magic_transit", body)
    assert {"code": 20021, "message": f"{pointer}: {message}", "source": {"pointer": pointer}} in info.value.errors


def test_lists_added_later_are_usable_in_expressions(store: SettingsStore) -> None:
    # The magic_transit phase validates against the lists of the settings running now.
    api = PhaseEntrypoints(store, clock=clock())
    with pytest.raises(RulesetError, match=r"unknown list \$servers"):
        api.put("magic_transit", {"rules": [{"expression": "ip.dst in $servers"}]})
    firewall = store.current.mitigation.firewall.model_copy(update={"lists": {"servers": [SERVER]}})
    store.replace(store.current.model_copy(update={
        "mitigation": store.current.mitigation.model_copy(update={"firewall": firewall})}))  # fmt: skip
    result = api.put("magic_transit", {"rules": [{"expression": "ip.dst in $servers"}]})
    assert [r["expression"] for r in result["rules"]] == ["ip.dst in $servers"]


def test_versions_follow_changes_made_elsewhere(entrypoints: PhaseEntrypoints, store: SettingsStore) -> None:
    firewall = store.current.mitigation.firewall
    ruleset = firewall.ruleset.model_copy(update={"rules": [FirewallRule(expression="tcp.dstport eq 25", id="a" * 32)]})
    store.replace(store.current.model_copy(update={"mitigation": store.current.mitigation.model_copy(
        update={"firewall": firewall.model_copy(update={"ruleset": ruleset})})}))  # fmt: skip
    got = entrypoints.get("magic_transit")
    assert (got["version"], got["last_updated"], [r["id"] for r in got["rules"]]) == ("2", ts(1), ["a" * 32])


def test_unknown_phase(entrypoints: PhaseEntrypoints) -> None:
    with pytest.raises(RulesetError) as info:
        entrypoints.get("http_request_firewall_custom")
    assert info.value.status == 404
    assert info.value.errors == [{
        "code": 10003, "source": {"pointer": "/phase"},
        "message": "/phase: unknown phase 'http_request_firewall_custom'; known: magic_transit, ddos_l4"}]  # fmt: skip


# --- ddos_l4 ----------------------------------------------------------------------------------

#: developers.cloudflare.com/ddos-protection/managed-rulesets/network/network-overrides/configure-api/
DOCS_DDOS_L4 = {
    "description": "Define overrides for the Network-layer DDoS Attack Protection managed ruleset",
    "rules": [{
        "action": "execute",
        "expression": "ip.dst in { 1.1.1.0/24 }",
        "action_parameters": {
            "id": RULESET_ID,
            "overrides": {
                "sensitivity_level": "medium",
                "categories": [{"category": "reflection", "sensitivity_level": "low"}],
                "rules": [{"id": NTP_RULE, "action": "block"}],
            },
        },
    }],
}  # fmt: skip


def test_ddos_l4_starts_empty(entrypoints: PhaseEntrypoints) -> None:
    assert entrypoints.get("ddos_l4") == {
        "id": DDOS_L4_RULESET_ID, "name": "default", "description": "", "kind": "root", "phase": "ddos_l4",
        "rules": [], "version": "1", "last_updated": ts(0)}  # fmt: skip


def test_put_ddos_l4_the_docs_example_becomes_dosd_overrides(
    entrypoints: PhaseEntrypoints, store: SettingsStore, changes: list[Settings]
) -> None:
    result = entrypoints.put("ddos_l4", DOCS_DDOS_L4)
    [override] = store.current.mitigation.dosd.overrides
    assert override.expression == "ip.dst in { 1.1.1.0/24 }"
    assert override.action_parameters.overrides.sensitivity_level == "medium"
    assert [(c.category, c.sensitivity_level) for c in override.action_parameters.overrides.categories] == [
        ("reflection", "low")]  # fmt: skip
    assert [(r.id, r.action) for r in override.action_parameters.overrides.rules] == [(NTP_RULE, "block")]
    assert len(override.id) == 32  # derived: it becomes RulesetOverrideID
    # The answer has the shape of the docs' response.
    assert result == {
        "id": DDOS_L4_RULESET_ID, "name": "default", "kind": "root", "phase": "ddos_l4", "version": "2",
        "last_updated": ts(1), "description": DOCS_DDOS_L4["description"],
        "rules": [{
            "id": override.id, "version": "1", "action": "execute", "expression": "ip.dst in { 1.1.1.0/24 }",
            "action_parameters": {"id": RULESET_ID, "overrides": {
                "sensitivity_level": "medium",
                "categories": [{"category": "reflection", "sensitivity_level": "low"}],
                "rules": [{"id": NTP_RULE, "action": "block"}],
            }},
            "description": "", "enabled": True, "last_updated": ts(1), "ref": override.id,
        }],
    }  # fmt: skip
    assert len(changes) == 1
    # PUT of the GET answer (with version, ref, last_updated) is accepted and changes nothing.
    assert entrypoints.put("ddos_l4", entrypoints.get("ddos_l4"))["version"] == "2"


@pytest.mark.parametrize(
    ("rule", "pointer", "message"),
    [
        ({"action": "block", "expression": "true"}, "/rules/0/action", "Input should be 'execute'"),
        ({"expression": 'ip.src.country eq "BR"'}, "/rules/0/expression",
         "field(s) ip.src.country not allowed in a ddos_l4 override expression"),
        ({"action_parameters": {"id": "0" * 32}}, "/rules/0/action_parameters/id",
         f"action_parameters.id must be the DDoS managed ruleset {RULESET_ID}"),
        ({"action_parameters": {"overrides": {"action": "ddos_dynamic"}}},
         "/rules/0/action_parameters/overrides/action", "action ddos_dynamic cannot be set in an override"),
        ({"action_parameters": {"overrides": {"categories": [{"category": "nope"}]}}},
         "/rules/0/action_parameters/overrides/categories/0/category", "unknown category 'nope'"),
        ({"action_parameters": {"overrides": {"rules": [{"id": NTP_RULE, "enabled": False}]}}},
         "/rules/0/action_parameters/overrides/rules/0/enabled", "managed DDoS rules cannot be disabled"),
    ],
)  # fmt: skip
def test_put_ddos_l4_errors(
    entrypoints: PhaseEntrypoints, store: SettingsStore, rule: dict[str, Any], pointer: str, message: str
) -> None:
    before = store.current
    with pytest.raises(RulesetError) as info:
        entrypoints.put("ddos_l4", {"rules": [rule]})
    [err] = info.value.errors
    assert err["source"] == {"pointer": pointer}
    assert err["message"].startswith(f"{pointer}: {message}"), err["message"]
    assert store.current is before


def test_ddos_l4_override_reaches_the_running_dosd() -> None:
    """The API's change, through the store and a Reloader, changes what dosd does: an override
    setting the NTP rule to log turns its drops into log-only ones, with RulesetOverrideID."""
    from chain_support import flood_batch

    base = settings({"profile": "spectrum", "mode": "inline"})
    p = pipeline_from_settings(base)
    reloader = Reloader(p, base)
    api = PhaseEntrypoints(SettingsStore(base, on_change=reloader.request))
    api.put("ddos_l4", {"rules": [{"id": "ab" * 16, "expression": "ip.dst in { 192.0.2.0/24 }",
                                   "action_parameters": {"overrides": {"rules": [{"id": NTP_RULE, "action": "log"}]}}}]})  # fmt: skip
    assert reloader.pending
    assert reloader.apply_pending() is not None
    p.process(flood_batch(0.0))
    table = p.process(flood_batch(0.5, extra=[Pkt(t=int(1.2e9))]))
    got = {(r["Verdict"], r["Outcome"], r["RulesetOverrideID"]) for r in
           rows(table, ("MitigationSystem", "Verdict", "Outcome", "RulesetOverrideID")) if r["t"] != int(1.2e9)}  # fmt: skip
    assert got == {("drop", "pass", "ab" * 16)}


# --- Advanced TCP Protection --------------------------------------------------------------------


@pytest.fixture
def atp(store: SettingsStore) -> AdvancedTcpProtection:
    ids = (f"00000000-0000-4000-8000-{i:012d}" for i in itertools.count(1))
    return AdvancedTcpProtection(store, clock=clock(), new_id=lambda: next(ids))


def uid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def test_status_follows_the_profile_and_patch_switches_it(
    atp: AdvancedTcpProtection, store: SettingsStore, changes: list[Settings]
) -> None:
    # developers.cloudflare.com/ddos-protection/advanced-ddos-systems/api/tcp-protection/examples/
    assert atp.handle("GET", "tcp_protection_status") == {"enabled": True}
    assert atp.handle("PATCH", "tcp_protection_status", {"enabled": False}) == {"enabled": False}
    assert store.current.mitigation.flowtrackd.enabled is False
    assert "flowtrackd" not in store.current.mitigation.enabled_systems()
    assert atp.handle("PATCH", "tcp_protection_status", {"enabled": True}) == {"enabled": True}
    assert len(changes) == 2
    with pytest.raises(AtpError, match="/enabled: must be true or false"):
        atp.handle("PATCH", "tcp_protection_status", {"enabled": "yes"})


@pytest.mark.parametrize(
    ("mitigation", "reason"),
    [
        ({"profile": "magic_wan"}, "flowtrackd is not part of the 'magic_wan' profile"),
        ({"systems": ["dosd"]}, "mitigation.systems does not list flowtrackd"),
    ],
)
def test_status_cannot_enable_flowtrackd_outside_its_profile(mitigation: dict[str, Any], reason: str) -> None:
    store = SettingsStore(settings(mitigation))
    atp = AdvancedTcpProtection(store)
    assert atp.status() == {"enabled": False}
    with pytest.raises(AtpError) as info:
        atp.set_status({"enabled": True})
    assert info.value.errors[0]["message"].startswith(f"/enabled: {reason}; ")
    assert store.current.mitigation.flowtrackd.enabled is None


def test_prefixes_list_bulk_get_patch_delete(
    atp: AdvancedTcpProtection, store: SettingsStore, changes: list[Settings]
) -> None:
    [configured] = atp.handle("GET", "prefixes")
    assert configured == {"id": configured["id"], "prefix": "192.0.2.0/24", "comment": "web", "excluded": False,
                          "created_on": ts(0), "modified_on": ts(0)}  # fmt: skip
    assert atp.handle("GET", "prefixes")[0]["id"] == configured["id"]  # a derived id is stable
    # The docs' bulk example: a prefix, and a subset of it excluded.
    added = atp.handle("POST", "prefixes/bulk", [
        {"prefix": "203.0.113.0/24", "comment": "My prefix", "excluded": False},
        {"prefix": "203.0.113.0/25", "comment": "Excluded subset", "excluded": True},
    ])  # fmt: skip
    assert [(p["id"], p["prefix"], p["excluded"], p["created_on"]) for p in added] == [
        (uid(1), "203.0.113.0/24", False, ts(1)), (uid(2), "203.0.113.0/25", True, ts(1))]  # fmt: skip
    assert [p.prefix for p in store.current.mitigation.flowtrackd.prefixes] == [
        "192.0.2.0/24", "203.0.113.0/24", "203.0.113.0/25"]  # fmt: skip
    # The configured prefix's derived id was written into the settings with the change.
    assert store.current.mitigation.flowtrackd.prefixes[0].id == configured["id"]

    patched = atp.handle("PATCH", f"prefixes/{uid(2)}", {"comment": "carved out", "id": "ignored"})
    assert (patched["id"], patched["comment"], patched["excluded"], patched["created_on"]) == (
        uid(2), "carved out", True, ts(1))  # fmt: skip
    assert patched["modified_on"] > patched["created_on"]
    assert atp.handle("GET", f"prefixes/{uid(2)}") == patched

    assert atp.handle("DELETE", f"prefixes/{configured['id']}") is None
    assert [p["id"] for p in atp.handle("GET", "prefixes")] == [uid(1), uid(2)]
    assert atp.handle("DELETE", "prefixes") is None
    assert atp.handle("GET", "prefixes") == []
    assert store.current.mitigation.flowtrackd.prefixes == []
    assert len(changes) == 4


def test_prefix_errors(atp: AdvancedTcpProtection, store: SettingsStore) -> None:
    before = store.current
    with pytest.raises(AtpError) as info:
        atp.bulk_create("prefixes", [{"prefix": "198.51.100.0/24"}, {"prefix": "192.0.2.1/24"}, {"comment": "x"}])
    assert [(e["source"]["pointer"], e["message"]) for e in info.value.errors] == [
        ("/1/prefix", "/1/prefix: '192.0.2.1/24' has host bits set; the prefix is 192.0.2.0/24"),
        ("/2/prefix", "/2/prefix: Field required"),
    ]
    with pytest.raises(AtpError, match=f"at most {MAX_BULK} per request"):
        atp.bulk_create("prefixes", [{"prefix": "198.51.100.0/24"}] * (MAX_BULK + 1))
    with pytest.raises(AtpError) as missing:
        atp.handle("PATCH", "prefixes/no-such-id", {"comment": "x"})
    assert missing.value.status == 404
    assert missing.value.errors[0]["message"] == "/id: no prefixes item with id 'no-such-id'"
    with pytest.raises(AtpError) as no_bulk:
        atp.handle("POST", "allowlist/bulk", [])
    assert no_bulk.value.status == 404
    assert store.current is before


def test_allowlist_defaults_to_disabled_as_the_api_reference_says(atp: AdvancedTcpProtection) -> None:
    entry = atp.handle("POST", "allowlist", {"prefix": "198.51.100.0/24", "comment": "Partner"})
    assert entry == {"id": uid(1), "prefix": "198.51.100.0/24", "comment": "Partner", "enabled": False,
                     "created_on": ts(0), "modified_on": ts(0)}  # fmt: skip
    assert atp.handle("PATCH", f"allowlist/{uid(1)}", {"enabled": True})["enabled"] is True
    # netlogpush's extension: an expression narrowing the entry shows only when set.
    narrowed = atp.handle("POST", "allowlist", {"prefix": "198.51.100.7", "expression": "tcp.dstport eq 22",
                                                "enabled": True})  # fmt: skip
    assert narrowed["expression"] == "tcp.dstport eq 22"


@pytest.mark.parametrize("component", ["syn_protection", "tcp_flow_protection"])
def test_rules_global_name_and_scopes(atp: AdvancedTcpProtection, store: SettingsStore, component: str) -> None:
    [default] = atp.handle("GET", f"{component}/rules")
    assert {k: default[k] for k in ("scope", "name", "rate_sensitivity", "burst_sensitivity", "mode")} == {
        "scope": "global", "name": "global", "rate_sensitivity": "medium", "burst_sensitivity": "medium",
        "mode": "monitoring"}  # fmt: skip
    changed = atp.handle("PATCH", f"{component}/rules/{default['id']}", {"mode": "enabled", "rate_sensitivity": "high"})
    assert (changed["name"], changed["mode"], changed["rate_sensitivity"]) == ("global", "enabled", "high")
    region = atp.handle("POST", f"{component}/rules", {"scope": "region", "name": "WEUR", "rate_sensitivity": "low",
                                                       "burst_sensitivity": "low", "mode": "monitoring"})  # fmt: skip
    assert (region["scope"], region["name"]) == ("region", "WEUR")
    rules = getattr(store.current.mitigation.flowtrackd, component).rules
    assert [(r.scope, r.name, r.mode) for r in rules] == [("global", "", "enabled"), ("region", "WEUR", "monitoring")]
    with pytest.raises(AtpError) as second_global:
        atp.handle("POST", f"{component}/rules", {"scope": "global", "name": "global", "mode": "enabled"})
    assert second_global.value.errors == [{"code": 10001, "source": {"pointer": "/"},
                                           "message": "/: rule 3: a second rule for the global scope"}]  # fmt: skip
    with pytest.raises(AtpError, match=r"^/: a region rule needs the region code in name$"):
        atp.handle("POST", f"{component}/rules", {"scope": "region"})
    with pytest.raises(AtpError, match="/mode: Input should be 'monitoring', 'enabled' or 'disabled'"):
        atp.handle("PATCH", f"{component}/rules/{default['id']}", {"mode": "on"})


@pytest.mark.parametrize("component", ["syn_protection", "tcp_flow_protection"])
def test_filters(atp: AdvancedTcpProtection, store: SettingsStore, component: str) -> None:
    # The docs' JSON object example.
    body = {"expression": "ip.dst in { 192.0.2.0/24 203.0.113.0/24 } and tcp.dstport in { 80 443 10000..65535 }",
            "mode": "enabled"}  # fmt: skip
    created = atp.handle("POST", f"{component}/filters", body)
    assert created == {"id": uid(1), **body, "created_on": ts(0), "modified_on": ts(0)}
    atp.handle("POST", f"{component}/filters", {"expression": "tcp.dstport eq 22", "mode": "monitoring"})
    assert [f["id"] for f in atp.handle("GET", f"{component}/filters", query={"mode": "monitoring"})] == [uid(2)]
    assert [f.mode for f in getattr(store.current.mitigation.flowtrackd, component).filters] == [
        "enabled", "monitoring"]  # fmt: skip
    with pytest.raises(AtpError, match=r"/expression: uses ip\.proto; ATP filters may use only"):
        atp.handle("POST", f"{component}/filters", {"expression": 'ip.proto eq "tcp"', "mode": "enabled"})
    with pytest.raises(AtpError, match="/expression: calls bit_slice"):
        atp.handle("POST", f"{component}/filters",
                   {"expression": 'bit_slice("tcp", 0, 16) eq 80', "mode": "enabled"})  # fmt: skip
    atp.handle("DELETE", f"{component}/filters")
    assert getattr(store.current.mitigation.flowtrackd, component).filters == []


def test_routing(atp: AdvancedTcpProtection) -> None:
    with pytest.raises(AtpError) as unknown:
        atp.handle("GET", "dns_protection/rules")
    assert unknown.value.status == 404
    with pytest.raises(AtpError) as method:
        atp.handle("PUT", "prefixes")
    assert method.value.status == 405


# --- outside input never breaks them --------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12)
    | st.sampled_from(["block", "skip", "log", "execute", "tcp.dstport eq 22", "ip.src in $bad_hosts",
                       "192.0.2.0/24", "global", "enabled", "magic_transit", "root", NTP_RULE, RULESET_ID]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["rules", "id", "expression", "action", "action_parameters", "overrides", "phase",
                         "kind", "enabled", "prefix", "scope", "name", "mode", "comment", "excluded",
                         "sensitivity_level", "categories", "category", "description"]),
        inner, max_size=5),
    max_leaves=20,
)  # fmt: skip


@settings_(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(phase=st.sampled_from(["magic_transit", "ddos_l4"]), body=JSON)
def test_any_put_body_is_answered_or_refused_cleanly(store: SettingsStore, phase: str, body: Any) -> None:
    api = PhaseEntrypoints(store)
    try:
        result = api.put(phase, body)
    except RulesetError as exc:
        assert exc.errors and all(e["source"]["pointer"].startswith("/") for e in exc.errors)
    else:
        assert result == api.get(phase)


@settings_(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"]),
    path=st.sampled_from(["tcp_protection_status", "prefixes", "prefixes/bulk", "allowlist",
                          "syn_protection/rules", "tcp_flow_protection/filters", "prefixes/x", "nope"]),
    body=JSON,
)  # fmt: skip
def test_any_atp_request_is_answered_or_refused_cleanly(
    store: SettingsStore, method: str, path: str, body: Any
) -> None:
    try:
        AdvancedTcpProtection(store).handle(method, path, body)
    except AtpError as exc:
        assert exc.errors and exc.status in (400, 404, 405)
