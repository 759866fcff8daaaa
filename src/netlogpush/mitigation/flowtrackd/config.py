"""Advanced TCP Protection configuration, in the shape of Cloudflare's ATP API objects.

The product's objects (``magic/advanced_tcp_protection/configs/...``, docs
``ddos-protection/advanced-ddos-systems/api/tcp-protection/json-objects``):

- ``prefixes``: ``{id, prefix, comment, excluded}``: the destinations ATP protects;
- ``allowlist``: ``{id, prefix, comment, enabled}``: sources that bypass every ATP rule;
- ``syn_protection`` and ``tcp_flow_protection`` (out-of-state TCP protection), each with
  ``rules`` ``{id, scope, name, rate_sensitivity, burst_sensitivity, mode}`` and optional
  ``filters`` ``{id, expression, mode}``.

``tracker`` holds netlogpush's own knobs (table size, timeouts, windows); Cloudflare does not
publish flowtrackd's. See docs/flowtrackd.md for what every value means.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from netlogpush.mitigation.firewall.compiler import check_expression
from netlogpush.mitigation.firewall.errors import RuleError
from netlogpush.mitigation.firewall.typed import (
    BitSlice,
    Compare,
    Expr,
    Logical,
    Not,
    fields_used,
)

Mode = Literal["monitoring", "enabled", "disabled"]
Scope = Literal["global", "region", "datacenter"]
SensitivityName = Literal["low", "medium", "high"]
#: A named level, or a number: packets per second for a rate, packets for a burst.
Sensitivity = SensitivityName | Annotated[int, Field(ge=0, le=100_000_000)]

#: Rate thresholds (packets/s sustained) per sensitivity. Cloudflare does not publish its
#: thresholds; ``medium`` is the "Rate 500, Burst 2500" an auto-provisioned ATP account
#: gets (Cloudflare's Magic Transit onboarding material). A higher sensitivity is a lower
#: threshold ("a high sensitivity means that lower sustained packet rates may trigger a
#: mitigation action"); we space the levels by a factor of 5 (our choice).
RATE_PPS: dict[str, int] = {"high": 100, "medium": 500, "low": 2500}
#: Burst thresholds (packets above the sustained rate) per sensitivity.
BURST_PACKETS: dict[str, int] = {"high": 500, "medium": 2500, "low": 12500}

#: The fields ATP filter expressions may use (Cloudflare: "can include the following fields").
FILTER_FIELDS = frozenset({"ip.src", "ip.dst", "tcp.srcport", "tcp.dstport"})
MAX_FILTER_LENGTH = 8192

MODE_CODE: dict[str, int] = {"disabled": 0, "monitoring": 1, "enabled": 2}


def rate_pps(value: Sensitivity) -> int:
    return RATE_PPS[value] if isinstance(value, str) else int(value)


def burst_packets(value: Sensitivity) -> int:
    return BURST_PACKETS[value] if isinstance(value, str) else int(value)


def _network(value: str) -> str:
    """A single address or a CIDR network with no host bits set, in canonical form."""
    text = value.strip()
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR prefix ({exc})") from None
        raise ValueError(
            f"{value!r} has host bits set; the prefix is {loose.with_prefixlen}"
        ) from None
    return net.with_prefixlen if net.prefixlen != net.max_prefixlen else str(net.network_address)


def check_filter_expression(text: str) -> None:
    """ATP filter expressions: the rules language over ip.src, ip.dst and the TCP ports only.

    Cloudflare: "can include the following fields: ip.src, ip.dst, tcp.srcport, tcp.dstport"
    and "do not currently support functions". Named lists are not part of ATP either.
    """
    if len(text) > MAX_FILTER_LENGTH:
        raise ValueError(f"the expression is {len(text)} characters; at most {MAX_FILTER_LENGTH}")
    try:
        tree = check_expression(text)
    except RuleError as exc:
        if exc.reason.startswith("unknown list"):
            raise ValueError(f"{exc}; ATP filters cannot use named lists") from None
        raise ValueError(str(exc)) from None
    if _calls_function(tree):
        raise ValueError("calls bit_slice(); ATP filters do not support functions")
    other = sorted(fields_used(tree) - FILTER_FIELDS)
    if other:
        raise ValueError(
            f"uses {', '.join(other)}; ATP filters may use only "
            "ip.src, ip.dst, tcp.srcport and tcp.dstport"
        )


def _calls_function(expr: Expr) -> bool:
    if isinstance(expr, Compare):
        return isinstance(expr.operand, BitSlice)
    if isinstance(expr, Not):
        return _calls_function(expr.arg)
    if isinstance(expr, Logical):
        return any(_calls_function(item) for item in expr.items)
    return False


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class AtpPrefix(_Model):
    """A protected prefix (Cloudflare: a Magic Transit prefix or a subset of one)."""

    id: str = ""
    """Identifier, for the API; not logged."""

    prefix: str
    """An IP address or CIDR prefix, e.g. ``192.0.2.0/24``."""

    comment: str = ""
    """Free text."""

    excluded: bool = False
    """Exclude this prefix (usually a subset of a protected one) from protection."""

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return _network(value)


class AtpAllowlistEntry(_Model):
    """Traffic that bypasses every ATP rule: from ``prefix`` and, if set, matching ``expression``.

    Cloudflare's allowlist is source prefixes; the optional ``expression`` (same fields as a
    filter) narrows an entry further, e.g. to one destination port.
    """

    id: str = ""
    """Identifier, for the API; not logged."""

    prefix: str = ""
    """Source address or CIDR prefix. Empty: any source (then ``expression`` is required)."""

    expression: str = ""
    """Optional filter expression the packet must also match."""

    comment: str = ""
    """Free text."""

    enabled: bool = True
    """A disabled entry is ignored."""

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return _network(value) if value.strip() else ""

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        if value.strip():
            check_filter_expression(value)
        return value

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.prefix and not self.expression.strip():
            raise ValueError("an allowlist entry needs a prefix, an expression, or both")
        return self


class AtpRule(_Model):
    """A SYN flood or out-of-state TCP rule: thresholds and mode for a scope."""

    id: str = ""
    """Identifier, for the API; not logged (ATP samples carry no rule ID)."""

    scope: Scope = "global"
    """``global``, ``region`` or ``datacenter``; the most specific rule that applies wins."""

    name: str = ""
    """Region code (``WEUR``) or data center (``AMS`` or ``ams01``) for a scoped rule."""

    rate_sensitivity: Sensitivity = "medium"
    """Tolerance of the sustained rate: ``low``, ``medium``, ``high``, or packets per second."""

    burst_sensitivity: Sensitivity = "medium"
    """Tolerance of bursts above the rate: ``low``, ``medium``, ``high``, or packets."""

    mode: Mode = "monitoring"
    """``enabled`` mitigates, ``monitoring`` only logs what it would do, ``disabled`` skips."""

    @model_validator(mode="after")
    def _name(self) -> Self:
        if self.scope == "global" and self.name:
            raise ValueError("a global rule has no name; set scope to region or datacenter")
        if self.scope != "global" and not self.name.strip():
            raise ValueError(f"a {self.scope} rule needs the {self.scope} code in name")
        return self

    @property
    def rate(self) -> int:
        return rate_pps(self.rate_sensitivity)

    @property
    def burst(self) -> int:
        return burst_packets(self.burst_sensitivity)


class AtpFilter(_Model):
    """Sets the mode of one component for the traffic its expression matches."""

    id: str = ""
    """Identifier, for the API; not logged."""

    expression: str
    """Rules-language expression over ``ip.src``, ``ip.dst``, ``tcp.srcport``, ``tcp.dstport``."""

    mode: Mode
    """The mode for matching packets; ``enabled`` beats ``monitoring`` beats ``disabled``."""

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        check_filter_expression(value)
        return value


def _default_rules() -> list[AtpRule]:
    return [AtpRule()]


class ProtectionConfig(_Model):
    """One ATP component (SYN flood protection or out-of-state TCP protection)."""

    rules: list[AtpRule] = Field(default_factory=_default_rules)
    """The rules; the default is one global rule, medium sensitivities, monitoring mode."""

    filters: list[AtpFilter] = Field(default_factory=list)
    """Optional filters that change the mode for the traffic they match."""

    @model_validator(mode="after")
    def _unique_scopes(self) -> Self:
        seen: set[tuple[str, str]] = set()
        for index, rule in enumerate(self.rules):
            key = (rule.scope, rule.name.strip().upper())
            if key in seen:
                where = "global" if rule.scope == "global" else f"{rule.scope} {rule.name}"
                raise ValueError(f"rule {index + 1}: a second rule for the {where} scope")
            seen.add(key)
        return self


class TrackerConfig(_Model):
    """netlogpush's own flowtrackd knobs (Cloudflare publishes none of these)."""

    table_capacity: int = Field(default=1 << 20, ge=1 << 10, le=1 << 28)
    """Connection table slots (rounded up to a power of two); 32 bytes each, allocated once."""

    detector_capacity: int = Field(default=1 << 16, ge=1 << 8, le=1 << 24)
    """Rate detector slots per component (one per destination in use; rounded up); 32 bytes each."""

    new_timeout: float = Field(default=30.0, gt=0, le=86400)
    """Seconds a NEW (handshake or challenge in progress) entry lives without packets."""

    open_timeout: float = Field(default=10800.0, gt=0, le=864000)
    """Seconds an OPEN entry lives without packets (above Linux's 2-hour keepalive)."""

    closing_timeout: float = Field(default=120.0, gt=0, le=86400)
    """Seconds a CLOSING entry lives without packets."""

    closed_timeout: float = Field(default=60.0, gt=0, le=86400)
    """Seconds a CLOSED entry is kept, to recognise packets of an already closed connection."""

    seq_window: int = Field(default=1 << 24, ge=1 << 10, le=1 << 30)
    """How far (bytes) a sequence or acknowledgement number may stray from the highest seen."""

    hold_seconds: float = Field(default=5.0, ge=0, le=3600)
    """How long a mitigation outlasts the flood, at most (the rate detector's memory)."""

    hash_seed: int = Field(default=0, ge=0, lt=1 << 64)
    """Seed of the table hashes; set a random value to resist crafted hash collisions."""


class FlowtrackdConfig(_Model):
    """Advanced TCP Protection: prefixes, allowlist, and the two components' rules and filters."""

    enabled: bool | None = None
    """Run flowtrackd (``tcp_protection_status``); unset follows the profile (Magic Transit)."""

    prefixes: list[AtpPrefix] = Field(default_factory=list)
    """Destinations to protect. Traffic to other destinations is not inspected."""

    allowlist: list[AtpAllowlistEntry] = Field(default_factory=list)
    """Sources (optionally narrowed by an expression) that bypass every ATP rule."""

    syn_protection: ProtectionConfig = Field(default_factory=ProtectionConfig)
    """SYN flood protection: challenges SYN and SYN-ACK packets above the thresholds."""

    tcp_flow_protection: ProtectionConfig = Field(default_factory=ProtectionConfig)
    """Out-of-state TCP protection: drops out-of-state packets above the thresholds."""

    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    """Connection table and timing."""
