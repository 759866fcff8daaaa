"""The full path on one core: decode, dosd, flowtrackd, magic-firewall (50 rules), sampling, records.

A 1M-packet capture of benign traffic with a UDP flood in it, read into memory first, then
pushed through ``Pipeline`` in the Magic Transit profile, inline, with dynamic sampling.
Baseline in the same run: the decoder alone, and the pipeline with no mitigation (magic-firewall
passing everything), so the cost of the systems shows as a ratio.

    .venv/bin/python bench/bench_pipeline.py [--packets 1000000]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

if (
    "MALLOC_TOP_PAD_" not in os.environ
):  # glibc trimming makes the numbers noisy (docs/performance.md)
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.execv(sys.executable, [sys.executable, *sys.argv])

from netlogpush.config import Settings
from netlogpush.decode import decode
from netlogpush.decode.frames import FrameBatch
from netlogpush.pipeline import Pipeline, pipeline_from_settings
from netlogpush.scenarios.catalog import write_scenario
from netlogpush.sources.pcap import iter_batches

CACHE = Path(tempfile.gettempdir()) / "netlogpush-bench"


def firewall_rules(count: int) -> list[dict[str, object]]:
    """Rules of the kinds people write: blocked networks, closed ports, protocols, sizes."""
    shapes = [
        "ip.src in {{ 198.18.{k}.0/24 198.19.{k}.0/25 }} and tcp.dstport in {{ 22 23 3389 }}",
        'ip.proto eq "udp" and udp.dstport eq {port} and ip.len gt 1200',
        "ip.dst eq 203.0.113.{k} and tcp.flags.syn and not tcp.flags.ack and tcp.dstport ne 443",
        'ip.src.country in {{"KP" "XX"}} and ip.proto eq "icmp" and icmp.type eq {k}',
        "ip.ttl lt 3 and ip.dst in {{ 192.0.2.0/24 }} and udp.srcport in {{ {port}..{port_end} }}",
    ]
    rules = []
    for i in range(count):
        k = i % 250 + 1
        expression = shapes[i % len(shapes)].format(k=k, port=1000 + i, port_end=1010 + i)
        rules.append({"expression": expression, "action": "block" if i % 3 else "log"})
    rules.append({"expression": "tcp.dstport in { 80 443 }", "action": "skip"})
    return rules[:count]


def load(scenario: str, packets: int) -> list[FrameBatch]:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{scenario}-{packets}.pcap"
    if not path.exists():
        if scenario == "udp-flood":
            # 10k pps benign, then a 100k pps flood from the first second on.
            seconds = packets / 110_000 + 1
            write_scenario(
                "udp-flood",
                path,
                seed=1,
                duration_s=seconds,
                attack_start_s=1.0,
                attack_duration_s=seconds - 1,
            )
        else:  # benign traffic only: every system sees every packet
            write_scenario(scenario, path, seed=1, duration_s=packets / 50_000, benign_pps=50_000)
    return list(iter_batches(path))


def timed(label: str, batches: list[FrameBatch], run: object) -> float:
    n = sum(len(b) for b in batches)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        run(batches)  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    print(f"  {label:<58} {n / best:>12,.0f} packets/s  ({best:.2f} s)")
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--scenario", action="append", help="udp-flood (default) and benign-mixed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the no-database notice is expected here
    for scenario in args.scenario or ["udp-flood", "benign-mixed"]:
        run(scenario, load(scenario, args.packets))


def run(scenario: str, batches: list[FrameBatch]) -> None:
    n = sum(len(b) for b in batches)
    print(f"{scenario} scenario, {n:,} packets, in memory; one core; best of 3")

    def decode_only(bs: list[FrameBatch]) -> None:
        for b in bs:
            decode(b)

    def passthrough(bs: list[FrameBatch]) -> None:
        pipeline = Pipeline(sample_interval=100, seed=1)
        for b in bs:
            pipeline.process(b)

    settings = Settings.model_validate(
        {
            "customer_prefixes": ["203.0.113.0/24", "192.0.2.0/24"],
            "sampling": {"seed": 1},
            "mitigation": {
                "mode": "inline",
                "flowtrackd": {"prefixes": [{"prefix": "203.0.113.0/24"}]},
                "firewall": {"ruleset": {"rules": firewall_rules(50)}},
            },
        }
    )
    stats: dict[str, object] = {}

    def full(bs: list[FrameBatch]) -> None:
        pipeline = pipeline_from_settings(settings)
        for b in bs:
            pipeline.process(b)
        stats.update(pipeline.stats.systems)

    base = timed("decode only", batches, decode_only)
    timed("decode + magic-firewall, no rules + 1/100 sampling + records", batches, passthrough)
    ours = timed("full path: dosd + flowtrackd + firewall (50 rules), inline", batches, full)
    print(f"  full path / decode only: {ours / base:.2f}x   (target: >= 500,000 packets/s)")
    for system, s in stats.items():
        print(f"    {system:<15} {s}")


if __name__ == "__main__":
    main()
