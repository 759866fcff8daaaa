"""Named scenarios (``netlogpush generate --scenario NAME``) and the function that writes them.

Every attack scenario is benign background traffic with one attack on top, starting at a
known time; the capture comes with its ground truth (:mod:`netlogpush.scenarios.truth`).
Benign scenarios are the background alone, for false-positive runs. Everything is drawn
from one seeded generator, so a name, a seed and the same parameters give the same bytes.

The background for attacks mixes three sources at ``benign_pps`` packets per second: half
the varied capture of :mod:`netlogpush.scenarios.mixed` (without its malformed frames, so
that the truth is clean), 35 % web and 15 % DNS and NTP traffic
(:mod:`netlogpush.scenarios.benign`) to and from the very hosts the attacks hit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from netlogpush.scenarios import benign as B
from netlogpush.scenarios import mixed as M
from netlogpush.scenarios.attacks import VECTORS, AttackContext, Vector, render
from netlogpush.scenarios.streams import (
    NS,
    U32,
    Block,
    PcapScenarioWriter,
    RateProfile,
    Records,
    addr4,
    block_window,
    sort_block,
    split_records,
)
from netlogpush.scenarios.truth import (
    ATTACK,
    DNS,
    MIXED,
    STREAMS,
    VICTIM_WEB,
    WEB,
    Truth,
    truth_path,
)

#: Packet time is cut into windows of this length; one window of frames is in memory.
WINDOW_NS = NS


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named recipe. Durations and rates are defaults that ``write_scenario`` can change."""

    name: str
    description: str
    vector: str | None = None  # a key of ``attacks.VECTORS``; None: benign only
    victim: str = "203.0.113.10"  # an address, or a prefix for carpet bombing
    background: tuple[float, float, float] = (0.5, 0.35, 0.15)  # mixed, web, DNS shares
    malformed: float = 0.0  # share of malformed frames in the mixed part
    victim_web_pps: float = 0.0  # legitimate web traffic to the victim on top
    duration_s: float = 30.0
    attack_start_s: float = 8.0
    attack_duration_s: float = 16.0
    ramp_s: float = 0.0
    attack_pps: float | None = None  # None: the vector's default

    @property
    def attack(self) -> Vector | None:
        return VECTORS[self.vector] if self.vector else None


def _attack(name: str, vector: str, text: str, victim: str = "203.0.113.10",
            **kw: Any) -> Scenario:
    return Scenario(name, text, vector=vector, victim=victim, **kw)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("benign-web", "Web traffic only: HTTPS/HTTP from Linux, Windows and macOS "
             "clients, long downloads, resets, QUIC, IPv6.", background=(0.0, 1.0, 0.0)),
    Scenario("benign-dns", "DNS and NTP only: queries to the customer's name server, the "
             "customer resolver's lookups (answers from port 53, some 1 kB DNSSEC), NTP "
             "time sync (answers from port 123).", background=(0.0, 0.0, 1.0)),
    Scenario("benign-mixed", "The varied mixed capture (TCP, UDP, DNS, ICMP, GRE tunnels, "
             "IPv6, VLANs, benign fragments, 2 % malformed frames).",
             background=(1.0, 0.0, 0.0), malformed=0.02),
    _attack("udp-flood", "udp-flood", "Spoofed UDP flood at random ports of one web server, "
            "512-1400 byte junk payloads, 100k pps."),
    _attack("syn-flood", "syn-flood", "Spoofed SYN flood at port 443 of a web server (bare "
            "and option-carrying SYNs), 80k pps."),
    _attack("synack-reflection", "synack-reflection", "SYN-ACKs from 8000 web/SSH servers "
            "(ports 80, 443, 22) at a web server that never sent SYNs, 50k pps."),
    _attack("ack-flood", "ack-flood", "Spoofed ACK flood (bare and with 512-byte payload) at "
            "port 443, 80k pps."),
    _attack("rst-flood", "rst-flood", "Spoofed RST and RST-ACK flood at port 443, 50k pps."),
    _attack("icmp-flood", "icmp-flood", "Spoofed ICMP echo request flood, 56- and 1472-byte "
            "payloads, 50k pps."),
    _attack("gre-flood", "gre-flood", "GRE flood (Mirai greip: GRE/IPv4/UDP, 512-byte "
            "payload) at a GRE tunnel endpoint, 30k pps.", victim="192.0.2.1"),
    _attack("dns-amplification", "dns-amplification", "ANY responses of 1.2-1.45 kB from "
            "6000 open resolvers (port 53) at the customer's resolver, which also gets "
            "legitimate answers, 40k pps.", victim=B.RESOLVER),
    _attack("dns-query-flood", "dns-query-flood", "Random-subdomain queries for *.example.com "
            "through 3000 open resolvers at the customer's authoritative server, which also "
            "answers legitimate queries, 30k pps.", victim=B.AUTH_DNS),
    _attack("ntp-reflection", "ntp-reflection", "NTP monlist responses (440-byte payloads) "
            "from 3000 servers' port 123 at the resolver host, which also syncs its clock, "
            "40k pps.", victim=B.RESOLVER),
    _attack("ssdp-reflection", "ssdp-reflection", "SSDP search responses from 5000 home "
            "routers' port 1900, 40k pps.", victim="203.0.113.11"),
    _attack("memcached-reflection", "memcached-reflection", "Memcached UDP get responses "
            "(1400-byte datagrams) from 1500 servers' port 11211, 20k pps.",
            victim="203.0.113.12"),
    _attack("chargen-reflection", "chargen-reflection", "CHARGEN responses (370-1036 bytes) "
            "from 800 hosts' port 19, 30k pps.", victim="203.0.113.20"),
    _attack("fragment-flood", "fragment-flood", "Spoofed IPv4 fragments of 2 kB UDP "
            "datagrams (first and trailing fragments, never complete), 40k pps."),
    _attack("carpet-bombing", "udp-flood", "Spoofed UDP flood spread over every address of "
            "203.0.113.0/24 (~390 pps per host, 100k pps in all).", victim="203.0.113.0/24"),
    _attack("slow-ramp", "udp-flood", "UDP flood whose rate rises linearly from 0 to 100k "
            "pps over 30 s, then holds.", victim="203.0.113.11", duration_s=50.0,
            attack_start_s=5.0, attack_duration_s=40.0, ramp_s=30.0),
    _attack("syn-flood-hidden", "syn-flood-lookalike", "Spoofed SYNs shaped like Linux "
            "clients' (30k pps) hidden among legitimate clients that complete handshakes and "
            "exchange data with the same server (6k pps of them).", victim_web_pps=6000.0),
)}  # fmt: skip

