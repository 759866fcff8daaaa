"""magic-firewall as a mitigation system: the user's rules, first enabled match wins.

A ``block`` match is a drop (``MitigationReason`` ``BLOCKED``); ``log`` is a drop in the
verdict only (the packet passes, as an IDS match would); ``skip`` passes. Every match logs the
rule's ``RuleID`` and its ruleset's ``RulesetID``; traffic that matches no rule passes with
both empty, as Cloudflare logs it.
"""

from __future__ import annotations

import numpy as np

from netlogpush.mitigation.firewall.compiler import CompiledRules
from netlogpush.mitigation.firewall.config import FirewallConfig, FirewallRule, FirewallRuleset
from netlogpush.mitigation.stage import Decision, MitigationSystem, StageInput


class FirewallSystem:
    system: MitigationSystem = "magic-firewall"

    def __init__(self, config: FirewallConfig) -> None:
        self.config = config
        pairs: list[tuple[FirewallRuleset, FirewallRule]] = [
            (ruleset, rule)
            for ruleset in (config.ruleset, config.managed)
            for rule in ruleset.rules
        ]
        self._rules = [rule for _, rule in pairs]
        self._compiled = CompiledRules([rule.expression for rule in self._rules], config.lists)
        self._enabled = [rule.enabled for rule in self._rules]
        self._action = np.array([rule.action for rule in self._rules] + ["none"], dtype=object)
        self.labels = [
            {"RuleID": rule.id, "RulesetID": ruleset.id}
            | ({"MitigationReason": "BLOCKED"} if rule.action == "block" else {})
            for ruleset, rule in pairs
        ]

    @property
    def needs_enrichment(self) -> bool:
        """Whether some rule reads a field that enrichment fills (country, ASN, colo)."""
        return any(f.startswith(("ip.src.", "ip.dst.", "ip.geoip.", "cf.")) for f in self._compiled.fields_used())

    def process(self, batch: StageInput) -> Decision:
        n = len(batch.packets)
        if not self._rules:
            return Decision.passing(n)
        match = self._compiled.first_match(batch.view, self._enabled, batch.active)
        action = self._action[match]  # -1 picks "none"
        drop = (action == "block") | (action == "log")
        return Decision(drop=drop, enforce=action == "block", label=match, labels=self.labels)
