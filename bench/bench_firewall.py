"""Rule evaluation speed: 50 and 500 Magic Firewall rules over 1M decoded packets, one core.

    .venv/bin/python bench/bench_firewall.py [--packets 1000000] [--seed 1] [--repeat 3]
                                             [--rules 50,500] [--reference-packets 200]

Packets: the seeded mixed capture of ``netlogpush.scenarios.mixed`` (bench_decode.py's
cache under ``/tmp/netlogpush-bench/``), decoded once, with enrichment columns as the
enricher hands them over (object arrays of country strings, int64 ASNs, a constant colo).

Rules: seeded, shaped like Cloudflare's suggested rulesets: protocol + destination
prefix + port sets, reflection source ports, countries, a 10,000-entry IP list, SYN-only
tests, ICMP length limits, TTL and ``bit_slice`` payload tests. Like a real ruleset,
most packets match none of them, so every rule is evaluated for most packets.

Figures (best of ``--repeat``), each a rate in packets per second:
  * ``first_match``: a fresh ``PacketView`` per run (address extents and string
    factorization included), then the first matching rule of every packet;
  * the same with the string columns already factorized (as an enricher that hands over
    ``StringColumn`` codes would allow): the rules alone;
  * the same over the pcap reader's batches (about 26k packets each here);
  * baseline, same rules: each rule compiled alone and run on its own (no sharing of
    sub-expressions or derived columns between rules);
  * baseline, the per-packet reference interpreter on the first ``--reference-packets``.

Re-executes itself with ``MALLOC_TOP_PAD_`` set (docs/performance.md).
"""

from __future__ import annotations

import os
import sys

if os.environ.get("MALLOC_TOP_PAD_") is None:
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.execv(sys.executable, [sys.executable, *sys.argv])

import argparse
import ipaddress
import itertools
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from netlogpush.decode import FrameBatch, decode
from netlogpush.decode.columns import PacketColumns
from netlogpush.mitigation.firewall import CompiledRules, IpLists, PacketView, compile_expression
from netlogpush.mitigation.firewall.reference import evaluate
from netlogpush.sources.pcap import iter_batches

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_decode import cached_capture

COUNTRIES = ["US", "BR", "DE", "CN", "RU", "GB", "FR", "IN", "JP", "NL", "", "SG", "KR", "ZA"]
REFLECTION_PORTS = "{1900 11211 389 111 19 1194 3702 10001 20800 161 162 137 27005 520 0}"


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def enrichment(n: int, seed: int) -> dict[str, npt.NDArray[np.generic]]:
    rng = np.random.default_rng(seed)
    pool = np.array(COUNTRIES, dtype=object)
    return {
        "SourceCountry": pool[rng.integers(0, len(pool), n)],
        "DestinationCountry": pool[rng.integers(0, 3, n)],
        "SourceASN": rng.choice([13335, 15169, 4134, 3320, 16509, 0], n).astype(np.int64),
        "DestinationASN": np.full(n, 64500, np.int64),
        "ColoName": np.full(n, "sfo06", dtype=object),
    }


def ruleset(count: int, seed: int) -> list[str]:
    """``count`` rules from templates, with seeded prefixes, ports and values."""
    r = random.Random(seed)

    def net() -> str:
        return f"{r.randrange(1, 224)}.{r.randrange(256)}.{r.randrange(256)}.0/24"

    def ports(k: int) -> str:
        return " ".join(str(r.randrange(1, 65536)) for _ in range(k))

    templates: list[Callable[[], str]] = [
        lambda: (
            f'ip.proto eq "tcp" and ip.dst in {{{net()} {net()}}} and tcp.dstport in {{80 443 {ports(2)}}}'
        ),
        lambda: f"udp.srcport in {REFLECTION_PORTS}",
        lambda: f"tcp.srcport in {{21 0 3306}} and ip.dst in {{{net()}}}",
        lambda: "ip.src in $blocklist",
        lambda: (
            f'ip.src.country in {{"{r.choice(COUNTRIES[:10])}" "{r.choice(COUNTRIES[:10])}"}} and ip.proto eq "udp" and udp.dstport == {r.randrange(1, 65536)}'
        ),
        lambda: (
            f"tcp.flags.syn and not tcp.flags.ack and tcp.dstport in {{22 3389 {ports(1)}}} and ip.dst in {{{net()}}}"
        ),
        lambda: f'ip.proto eq "icmp" and icmp.type eq 8 and ip.len > {r.randrange(1000, 1500)}',
        lambda: (
            f"ip.dst in {{{net()}}} and udp.dstport in {{{r.randrange(1024, 60000)}..{r.randrange(60000, 65536)}}}"
        ),
        lambda: f"ip.ttl lt {r.randrange(1, 4)} and not ip.src in {{{net()}}}",
        lambda: (
            f'bit_slice("udp", 64, 72) == {r.randrange(256)} and udp.dstport == {r.randrange(1, 65536)}'
        ),
        lambda: f'ip.geoip.country eq "{r.choice(COUNTRIES[:10])}" and ip.dst in {{{net()}}}',
        lambda: (
            f"(ip.src.asnum == {r.randrange(1, 65000)} or ip.src.asnum == {r.randrange(1, 65000)}) and tcp.dstport == {r.randrange(1, 65536)}"
        ),
    ]
    return [templates[k % len(templates)]() for k in range(count)]


