"""dosd's configuration: rule defaults, ``ddos_l4`` override rules, detector parameters.

Override rules have the JSON shape of Cloudflare's ``ddos_l4`` phase entry-point rules
(``PUT /accounts/{id}/rulesets/phases/ddos_l4/entrypoint``), so a rule copied from the API
or the docs loads as is::

    {"id": "…32 hex…", "action": "execute", "expression": "ip.dst in {192.0.2.0/24}",
     "action_parameters": {"id": "3b64149bfa6e4220bbbc2bd6db589552",
       "overrides": {"sensitivity_level": "medium",
                     "categories": [{"category": "udp", "sensitivity_level": "low"}],
                     "rules": [{"id": "<rule id>", "action": "block"}]}}}

Source: developers.cloudflare.com/ddos-protection/managed-rulesets/network/
network-overrides/configure-api/ and …/override-parameters/.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from netlogpush.mitigation.dosd.ruleset import (
    CATEGORIES,
    RULES_BY_SLUG,
    RULESET_ID,
    Action,
    Sensitivity,
    resolve_rule,
)

_HEX32 = re.compile(r"^[0-9a-f]{32}$")

#: Fields Cloudflare allows in a ddos_l4 override expression (its ``ip.proto.num`` is our
#: ``ip.proto``). Source: …/ddos-protection/managed-rulesets/network/override-expressions/.
OVERRIDE_FIELDS: frozenset[str] = frozenset({
    "ip.src", "ip.dst", "ip.proto", "ip.len", "ip.ttl",
    "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.flags.ack", "tcp.flags.fin",
    "tcp.flags.push", "tcp.flags.reset", "tcp.flags.syn", "tcp.flags.urg",
    "udp.srcport", "udp.dstport",
})
#: Cloudflare's limit on an override expression's length.
MAX_EXPRESSION_CHARS = 4000

OverrideAction = Literal["block", "log"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_hex32(value: str, what: str) -> str:
    v = value.lower().replace("-", "")
    if not _HEX32.match(v):
        raise ValueError(f"{what} must be 32 hexadecimal digits, got {value!r}")
    return v


class _Settings(_Strict):
    sensitivity_level: Sensitivity | None = None
    """Threshold level: default (UI "High"), medium, low or eoff ("Essentially Off")."""
    action: OverrideAction | None = None
    """``block`` or ``log``. ``ddos_dynamic`` is internal to Cloudflare and not allowed here."""

    @field_validator("action", mode="before")
    @classmethod
    def _no_dynamic(cls, v: Any) -> Any:
        if v == "ddos_dynamic":
            raise ValueError(
                "action ddos_dynamic cannot be set in an override (Cloudflare: internal rule "
                "action); use block or log"
            )
        return v

    @property
    def sets_anything(self) -> bool:
        return self.sensitivity_level is not None or self.action is not None


class CategoryOverride(_Settings):
    category: str
    """A rule category (tag), e.g. ``udp``, ``reflection``, ``generic``."""

    @field_validator("category")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in CATEGORIES:
            raise ValueError(f"unknown category {v!r}; categories are: {', '.join(sorted(CATEGORIES))}")
        return v


class RuleOverride(_Settings):
    id: str
    """The managed rule's ID (32 hex digits; see docs/dosd.md)."""
    enabled: bool | None = None
    """Accepted for API compatibility; must not be false (Cloudflare: the rules cannot be disabled)."""

    @field_validator("id")
    @classmethod
    def _known(cls, v: str) -> str:
        v = _check_hex32(v, "rule id")
        try:
            resolve_rule(v)
        except KeyError as err:
            raise ValueError(str(err.args[0])) from err
        return v

    @field_validator("enabled")
    @classmethod
    def _not_disabled(cls, v: bool | None) -> bool | None:
        if v is False:
            raise ValueError("managed DDoS rules cannot be disabled; set sensitivity_level eoff")
        return v


class Overrides(_Settings):
    """Settings for the whole ruleset, per category and per rule; the most specific wins."""

    categories: tuple[CategoryOverride, ...] = ()
    """Per-category settings, by category name."""
    rules: tuple[RuleOverride, ...] = ()
    """Per-rule settings, by rule ID."""
    enabled: bool | None = None
    """Must not be false: the ruleset is always enabled."""

    @field_validator("enabled")
    @classmethod
    def _not_disabled(cls, v: bool | None) -> bool | None:
        if v is False:
            raise ValueError("the DDoS managed ruleset cannot be disabled")
        return v


