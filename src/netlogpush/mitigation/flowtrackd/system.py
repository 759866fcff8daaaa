"""flowtrackd as a mitigation system: Advanced TCP Protection over a batch.

Per batch: pick the TCP packets that reached flowtrackd and go to a protected prefix (not
an excluded one) from a source that is not allowlisted; resolve each component's rule and
mode; run SYN flood protection's detector (who gets challenged), the tracker (state and
reason per packet) and out-of-state protection's detector (which out-of-state packets are
dropped). Samples carry ``ProtocolState`` and, for drops, ``MitigationReason``; ATP does not
use AttackID, RuleID or RulesetID (Cloudflare's NAv2 node reference), so those stay empty,
and so does ``MitigationScope`` (docs/flowtrackd.md).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.firewall.batch import Batch
from netlogpush.mitigation.firewall.compiler import CompiledExpression, compile_expression
from netlogpush.mitigation.flowtrackd.config import FlowtrackdConfig
from netlogpush.mitigation.flowtrackd.policy import ENABLED, ComponentPolicy
from netlogpush.mitigation.flowtrackd.protection import (
    OUT_OF_STATE_TAG,
    SYN_FLOOD_TAG,
    ProtectionComponent,
)
from netlogpush.mitigation.flowtrackd.table import address_words, combine, nonzero
from netlogpush.mitigation.flowtrackd.tracker import (
    CHALLENGE_NEEDED,
    CHALLENGE_PASSED,
    KIND_NAMES,
    OUT_OF_STATE,
    STATE_NAMES,
    SYN,
    SYNACK,
    Tracker,
    classify,
)
from netlogpush.mitigation.stage import Decision, MitigationSystem, StageInput

Mask = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

PROTO_TCP = 6
_REASONS = len(KIND_NAMES)


def _labels() -> list[dict[str, str]]:
    """Label ``state * 7 + reason``: every (ProtocolState, MitigationReason) pair."""
    out = []
    for state in STATE_NAMES:
        for reason in KIND_NAMES:
            lab = {}
            if state:
                lab["ProtocolState"] = state
            if reason:
                lab["MitigationReason"] = reason
            out.append(lab)
    return out


def _prefix_expression(field: str, prefixes: list[str]) -> CompiledExpression | None:
    if not prefixes:
        return None
    return compile_expression(f"{field} in {{ {' '.join(prefixes)} }}")


class FlowtrackdSystem:
    system: MitigationSystem = "flowtrackd"

    def __init__(self, config: FlowtrackdConfig) -> None:
        self.tracker = Tracker(config.tracker)
        self.syn = ProtectionComponent(SYN_FLOOD_TAG, config.syn_protection, config.tracker)
        self.out_of_state = ProtectionComponent(
            OUT_OF_STATE_TAG, config.tcp_flow_protection, config.tracker
        )
        self.labels = _labels()
        self.stats: dict[str, int] = {"tracked": 0} | {name: 0 for name in KIND_NAMES if name}
        self.reconfigure(config)

    def reconfigure(self, config: FlowtrackdConfig) -> None:
        """Apply a new configuration and keep the learned state.

        Prefixes, allowlist, rules, filters, timeouts and windows change at once; the
        connection table and the rate detectors stay (a configuration reload must not forget
        every open connection). Changing ``table_capacity``, ``detector_capacity`` or
        ``hash_seed`` needs new tables, so those start empty. Everything new is built
        before anything changes, so an error leaves the system as it was.
        """
        t = config.tracker
        protected = _prefix_expression(
            "ip.dst", [p.prefix for p in config.prefixes if not p.excluded]
        )
        excluded = _prefix_expression("ip.dst", [p.prefix for p in config.prefixes if p.excluded])
        allow: list[CompiledExpression] = []
        for entry in config.allowlist:
            if not entry.enabled:
                continue
            parts = [f"ip.src in {{ {entry.prefix} }}"] if entry.prefix else []
            if entry.expression.strip():
                parts.append(f"({entry.expression})")
            allow.append(compile_expression(" and ".join(parts)))
        syn_policy = ComponentPolicy(config.syn_protection)
        oos_policy = ComponentPolicy(config.tcp_flow_protection)
        old = getattr(self, "config", None)
        tables = (t.table_capacity, t.detector_capacity, t.hash_seed)
        if old is not None and tables != (
            old.tracker.table_capacity,
            old.tracker.detector_capacity,
            old.tracker.hash_seed,
        ):
            self.tracker = Tracker(t)
            self.syn = ProtectionComponent(SYN_FLOOD_TAG, config.syn_protection, t)
            self.out_of_state = ProtectionComponent(OUT_OF_STATE_TAG, config.tcp_flow_protection, t)
        self.tracker.configure(t)
        self.syn.configure(syn_policy, t)
        self.out_of_state.configure(oos_policy, t)
        self.config = config
        self.seed = np.uint64(t.hash_seed)
        self._protected, self._excluded, self._allow = protected, excluded, allow

    @property
    def needs_enrichment(self) -> bool:
        """Region or data center rules read the colo fields that enrichment fills."""
        return self.syn.policy.scoped or self.out_of_state.policy.scoped

    @property
    def memory_bytes(self) -> int:
        """The fixed size of the state: connection table plus both rate detectors."""
        return (
            self.tracker.table.nbytes
            + self.syn.detector.table.nbytes
            + self.out_of_state.detector.table.nbytes
        )

    def process(self, batch: StageInput) -> Decision:
        pc = batch.packets
        n = len(pc)
        if n == 0 or self._protected is None:
            return Decision.passing(n, inspected=np.zeros(n, np.bool_))
        candidate = (
            batch.active
            & (pc.ip_version > 0)
            & (pc.get("IPProtocol") == PROTO_TCP)
            & (pc.l4 >= 0)
            & (pc.get("TCPDataOffset") >= 20)
        )
        if not candidate.any():
            return Decision.passing(n, inspected=candidate)
        view = Batch(batch.view)
        inspected = candidate & self._protected.evaluate(view)
        if self._excluded is not None:
            inspected &= ~self._excluded.evaluate(view)
        for allow in self._allow:
            inspected &= ~allow.evaluate(view)
        syn_rule, syn_mode = self.syn.modes(view)
        oos_rule, oos_mode = self.out_of_state.modes(view)
        rows = np.flatnonzero(inspected & ((syn_mode > 0) | (oos_mode > 0)))
        if not rows.size:
            return Decision.passing(n, inspected=inspected)
        decision = self._decide(
            batch, rows, syn_rule[rows], syn_mode[rows], oos_rule[rows], oos_mode[rows]
        )
        decision.inspected = inspected
        return decision

    def _decide(
        self,
        batch: StageInput,
        rows: I64,
        syn_rule: I64,
        syn_mode: npt.NDArray[np.uint8],
        oos_rule: I64,
        oos_mode: npt.NDArray[np.uint8],
    ) -> Decision:
        pc = batch.packets
        n = len(pc)
        version = pc.ip_version[rows]
        src_hi, src_lo = address_words(pc.src4[rows], pc.src6[rows], version)
        dst_hi, dst_lo = address_words(pc.dst4[rows], pc.dst6[rows], version)
        ports = (pc.get("SourcePort")[rows].astype(np.uint64) << np.uint64(16)) | pc.get(
            "DestinationPort"
        )[rows].astype(np.uint64)
        keys = self._connection_keys(src_hi, src_lo, dst_hi, dst_lo, ports)
        cls = classify(pc.get("TCPFlags")[rows])
        seq = pc.get("TCPSequenceNumber")[rows].astype(np.int64)
        ack = pc.get("TCPAcknowledgementNumber")[rows].astype(np.int64)
        payload = (
            pc.get("IPTotalLength")[rows].astype(np.int64)
            - pc.get("IPHeaderLength")[rows].astype(np.int64)
            - pc.get("TCPDataOffset")[rows].astype(np.int64)
        )
        plen = np.maximum(payload, 0)
        ts = batch.ts_ns[rows]

        starts = (cls == SYN) | (cls == SYNACK)
        chal = self.syn.over_threshold(starts, syn_mode, syn_rule, dst_hi, dst_lo, ts)
        kind, state = self.tracker.process(keys, cls, seq, ack, plen, ts, chal, syn_mode > 0)
        oos = kind >= min(OUT_OF_STATE)  # the out-of-state reasons are the highest codes
        oos_drop = self.out_of_state.over_threshold(oos, oos_mode, oos_rule, dst_hi, dst_lo, ts)

        syn_drop = (kind == CHALLENGE_NEEDED) | (kind == CHALLENGE_PASSED)
        drop_r = syn_drop | oos_drop
        enforce_r = (syn_drop & (syn_mode == ENABLED)) | (oos_drop & (oos_mode == ENABLED))
        reason = np.where(drop_r, kind, 0).astype(np.int32)
        label_r = state.astype(np.int32) * _REASONS + reason
        drop = np.zeros(n, np.bool_)
        enforce = np.zeros(n, np.bool_)
        label = np.full(n, -1, np.int32)
        drop[rows], enforce[rows] = drop_r, enforce_r
        label[rows] = np.where(label_r == 0, -1, label_r)
        self._count(kind, drop_r)
        return Decision(drop=drop, enforce=enforce, label=label, labels=self.labels)

    def _connection_keys(
        self, src_hi: U64, src_lo: U64, dst_hi: U64, dst_lo: U64, ports: U64
    ) -> U64:
        h = np.full(ports.shape[0], self.seed, np.uint64)
        for word in (src_hi, src_lo, dst_hi, dst_lo, ports):
            h = combine(h, word)
        return nonzero(h)

    def _count(self, kind: npt.NDArray[np.int8], drop: Mask) -> None:
        self.stats["tracked"] += int(kind.shape[0])
        counts = np.bincount(kind[drop], minlength=_REASONS)
        for code, name in enumerate(KIND_NAMES):
            if name:
                self.stats[name] += int(counts[code])

    def counters(self) -> Mapping[str, int]:
        """Dropped packets by reason, plus the tracker's table counters."""
        return self.stats | {f"table_{k}": v for k, v in self.tracker.stats.items()}
