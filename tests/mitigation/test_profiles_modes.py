"""Profiles, ``systems:``, per-system switches, deployment modes, per-system sampling, and
the errors a bad mitigation configuration gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chain_support import MS, SECOND, Pkt, batch, by_system, flood_batch, pipeline, rows, settings

from netlogpush.config import SettingsError, load_settings
from netlogpush.decode import FrameBatch, FrameBatchBuilder
from netlogpush.mitigation.config import PROFILES, MitigationConfig
from netlogpush.mitigation.sampling import DOCUMENTED_RANGES, Sampler, SamplingPolicy
from netlogpush.pipeline import pipeline_from_settings
from netlogpush.testing import packets as P

TWO = [Pkt(t=0), Pkt(proto="udp", sport=5000, dport=53, payload=b"q" * 12, t=MS)]


def systems_per_packet(mitigation: dict[str, Any]) -> list[list[str]]:
    table = pipeline(mitigation).process(batch(TWO))
    out: dict[int, list[str]] = {}
    for r in rows(table, ("MitigationSystem",)):
        out.setdefault(r["t"], []).append(r["MitigationSystem"])
    return [out.get(p.t, []) for p in TWO]


# --- which systems run --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mitigation", "expected"),
    [
        ({}, ["dosd", "flowtrackd", "magic-firewall"]),  # magic_transit is the default
        ({"profile": "magic_transit"}, ["dosd", "flowtrackd", "magic-firewall"]),
        ({"profile": "magic_wan"}, ["magic-firewall"]),
        ({"profile": "spectrum"}, ["dosd"]),
        ({"profile": "spectrum", "systems": ["magic-firewall", "dosd"]}, ["dosd", "magic-firewall"]),
        ({"systems": ["flowtrackd"]}, ["flowtrackd"]),
        ({"flowtrackd": {"enabled": False}}, ["dosd", "magic-firewall"]),
        ({"dosd": {"enabled": False}, "firewall": {"enabled": False}}, ["flowtrackd"]),
        ({"profile": "magic_wan", "firewall": {"enabled": False}}, []),
        # enabled: true does not add a system its profile lacks (docs/mitigation.md)
        ({"profile": "spectrum", "flowtrackd": {"enabled": True}}, ["dosd"]),
    ],
)
def test_profiles_systems_and_switches(mitigation: dict[str, Any], expected: list[str]) -> None:
    config = MitigationConfig.model_validate(mitigation)
    assert list(config.enabled_systems()) == expected
    p = pipeline_from_settings(settings(mitigation))
    assert [s.system for s in p.chain.stages] == expected
    assert sorted(p.chain.samplers) == sorted(expected)
    # In Cloudflare's order; flowtrackd samples only TCP (the first packet), not the UDP one.
    assert systems_per_packet(mitigation) == [expected, [s for s in expected if s != "flowtrackd"]]


def test_profiles_are_the_seed_articles_table() -> None:
    assert PROFILES == {
        "magic_transit": ("dosd", "flowtrackd", "magic-firewall"),
        "magic_wan": ("magic-firewall",),
        "spectrum": ("dosd",),
    }


# --- inline and passive ----------------------------------------------------------------------

FIREWALL = {"ruleset": {"rules": [
    {"expression": "tcp.dstport eq 22", "action": "block"},
    {"expression": "tcp.dstport eq 23", "action": "log"},
]}}  # fmt: skip
THREE = [Pkt(dport=22, t=0), Pkt(dport=23, t=1), Pkt(dport=443, t=2)]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("inline", [("drop", "drop"), ("drop", "pass"), ("pass", "pass")]),  # log only: Outcome pass
        ("passive", [("drop", "pass"), ("drop", "pass"), ("pass", "pass")]),  # nothing is dropped
    ],
)
def test_outcome_is_the_verdict_inline_except_log_only_and_always_pass_passively(
    mode: str, expected: list[tuple[str, str]]
) -> None:
    table = pipeline({"profile": "magic_wan", "mode": mode, "firewall": FIREWALL}).process(batch(THREE))
    assert [(r["Verdict"], r["Outcome"]) for r in rows(table)] == expected


@pytest.mark.parametrize("mode", ["inline", "passive"])
def test_passive_mode_still_hides_would_be_drops_from_the_next_system(mode: str) -> None:
    p = pipeline({"mode": mode})
    p.process(flood_batch(0.0))
    benign = Pkt(t=int(1.2 * SECOND))
    table = p.process(flood_batch(0.5, extra=[benign]))
    systems = by_system(table)
    assert len(systems["dosd"]) == 1501
    assert systems["flowtrackd"] == systems["magic-firewall"] == [benign.t]
    outcome = "drop" if mode == "inline" else "pass"
    flood = [r for r in rows(table) if r["t"] != benign.t]
    assert {(r["MitigationSystem"], r["Verdict"], r["Outcome"]) for r in flood} == {("dosd", "drop", outcome)}
    assert p.chain.stats["dosd"].dropped == 1500  # dropped, or would have been (passive)


def test_log_only_systems_pass_the_packet_on_even_inline() -> None:
    """dosd with a log action and flowtrackd in monitoring mode: Verdict drop, Outcome
    pass, and the next system still sees the packet."""
    atp = {
        "prefixes": [{"prefix": "192.0.2.0/24"}],
        "tcp_flow_protection": {"rules": [{"mode": "monitoring", "rate_sensitivity": 0, "burst_sensitivity": 0}]},
    }
    p = pipeline({"mode": "inline", "dosd": {"rules": {"ntp-reflection": {"action": "log"}}}, "flowtrackd": atp})
    p.process(flood_batch(0.0))
    oos = Pkt(flags=P.ACK, sport=40001, seq=7, ack=9, t=int(1.2 * SECOND))  # no connection
    table = p.process(flood_batch(0.5, extra=[oos]))
    systems = by_system(table)
    assert len(systems["dosd"]) == len(systems["magic-firewall"]) == 1501
    assert systems["flowtrackd"] == [oos.t]  # the UDP flood is not flowtrackd's to inspect
    dosd_flood = {(r["Verdict"], r["Outcome"], r["AttackVector"]) for r in rows(table)
                  if r["MitigationSystem"] == "dosd" and r["t"] != oos.t}  # fmt: skip
    assert dosd_flood == {("drop", "pass", "NTP Reflection")}
    [flowtrackd_oos] = [r for r in rows(table) if r["MitigationSystem"] == "flowtrackd" and r["t"] == oos.t]
    assert (flowtrackd_oos["Verdict"], flowtrackd_oos["Outcome"], flowtrackd_oos["MitigationReason"]) == (
        "drop", "pass", "NOT_FOUND")  # fmt: skip


# --- sampling per system ------------------------------------------------------------------------


def test_fixed_intervals_per_system_times_the_sflow_rate() -> None:
    mitigation = {"sampling": {"dosd": {"interval": 1}, "flowtrackd": {"interval": 4},
                               "magic-firewall": {"interval": 8}}}  # fmt: skip
    p = pipeline(mitigation, interval=None)
    table = p.process(batch([Pkt(sport=1000 + i, t=i) for i in range(4000)], sample_interval=512))
    per_system: dict[str, set[int]] = {}
    counts: dict[str, int] = {}
    for r in rows(table, ("MitigationSystem", "SampleInterval")):
        per_system.setdefault(r["MitigationSystem"], set()).add(r["SampleInterval"])
        counts[r["MitigationSystem"]] = counts.get(r["MitigationSystem"], 0) + 1
    assert per_system == {"dosd": {512}, "flowtrackd": {2048}, "magic-firewall": {4096}}
    assert counts["dosd"] == 4000
    assert 1000 - 5 * 27 < counts["flowtrackd"] < 1000 + 5 * 27  # 5 sigma of Binomial(4000, 1/4)
    assert 500 - 5 * 21 < counts["magic-firewall"] < 500 + 5 * 21


def test_command_line_interval_fixes_every_system() -> None:
    s = settings({"sampling": {"dosd": {"interval": 3}}}, interval=None)
    p = pipeline_from_settings(s, sample_interval=7)
    assert {name: sampler.policy.interval for name, sampler in p.chain.samplers.items()} == {
        "dosd": 7, "flowtrackd": 7, "magic-firewall": 7}  # fmt: skip


def test_unset_sampling_is_dynamic_within_the_documented_ranges() -> None:
    p = pipeline_from_settings(settings(interval=None))
    got = {name: (s.policy.interval, s.policy.min_interval, s.policy.max_interval)
           for name, s in p.chain.samplers.items()}  # fmt: skip
    assert got == {name: (None, *DOCUMENTED_RANGES[name]) for name in ("dosd", "flowtrackd", "magic-firewall")}
    assert DOCUMENTED_RANGES == {"dosd": (100, 10_000), "flowtrackd": (1_000, 10_000),
                                 "magic-firewall": (100, 1_000_000)}  # fmt: skip


@pytest.mark.parametrize(
    ("system", "packets", "span_ns", "expected"),
    [
        ("dosd", 0, 0, 100),  # nothing: the smallest interval
        ("dosd", 1_000, SECOND, 100),  # 1,000 pps / 1,000 target = 1, clamped up to 100
        ("dosd", 2_000_000, SECOND, 2_000),
        ("dosd", 10**9, SECOND, 10_000),  # clamped down
        ("flowtrackd", 2_000_000, SECOND, 2_000),
        ("flowtrackd", 10_000, SECOND, 1_000),
        ("magic-firewall", 10**9, SECOND, 1_000_000),
        ("magic-firewall", 250_000, SECOND // 2, 500),  # 500,000 pps
        ("magic-firewall", 5, 0, 100),  # a zero span counts as 1 ms, not as infinite rate
    ],
)
def test_dynamic_interval_is_clamped_into_the_documented_range(
    system: str, packets: int, span_ns: int, expected: int
) -> None:
    assert Sampler(SamplingPolicy.documented(system)).interval_for(packets, span_ns) == expected


def dynamic_batch(n: int, sflow: int) -> FrameBatch:
    """``n`` packets spread over exactly one second (first to last)."""
    b = FrameBatchBuilder()
    for i in range(n):
        b.append(Pkt(sport=1000 + i % 60000).frame(), i * SECOND // (n - 1), P.LINKTYPE_ETHERNET,
                 sample_interval=sflow)  # fmt: skip
    return b.build()


@pytest.mark.parametrize(("n", "sflow", "expected"), [(2001, 1, 21), (2001, 10, 210), (20001, 1, 50)])
def test_dynamic_sample_interval_in_records(n: int, sflow: int, expected: int) -> None:
    """SampleInterval = the batch's dynamic interval × the exporter's rate. 2001 packets in 1 s
    at a target of 100 samples/s: ceil(2001 / 100) = 21; 20001: 201, clamped to 50."""
    mitigation = {"profile": "magic_wan",
                  "sampling": {"magic-firewall": {"min_interval": 1, "max_interval": 50,
                                                  "target_samples_per_second": 100}}}  # fmt: skip
    table = pipeline(mitigation, interval=None).process(dynamic_batch(n, sflow))
    assert set(table.column("SampleInterval").to_pylist()) == {expected}
    assert 0 < table.num_rows < n


# --- errors ------------------------------------------------------------------------------------


def load(tmp_path: Path, text: str) -> str:
    path = tmp_path / "netlogpush.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(path, environ={})
    return str(info.value)


BAD = {
    "syntax error in the second rule": (
        "mitigation:\n  firewall:\n    ruleset:\n      rules:\n"
        "        - expression: tcp.dstport eq 22\n"
        "        - expression: ip.src in {192.0.2.0/24 and tcp\n",
        "mitigation.firewall: Value error, magic_transit rule 2: 1:32: "
        "expected a value or '}', got the end of the expression",
    ),
    "type error": (
        "mitigation:\n  firewall:\n    ruleset:\n      rules:\n        - expression: udp.dstport eq \"x\"\n",
        "mitigation.firewall: Value error, magic_transit rule 1: 1:16: "
        "expected an integer after 'eq' for udp.dstport, got the string \"x\"",
    ),
    "unknown list": (
        "mitigation:\n  firewall:\n    ruleset:\n      rules:\n"
        "        - {expression: tcp.dstport eq 1}\n        - {expression: ip.src in $nope}\n",
        "magic_transit rule 2: 1:11: ",
    ),
    "bad action": (
        "mitigation:\n  firewall:\n    ruleset:\n      rules:\n"
        "        - {expression: tcp.dstport eq 22, action: allow}\n",
        "mitigation.firewall.ruleset.rules.0.action: Input should be 'block', 'skip' or 'log'",
    ),
    "bad list entry": (
        "mitigation:\n  firewall:\n    lists: {bad: [not-an-ip]}\n",
        "list $bad, entry 1: expected an IP address or CIDR in list $bad, got \"not-an-ip\"",
    ),
    "unknown profile": (
        "mitigation: {profile: magic_lan}\n",
        "mitigation.profile: Input should be 'magic_transit', 'magic_wan' or 'spectrum'",
    ),
    "unknown system": (
        "mitigation: {systems: [dosd, waf]}\n",
        "mitigation.systems.1: Input should be 'dosd', 'flowtrackd' or 'magic-firewall'",
    ),
    "unknown mode": ("mitigation: {mode: bridge}\n", "mitigation.mode: Input should be 'inline' or 'passive'"),
    "sampling range": (
        "mitigation: {sampling: {dosd: {min_interval: 50, max_interval: 10}}}\n",
        "mitigation.sampling.dosd: Value error, min_interval 50 is above max_interval 10",
    ),
    "override field": (
        "mitigation:\n  dosd:\n    overrides:\n      - expression: ip.src.country eq \"BR\"\n",
        "mitigation.dosd.overrides.0.expression: Value error, field(s) ip.src.country not allowed",
    ),
    "ATP filter field": (
        "mitigation:\n  flowtrackd:\n    syn_protection:\n      filters:\n"
        "        - {expression: ip.proto eq \"tcp\", mode: enabled}\n",
        "mitigation.flowtrackd.syn_protection.filters.0.expression: Value error, uses ip.proto; "
        "ATP filters may use only ip.src, ip.dst, tcp.srcport and tcp.dstport",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_configuration_errors_name_the_place_and_the_problem(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    message = load(tmp_path, text)
    assert message.startswith(f"invalid settings ({tmp_path / 'netlogpush.yaml'}):\n  ")
    assert expected in message, message


def test_a_managed_ruleset_written_briefly_is_the_managed_phase(tmp_path: Path) -> None:
    message = load(tmp_path, "mitigation:\n  firewall:\n    managed:\n      rules:\n"
                             "        - expression: udp.dstport eq \"x\"\n")  # fmt: skip
    assert "magic_transit_managed rule 1: 1:16" in message


def test_a_brief_managed_ruleset_has_its_own_ruleset_id(tmp_path: Path) -> None:
    path = tmp_path / "netlogpush.yaml"
    path.write_text("mitigation:\n  firewall:\n    managed:\n      rules:\n        - expression: udp.dstport eq 53\n")
    firewall = load_settings(path, environ={}).mitigation.firewall
    assert firewall.managed.phase == "magic_transit_managed"
    assert firewall.managed.id != firewall.ruleset.id
