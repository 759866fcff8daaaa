"""Override rules of the ``ddos_l4`` phase: which settings apply to a packet for a rule.

Cloudflare's logic (developers.cloudflare.com/ddos-protection/managed-rulesets/network/
network-overrides/): the override rules are evaluated in order, and the first one whose
expression matches *and that configures the managed rule* applies; within it the most
specific setting wins (rule > category > ruleset), per parameter. Whatever it leaves unset
falls back to this deployment's rule defaults (``DosdConfig.rules``), then to the ruleset's.

Expressions are compiled once with the firewall's compiler and evaluated on a row subset
of the batch's ``PacketView`` (``take_view``): dosd only ever needs them for sampled
packets and for packets an active mitigation matched.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.dosd.config import DosdConfig, OverrideRule
from netlogpush.mitigation.dosd.ruleset import RULES, Rule
from netlogpush.mitigation.firewall import CompiledExpression, PacketView, compile_expression
from netlogpush.mitigation.firewall.view import StringColumn

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
U64 = npt.NDArray[np.uint64]

#: Overrides beyond this many cannot be told apart in the per-packet bit mask.
MAX_OVERRIDES = 64


class _Taken(Mapping[str, Any]):
    """A column mapping that gathers ``rows`` of a column on first use only."""

    def __init__(self, source: Mapping[str, Any], rows: I64) -> None:
        self._source = source
        self._rows = rows
        self._done: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        got = self._done.get(name)
        if got is None:
            col = self._source[name]
            if isinstance(col, StringColumn):
                got = StringColumn(col.codes[self._rows], col.categories)
            else:
                got = col[self._rows]
            self._done[name] = got
        return got

    def __iter__(self) -> Iterator[str]:
        return iter(self._source)

    def __len__(self) -> int:
        return len(self._source)


def take_view(view: PacketView, rows: I64) -> PacketView:
    """The view of ``rows`` of ``view`` (columns gathered lazily)."""
    return PacketView(
        n=int(rows.shape[0]),
        ip_version=view.ip_version[rows],
        src4=view.src4[rows],
        dst4=view.dst4[rows],
        src6=view.src6[rows],
        dst6=view.dst6[rows],
        ints=_Taken(view.ints, rows),
        strings=_Taken(view.strings, rows),
        data=view.data,
        l3=None if view.l3 is None else view.l3[rows],
        l4=None if view.l4 is None else view.l4[rows],
        end=None if view.end is None else view.end[rows],
    )


@dataclass(frozen=True, slots=True)
class Setting:
    sensitivity: str
    action: str
    override: int  # index of the override rule that set something, -1 for defaults


class CompiledOverrides:
    def __init__(self, config: DosdConfig, lists: Any = None) -> None:
        rules = [r for r in config.overrides if r.enabled]
        if len(rules) > MAX_OVERRIDES:
            raise ValueError(f"at most {MAX_OVERRIDES} enabled dosd override rules, got {len(rules)}")
        self.rules: list[OverrideRule] = rules
        self.ids: list[str] = [r.id for r in rules]
        self._exprs: list[CompiledExpression | None] = [
            None if r.expression.strip() == "true" else compile_expression(r.expression, lists)
            for r in rules
        ]
        self._defaults = {
            rule.id: Setting(
                (config.rules[rule.id].sensitivity_level if rule.id in config.rules else None)
                or "default",
                (config.rules[rule.id].action if rule.id in config.rules else None) or rule.action,
                -1,
            )
            for rule in RULES
        }
        # For each managed rule: the override rules that configure it, in order, with the
        # settings each would apply (resolved once here, not per packet).
        self._applicable: dict[str, list[tuple[int, Setting]]] = {}
        for rule in RULES:
            found: list[tuple[int, Setting]] = []
            for i, o in enumerate(rules):
                s = self._resolve(rule, o, i)
                if s is not None:
                    found.append((i, s))
            self._applicable[rule.id] = found

    def __len__(self) -> int:
        return len(self.rules)

    def _resolve(self, rule: Rule, o: OverrideRule, index: int) -> Setting | None:
        ov = o.action_parameters.overrides
        levels: list[tuple[str | None, str | None]] = []
        for r in ov.rules:
            if r.id == rule.id:
                levels.append((r.sensitivity_level, r.action))
        for c in ov.categories:
            if c.category in rule.categories:
                levels.append((c.sensitivity_level, c.action))
        levels.append((ov.sensitivity_level, ov.action))
        if all(s is None and a is None for s, a in levels):
            return None
        default = self._defaults[rule.id]
        sens = next((s for s, _ in levels if s is not None), default.sensitivity)
        act = next((a for _, a in levels if a is not None), default.action)
        return Setting(sens, act, index)

    def default(self, rule: Rule) -> Setting:
        return self._defaults[rule.id]

    def settings(self, rule: Rule) -> list[Setting]:
        """Index ``k`` is the setting for override code ``k``; the last is the default."""
        return [s for _, s in self._applicable[rule.id]] + [self._defaults[rule.id]]

    def bits(self, view: PacketView, rows: I64) -> U64:
        """Per row, bit ``i`` set when override rule ``i``'s expression matches it."""
        n = int(rows.shape[0])
        out = np.zeros(n, np.uint64)
        if not self.rules or n == 0:
            return out
        sub = take_view(view, rows)
        for i, expr in enumerate(self._exprs):
            hit = np.ones(n, np.bool_) if expr is None else expr.evaluate(sub)
            out |= hit.astype(np.uint64) << np.uint64(i)
        return out

    def codes(self, rule: Rule, bits: U64) -> I32:
        """Per row, which of ``settings(rule)`` applies (the last index: the defaults)."""
        applicable = self._applicable[rule.id]
        out = np.full(bits.shape[0], len(applicable), np.int32)
        undecided = np.ones(bits.shape[0], np.bool_)
        for k, (i, _) in enumerate(applicable):
            hit = undecided & ((bits >> np.uint64(i)) & np.uint64(1)).astype(np.bool_)
            out[hit] = k
            undecided &= ~hit
        return out

    def needs_bits(self, rule: Rule) -> bool:
        return bool(self._applicable[rule.id])
