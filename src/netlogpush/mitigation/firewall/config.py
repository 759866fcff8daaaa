"""Magic Firewall configuration: rulesets in the shape of the ``magic_transit`` phase.

Cloudflare evaluates the account's custom ruleset (the ``magic_transit`` phase entry point)
first, then the managed rules (``magic_transit_managed``). The same JSON a user PUTs to
``/rulesets/phases/magic_transit/entrypoint`` is accepted here.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from netlogpush.mitigation.firewall.compiler import CompiledRules
from netlogpush.mitigation.firewall.errors import RuleError
from netlogpush.mitigation.ruleset_ids import check_id, derived_id

FirewallAction = Literal["block", "skip", "log"]


class FirewallRule(BaseModel):
    """One rule: when ``expression`` matches, ``action`` applies (the first enabled match wins)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    id: str = ""
    """32-hex rule id, logged as ``RuleID``. Derived from the rule when left out."""

    expression: str
    """A rules-language expression, e.g. ``ip.src in $bad_hosts and tcp.dstport eq 22``."""

    action: FirewallAction = "block"
    """``block`` drops, ``skip`` allows (ends evaluation), ``log`` drops in the verdict only."""

    description: str = ""
    """Free text for people; not logged."""

    enabled: bool = True
    """A disabled rule is not evaluated."""

    action_parameters: dict[str, object] = Field(default_factory=dict)
    """Accepted for compatibility with Cloudflare's rule JSON (``skip`` parameters); not used."""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_id(value) if value else value


class FirewallRuleset(BaseModel):
    """A ruleset: Cloudflare's ``{id, name, kind, phase, rules}`` JSON."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    id: str = ""
    """32-hex ruleset id, logged as ``RulesetID``. Derived from ``name`` and ``phase`` when left out."""

    name: str = "default"
    """Name of the ruleset."""

    description: str = ""
    """Free text for people."""

    kind: Literal["root", "managed", "custom", "zone"] = "root"
    """Cloudflare's ruleset kind; the entry point is ``root``."""

    phase: Literal["magic_transit", "magic_transit_managed"] = "magic_transit"
    """Where it runs: the custom rules, or the managed rules after them."""

    rules: list[FirewallRule] = Field(default_factory=list)
    """The rules, in evaluation order."""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_id(value) if value else value

    @model_validator(mode="after")
    def _fill_ids(self) -> Self:
        if not self.id:
            self.id = derived_id("ruleset", self.phase, self.name)
        for index, rule in enumerate(self.rules):
            if not rule.id:
                rule.id = derived_id("rule", self.id, str(index), rule.expression)
        return self


class FirewallConfig(BaseModel):
    """The user's network firewall: lists, the custom ruleset and the managed rules."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    enabled: bool | None = None
    """Run magic-firewall; unset follows the profile (on for magic_transit and magic_wan)."""

    lists: dict[str, list[str]] = Field(default_factory=dict)
    """Named IP lists for ``$name`` in expressions: addresses, CIDRs or ranges ``a..b``."""

    ruleset: FirewallRuleset = Field(default_factory=FirewallRuleset)
    """The custom rules (the ``magic_transit`` phase entry point), evaluated first."""

    managed: FirewallRuleset = Field(
        default_factory=lambda: FirewallRuleset(
            name="managed", kind="managed", phase="magic_transit_managed"
        )
    )
    """Managed rules (the ``magic_transit_managed`` phase), evaluated after the custom ones."""

    @model_validator(mode="before")
    @classmethod
    def _managed_defaults(cls, data: object) -> object:
        """A ``managed:`` ruleset written without them gets the managed phase, kind and name."""
        if isinstance(data, dict) and isinstance(data.get("managed"), dict):
            managed = {"name": "managed", "kind": "managed", "phase": "magic_transit_managed"}
            data = {**data, "managed": managed | data["managed"]}
        return data

    @model_validator(mode="after")
    def _compile(self) -> Self:
        """Every expression must parse and type-check now, not when the first packet arrives."""
        for ruleset in (self.ruleset, self.managed):
            try:
                CompiledRules([r.expression for r in ruleset.rules], self.lists)
            except RuleError as exc:
                index = getattr(exc, "rule_index", 0)
                raise ValueError(f"{ruleset.phase} rule {index + 1}: {exc}") from None
        return self
