"""Helpers for the flowtrackd tests: build packets, run them through a system, read decisions."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from netlogpush.decode.columns import PacketColumns
from netlogpush.decode.engine import decode
from netlogpush.decode.frames import FrameBatch, FrameBatchBuilder
from netlogpush.mitigation.firewall.view import PacketView
from netlogpush.mitigation.flowtrackd import FlowtrackdConfig, FlowtrackdSystem
from netlogpush.mitigation.stage import Decision, StageInput
from netlogpush.testing.packets import (
    ACK,
    ETH_IPV4,
    ETH_IPV6,
    LINKTYPE_ETHERNET,
    SYN,
    ethernet,
    ipv4,
    ipv6,
    tcp,
    udp,
)

CLIENT = "198.51.100.7"
SERVER = "192.0.2.10"
PROTECTED = "192.0.2.0/24"
SECOND = 1_000_000_000
MS = 1_000_000

#: Thresholds of zero: every SYN is over the SYN threshold, every out-of-state packet over
#: the out-of-state one. ``hold_seconds`` 0 keeps the detectors from remembering.
ALWAYS = {"rate_sensitivity": 0, "burst_sensitivity": 0}
NEVER = {"rate_sensitivity": 100_000_000, "burst_sensitivity": 100_000_000}


@dataclass(frozen=True, slots=True)
class P:
    """One packet of a test: flags, numbers, payload, addresses, time (ns)."""

    flags: int
    seq: int = 0
    ack: int = 0
    payload: bytes = b""
    t: int = 0
    src: str = CLIENT
    dst: str = SERVER
    sport: int = 40000
    dport: int = 443
    proto: str = "tcp"

    def frame(self) -> bytes:
        if self.proto == "udp":
            seg = udp(sport=self.sport, dport=self.dport, payload=self.payload)
        else:
            seg = tcp(
                sport=self.sport,
                dport=self.dport,
                seq=self.seq,
                ack=self.ack,
                flags=self.flags,
                payload=self.payload,
            )
        if ":" in self.src:
            return ethernet(ipv6(seg, src=self.src, dst=self.dst), ethertype=ETH_IPV6)
        return ethernet(ipv4(seg, src=self.src, dst=self.dst), ethertype=ETH_IPV4)


def frames(packets: Sequence[P]) -> FrameBatch:
    b = FrameBatchBuilder()
    for p in packets:
        b.append(p.frame(), p.t, LINKTYPE_ETHERNET)
    return b.build()


def stage_input(
    pc: PacketColumns,
    active: np.ndarray | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
) -> StageInput:
    act = np.ones(len(pc), np.bool_) if active is None else active
    return StageInput(pc, PacketView.from_columns(pc, extra), act)


def config(**kw: object) -> FlowtrackdConfig:
    """A config protecting 192.0.2.0/24; keyword arguments override fields."""
    base: dict[str, object] = {"prefixes": [{"prefix": PROTECTED}]}
    base.update(kw)
    return FlowtrackdConfig.model_validate(base)


def rules(mode: str = "enabled", **thresholds: object) -> dict[str, object]:
    return {"rules": [{"mode": mode, **thresholds}]}


Row = tuple[bool, bool, str, str]


def rows(decision: Decision) -> list[Row]:
    """Per packet: (drop, enforce, ProtocolState, MitigationReason)."""
    fields = decision.label_fields(np.arange(decision.drop.shape[0]))
    return [
        (bool(d), bool(e), str(s), str(r))
        for d, e, s, r in zip(
            decision.drop,
            decision.enforce,
            fields["ProtocolState"],
            fields["MitigationReason"],
            strict=True,
        )
    ]


def run(
    system: FlowtrackdSystem,
    packets: Sequence[P],
    cuts: Sequence[int] = (),
    colo: str | None = None,
) -> list[Row]:
    """Feed ``packets`` in batches split at ``cuts``; the rows of all batches in order.

    ``colo`` sets the enrichment's ``ColoCode`` column (for data center rules).
    """
    out: list[Row] = []
    bounds = [0, *cuts, len(packets)]
    for lo, hi in itertools.pairwise(bounds):
        pc = decode(frames(packets[lo:hi]))
        extra = None if colo is None else {"ColoCode": np.array([colo] * len(pc), dtype=object)}
        out.extend(rows(system.process(stage_input(pc, extra=extra))))
    return out


def system(**kw: object) -> FlowtrackdSystem:
    return FlowtrackdSystem(config(**kw))


#: Decision rows, spelled out.
PASS_NONE: Row = (False, False, "", "")


def passed(state: str) -> Row:
    return (False, False, state, "")


def dropped(state: str, reason: str, enforce: bool = True) -> Row:
    return (True, enforce, state, reason)


def handshake(t0: int = 0, isn: int = 1000, sisn: int = 5000, **kw: object) -> list[P]:
    """SYN, then the ACK that completes the handshake (the SYN-ACK goes the other way)."""
    return [
        P(SYN, seq=isn, t=t0, **kw),  # type: ignore[arg-type]
        P(ACK, seq=isn + 1, ack=sisn + 1, t=t0 + 10 * MS, **kw),  # type: ignore[arg-type]
    ]


#: Out-of-state protection that drops every out-of-state packet; SYN protection that never
#: challenges. The state machine's reasons show directly.
STRICT = {
    "syn_protection": {"rules": [{"mode": "enabled", **NEVER}]},
    "tcp_flow_protection": {"rules": [{"mode": "enabled", **ALWAYS}]},
}
