"""What every mitigation system implements, and what it hands back per batch.

The pipeline runs the systems in Cloudflare's order (dosd, flowtrackd, magic-firewall).
Each gets the packets that reached it (``StageInput.active``) and answers with a
``Decision``: per packet, whether its verdict is drop, whether an inline deployment would
enforce that verdict, and a label with the sample fields to log (rule, attack, reason …).
The pipeline, not the system, turns that into ``Verdict``/``Outcome`` (which depend on the
deployment mode), samples, and decides what the next system sees.

Labels are categorical so that nothing per packet is a Python object: ``label[i]`` indexes
``labels``, and a label's fields are materialised only for sampled packets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from netlogpush.decode.columns import PacketColumns
from netlogpush.mitigation.firewall.view import PacketView

MitigationSystem = Literal["dosd", "flowtrackd", "magic-firewall"]
#: Cloudflare's order: a packet dropped by one system is not seen by the next.
SYSTEM_ORDER: tuple[MitigationSystem, ...] = ("dosd", "flowtrackd", "magic-firewall")

#: The sample fields a label may set (every other field comes from the packet or the pipeline).
LABEL_FIELDS: tuple[str, ...] = (
    "AttackCampaignID",
    "AttackID",
    "AttackVector",
    "MitigationReason",
    "MitigationScope",
    "ProtocolState",
    "RuleID",
    "RuleName",
    "RulesetID",
    "RulesetOverrideID",
)

Mask = npt.NDArray[np.bool_]


@dataclass(slots=True)
class StageInput:
    """One batch as a mitigation system sees it."""

    packets: PacketColumns
    view: PacketView  # the same packets, with enrichment columns, for rule expressions
    active: Mask  # the packets that reached this system (IP packets not dropped earlier)

    @property
    def ts_ns(self) -> npt.NDArray[np.int64]:
        return self.packets.frames.ts_ns


@dataclass(slots=True)
class Decision:
    """A system's answer for one batch; every array has one entry per packet of the batch."""

    drop: Mask  # the verdict is drop
    enforce: Mask  # inline, the packet would really be dropped (not a log-only rule, not monitoring)
    label: npt.NDArray[np.int32]  # index into ``labels``; -1: no label, every label field empty
    labels: Sequence[Mapping[str, str]] = field(default_factory=tuple)
    #: The packets the system inspected, and so may sample; None: every packet that reached it.
    #: flowtrackd inspects only TCP to its protected prefixes, and logs nothing else.
    inspected: Mask | None = None

    @classmethod
    def passing(cls, n: int, inspected: Mask | None = None) -> Decision:
        """Every packet passes, unlabelled."""
        return cls(np.zeros(n, np.bool_), np.zeros(n, np.bool_), np.full(n, -1, np.int32), inspected=inspected)

    def label_fields(self, rows: npt.NDArray[np.int64]) -> dict[str, npt.NDArray[np.object_]]:
        """The label fields of ``rows``, as record columns."""
        out: dict[str, npt.NDArray[np.object_]] = {}
        codes = self.label[rows]
        for name in LABEL_FIELDS:
            lookup = np.array([lab.get(name, "") for lab in self.labels] + [""], dtype=object)
            out[name] = lookup[codes]  # code -1 picks the trailing ""
        return out


class Stage(Protocol):
    """A mitigation system."""

    system: MitigationSystem

    def process(self, batch: StageInput) -> Decision: ...
