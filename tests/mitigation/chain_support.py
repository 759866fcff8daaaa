"""Helpers for the chain, profile, firewall-system, API and reload tests.

Packets are built with ``netlogpush.testing.packets`` and decoded by the real decoder; the
pipelines are the real ones (``pipeline_from_settings``), so every test runs the code a user
runs. ``ntp_flood`` stamps out many reflection replies at once (``BatchTemplate``) to make
dosd start a real mitigation in well under a second of packet time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from netlogpush.config import Settings
from netlogpush.decode import FrameBatch, FrameBatchBuilder, decode
from netlogpush.decode.columns import PacketColumns
from netlogpush.mitigation.firewall.view import PacketView
from netlogpush.mitigation.stage import StageInput
from netlogpush.pipeline import Pipeline, pipeline_from_settings
from netlogpush.testing import packets as P

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
MS = 1_000_000
SECOND = 1_000_000_000
SERVER = "192.0.2.10"
CLIENT = "198.51.100.7"

#: Sample fields the tests compare, besides the packet's own.
FIELDS = (
    "MitigationSystem", "Verdict", "Outcome", "RuleID", "RulesetID", "MitigationReason",
    "ProtocolState", "AttackVector", "SampleInterval",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Pkt:
    """One test packet; ``t`` is ns after ``T0``."""

    proto: str = "tcp"
    src: str = CLIENT
    dst: str = SERVER
    sport: int = 40000
    dport: int = 443
    flags: int = P.ACK
    seq: int = 0
    ack: int = 0
    payload: bytes = b""
    ttl: int = 64
    t: int = 0

    def frame(self) -> bytes:
        if self.proto == "udp":
            seg = P.udp(sport=self.sport, dport=self.dport, payload=self.payload)
        elif self.proto == "icmp":
            seg = P.icmp_echo(1, 1, self.payload)
        else:
            seg = P.tcp(sport=self.sport, dport=self.dport, flags=self.flags, seq=self.seq,
                        ack=self.ack, payload=self.payload)  # fmt: skip
        return P.ethernet(P.ipv4(seg, src=self.src, dst=self.dst, ttl=self.ttl), ethertype=P.ETH_IPV4)


def batch(packets: Iterable[Pkt], sample_interval: int = 1) -> FrameBatch:
    b = FrameBatchBuilder()
    for p in packets:
        b.append(p.frame(), T0 + p.t, P.LINKTYPE_ETHERNET, sample_interval=sample_interval)
    return b.build()


def stage_input(packets: Sequence[Pkt] | FrameBatch) -> tuple[PacketColumns, StageInput]:
    frames = packets if isinstance(packets, FrameBatch) else batch(packets)
    pc = decode(frames)
    return pc, StageInput(pc, PacketView.from_columns(pc), pc.ip_version != 0)


def settings(mitigation: Mapping[str, Any] | None = None, interval: int | None = 1, seed: int = 1,
             **other: Any) -> Settings:  # fmt: skip
    """Settings as a file would give them; every system samples 1 in ``interval``.

    The server's /24 is the customer network unless said otherwise, so flowtrackd inspects
    (and samples) the TCP packets sent to it.
    """
    data: dict[str, Any] = {
        "sampling": {"interval": interval, "seed": seed},
        "customer_prefixes": ["192.0.2.0/24"],
        **other,
    }
    if mitigation is not None:
        data["mitigation"] = dict(mitigation)
    return Settings.model_validate(data)


def pipeline(mitigation: Mapping[str, Any] | None = None, **kw: Any) -> Pipeline:
    return pipeline_from_settings(settings(mitigation, **kw))


def rows(table: pa.Table, fields: Sequence[str] = FIELDS) -> list[dict[str, Any]]:
    present = [f for f in ("Datetime", *fields) if f in table.column_names]
    out: list[dict[str, Any]] = table.select(present).to_pylist()
    for r in out:
        r["t"] = r.pop("Datetime") - T0
    return out


def by_system(table: pa.Table) -> dict[str, list[int]]:
    """Per system, the packet times (ns after T0) it sampled, in order."""
    out: dict[str, list[int]] = {}
    for r in rows(table, ("MitigationSystem",)):
        out.setdefault(r["MitigationSystem"], []).append(r["t"])
    return out


# --- a reflection flood that dosd mitigates --------------------------------------------------

NTP_REPLY = bytes([0xD7, 0x00, 0x03, 0x2A]) + bytes(440)  # a monlist reply's header, padded


def ntp_flood(start_s: float, n: int, pps: float, seed: int = 1, dst: str = SERVER) -> list[bytes]:
    """``n`` NTP monlist replies from random reflectors to random ports of ``dst``."""
    frame = P.ethernet(
        P.ipv4(P.udp(sport=123, dport=40000, payload=NTP_REPLY), src="198.51.100.1", dst=dst),
        ethertype=P.ETH_IPV4,
    )
    lay = P.layout(frame)
    rng = np.random.default_rng(seed)
    rendered = P.BatchTemplate(frame, lay.fields, lay.checksums).render(
        n, {"ip.src": rng.integers(0x01000000, 0x7F000000, n), "l4.dport": rng.integers(1024, 65535, n)}
    )
    return [rendered[i].tobytes() for i in range(n)]


def flood_batch(start_s: float, n: int = 1500, pps: float = 3000, seed: int = 1,
                extra: Sequence[Pkt] = ()) -> FrameBatch:  # fmt: skip
    """A batch of NTP flood packets from ``start_s`` on, followed by ``extra`` packets."""
    b = FrameBatchBuilder()
    t0 = int(start_s * SECOND)
    for i, frame in enumerate(ntp_flood(start_s, n, pps, seed)):
        b.append(frame, T0 + t0 + int(i * SECOND / pps), P.LINKTYPE_ETHERNET)
    for p in extra:
        b.append(p.frame(), T0 + p.t, P.LINKTYPE_ETHERNET)
    return b.build()
