"""dosd: the Network-layer DDoS Attack Protection managed ruleset (see docs/dosd.md)."""

from netlogpush.mitigation.dosd.config import (
    DosdConfig,
    HeavyHitterConfig,
    OverrideRule,
    RuleDefault,
)
from netlogpush.mitigation.dosd.ruleset import RULES, RULES_BY_ID, RULES_BY_SLUG, RULESET_ID, Rule
from netlogpush.mitigation.dosd.system import DosdSystem

__all__ = [
    "RULES",
    "RULESET_ID",
    "RULES_BY_ID",
    "RULES_BY_SLUG",
    "DosdConfig",
    "DosdSystem",
    "HeavyHitterConfig",
    "OverrideRule",
    "Rule",
    "RuleDefault",
]
