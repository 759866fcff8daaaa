"""The system around the tracker: prefixes, allowlist, filters, scoped rules, labels."""

from __future__ import annotations

import numpy as np
from atp_support import (
    ALWAYS,
    MS,
    NEVER,
    PASS_NONE,
    STRICT,
    P,
    config,
    dropped,
    frames,
    handshake,
    passed,
    rows,
    run,
    stage_input,
    system,
)

from netlogpush.decode.engine import decode
from netlogpush.mitigation.flowtrackd import FlowtrackdConfig, FlowtrackdSystem
from netlogpush.mitigation.stage import LABEL_FIELDS
from netlogpush.testing.packets import ACK, SYN

NF = dropped("", "NOT_FOUND")
STRAY = P(ACK, seq=1, ack=1)  # no connection


def test_destinations_outside_the_protected_prefixes_are_untouched() -> None:
    s = system(
        **STRICT,
        prefixes=[{"prefix": "192.0.2.0/24"}, {"prefix": "192.0.2.128/28", "excluded": True}],
    )
    packets = [
        P(ACK, seq=1, ack=1, dst="203.0.113.5"),
        P(ACK, seq=1, ack=1, dst="192.0.2.130"),  # excluded
        P(ACK, seq=1, ack=1, dst="192.0.2.144"),  # just after the excluded /28
        P(0, payload=b"dns", dst="192.0.2.10", proto="udp"),
    ]
    assert run(s, packets) == [PASS_NONE, PASS_NONE, NF, PASS_NONE]


def test_no_prefixes_means_nothing_is_inspected() -> None:
    s = FlowtrackdSystem(FlowtrackdConfig.model_validate(STRICT))
    assert run(s, [STRAY, P(SYN, seq=1)]) == [PASS_NONE, PASS_NONE]


def test_allowlisted_sources_bypass_every_rule() -> None:
    s = system(
        **STRICT,
        allowlist=[
            {"prefix": "198.51.100.0/24", "comment": "partner"},
            {"prefix": "203.0.113.0/24", "expression": "tcp.dstport eq 22"},
            {"prefix": "10.0.0.0/8", "enabled": False},
            {"expression": "tcp.srcport eq 7"},
        ],
    )
    packets = [
        P(ACK, seq=1, ack=1, src="198.51.100.9"),
        P(ACK, seq=1, ack=1, src="203.0.113.9", dport=22),
        P(ACK, seq=1, ack=1, src="203.0.113.9", dport=443),
        P(ACK, seq=1, ack=1, src="10.1.2.3"),
        P(ACK, seq=1, ack=1, src="10.1.2.3", sport=7),
    ]
    assert run(s, packets) == [PASS_NONE, PASS_NONE, NF, NF, PASS_NONE]


def test_allowlisted_traffic_is_not_tracked() -> None:
    s = system(**STRICT, allowlist=[{"prefix": "198.51.100.7"}])
    # Allowlisted packets are not inspected at all, so nothing is learned from them.
    assert run(s, handshake()) == [PASS_NONE, PASS_NONE]
    assert s.counters()["tracked"] == 0


def test_filters_set_the_mode_per_traffic_subset() -> None:
    s = system(
        syn_protection={"rules": [{"mode": "enabled", **NEVER}]},
        tcp_flow_protection={
            "rules": [{"mode": "enabled", **ALWAYS}],
            "filters": [{"expression": "tcp.dstport eq 22", "mode": "disabled"}],
        },
    )
    assert run(s, [P(ACK, seq=1, ack=1, dport=22), STRAY]) == [PASS_NONE, NF]


def test_filter_precedence_enabled_then_monitoring_then_disabled() -> None:
    s = system(
        syn_protection={"rules": [{"mode": "disabled"}]},
        tcp_flow_protection={
            "rules": [{"mode": "disabled", **ALWAYS}],
            "filters": [
                {"expression": "ip.src in {198.51.100.0/24}", "mode": "disabled"},
                {"expression": "tcp.dstport in {443}", "mode": "monitoring"},
                {"expression": "ip.dst eq 192.0.2.10", "mode": "enabled"},
            ],
        },
    )
    packets = [
        P(ACK, seq=1, ack=1, dst="192.0.2.10", dport=443),  # all three match: enabled
        P(ACK, seq=1, ack=1, dst="192.0.2.11", dport=443),  # monitoring and disabled
        P(ACK, seq=1, ack=1, dst="192.0.2.11", dport=80),  # disabled filter
        P(ACK, seq=1, ack=1, dst="192.0.2.11", dport=80, src="10.0.0.1"),  # the rule: off
    ]
    assert run(s, packets) == [
        NF,
        dropped("", "NOT_FOUND", enforce=False),
        PASS_NONE,
        PASS_NONE,
    ]


def test_filters_of_one_component_do_not_change_the_other() -> None:
    s = system(
        syn_protection={
            "rules": [{"mode": "enabled", **ALWAYS}],
            "filters": [{"expression": "tcp.dstport eq 443", "mode": "monitoring"}],
        },
        tcp_flow_protection={"rules": [{"mode": "enabled", **ALWAYS}]},
    )
    assert run(s, [P(SYN, seq=1), P(ACK, seq=1, ack=1, sport=2)]) == [
        dropped("NEW", "CHALLENGE_NEEDED", enforce=False),
        NF,
    ]


