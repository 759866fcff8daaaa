"""flowtrackd speed: packets/s of ``FlowtrackdSystem.process`` on a 1M-packet mix under attack.

    .venv/bin/python tests/mitigation/flowtrackd/bench_flowtrackd.py [--packets 1000000]
                                                                     [--repeat 3] [--seed 1]

The mix (seeded): complete legitimate connections (handshake, 20 data packets, FIN, last
ACK) to 64 protected servers, under a SYN flood and an ACK flood from a million spoofed
sources, in 65,536-packet batches, every packet TCP to the protected /24; rules in
``enabled`` mode at medium sensitivity. Decoding and ``PacketView`` construction happen
before timing (they are shared by the three systems); the figure is ``process`` alone.

Baseline in the same run: the tracker alone (``Tracker.process`` on pre-extracted columns),
and one pass of ``np.argsort`` over the batch's 64-bit keys, the floor for any sort-based
grouping. Re-executes itself with ``MALLOC_TOP_PAD_`` set (docs/performance.md).
"""

from __future__ import annotations

import os
import sys

if os.environ.get("MALLOC_TOP_PAD_") is None:
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import argparse
import time
from pathlib import Path

import numpy as np

# The workload builder is shared with the flowtrackd tests.
sys.path.insert(
    0, str(Path(__file__).resolve().parent.parent / "tests" / "mitigation" / "flowtrackd")
)

from workload import SECOND, Packets, ack_flood, batches, connections, syn_flood

from netlogpush.decode.engine import decode
from netlogpush.mitigation.firewall.view import PacketView
from netlogpush.mitigation.flowtrackd import FlowtrackdConfig, FlowtrackdSystem
from netlogpush.mitigation.stage import StageInput


def build(n: int, seed: int) -> list[StageInput]:
    rng = np.random.default_rng(seed)
    per_conn = 24
    legit = connections(int(n * 0.5) // per_conn, 0, 4 * SECOND, 20, rng)
    rest = n - len(legit)
    mix = Packets.concat(
        [
            legit,
            syn_flood(rest * 6 // 10, SECOND // 2, 300_000, rng),
            ack_flood(rest - rest * 6 // 10, SECOND, 300_000, rng),
        ]
    )
    out = []
    for fb in batches(mix):
        pc = decode(fb)
        out.append(StageInput(pc, PacketView.from_columns(pc), np.ones(len(pc), np.bool_)))
    return out


def config() -> FlowtrackdConfig:
    return FlowtrackdConfig.model_validate(
        {
            "prefixes": [{"prefix": "192.0.2.0/24"}],
            "syn_protection": {"rules": [{"mode": "enabled"}]},
            "tcp_flow_protection": {"rules": [{"mode": "enabled"}]},
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    inputs = build(args.packets, args.seed)
    total = sum(len(i.packets) for i in inputs)
    best = best_sort = float("inf")
    for _ in range(args.repeat):
        system = FlowtrackdSystem(config())
        t = time.perf_counter()
        drops = 0
        for item in inputs:
            drops += int(system.process(item).drop.sum())
        best = min(best, time.perf_counter() - t)
        t = time.perf_counter()
        for item in inputs:
            np.argsort(
                item.packets.get("TCPSequenceNumber").astype(np.uint64)
                * np.uint64(0x9E3779B97F4A7C15),
                kind="stable",
            )
        best_sort = min(best_sort, time.perf_counter() - t)
    counters = system.counters()
    print(f"packets: {total:,} in {len(inputs)} batches; verdict drops {drops:,}")
    print(
        f"flowtrackd process: {total / best / 1e3:,.0f} k packets/s ({best / total * 1e9:.0f} ns/packet)"
    )
    print(f"baseline, argsort of 64-bit keys alone: {best_sort / total * 1e9:.0f} ns/packet")
    print(f"state memory: {system.memory_bytes / 2**20:.1f} MiB (fixed)")
    print("counters:", dict(counters))


if __name__ == "__main__":
    main()