class ActionParameters(_Strict):
    id: str = RULESET_ID
    """The managed ruleset executed: must be the DDoS L3/4 ruleset's ID."""
    version: str | None = None
    """Accepted for API compatibility (``"latest"``); ignored."""
    overrides: Overrides = Field(default_factory=Overrides)

    @field_validator("id")
    @classmethod
    def _ruleset(cls, v: str) -> str:
        v = _check_hex32(v, "action_parameters.id")
        if v != RULESET_ID:
            raise ValueError(f"action_parameters.id must be the DDoS managed ruleset {RULESET_ID}")
        return v


class OverrideRule(_Strict):
    """One rule of the account's ``ddos_l4`` phase entry-point ruleset."""

    id: str = ""
    """32 hex digits; this becomes ``RulesetOverrideID``. Empty: derived from the rule's content."""
    expression: str = "true"
    """Which packets the override applies to (Cloudflare rules language, ≤ 4000 characters)."""
    action: Literal["execute"] = "execute"
    action_parameters: ActionParameters = Field(default_factory=ActionParameters)
    description: str = ""
    enabled: bool = True
    """A disabled override rule is kept but never applies."""
    ref: str | None = None
    version: str | None = None
    last_updated: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return v if v == "" else _check_hex32(v, "override rule id")

    @field_validator("expression")
    @classmethod
    def _expression(cls, v: str) -> str:
        # Imported here: the firewall package imports nothing from dosd, but keeping the
        # compiler out of module import time keeps `import config` cheap for the CLI.
        from netlogpush.mitigation.firewall import RuleError, check_expression
        from netlogpush.mitigation.firewall.typed import fields_used

        if len(v) > MAX_EXPRESSION_CHARS:
            raise ValueError(f"expression is {len(v)} characters; the limit is {MAX_EXPRESSION_CHARS}")
        if v.strip() == "true":
            return v
        try:
            tree = check_expression(v)
        except RuleError as err:
            raise ValueError(f"invalid override expression: {err}") from err
        bad = sorted(fields_used(tree) - OVERRIDE_FIELDS)
        if bad:
            raise ValueError(
                f"field(s) {', '.join(bad)} not allowed in a ddos_l4 override expression; "
                f"allowed: {', '.join(sorted(OVERRIDE_FIELDS))}"
            )
        return v

    @model_validator(mode="after")
    def _derive_id(self) -> OverrideRule:
        if not self.id:
            body = self.model_dump(mode="json", exclude={"id", "ref", "version", "last_updated"})
            canon = json.dumps(body, sort_keys=True, separators=(",", ":"))
            derived = uuid.uuid5(uuid.UUID(RULESET_ID), "override/" + canon).hex
            object.__setattr__(self, "id", derived)
        return self


class RuleDefault(_Strict):
    """This deployment's default for one managed rule (before any override)."""

    sensitivity_level: Sensitivity | None = None
    action: Action | None = None
    """``block``, ``log`` or ``ddos_dynamic`` (block selective fingerprints, log the others)."""


class HeavyHitterConfig(_Strict):
    sketch_width: int = 1 << 16
    """Buckets per row of the decayed count-min sketch (a power of two)."""
    table_capacity: int = Field(default=4096, ge=16, le=1 << 20)
    """Destinations tracked exactly at most (the heaviest are kept)."""
    prefix_length_v4: int = Field(default=24, ge=8, le=31)
    """IPv4 prefix length counted for carpet bombing."""
    prefix_length_v6: int = Field(default=64, ge=16, le=127)
    """IPv6 prefix length counted for carpet bombing (must be a multiple of 8)."""
    watch_ratio: float = Field(default=0.5, gt=0, le=1)
    """A destination's packets are analysed once its rate reaches this share of the lowest threshold."""
    prefix_threshold_factor: float = Field(default=2.0, ge=1)
    """Thresholds for a whole prefix are this many times a single host's."""

    @field_validator("sketch_width")
    @classmethod
    def _pow2(cls, v: int) -> int:
        if v < 1024 or v > 1 << 24 or v & (v - 1):
            raise ValueError(f"sketch_width must be a power of two between 1024 and 2^24, got {v}")
        return v

    @field_validator("prefix_length_v6")
    @classmethod
    def _byte_aligned(cls, v: int) -> int:
        if v % 8:
            raise ValueError(f"prefix_length_v6 must be a multiple of 8, got {v}")
        return v


