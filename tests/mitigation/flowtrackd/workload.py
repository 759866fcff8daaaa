"""Large seeded TCP workloads for the flowtrackd tests and benchmark, built as whole batches.

Packets are described column-wise (source, ports, flags, numbers, payload size, time) and
stamped out with ``BatchTemplate`` (one template per flags/payload-size pair), so a million
frames take about a second to make. Everything goes to ``SERVER``'s /24 on port 443.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from netlogpush.decode.frames import PAD, FrameBatch
from netlogpush.testing.packets import (
    ACK,
    ETH_IPV4,
    FIN,
    LINKTYPE_ETHERNET,
    PSH,
    SYN,
    BatchTemplate,
    ethernet,
    ipv4,
    layout,
    tcp,
)

I64 = npt.NDArray[np.int64]
SERVER_NET = 0xC0000200  # 192.0.2.0
SECOND = 1_000_000_000


@dataclass(slots=True)
class Packets:
    """Column-wise packets: one entry per packet, any order (``frames`` sorts by time)."""

    src: I64
    dst: I64
    sport: I64
    flags: I64
    seq: I64
    ack: I64
    plen: I64
    ts: I64

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def concat(cls, parts: list[Packets]) -> Packets:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__slots__))

    def take(self, idx: I64) -> Packets:
        return Packets(*(getattr(self, f)[idx] for f in Packets.__slots__))

    def sorted(self) -> Packets:
        return self.take(np.argsort(self.ts, kind="stable"))


_TEMPLATES: dict[tuple[int, int], tuple[BatchTemplate, int]] = {}


def _template(flags: int, plen: int) -> tuple[BatchTemplate, int]:
    key = (flags, plen)
    if key not in _TEMPLATES:
        seg = tcp(sport=1, dport=443, seq=0, ack=0, flags=flags, payload=b"x" * plen)
        frame = ethernet(ipv4(seg, src="198.51.100.1", dst="192.0.2.10"), ethertype=ETH_IPV4)
        lay = layout(frame)
        fields = {k: lay.fields[k] for k in ("ip.src", "ip.dst", "l4.sport", "tcp.seq", "tcp.ack")}
        _TEMPLATES[key] = (BatchTemplate(frame, fields, lay.checksums), len(frame))
    return _TEMPLATES[key]


def frames(p: Packets) -> FrameBatch:
    """The packets as one ``FrameBatch`` in time order."""
    p = p.sorted()
    n = len(p)
    pieces: list[np.ndarray] = []
    offsets = np.zeros(n, np.int64)
    caplen = np.zeros(n, np.uint32)
    at = 0
    combos = np.unique(np.stack([p.flags, p.plen], axis=1), axis=0)
    for flags, plen in combos.tolist():
        rows = np.flatnonzero((p.flags == flags) & (p.plen == plen))
        tpl, size = _template(int(flags), int(plen))
        out = tpl.render(
            rows.size,
            {
                "ip.src": p.src[rows].astype(np.uint32),
                "ip.dst": p.dst[rows].astype(np.uint32),
                "l4.sport": p.sport[rows].astype(np.uint16),
                "tcp.seq": (p.seq[rows] & 0xFFFFFFFF).astype(np.uint32),
                "tcp.ack": (p.ack[rows] & 0xFFFFFFFF).astype(np.uint32),
            },
        )
        pieces.append(out.reshape(-1))
        offsets[rows] = at + np.arange(rows.size, dtype=np.int64) * size
        caplen[rows] = size
        at += rows.size * size
    pieces.append(np.zeros(PAD, np.uint8))
    data = np.concatenate(pieces)
    return FrameBatch(
        data=data,
        offsets=offsets,
        caplen=caplen,
        wirelen=caplen.copy(),
        ts_ns=p.ts.copy(),
        linktype=np.full(n, LINKTYPE_ETHERNET, np.uint16),
        sample_interval=np.ones(n, np.uint32),
    )


def batches(p: Packets, size: int = 65536) -> Iterator[FrameBatch]:
    p = p.sorted()
    for lo in range(0, len(p), size):
        yield frames(p.take(np.arange(lo, min(lo + size, len(p)))))


def syn_flood(
    n: int, t0: int, pps: int, rng: np.random.Generator, dst: int = SERVER_NET + 10
) -> Packets:
    """``n`` SYNs from distinct random sources (spoofed, one packet per 4-tuple)."""
    src = rng.choice(1 << 31, n, replace=False).astype(np.int64) + (1 << 30)
    ts = t0 + np.arange(n, dtype=np.int64) * SECOND // pps
    return Packets(
        src=src,
        dst=np.full(n, dst, np.int64),
        sport=rng.integers(1024, 65536, n),
        flags=np.full(n, SYN, np.int64),
        seq=rng.integers(0, 1 << 32, n),
        ack=np.zeros(n, np.int64),
        plen=np.zeros(n, np.int64),
        ts=ts,
    )


def ack_flood(n: int, t0: int, pps: int, rng: np.random.Generator) -> Packets:
    """``n`` spoofed ACKs with random numbers (out of state)."""
    p = syn_flood(n, t0, pps, rng)
    p.flags[:] = ACK
    p.ack = rng.integers(0, 1 << 32, n)
    return p


def connections(
    n: int, t0: int, span: int, data_packets: int, rng: np.random.Generator, plen: int = 100
) -> Packets:
    """``n`` complete connections starting within ``span`` ns: handshake, data, FIN, last ACK.

    Connection ``i`` comes from 10.x.y.z (unique) port 30000+i%30000, to one of 64 servers.
    """
    src = (10 << 24) + np.arange(n, dtype=np.int64) * 7 + 1
    sport = 30000 + np.arange(n, dtype=np.int64) % 30000
    dst = SERVER_NET + 1 + np.arange(n, dtype=np.int64) % 64
    isn = rng.integers(0, 1 << 32, n)
    sisn = rng.integers(0, 1 << 32, n)
    start = t0 + rng.integers(0, max(span, 1), n)
    rtt = 20_000_000
    parts: list[Packets] = []

    def add(flags: int, seq: I64, ack: I64, size: int, ts: I64) -> None:
        parts.append(
            Packets(
                src,
                dst,
                sport,
                np.full(n, flags, np.int64),
                seq,
                ack,
                np.full(n, size, np.int64),
                ts,
            )
        )

    add(SYN, isn, np.zeros(n, np.int64), 0, start)
    add(ACK, isn + 1, sisn + 1, 0, start + rtt)
    for k in range(data_packets):
        add(ACK | PSH, isn + 1 + k * plen, sisn + 1 + k * 1000, plen, start + rtt * (2 + k))
    end_seq = isn + 1 + data_packets * plen
    server_end = sisn + 1 + data_packets * 1000
    add(FIN | ACK, end_seq, server_end, 0, start + rtt * (2 + data_packets))
    add(ACK, end_seq + 1, server_end + 1, 0, start + rtt * (3 + data_packets))
    out = Packets.concat(parts)
    out.seq &= 0xFFFFFFFF
    out.ack &= 0xFFFFFFFF
    return out


def handshakes(n: int, t0: int, rng: np.random.Generator) -> tuple[Packets, Packets]:
    """``n`` connections opened at ``t0`` (SYN, then the completing ACK 20 ms later), and a
    template of one data packet per connection (its ``ts`` to be set by the caller)."""
    src = (10 << 24) + np.arange(n, dtype=np.int64) * 7 + 1
    sport = 30000 + np.arange(n, dtype=np.int64) % 30000
    dst = SERVER_NET + 1 + np.arange(n, dtype=np.int64) % 64
    isn = rng.integers(0, 1 << 32, n)
    sisn = rng.integers(0, 1 << 32, n)
    z = np.zeros(n, np.int64)
    syn = Packets(src, dst, sport, np.full(n, SYN, np.int64), isn, z, z, np.full(n, t0, np.int64))
    ack = Packets(
        src,
        dst,
        sport,
        np.full(n, ACK, np.int64),
        (isn + 1) & 0xFFFFFFFF,
        (sisn + 1) & 0xFFFFFFFF,
        z,
        np.full(n, t0 + 20_000_000, np.int64),
    )
    data = Packets(
        src,
        dst,
        sport,
        np.full(n, ACK | PSH, np.int64),
        (isn + 1) & 0xFFFFFFFF,
        (sisn + 1) & 0xFFFFFFFF,
        np.full(n, 100, np.int64),
        z.copy(),
    )
    return Packets.concat([syn, ack]), data
