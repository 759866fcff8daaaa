"""Each attack vector, mixed with benign traffic: the right rule, the right fingerprint, in
time, dropping the attack and not the benign traffic, and ending after the attack.

Benign traffic runs from 0 to 7 s (about 2,600 pps to a /24 of servers and clients); the
attack runs from 2 to 5 s at 3 times its rule's threshold; mitigations expire 1 s after
their traffic stops (``expiry_s=1``).
"""

from __future__ import annotations

import numpy as np
import pytest
from dosd_traffic import (
    CHARGEN_LINE,
    MEMCACHED_REPLY,
    NTP_MONLIST,
    SSDP_REPLY,
    T0_NS,
    WEB2,
    Component,
    P,
    benign,
    choice,
    const,
    dns_amplification,
    dns_query_flood,
    fragment_flood,
    generate,
    gre_flood,
    icmp_flood,
    run,
    tcp_flood,
    udp_flood,
    udp_reflection,
)

from netlogpush.mitigation.dosd import RULES_BY_SLUG, RULESET_ID, DosdConfig, DosdSystem
from netlogpush.mitigation.dosd.detector import stable_id

START, END = 2.0, 5.0
S, A, R = P.SYN, P.ACK, P.RST


def _attack(kind: str) -> Component:
    w = {"start": START, "end": END}
    return {
        "udp-flood": lambda: udp_flood(rate=30000, **w),
        "syn-flood": lambda: tcp_flood(S, **w),
        "syn-ack-reflection": lambda: tcp_flood(
            S | A, dst=WEB2, dport=40000, sport=choice([443, 80]),
            window=choice([65535, 29200, 64240]), options=[P.mss(1460)], **w),
        "ack-flood": lambda: tcp_flood(A, rate=30000, window=const(4096), **w),
        "rst-flood": lambda: tcp_flood(R | A, window=const(0), **w),
        "icmp-flood": lambda: icmp_flood(**w),
        "gre-flood": lambda: gre_flood(**w),
        "dns-amplification": lambda: dns_amplification(**w),
        "dns-query-flood": lambda: dns_query_flood(**w),
        "ntp-reflection": lambda: udp_reflection(123, NTP_MONLIST, **w),
        "ssdp-reflection": lambda: udp_reflection(1900, SSDP_REPLY, **w),
        "memcached-reflection": lambda: udp_reflection(11211, MEMCACHED_REPLY, **w),
        "chargen-reflection": lambda: udp_reflection(19, CHARGEN_LINE, **w),
        "fragment-flood": lambda: fragment_flood(**w),
    }[kind]()


