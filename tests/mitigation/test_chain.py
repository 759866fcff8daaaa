"""The chain: Cloudflare's order, what each system sees, and who samples what.

``Scripted`` is a stand-in system whose decisions the test states outright; it proves the
chain's bookkeeping exactly. The other tests run the real systems through the real pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from chain_support import (
    MS,
    SERVER,
    Pkt,
    batch,
    by_system,
    flood_batch,
    pipeline,
    rows,
    stage_input,
)

from netlogpush.decode import FrameBatchBuilder
from netlogpush.decode.columns import PacketColumns
from netlogpush.mitigation.chain import MitigationChain, Mode, SystemStats
from netlogpush.mitigation.sampling import Sampler
from netlogpush.mitigation.stage import SYSTEM_ORDER, Decision, MitigationSystem, StageInput
from netlogpush.testing import packets as P

ORDER = list(SYSTEM_ORDER)


@dataclass
class Scripted:
    """Drops the rows in ``drop`` (enforced unless also in ``log_only``), labels them, and
    records which packets reached it. It drops listed rows even when they are not active, so
    the chain has to mask them."""

    system: MitigationSystem
    drop: set[int]
    log_only: set[int] = field(default_factory=set)
    seen: list[list[int]] = field(default_factory=list)

    def process(self, batch: StageInput) -> Decision:
        n = len(batch.packets)
        self.seen.append(np.flatnonzero(batch.active).tolist())
        drop = np.isin(np.arange(n), sorted(self.drop))
        enforce = drop & ~np.isin(np.arange(n), sorted(self.log_only))
        label = np.where(drop, 0, -1).astype(np.int32)
        return Decision(drop, enforce, label, [{"RuleID": f"{self.system}-rule"}])


def six_packets_and_arp() -> tuple[PacketColumns, StageInput]:
    b = FrameBatchBuilder()
    for i in range(6):
        b.append(Pkt(sport=1000 + i, t=i).frame(), i, P.LINKTYPE_ETHERNET)
    b.append(P.ethernet(P.arp(), ethertype=P.ETH_ARP), 6, P.LINKTYPE_ETHERNET)  # not IP: no system sees it
    return stage_input(b.build())


def scripted_chain(mode: Mode) -> tuple[MitigationChain, list[Scripted]]:
    stages = [
        Scripted("dosd", {0, 1}),
        Scripted("flowtrackd", {0, 2, 3}, log_only={3}),  # 0 was dropped already
        Scripted("magic-firewall", {1, 4, 6}),  # 1 was dropped already, 6 is not IP
    ]
    samplers: dict[str, Sampler] = {s.system: Sampler(1, seed=0) for s in stages}
    return MitigationChain(stages, samplers, mode), stages


@pytest.mark.parametrize("mode", ["inline", "passive"])
def test_a_packet_dropped_by_one_system_is_not_seen_by_the_next(mode: Mode) -> None:
    chain, (dosd, flowtrackd, firewall) = scripted_chain(mode)
    pc, inp = six_packets_and_arp()
    samples = chain.run(pc, inp.view, inp.active)
    assert dosd.seen == [[0, 1, 2, 3, 4, 5]]
    assert flowtrackd.seen == [[2, 3, 4, 5]]  # dosd dropped 0 and 1
    assert firewall.seen == [[3, 4, 5]]  # flowtrackd dropped 2; 3 was only logged, so it passes on
    assert [s.system for s in samples] == ORDER
    assert [s.rows.tolist() for s in samples] == [[0, 1, 2, 3, 4, 5], [2, 3, 4, 5], [3, 4, 5]]
    assert [s.verdict_drop.tolist() for s in samples] == [
        [True, True, False, False, False, False],
        [True, True, False, False],
        [False, True, False],
    ]
    inline = mode == "inline"
    assert [s.outcome_drop.tolist() for s in samples] == [
        [inline, inline, False, False, False, False],
        [inline, False, False, False],  # row 3: log only, so Outcome pass even inline
        [False, inline, False],
    ]
    assert [s.labels["RuleID"].tolist() for s in samples] == [
        ["dosd-rule", "dosd-rule", "", "", "", ""],
        ["flowtrackd-rule", "flowtrackd-rule", "", ""],
        ["", "magic-firewall-rule", ""],
    ]
    assert chain.stats == {
        "dosd": SystemStats(packets=6, verdict_drops=2, dropped=2, samples=6),
        "flowtrackd": SystemStats(packets=4, verdict_drops=2, dropped=1, samples=4),
        "magic-firewall": SystemStats(packets=3, verdict_drops=1, dropped=1, samples=3),
    }


def test_each_system_samples_on_its_own_with_its_own_interval() -> None:
    stages = [Scripted("dosd", set()), Scripted("flowtrackd", set()), Scripted("magic-firewall", set())]
    samplers = {"dosd": Sampler(1, seed=0), "flowtrackd": Sampler(2, seed=1), "magic-firewall": Sampler(5, seed=2)}
    chain = MitigationChain(stages, samplers, "inline")
    pc, inp = stage_input([Pkt(sport=1000 + i, t=i) for i in range(2000)])
    samples = chain.run(pc, inp.view, inp.active)
    expected_flowtrackd = np.flatnonzero(Sampler(2, seed=1).select(2000, 2)).tolist()
    expected_firewall = np.flatnonzero(Sampler(5, seed=2).select(2000, 5)).tolist()
    assert [s.interval for s in samples] == [1, 2, 5]
    assert samples[0].rows.tolist() == list(range(2000))
    assert samples[1].rows.tolist() == expected_flowtrackd
    assert samples[2].rows.tolist() == expected_firewall
    assert len(expected_flowtrackd) != len(expected_firewall)  # independent choices


def test_three_samples_per_packet_at_interval_1_in_system_order() -> None:
    packets = [
        Pkt(t=0),
        Pkt(proto="udp", sport=5353, dport=53, payload=b"x" * 20, t=1 * MS),
        Pkt(proto="icmp", t=2 * MS),
        Pkt(flags=P.SYN, dport=80, t=3 * MS),
    ]
    table = pipeline().process(batch(packets))
    got = [(r["t"], r["MitigationSystem"], r["Verdict"], r["Outcome"], r["SampleInterval"]) for r in rows(table)]
    # flowtrackd inspects, and so samples, only TCP to the protected prefixes.
    assert got == [
        (p.t, system, "pass", "pass", 1)
        for p in packets
        for system in ORDER
        if system != "flowtrackd" or p.proto == "tcp"
    ]


def test_real_systems_dosd_drops_are_not_seen_by_flowtrackd_or_the_firewall() -> None:
    """An NTP reflection flood: dosd starts mitigating in the second batch; from then on
    the flood packets have a dosd sample only, while a benign packet still has three."""
    p = pipeline({
        "mode": "inline",
        "firewall": {"ruleset": {"rules": [{"expression": "udp.srcport eq 123", "action": "block"}]}},
    })
    first = p.process(flood_batch(0.0))
    # The flood is UDP: flowtrackd lets it through without inspecting (or sampling) it.
    assert {k: len(v) for k, v in by_system(first).items()} == {"dosd": 1500, "magic-firewall": 1500}
    assert {(r["MitigationSystem"], r["Verdict"]) for r in rows(first)} == {
        ("dosd", "pass"), ("magic-firewall", "drop")}  # fmt: skip

    benign = Pkt(dst=SERVER, t=int(1.2 * 1e9))
    second = p.process(flood_batch(0.5, extra=[benign]))
    systems = by_system(second)
    assert len(systems["dosd"]) == 1501
    assert systems["flowtrackd"] == systems["magic-firewall"] == [benign.t]
    dosd_rows = [r for r in rows(second) if r["MitigationSystem"] == "dosd" and r["t"] != benign.t]
    assert {(r["Verdict"], r["Outcome"], r["AttackVector"], r["MitigationReason"]) for r in dosd_rows} == {
        ("drop", "drop", "NTP Reflection", "BLOCKED")}  # fmt: skip
    assert p.chain.stats["dosd"].dropped == 1500
    assert p.chain.stats["magic-firewall"].packets == 1501  # 1500 flood packets of the first batch, 1 benign


def test_real_systems_flowtrackd_drops_are_not_seen_by_the_firewall() -> None:
    atp = {
        "prefixes": [{"prefix": "192.0.2.0/24"}],
        "syn_protection": {"rules": [{"mode": "enabled", "rate_sensitivity": 100_000_000,
                                      "burst_sensitivity": 100_000_000}]},
        "tcp_flow_protection": {"rules": [{"mode": "enabled", "rate_sensitivity": 0, "burst_sensitivity": 0}]},
    }  # fmt: skip
    p = pipeline({
        "mode": "inline",
        "flowtrackd": atp,
        "firewall": {"ruleset": {"rules": [{"expression": "tcp.dstport eq 443", "action": "log"}]}},
    })
    packets = [
        Pkt(flags=P.SYN, seq=1000, t=0),
        Pkt(flags=P.ACK, seq=1001, ack=5001, t=10 * MS),
        Pkt(flags=P.ACK, sport=40001, seq=7, ack=9, t=20 * MS),  # no connection: NOT_FOUND
    ]
    got = [(r["t"], r["MitigationSystem"], r["Verdict"], r["Outcome"], r["ProtocolState"], r["MitigationReason"])
           for r in rows(p.process(batch(packets)))]  # fmt: skip
    assert got == [
        (0, "dosd", "pass", "pass", "", ""),
        (0, "flowtrackd", "pass", "pass", "NEW", ""),
        (0, "magic-firewall", "drop", "pass", "", ""),
        (10 * MS, "dosd", "pass", "pass", "", ""),
        (10 * MS, "flowtrackd", "pass", "pass", "OPEN", ""),
        (10 * MS, "magic-firewall", "drop", "pass", "", ""),
        (20 * MS, "dosd", "pass", "pass", "", ""),
        (20 * MS, "flowtrackd", "drop", "drop", "", "NOT_FOUND"),
    ]
