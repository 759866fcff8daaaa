"""The three systems in a row: decisions, verdicts, outcomes and per-system samples.

A packet goes through dosd, then flowtrackd, then magic-firewall. Each system samples the
packets that reached it on its own, so a packet that passes all three can yield three
samples. In ``inline`` mode an enforced drop is real: ``Outcome`` is ``drop`` and the next
system never sees the packet. In ``passive`` mode (a mirror port, a pcap, sFlow) nothing can
be dropped: ``Outcome`` is always ``pass`` and ``Verdict`` says what would have happened; the
next system still does not see a packet the previous one would have dropped, so the samples
show what an inline deployment would have done (docs/mitigation.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from netlogpush.decode.columns import PacketColumns
from netlogpush.mitigation.firewall.view import PacketView
from netlogpush.mitigation.sampling import Sampler
from netlogpush.mitigation.stage import Stage, StageInput

Mode = Literal["inline", "passive"]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


@dataclass(slots=True)
class StageSamples:
    """The samples one system took from one batch."""

    system: str
    rows: I64  # packet indices in the batch
    verdict_drop: Mask  # per sample
    outcome_drop: Mask  # per sample
    interval: int
    labels: dict[str, npt.NDArray[np.object_]]


@dataclass(slots=True)
class SystemStats:
    packets: int = 0  # packets that reached the system
    verdict_drops: int = 0
    dropped: int = 0  # drops enforced (inline) or that would be (passive)
    samples: int = 0


@dataclass(slots=True)
class MitigationChain:
    stages: Sequence[Stage]
    samplers: Mapping[str, Sampler]
    mode: Mode = "passive"
    stats: dict[str, SystemStats] = field(default_factory=dict)

    @property
    def needs_enrichment(self) -> bool:
        return any(getattr(stage, "needs_enrichment", False) for stage in self.stages)

    def run(self, packets: PacketColumns, view: PacketView, reached: Mask) -> list[StageSamples]:
        ts = packets.frames.ts_ns
        out: list[StageSamples] = []
        reached = reached.copy()
        for stage in self.stages:
            decision = stage.process(StageInput(packets, view, reached.copy()))
            drop = decision.drop & reached
            enforce = decision.enforce & drop
            seen = reached if decision.inspected is None else reached & decision.inspected
            count = int(np.count_nonzero(seen))
            sampler = self.samplers[stage.system]
            span = int(ts[seen].max() - ts[seen].min()) if count else 0
            interval = sampler.interval_for(count, span)
            rows = np.flatnonzero(seen & sampler.select(len(seen), interval))
            out.append(
                StageSamples(
                    system=stage.system,
                    rows=rows,
                    verdict_drop=drop[rows],
                    outcome_drop=enforce[rows] if self.mode == "inline" else np.zeros(rows.size, np.bool_),
                    interval=interval,
                    labels=decision.label_fields(rows),
                )
            )
            stats = self.stats.setdefault(stage.system, SystemStats())
            stats.packets += count
            stats.verdict_drops += int(np.count_nonzero(drop))
            stats.dropped += int(np.count_nonzero(enforce))
            stats.samples += int(rows.size)
            reached &= ~enforce
        return out