ATTACK_SCENARIOS: tuple[str, ...] = tuple(n for n, s in SCENARIOS.items() if s.vector)
BENIGN_SCENARIOS: tuple[str, ...] = tuple(n for n, s in SCENARIOS.items() if not s.vector)


@dataclass(slots=True)
class ScenarioSummary:
    """What ``write_scenario`` wrote."""

    name: str
    path: Path
    truth_path: Path
    seed: int
    packets: int
    attack_packets: int
    start_ns: int  # the scenario's clock start (attack times are relative to it)
    end_ns: int  # just after the last packet
    attack_start_ns: int  # 0 for a benign scenario
    attack_end_ns: int
    vector: str  # Cloudflare's name of the vector; "" for a benign scenario
    victims: tuple[str, ...]
    description: str
    by_stream: dict[str, int] = field(default_factory=dict)
    parameters: dict[str, float] = field(default_factory=dict)


def _victims(spec: str) -> U32:
    if "/" in spec:
        net = ipaddress.ip_network(spec)
        return np.asarray([int(h) for h in net.hosts()], np.uint32)
    return np.asarray([addr4(spec)], np.uint32)


def write_scenario(
    name: str,
    path: str | Path,
    *,
    seed: int = 1,
    duration_s: float | None = None,
    attack_start_s: float | None = None,
    attack_duration_s: float | None = None,
    benign_pps: float = 10_000.0,
    attack_pps: float | None = None,
    ramp_s: float | None = None,
    snaplen: int | None = None,
    start_ns: int = M.DEFAULT_START_NS,
) -> ScenarioSummary:
    """Write scenario ``name`` (a key of :data:`SCENARIOS`) to ``path`` and its ground truth
    to ``<path>.truth.npz``.

    Unset durations and rates take the scenario's defaults. ``snaplen`` cuts frames to that
    many bytes (keeping their wire length), which keeps captures of large-packet floods small.
    """
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)}")
    sc = SCENARIOS[name]
    sc = replace(
        sc,
        duration_s=sc.duration_s if duration_s is None else duration_s,
        attack_start_s=sc.attack_start_s if attack_start_s is None else attack_start_s,
        attack_duration_s=sc.attack_duration_s if attack_duration_s is None else attack_duration_s,
        ramp_s=sc.ramp_s if ramp_s is None else ramp_s,
        attack_pps=sc.attack_pps if attack_pps is None else attack_pps,
    )
    if sc.duration_s <= 0 or benign_pps < 0 or sc.attack_start_s < 0 or sc.attack_duration_s < 0:
        raise ValueError("durations and rates must not be negative (and duration positive)")
    if sc.vector and sc.attack_start_s >= sc.duration_s:
        raise ValueError(
            f"the attack starts at {sc.attack_start_s} s, after the {sc.duration_s} s capture ends"
        )
    if snaplen is not None and snaplen < 64:
        raise ValueError("snaplen must be at least 64 bytes, to keep the headers")
    out = Path(path)
    rng = np.random.default_rng(seed)
    t0 = start_ns
    t1 = start_ns + int(sc.duration_s * NS)

    records, blocks = _background(sc, rng, benign_pps, t0, t1 - t0, snaplen)
    vector = sc.attack
    profile: RateProfile | None = None
    ctx: AttackContext | None = None
    if vector is not None:
        a0 = t0 + int(sc.attack_start_s * NS)
        a1 = min(t1, a0 + int(sc.attack_duration_s * NS))
        pps = vector.pps if sc.attack_pps is None else sc.attack_pps
        profile = RateProfile(a0, a1, pps, int(sc.ramp_s * NS))
        ctx = AttackContext(rng, _victims(sc.victim), vector.port)

    last = max([t1, *(int(b.ts_ns[-1]) + 1 for b in blocks if len(b)),
                *(int(r.ts_ns[-1]) + 1 for r in records if len(r))])
    writer = PcapScenarioWriter.open(out, snaplen)
    try:
        for w0 in range(t0, last, WINDOW_NS):
            w1 = w0 + WINDOW_NS
            window = [block_window(b, w0, w1) for b in blocks]
            if vector is not None and profile is not None and ctx is not None:
                window += _attack_window(vector, ctx, profile, w0, w1)
            writer.write(window, [r.window(w0, w1) for r in records])
    finally:
        stream, ts = writer.close()
    attack = stream == ATTACK
    at = ts[attack]
    truth = Truth(
        scenario=name, stream=stream, ts_ns=ts, vector=vector.name if vector else "",
        attack_start_ns=int(at[0]) if at.size else 0,
        attack_end_ns=int(at[-1]) + 1 if at.size else 0,
        victims=(sc.victim,) if vector else (), seed=seed,
    )  # fmt: skip
    tp = truth_path(out)
    truth.save(tp)
    counts = np.bincount(stream, minlength=len(STREAMS))
    return ScenarioSummary(
        name=name, path=out, truth_path=tp, seed=seed, packets=len(truth),
        attack_packets=int(attack.sum()),
        start_ns=t0, end_ns=int(ts[-1]) + 1 if ts.size else t1,
        attack_start_ns=truth.attack_start_ns, attack_end_ns=truth.attack_end_ns,
        vector=truth.vector, victims=truth.victims, description=sc.description,
        by_stream={STREAMS[i]: int(c) for i, c in enumerate(counts) if c},
        parameters={
            "duration_s": sc.duration_s, "benign_pps": benign_pps,
            "attack_start_s": sc.attack_start_s if vector else 0.0,
            "attack_duration_s": sc.attack_duration_s if vector else 0.0,
            "attack_pps": (profile.pps if profile else 0.0), "ramp_s": sc.ramp_s,
        },
    )  # fmt: skip