def test_the_most_specific_rule_applies() -> None:
    s = system(
        syn_protection={"rules": [{"mode": "enabled", **NEVER}]},
        tcp_flow_protection={
            "rules": [
                {"scope": "global", "mode": "enabled", **NEVER},
                {"scope": "region", "name": "WEUR", "mode": "monitoring", **ALWAYS},
                {"scope": "datacenter", "name": "ams", "mode": "enabled", **ALWAYS},
            ]
        },
    )
    assert s.needs_enrichment
    assert run(s, [STRAY], colo="AMS") == [NF]
    assert run(s, [STRAY], colo="LHR") == [PASS_NONE]
    assert run(s, [STRAY]) == [PASS_NONE]


def test_region_rules_read_the_colo_region() -> None:
    s = system(
        syn_protection={"rules": [{"mode": "disabled"}]},
        tcp_flow_protection={
            "rules": [{"scope": "region", "name": "WEUR", "mode": "monitoring", **ALWAYS}]
        },
    )
    pc = decode(frames([STRAY, STRAY]))
    region = np.array(["WEUR", "ENAM"], dtype=object)
    decision = s.process(stage_input(pc, extra={"ColoRegion": region}))
    assert rows(decision) == [dropped("", "NOT_FOUND", enforce=False), PASS_NONE]


def test_packets_that_did_not_reach_flowtrackd_are_ignored() -> None:
    s = system(**STRICT)
    packets = [*handshake(), STRAY]
    pc = decode(frames(packets))
    active = np.array([False, True, True])  # dosd dropped the SYN
    decision = s.process(stage_input(pc, active=active))
    assert rows(decision) == [PASS_NONE, NF, NF]
    assert decision.label[0] == -1


def test_labels_carry_state_and_reason_only() -> None:
    s = system(**STRICT)
    pc = decode(frames([*handshake(), P(ACK, seq=1, ack=1, t=20 * MS, sport=9)]))
    decision = s.process(stage_input(pc))
    fields = decision.label_fields(np.arange(3))
    assert list(fields["ProtocolState"]) == ["NEW", "OPEN", ""]
    assert list(fields["MitigationReason"]) == ["", "", "NOT_FOUND"]
    for name in set(LABEL_FIELDS) - {"ProtocolState", "MitigationReason"}:
        assert list(fields[name]) == ["", "", ""], name
    assert list(decision.drop) == [False, False, True]
    assert list(decision.enforce) == [False, False, True]


def test_fixed_memory_and_defaults() -> None:
    s = FlowtrackdSystem(config())
    assert s.memory_bytes == 32 * (1 << 20) + 2 * 32 * (1 << 16)
    assert s.tracker.table.capacity == 1 << 20
    assert not s.needs_enrichment
    # Default rules are monitoring: verdicts without enforcement.
    small = FlowtrackdSystem(config(tracker={"table_capacity": 5000, "detector_capacity": 300}))
    assert small.tracker.table.capacity == 8192
    assert small.memory_bytes == 32 * 8192 + 2 * 32 * 512


def test_default_rules_are_monitoring() -> None:
    cfg = config()
    assert [r.mode for r in cfg.syn_protection.rules] == ["monitoring"]
    assert [r.mode for r in cfg.tcp_flow_protection.rules] == ["monitoring"]
    s = FlowtrackdSystem(cfg)
    # 3,000 spoofed ACKs at once: medium burst is 2,500.
    packets = [P(ACK, seq=i, ack=i, src=f"10.0.{i // 250}.{i % 250 + 1}") for i in range(3000)]
    out = run(s, packets)
    assert out[:2500] == [PASS_NONE] * 2500
    assert out[2500:] == [dropped("", "NOT_FOUND", enforce=False)] * 500


def test_reconfiguring_keeps_the_connections() -> None:
    s = system(**STRICT)
    assert run(s, handshake()) == [passed("NEW"), passed("OPEN")]
    monitoring = {
        "syn_protection": {"rules": [{"mode": "enabled", **NEVER}]},
        "tcp_flow_protection": {"rules": [{"mode": "monitoring", **ALWAYS}]},
    }
    s.reconfigure(config(**monitoring, tracker={"open_timeout": 60}))
    later = [
        P(ACK, seq=1001, ack=5001, t=30 * MS),  # still known: the table was kept
        P(ACK, seq=1, ack=1, sport=9, t=31 * MS),  # the new mode applies
    ]
    assert run(s, later) == [passed("OPEN"), dropped("", "NOT_FOUND", enforce=False)]
    # A new table size cannot keep the old table.
    s.reconfigure(config(**monitoring, tracker={"table_capacity": 4096}))
    assert run(s, later[:1]) == [dropped("", "NOT_FOUND", enforce=False)]
    assert s.tracker.table.capacity == 4096