def blocklist(seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [str(ipaddress.IPv4Network((int(x) << 8, 24))) for x in rng.integers(0, 1 << 24, 10_000)]


def load(path: Path) -> tuple[PacketColumns, list[PacketColumns]]:
    """The capture decoded as one batch, and as the reader's batches."""
    batches = list(iter_batches(path))
    starts = np.cumsum([0] + [b.data.shape[0] for b in batches])
    whole = FrameBatch(
        data=np.concatenate([b.data for b in batches]),
        offsets=np.concatenate([b.offsets + s for b, s in zip(batches, starts, strict=False)]),
        caplen=np.concatenate([b.caplen for b in batches]),
        wirelen=np.concatenate([b.wirelen for b in batches]),
        ts_ns=np.concatenate([b.ts_ns for b in batches]),
        linktype=np.concatenate([b.linktype for b in batches]),
        sample_interval=np.concatenate([b.sample_interval for b in batches]),
    )
    return decode(whole), [decode(b) for b in batches]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rules", default="50,500")
    ap.add_argument("--reference-packets", type=int, default=200)
    args = ap.parse_args()
    cpu = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {cpu})

    path = cached_capture(args.packets, args.seed)
    pc, parts = load(path)
    n = len(pc)
    extra = enrichment(n, args.seed)
    lists = IpLists({"blocklist": blocklist(args.seed)})

    t_view = best(lambda: PacketView.from_columns(pc, extra), args.repeat)
    print(f"capture: {path.name}, {n} packets; pinned to CPU {cpu}; best of {args.repeat}")
    print(f"PacketView.from_columns: {t_view * 1e3:.0f} ms ({n / t_view / 1e6:.1f} M packets/s)\n")
    print(f"{'rules':>5s}  {'what':52s} {'seconds':>8s} {'packets/s':>12s} {'vs ours':>8s}")
    for count in (int(c) for c in args.rules.split(",")):
        measure(count, args, pc, parts, extra, lists)
    return 0


def measure(
    count: int,
    args: argparse.Namespace,
    pc: PacketColumns,
    parts: list[PacketColumns],
    extra: dict[str, npt.NDArray[np.generic]],
    lists: IpLists,
) -> None:
    n = len(pc)
    offsets = np.cumsum([0] + [len(p) for p in parts])
    part_extra = [{k: v[a:b] for k, v in extra.items()} for a, b in itertools.pairwise(offsets)]
    texts = ruleset(count, args.seed)
    t0 = time.perf_counter()
    rules = CompiledRules(texts, lists)
    t_compile = time.perf_counter() - t0
    matched = float(np.mean(rules.first_match(PacketView.from_columns(pc, extra)) >= 0))

    def ours() -> None:
        rules.first_match(PacketView.from_columns(pc, extra))

    ready = PacketView.from_columns(pc, extra)
    for column in ("SourceCountry", "DestinationCountry", "ColoName"):
        ready.string_column(column)  # factorized once, as an enricher handing codes would

    def rules_only() -> None:
        rules.first_match(ready)

    def batched() -> None:
        for part, ex in zip(parts, part_extra, strict=True):
            rules.first_match(PacketView.from_columns(part, ex))

    alone = [compile_expression(text, lists) for text in texts]

    def unshared() -> None:
        view = PacketView.from_columns(pc, extra)
        for rule in alone:
            rule.evaluate(view)

    m = min(args.reference_packets, n)
    sample = ready.rows(0, m)

    def reference() -> None:
        for rule in rules.rules:
            evaluate(rule.tree, sample, lists)

    rows = [
        (f"first_match, one batch of {n}", n, best(ours, args.repeat)),
        ("first_match, string columns already factorized", n, best(rules_only, args.repeat)),
        (f"first_match, batches of {len(parts[0])}", n, best(batched, args.repeat)),
        ("baseline: rules compiled alone, nothing shared", n, best(unshared, 1)),
        (f"baseline: per-packet reference, first {m}", m, best(reference, 1)),
    ]
    base = rows[0][1] / rows[0][2]
    for label, k, secs in rows:
        rate = k / secs
        print(f"{count:5d}  {label:52s} {secs:8.3f} {rate:12,.0f} {rate / base:7.2f}x")
    print(
        f"       compile {t_compile * 1e3:.0f} ms; {rules.shared_subexpressions} shared "
        f"sub-expressions; {matched:.1%} of packets match a rule\n"
    )


if __name__ == "__main__":
    sys.exit(main())