def _background(
    sc: Scenario, rng: np.random.Generator, pps: float, t0: int, dur: int, snaplen: int | None
) -> tuple[list[Records], list[Block]]:
    """The benign streams over the whole duration (small beside an attack), time-sorted."""
    seconds = dur / NS
    shares = np.asarray(sc.background, np.float64)
    shares = shares / shares.sum() if shares.sum() else shares
    records: list[Records] = []
    blocks: list[Block] = []
    n_mixed = int(np.rint(pps * seconds * shares[0]))
    if n_mixed:
        blob, _ = M.generate(
            n_mixed, int(rng.integers(1 << 31)), malformed=sc.malformed, start_ns=t0,
            rate_pps=max(pps * shares[0], 1.0),
        )
        records.append(split_records(blob, MIXED, snaplen))
    for share, stream, kinds in (
        (shares[1], WEB, B.web_kinds()),
        (shares[2], DNS, B.dns_kinds()),
    ):
        if share > 0:
            blocks += B.conversations(kinds, int(np.rint(pps * seconds * share)), rng, t0, dur,
                                      stream)
    if sc.victim_web_pps > 0:
        blocks += B.conversations(B.web_kinds((sc.victim,)), int(sc.victim_web_pps * seconds),
                                  rng, t0, dur, VICTIM_WEB)
    return records, [sort_block(b) for b in blocks if len(b)]


def _attack_window(
    vector: Vector, ctx: AttackContext, profile: RateProfile, w0: int, w1: int
) -> Sequence[Block]:
    ts = profile.arrivals(ctx.rng, w0, w1)
    n = int(ts.shape[0])
    if not n:
        return []
    groups = render(vector, ctx, n)
    # Template batches come out one after the other; spread them over the arrival times.
    order = ctx.rng.permutation(n)
    out: list[Block] = []
    pos = 0
    for frames, wirelen in groups:
        m = frames.shape[0]
        out.append(Block(ATTACK, frames, np.sort(ts[order[pos : pos + m]]), wirelen))
        pos += m
    return out


def describe() -> list[tuple[str, str]]:
    """(name, description) of every scenario, benign first, for ``--help`` and docs."""
    return [(s.name, s.description) for s in SCENARIOS.values()]