# kind -> (destination, the fingerprint's constraints, enforced)
EXPECTED: dict[str, tuple[str, tuple[tuple[str, tuple[int, ...]], ...], bool]] = {
    # zero-filled 512-byte payload: the length and both payload words are fixed
    "udp-flood": ("192.0.2.20/32", (("len", (540,)), ("p0", (0,)), ("p1", (0,))), True),
    # hping-style: bare 40-byte SYNs, window 512, all to port 443
    "syn-flood": ("192.0.2.10/32", (("dport", (443,)), ("flags", (S,)), ("len", (40,)),
                                    ("win", (512,))), True),
    # reflectors answer from two ports with three stacks' windows: sets of values
    "syn-ack-reflection": ("192.0.2.11/32", (
        ("dport", (40000,)), ("flags", (S | A,)), ("len", (44,)), ("sport", (80, 443)),
        ("win", (29200, 64240, 65535))), True),
    "ack-flood": ("192.0.2.10/32", (("dport", (443,)), ("flags", (A,)), ("len", (40,)),
                                    ("win", (4096,))), True),
    "rst-flood": ("192.0.2.10/32", (("dport", (443,)), ("flags", (R | A,)), ("len", (40,)),
                                    ("win", (0,))), True),
    # echo request (8 << 8), 1024 payload bytes 00 01 02 03 | 04 05 06 07 …
    "icmp-flood": ("192.0.2.10/32", (("icmp", (8 << 8,)), ("len", (1052,)),
                                     ("p0", (0x00010203,)), ("p1", (0x04050607,))), True),
    # GRE carrying IPv4 (0x0800) whose inner TTL 64 and protocol UDP: 64 << 8 | 17
    "gre-flood": ("192.0.2.10/32", (("gre", (0x0800,)), ("inner", (64 << 8 | 17,)),
                                    ("len", (564,))), True),
    # one question, five answers; the rule's action is block whatever the specificity
    "dns-amplification": ("192.0.2.10/32", (("len", (1392,)), ("p1", (0x00010005,))), True),
    # a query's header words prove nothing: specificity 1, so ddos_dynamic only logs
    "dns-query-flood": ("192.0.2.53/32", (("dport", (53,)), ("len", (64,)),
                                          ("p1", (0x00010000,))), False),
    # monlist reply: mode 7 header d7 00 03 2a, 6 items of 72 bytes
    "ntp-reflection": ("192.0.2.10/32", (("len", (468,)), ("p0", (0xD700032A,)),
                                         ("p1", (0x00060048,))), True),
    "ssdp-reflection": ("192.0.2.10/32", (("len", (253,)), ("p0", (int.from_bytes(b"HTTP"),)),
                                          ("p1", (int.from_bytes(b"/1.1"),))), True),
    "memcached-reflection": ("192.0.2.10/32", (("len", (1359,)), ("p0", (0x00010000,)),
                                               ("p1", (0x00010000,))), True),
    "chargen-reflection": ("192.0.2.10/32", (("len", (102,)), ("p0", (0x21222324,)),
                                             ("p1", (0x25262728,))), True),
    "fragment-flood": ("192.0.2.10/32", (("frag", (1480,)), ("len", (1500,)), ("mf", (1,)),
                                         ("proto", (17,))), True),
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_attack_is_detected_fingerprinted_dropped_and_expires(kind: str) -> None:
    traffic = generate([*benign(0.0, 7.0), _attack(kind)], seed=3)
    system = DosdSystem(DosdConfig(expiry_s=1.0))
    r = run(system, traffic)
    rule = RULES_BY_SLUG[kind]
    dest, constraints, enforced = EXPECTED[kind]

    # One mitigation, from the right rule, with the exact fingerprint.
    mitigations = r.all_mitigations()
    assert [m.rule.slug for m in mitigations] == [kind]
    m = mitigations[0]
    assert m.fingerprint.dest.cidr() == dest
    assert m.fingerprint.constraints == constraints

    # In time: within 3 s of the attack's start, by packet time.
    detected = r.detected_at()
    assert detected is not None and START < detected <= START + 3.0
    start_s = (m.start_tick * system.clock.tick_ns - T0_NS) / 1e9
    assert START < start_s <= START + 3.0

    # Dropping: >= 99 % of the attack after detection, < 0.1 % of benign packets.
    assert r.attack_drop_after_detection() >= 0.99
    assert r.benign_drop() < 0.001
    atk = r.attack & r.drop
    assert bool(np.all(r.enforce[atk])) is enforced
    assert not r.enforce[~r.drop].any()

    # Every dropped attack packet carries this mitigation's label.
    for name, value in {
        "RuleID": rule.id, "RuleName": rule.name, "AttackVector": rule.vector,
        "RulesetID": RULESET_ID, "MitigationReason": "BLOCKED", "MitigationScope": "local",
        "AttackID": m.attack_id, "AttackCampaignID": m.campaign_id, "RulesetOverrideID": "",
        "ProtocolState": "",
    }.items():
        assert r.attack_field(name) == {value}, name
    assert m.attack_id == stable_id("attack", "", rule.id, m.fingerprint.canonical(), m.start_tick)
    # Passing packets carry no dosd fields at all.
    assert set(r.fields["RuleID"][~r.drop].tolist()) == {""}

    # Expiry: the traffic stopped at 5 s; the mitigation ended 1 s after its last busy tick.
    assert system.active == [] and system.ended == [m]
    end_s = (m.end_tick * system.clock.tick_ns - T0_NS) / 1e9
    assert m.end_tick == m.last_above + system.expiry_ticks
    assert END < end_s <= END + 1.0 + 0.1 + 1e-9
    assert not r.drop[r.traffic.ts_s > END].any()
