"""The managed ruleset: Cloudflare's Network-layer DDoS Attack Protection, as dosd rules.

Every rule watches one *traffic class* (``classes.py``: SYN packets, UDP from port 123, …)
and turns a fingerprint of that class into a mitigation when the fingerprint's packet rate
crosses the rule's threshold. The ``generic`` rule watches every class at a higher
threshold and rate-limits floods that have no signature.

Rule IDs are stable: ``uuid5(ruleset UUID, "netlogpush/dosd/<slug>").hex``, a function of
the slug only, so they never change between releases unless a rule is renamed on purpose
(docs/dosd.md lists them). The ruleset ID is Cloudflare's own for this ruleset.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from netlogpush.mitigation.dosd.classes import TrafficClass

#: Cloudflare's ID of the Network-layer DDoS Attack Protection managed ruleset.
RULESET_ID = "3b64149bfa6e4220bbbc2bd6db589552"
_NAMESPACE = uuid.UUID(RULESET_ID)

Sensitivity = Literal["default", "medium", "low", "eoff"]
Action = Literal["block", "log", "ddos_dynamic"]

#: Threshold multiplier per sensitivity level. ``default`` is the UI's "High" (lowest
#: threshold); ``eoff`` ("Essentially Off") fires only on floods 50 times the default.
SENSITIVITY_FACTOR: Mapping[str, float] = {"default": 1.0, "medium": 2.0, "low": 4.0, "eoff": 50.0}
SENSITIVITIES: tuple[str, ...] = tuple(SENSITIVITY_FACTOR)
ACTIONS: tuple[str, ...] = ("block", "log", "ddos_dynamic")

#: ``ddos_dynamic`` blocks a fingerprint with at least this specificity and logs otherwise.
DYNAMIC_BLOCK_SPECIFICITY = 2


def rule_id(slug: str) -> str:
    """The stable 32-hex ID of the rule named ``slug``."""
    return uuid.uuid5(_NAMESPACE, f"netlogpush/dosd/{slug}").hex


@dataclass(frozen=True, slots=True)
class Rule:
    slug: str
    name: str  # RuleName
    vector: str  # AttackVector
    categories: tuple[str, ...]  # tags for category overrides
    classes: tuple[TrafficClass, ...]  # the traffic it watches
    threshold_pps: float  # activation threshold at sensitivity "default"
    action: Action = "ddos_dynamic"
    description: str = ""
    id: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", rule_id(self.slug))

    @property
    def generic(self) -> bool:
        return "generic" in self.categories

    @property
    def reason(self) -> str:
        """MitigationReason: generic rules rate-limit, the others block."""
        return "RATE_LIMITED" if self.generic else "BLOCKED"

    def threshold(self, sensitivity: str) -> float:
        return self.threshold_pps * SENSITIVITY_FACTOR[sensitivity]


C = TrafficClass
_REFLECTION = ("udp", "reflection")

RULES: tuple[Rule, ...] = (
    Rule("udp-flood", "UDP flood", "UDP Flood", ("udp",), (C.UDP,), 10_000,
         description="UDP packets (not from a known reflection port) sharing a signature."),
    Rule("syn-flood", "TCP SYN flood", "SYN Flood", ("tcp", "syn"), (C.SYN,), 5_000,
         description="TCP segments with SYN set and ACK, RST clear."),
    Rule("syn-ack-reflection", "TCP SYN-ACK reflection", "SYN-ACK Reflection", ("tcp", "syn"),
         (C.SYNACK,), 5_000, description="Unsolicited SYN-ACKs reflected off third parties."),
    Rule("ack-flood", "TCP ACK flood", "ACK Flood", ("tcp",), (C.ACK,), 10_000,
         description="ACK segments (with or without PSH/FIN/payload) sharing a signature."),
    Rule("rst-flood", "TCP RST flood", "RST Flood", ("tcp",), (C.RST,), 5_000,
         description="Segments with RST set."),
    Rule("tcp-anomaly-flood", "TCP flag anomaly flood", "TCP Anomaly Flood", ("tcp",),
         (C.TCP_OTHER,), 5_000, description="FIN-only, NULL, Xmas and other odd flag sets."),
    Rule("icmp-flood", "ICMP flood", "ICMP Flood", ("icmp",), (C.ICMP,), 5_000,
         description="ICMP and ICMPv6 messages sharing type, code, length or payload."),
    Rule("gre-flood", "GRE flood", "GRE Flood", ("gre",), (C.GRE,), 5_000,
         description="GRE packets sharing an inner protocol, length or TTL."),
    Rule("dns-amplification", "DNS amplification", "DNS Amplification", ("dns", *_REFLECTION),
         (C.DNS_AMP,), 2_000, action="block",
         description="DNS responses (UDP source port 53) to a host that did not ask."),
    Rule("dns-query-flood", "DNS query flood", "DNS Query Flood", ("dns", "udp"),
         (C.DNS_QUERY,), 5_000, description="DNS queries (UDP destination port 53)."),
    Rule("ntp-reflection", "NTP reflection", "NTP Reflection", ("ntp", *_REFLECTION), (C.NTP,),
         1_000, action="block", description="UDP from port 123 (monlist and other replies)."),
    Rule("ssdp-reflection", "SSDP reflection", "SSDP Reflection", ("ssdp", *_REFLECTION),
         (C.SSDP,), 1_000, action="block", description="UDP from port 1900."),
    Rule("memcached-reflection", "Memcached reflection", "Memcached Reflection",
         ("memcached", *_REFLECTION), (C.MEMCACHED,), 1_000, action="block",
         description="UDP from port 11211."),
    Rule("chargen-reflection", "CHARGEN reflection", "CHARGEN Reflection",
         ("chargen", *_REFLECTION), (C.CHARGEN,), 1_000, action="block",
         description="UDP from port 19."),
    Rule("fragment-flood", "IP fragment flood", "Fragment Flood", ("fragments",),
         (C.FRAGMENT,), 5_000, description="Non-first IPv4/IPv6 fragments."),
    Rule("other-protocol-flood", "Other IP protocol flood", "Other Protocol Flood", ("ip",),
         (C.OTHER,), 5_000, description="IP protocols without a rule of their own (ESP, …)."),
    Rule("generic", "Generic flood", "Generic Flood", ("generic",), tuple(C.watched()),
         50_000, description="Any class without a signature; rate-limits to its threshold."),
)

RULES_BY_ID: Mapping[str, Rule] = {r.id: r for r in RULES}
RULES_BY_SLUG: Mapping[str, Rule] = {r.slug: r for r in RULES}
GENERIC: Rule = RULES_BY_SLUG["generic"]
CATEGORIES: frozenset[str] = frozenset(c for r in RULES for c in r.categories)


def signature_rule(cls: TrafficClass) -> Rule | None:
    """The (non-generic) rule that watches ``cls``."""
    return _BY_CLASS.get(cls)


_BY_CLASS: dict[TrafficClass, Rule] = {
    c: r for r in RULES if not r.generic for c in r.classes
}


def resolve_rule(key: str) -> Rule:
    """A rule by ID or slug; ``KeyError`` with the choices otherwise."""
    rule = RULES_BY_ID.get(key.lower()) or RULES_BY_SLUG.get(key)
    if rule is None:
        raise KeyError(f"no dosd rule {key!r}; rules are: {', '.join(RULES_BY_SLUG)}")
    return rule