class DosdConfig(_Strict):
    """The DDoS managed ruleset (``dosd``)."""

    enabled: bool = True
    """Run dosd. When false every packet passes dosd unlabelled."""
    rules: dict[str, RuleDefault] = Field(default_factory=dict)
    """Per-rule defaults by rule ID or slug (``ntp-reflection``), before overrides."""
    overrides: tuple[OverrideRule, ...] = ()
    """The ddos_l4 entry-point rules, in order: the first whose expression matches and that
    sets something for a managed rule applies to it."""
    tick_ms: int = Field(default=100, ge=10, le=1000)
    """Detection granularity: rates are updated and mitigations start per tick of packet time."""
    rate_window_s: float = Field(default=1.0, gt=0, le=60)
    """Time constant of the exponentially decayed packet rates."""
    expiry_s: float = Field(default=15.0, gt=0, le=86400)
    """A mitigation ends after its matching traffic stayed under the release rate this long."""
    release_ratio: float = Field(default=0.5, gt=0, le=1)
    """Release rate = this share of the rule's threshold."""
    campaign_gap_s: float = Field(default=60.0, ge=0)
    """Mitigations for the same prefix within this time of each other form one campaign."""
    analysis_samples: int = Field(default=1024, ge=64, le=1 << 16)
    """Packets kept per hot destination to build fingerprints from."""
    min_samples: int = Field(default=16, ge=1)
    """Fewer samples than this: no fingerprint yet (matters for sFlow input)."""
    sample_window_s: float = Field(default=2.0, gt=0)
    """Samples older than this are dropped from the fingerprint analysis."""
    heavy_value_ratio: float = Field(default=0.2, gt=0, le=1)
    """A header value is part of a fingerprint when its rate reaches this share of the threshold."""
    max_values: int = Field(default=4, ge=1, le=16)
    """At most this many values of one field in a fingerprint; more means the field is random."""
    baseline_window_s: float = Field(default=300.0, gt=0)
    """Normal traffic that ``ddos_dynamic`` compares fingerprints to: samples this recent."""
    baseline_delay_s: float = Field(default=5.0, ge=0)
    """A sample becomes "normal" only if its destination did not turn hot this long after."""
    baseline_maturity_s: float = Field(default=60.0, ge=0)
    """Before the baseline has this much history, a class without enough samples is judged by
    the fingerprint's specificity; after it, such a class is rare and any fingerprint of it
    is selective."""
    dynamic_max_share: float = Field(default=0.01, ge=0, le=1)
    """``ddos_dynamic`` blocks a fingerprint matching at most this share of its class's
    normal traffic, and logs the others."""
    collector_id: str = ""
    """Names this collector in attack IDs and exported mitigations (several collectors, one stream)."""
    heavy_hitters: HeavyHitterConfig = Field(default_factory=lambda: HeavyHitterConfig())

    @field_validator("rules")
    @classmethod
    def _rule_keys(cls, v: dict[str, RuleDefault]) -> dict[str, RuleDefault]:
        out: dict[str, RuleDefault] = {}
        for key, setting in v.items():
            try:
                rule = resolve_rule(key)
            except KeyError as err:
                raise ValueError(str(err.args[0])) from err
            out[rule.id] = setting
        return out

    @field_validator("overrides")
    @classmethod
    def _unique_ids(cls, v: tuple[OverrideRule, ...]) -> tuple[OverrideRule, ...]:
        seen: set[str] = set()
        for rule in v:
            if rule.id in seen:
                raise ValueError(f"override rule id {rule.id} appears twice")
            seen.add(rule.id)
        return v

    @model_validator(mode="after")
    def _windows(self) -> DosdConfig:
        if self.expiry_s * 1000 < self.tick_ms:
            raise ValueError("expiry_s must be at least one tick")
        if self.min_samples > self.analysis_samples:
            raise ValueError("min_samples cannot exceed analysis_samples")
        return self


__all__ = [
    "RULES_BY_SLUG",
    "ActionParameters",
    "CategoryOverride",
    "DosdConfig",
    "HeavyHitterConfig",
    "OverrideRule",
    "Overrides",
    "RuleDefault",
    "RuleOverride",
]
