"""magic-firewall as a system: first enabled match wins, actions, IDs, lists, records."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from chain_support import CLIENT, SERVER, Pkt, batch, pipeline, rows, stage_input

from netlogpush.mitigation.firewall.config import FirewallConfig
from netlogpush.mitigation.firewall.system import FirewallSystem
from netlogpush.mitigation.ruleset_ids import derived_id
from netlogpush.testing import packets as P

BAD = "203.0.113.66"
PACKETS = [
    Pkt(src=BAD, dport=80),  # 0: in $bad_hosts
    Pkt(dport=22),  # 1: SSH
    Pkt(dport=443),  # 2: HTTPS
    Pkt(proto="udp", sport=123, dport=40000, payload=b"\x17" * 48),  # 3: NTP
    Pkt(proto="icmp"),  # 4
]


def system(custom: list[dict[str, Any]], managed: list[dict[str, Any]] | None = None,
           lists: dict[str, list[str]] | None = None) -> FirewallSystem:  # fmt: skip
    config: dict[str, Any] = {
        "lists": lists if lists is not None else {"bad_hosts": ["203.0.113.64/28"]},
        "ruleset": {"rules": custom},
    }
    if managed is not None:
        config["managed"] = {"name": "managed", "kind": "managed", "phase": "magic_transit_managed",
                             "rules": managed}  # fmt: skip
    return FirewallSystem(FirewallConfig.model_validate(config))


def decide(fw: FirewallSystem, packets: list[Pkt] = PACKETS) -> list[tuple[bool, bool, str, str, str]]:
    """Per packet: (drop, enforce, RuleID, RulesetID, MitigationReason)."""
    pc, inp = stage_input(packets)
    d = fw.process(inp)
    f = d.label_fields(np.arange(len(pc)))
    return [
        (bool(d.drop[i]), bool(d.enforce[i]), str(f["RuleID"][i]), str(f["RulesetID"][i]),
         str(f["MitigationReason"][i]))
        for i in range(len(pc))
    ]  # fmt: skip


def ids(fw: FirewallSystem) -> list[str]:
    return [lab["RuleID"] for lab in fw.labels]


PASS = (False, False, "", "", "")


def test_first_enabled_match_wins_with_block_skip_and_log() -> None:
    fw = system([
        {"expression": "ip.src in $bad_hosts", "action": "block"},
        {"expression": "tcp.dstport eq 22", "action": "log"},
        {"expression": "tcp.dstport in {22 443}", "action": "skip",
         "action_parameters": {"ruleset": "current"}},
        {"expression": "ip.proto eq \"tcp\"", "action": "block"},  # 443 was skipped above; 80 blocked first
        {"expression": "udp.srcport eq 123", "action": "block", "enabled": False},
    ])  # fmt: skip
    r0, r1, r2, _, _ = ids(fw)
    rs = fw.config.ruleset.id
    assert decide(fw) == [
        (True, True, r0, rs, "BLOCKED"),  # block: a drop, enforced
        (True, False, r1, rs, ""),  # log: a drop in the verdict only, the packet passes
        (False, False, r2, rs, ""),  # skip: passes, and ends evaluation (rule 4 would block it)
        PASS,  # the only rule for NTP is disabled
        PASS,  # no rule matches ICMP: empty RuleID and RulesetID
    ]


def test_disabled_rules_are_skipped_not_just_ignored_when_they_match_first() -> None:
    fw = system([
        {"expression": "tcp.dstport eq 443", "action": "skip", "enabled": False},
        {"expression": 'ip.proto eq "tcp"', "action": "block"},
    ])
    r1 = ids(fw)[1]
    rs = fw.config.ruleset.id
    assert [row[:3] for row in decide(fw)] == [
        (True, True, r1), (True, True, r1), (True, True, r1), (False, False, ""), (False, False, "")]  # fmt: skip
    assert decide(fw)[2][3] == rs


def test_custom_rules_come_before_the_managed_ones() -> None:
    fw = system(
        custom=[{"expression": "tcp.dstport eq 22", "action": "skip"}],
        managed=[{"expression": 'ip.proto eq "tcp"', "action": "block"}, {"expression": 'ip.proto eq "udp"', "action": "log"}],
    )
    custom_rule, managed_tcp, managed_udp = ids(fw)
    custom_rs, managed_rs = fw.config.ruleset.id, fw.config.managed.id
    assert custom_rs != managed_rs
    assert decide(fw) == [
        (True, True, managed_tcp, managed_rs, "BLOCKED"),
        (False, False, custom_rule, custom_rs, ""),  # the custom skip wins over the managed block
        (True, True, managed_tcp, managed_rs, "BLOCKED"),
        (True, False, managed_udp, managed_rs, ""),
        PASS,
    ]


def test_lists_are_matched_and_an_unknown_list_is_refused() -> None:
    fw = system([{"expression": "ip.src in $bad_hosts or ip.dst in $servers", "action": "block"}],
                lists={"bad_hosts": ["203.0.113.64..203.0.113.70"], "servers": ["192.0.2.200"]})  # fmt: skip
    assert [row[0] for row in decide(fw)] == [True, False, False, False, False]
    with pytest.raises(ValueError, match=r"magic_transit rule 1: 1:11: .*unknown list"):
        system([{"expression": "ip.src in $nope"}])


def test_rule_and_ruleset_ids_are_stable_and_derived_from_the_rule() -> None:
    rules = [{"expression": "tcp.dstport eq 22"}, {"expression": "udp.dstport eq 53"}]
    a, b = system(rules), system(rules)
    assert ids(a) == ids(b)
    rs = derived_id("ruleset", "magic_transit", "default")
    assert a.config.ruleset.id == rs
    assert ids(a) == [derived_id("rule", rs, "0", "tcp.dstport eq 22"), derived_id("rule", rs, "1", "udp.dstport eq 53")]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids(a))
    # An explicit id is kept (lower-cased), and another rule's derived id does not move.
    explicit = "0123456789ABCDEF0123456789ABCDEF"
    c = system([{"expression": "tcp.dstport eq 22", "id": explicit}, {"expression": "udp.dstport eq 53"}])
    assert ids(c) == [explicit.lower(), ids(a)[1]]


def test_an_empty_ruleset_passes_everything_unlabelled() -> None:
    assert decide(system([])) == [PASS] * 5


def test_inactive_packets_are_neither_dropped_nor_labelled() -> None:
    fw = system([{"expression": "ip.src in $bad_hosts", "action": "block"}])
    _, inp = stage_input(PACKETS)
    inp.active[0] = False
    d = fw.process(inp)
    assert not d.drop[0] and not d.enforce[0] and d.label[0] == -1


def test_records_carry_rule_ids_verdicts_and_the_blocked_reason() -> None:
    p = pipeline({
        "profile": "magic_wan",
        "mode": "inline",
        "firewall": {
            "lists": {"bad_hosts": ["203.0.113.64/28"]},
            "ruleset": {"rules": [
                {"expression": "ip.src in $bad_hosts", "action": "block"},
                {"expression": "tcp.dstport eq 22", "action": "log"},
            ]},
        },
    })  # fmt: skip
    fw = p.chain.stages[0]
    assert isinstance(fw, FirewallSystem)
    block_id, log_id = ids(fw)
    rs = fw.config.ruleset.id
    got = [(r["MitigationSystem"], r["Verdict"], r["Outcome"], r["RuleID"], r["RulesetID"], r["MitigationReason"])
           for r in rows(p.process(batch(PACKETS[:3])))]  # fmt: skip
    assert got == [
        ("magic-firewall", "drop", "drop", block_id, rs, "BLOCKED"),
        ("magic-firewall", "drop", "pass", log_id, rs, ""),
        ("magic-firewall", "pass", "pass", "", "", ""),
    ]


def test_needs_enrichment_only_for_enriched_fields() -> None:
    assert not system([{"expression": "tcp.dstport eq 22"}]).needs_enrichment
    assert system([{"expression": 'ip.src.country eq "BR"'}]).needs_enrichment
    assert system([{"expression": 'cf.colo.name eq "ams01"'}]).needs_enrichment


def test_source_and_destination_addresses_of_the_helpers() -> None:
    # Guards the fixtures the other tests rely on.
    pc, _ = stage_input([Pkt()])
    assert P.ip_bytes(CLIENT) == int(pc.src4[0]).to_bytes(4, "big")
    assert P.ip_bytes(SERVER) == int(pc.dst4[0]).to_bytes(4, "big")
