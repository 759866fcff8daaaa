"""Which rule and which mode apply to each packet, for one ATP component.

Cloudflare's order ("Determining the execution mode", ddos-protection/advanced-ddos-systems/
concepts): a matching filter decides first, ``enabled`` filters before ``monitoring`` ones
before ``disabled`` ones; otherwise the rule decides; with no rule, the component is off.
The rule is the most specific one for the packet's location: a data center rule, then a
region rule, then the global rule. The thresholds come from that rule (a filter changes
the mode only); a packet that a filter turns on where no rule applies gets medium ones.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.firewall.batch import Batch
from netlogpush.mitigation.firewall.compiler import CompiledExpression, compile_expression
from netlogpush.mitigation.flowtrackd.config import (
    BURST_PACKETS,
    MODE_CODE,
    RATE_PPS,
    ProtectionConfig,
)

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

DISABLED, MONITORING, ENABLED = 0, 1, 2


class ComponentPolicy:
    """Compiled rules and filters of SYN flood protection or out-of-state TCP protection."""

    def __init__(self, config: ProtectionConfig) -> None:
        rules = config.rules
        # Index len(rules) is "no rule applies": medium thresholds, disabled.
        self.rate = np.array([r.rate for r in rules] + [RATE_PPS["medium"]], np.int64)
        self.burst = np.array([r.burst for r in rules] + [BURST_PACKETS["medium"]], np.int64)
        self.mode = np.array([MODE_CODE[r.mode] for r in rules] + [DISABLED], np.uint8)
        none = len(rules)
        self.global_rule = next((i for i, r in enumerate(rules) if r.scope == "global"), none)
        self.regions = {
            r.name.strip().upper(): i for i, r in enumerate(rules) if r.scope == "region"
        }
        self.datacenters = {
            r.name.strip().upper(): i for i, r in enumerate(rules) if r.scope == "datacenter"
        }
        self.filters: list[tuple[int, list[CompiledExpression]]] = []
        for mode in ("enabled", "monitoring", "disabled"):
            exprs = [compile_expression(f.expression) for f in config.filters if f.mode == mode]
            if exprs:
                self.filters.append((MODE_CODE[mode], exprs))

    @property
    def scoped(self) -> bool:
        """Whether some rule depends on the location (needs the enrichment's colo fields)."""
        return bool(self.regions or self.datacenters)

    def resolve(self, batch: Batch) -> tuple[I64, U8]:
        """Per packet: the rule index and the mode (0 disabled, 1 monitoring, 2 enabled)."""
        n = batch.n
        rule = np.full(n, self.global_rule, np.int64)
        if self.regions:
            rule = self._by_location(batch, rule, ("ColoRegion",), self.regions)
        if self.datacenters:
            rule = self._by_location(batch, rule, ("ColoCode", "ColoName"), self.datacenters)
        mode = self.mode[rule]
        decided = np.zeros(n, np.bool_)
        for code, exprs in self.filters:
            hit = np.zeros(n, np.bool_)
            for expr in exprs:
                hit |= expr.evaluate(batch)
            hit &= ~decided
            mode = np.where(hit, np.uint8(code), mode)
            decided |= hit
        return rule, mode

    @staticmethod
    def _by_location(
        batch: Batch, rule: I64, columns: tuple[str, ...], names: dict[str, int]
    ) -> I64:
        for column in columns:
            col = batch.view.string_column(column)
            lut = np.array([names.get(c.strip().upper(), -1) for c in col.categories] + [-1])
            found = lut[col.codes] if col.categories else np.full(batch.n, -1)
            rule = np.where(found >= 0, found, rule)
        return rule
