"""The managed ruleset: stable IDs, names, vectors, categories and thresholds."""

from __future__ import annotations

import uuid

from netlogpush.mitigation.dosd import RULES, RULES_BY_ID, RULESET_ID
from netlogpush.mitigation.dosd.ruleset import SENSITIVITY_FACTOR, rule_id

# Pinned: a change here changes every RuleID in users' logs.
IDS = {
    "udp-flood": "b40b7157a5fc50bea2526cbdb2c5e8bc",
    "syn-flood": "9d954d96d30d543da89feb66aa7a2a12",
    "syn-ack-reflection": "aa64331dfd015546a31a8742a6607f36",
    "ack-flood": "43c59948fc6c5eeda3c299e9c0f95f29",
    "rst-flood": "2f0787e04f7f52cb97505731baf65f21",
    "tcp-anomaly-flood": "0a7f109aef3e5484bc4ddabdbe984442",
    "icmp-flood": "279578d9596f5c2b8720948f1f149ab6",
    "gre-flood": "fa9fa0afa07356b9a09dae3550ccc5db",
    "dns-amplification": "215296e625415faab6092f77a247098b",
    "dns-query-flood": "54ec2d8a5e905221a3584d2294c47f40",
    "ntp-reflection": "d6926294579759ac97e7554ae2e918d0",
    "ssdp-reflection": "5898b746d7995c49abb38eacf7689ee1",
    "memcached-reflection": "84f322adbc5358f880d5d5dbf8367870",
    "chargen-reflection": "354b6e8e5d9a5cecaf64ecc00401a55a",
    "fragment-flood": "5e0e20d793fc5312962b3099b3ca836c",
    "other-protocol-flood": "f603899ee7655e96ab0e7d84b7dfad76",
    "generic": "9a4da6c447b25dc9bab43deb7e9286ed",
}


def test_rule_ids_are_stable_and_derived_from_the_slug() -> None:
    assert RULESET_ID == "3b64149bfa6e4220bbbc2bd6db589552"
    assert {r.slug: r.id for r in RULES} == IDS
    for r in RULES:
        assert r.id == rule_id(r.slug) == uuid.uuid5(uuid.UUID(RULESET_ID), f"netlogpush/dosd/{r.slug}").hex
    assert len(RULES_BY_ID) == len(RULES)


def test_vectors_and_reasons() -> None:
    vectors = {r.vector for r in RULES}
    for v in ("UDP Flood", "SYN Flood", "SYN-ACK Reflection", "ACK Flood", "RST Flood", "ICMP Flood",
              "GRE Flood", "DNS Amplification", "DNS Query Flood", "NTP Reflection", "SSDP Reflection",
              "Memcached Reflection", "CHARGEN Reflection", "Fragment Flood", "Generic Flood"):
        assert v in vectors
    assert {r.slug for r in RULES if r.reason == "RATE_LIMITED"} == {"generic"}
    assert {r.slug for r in RULES if "reflection" in r.categories} == {
        "dns-amplification", "ntp-reflection", "ssdp-reflection", "memcached-reflection", "chargen-reflection"}


def test_thresholds_per_sensitivity() -> None:
    assert dict(SENSITIVITY_FACTOR) == {"default": 1.0, "medium": 2.0, "low": 4.0, "eoff": 50.0}
    table = {r.slug: [r.threshold(s) for s in ("default", "medium", "low", "eoff")] for r in RULES}
    assert table["ntp-reflection"] == [1000, 2000, 4000, 50000]
    assert table["dns-amplification"] == [2000, 4000, 8000, 100000]
    assert table["syn-flood"] == [5000, 10000, 20000, 250000]
    assert table["udp-flood"] == [10000, 20000, 40000, 500000]
    assert table["generic"] == [50000, 100000, 200000, 2500000]
