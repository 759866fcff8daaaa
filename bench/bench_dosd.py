"""dosd's cost per packet, beside the decoder's on the same batches (the baseline).

    .venv/bin/python bench/bench_dosd.py            # benign 1M packets, then 1M under attack
    .venv/bin/python bench/bench_dosd.py --pps 500000 --packets 2000000

Captures come from ``netlogpush.scenarios`` (``benign-mixed`` for the benign run, and
``udp-flood``, ``ntp-reflection`` and ``carpet-bombing`` with the same background for runs
under attack), at ``--pps`` background packets per second, read back from pcap in the
pipeline's batches. Each batch is decoded once (timed: the baseline), then dosd's
``process`` is timed alone over all batches, twice with a fresh system each time (the
second run is reported: imports and first calls are warm).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

if os.environ.get("MALLOC_TOP_PAD_") is None:
    # glibc's malloc returns freed arenas to the OS eagerly; Python-heavy loops then pay for
    # page faults. The pipeline's CLI sets the same (see context notes).
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.execv(sys.executable, [sys.executable, *sys.argv])

from netlogpush.decode import decode
from netlogpush.mitigation.dosd import DosdConfig, DosdSystem
from netlogpush.mitigation.firewall import PacketView
from netlogpush.mitigation.stage import StageInput
from netlogpush.scenarios.catalog import write_scenario
from netlogpush.sources.pcap import iter_batches


def load(path: Path) -> tuple[list[StageInput], float, int]:
    inputs = []
    decode_s = 0.0
    n = 0
    for frames in iter_batches(path):
        t0 = time.perf_counter()
        pc = decode(frames)
        decode_s += time.perf_counter() - t0
        inputs.append(StageInput(pc, PacketView.from_columns(pc), pc.recordable.copy()))
        n += len(pc)
    return inputs, decode_s, n


def time_dosd(inputs: list[StageInput]) -> tuple[float, DosdSystem]:
    best = 0.0
    system = DosdSystem(DosdConfig())
    for _ in range(2):
        system = DosdSystem(DosdConfig())
        t0 = time.perf_counter()
        for inp in inputs:
            system.process(inp)
        best = time.perf_counter() - t0
    return best, system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pps", type=float, default=500_000.0, help="background packets/s")
    ap.add_argument("--packets", type=int, default=1_000_000, help="about this many per run")
    ap.add_argument(
        "scenarios",
        nargs="*",
        default=["benign-mixed", "udp-flood", "ntp-reflection", "carpet-bombing"],
    )
    args = ap.parse_args()
    duration = args.packets / args.pps
    print(
        f"{'scenario':16s} {'packets':>9s} {'decode ns/pkt':>14s} {'dosd ns/pkt':>12s} {'dosd Mpps':>10s}  mitigations"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.scenarios:
            path = Path(tmp) / f"{name}.pcap"
            attack = name.startswith("benign") is False
            write_scenario(
                name,
                path,
                duration_s=duration,
                benign_pps=args.pps,
                attack_start_s=duration * 0.25 if attack else None,
                attack_duration_s=duration * 0.5 if attack else None,
                snaplen=256,
            )
            inputs, decode_s, n = load(path)
            dosd_s, system = time_dosd(inputs)
            mitigations = (
                ", ".join(sorted({m.rule.slug for m in [*system.ended, *system.active]})) or "-"
            )
            print(
                f"{name:16s} {n:9d} {decode_s / n * 1e9:14.0f} {dosd_s / n * 1e9:12.0f} "
                f"{n / dosd_s / 1e6:10.2f}  {mitigations}"
            )
            path.unlink()


if __name__ == "__main__":
    main()
