"""Reloading settings into a running pipeline keeps what the systems learned.

The proofs compare a reloaded pipeline with a fresh one built from the same new settings:
the fresh one has to learn again (dosd detects anew, flowtrackd does not know the
connection), the reloaded one carries on.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from chain_support import MS, SECOND, Pkt, batch, by_system, flood_batch, rows, settings

from netlogpush.cli.collect import _drive
from netlogpush.cli.output import RecordWriter
from netlogpush.config import Settings
from netlogpush.decode import FrameBatch
from netlogpush.mitigation.dosd.system import DosdSystem
from netlogpush.mitigation.firewall.system import FirewallSystem
from netlogpush.mitigation.flowtrackd.system import FlowtrackdSystem
from netlogpush.mitigation.reload import Reloader, SettingsStore, reload_pipeline
from netlogpush.mitigation.sampling import Sampler
from netlogpush.pipeline import Pipeline, pipeline_from_settings
from netlogpush.testing import packets as P

FIREWALL_A = {"ruleset": {"rules": [{"expression": "tcp.dstport eq 22", "action": "block"}]}}
FIREWALL_B = {"ruleset": {"rules": [{"expression": "tcp.dstport eq 23", "action": "block"}]}}


def stage(p: Pipeline, system: str) -> Any:
    [found] = [s for s in p.chain.stages if s.system == system]
    return found


def dosd_flood_rows(table: Any, skip_t: int | None = None) -> set[tuple[str, str, str]]:
    return {(r["Verdict"], r["Outcome"], r["AttackID"]) for r in rows(table, ("MitigationSystem", "Verdict",
            "Outcome", "AttackID")) if r["MitigationSystem"] == "dosd" and r["t"] != skip_t}  # fmt: skip


# --- dosd ---------------------------------------------------------------------------------------


def test_a_dosd_mitigation_survives_a_reload_that_changes_a_firewall_rule() -> None:
    old = settings({"mode": "inline", "firewall": FIREWALL_A})
    new = settings({"mode": "inline", "firewall": FIREWALL_B})
    p = pipeline_from_settings(old)
    p.process(flood_batch(0.0))
    before = p.process(flood_batch(0.5, seed=2))
    [(_, _, attack_id)] = dosd_flood_rows(before)
    dosd = stage(p, "dosd")

    report = reload_pipeline(p, new, previous=old)
    assert (report.added, report.removed, report.reconfigured, report.rebuilt, report.unchanged) == (
        [], [], [], ["magic-firewall"], ["dosd", "flowtrackd"])  # fmt: skip
    assert report.enricher is False
    assert stage(p, "dosd") is dosd and len(dosd.active) == 1
    firewall = stage(p, "magic-firewall")
    assert isinstance(firewall, FirewallSystem) and firewall.config.ruleset.rules[0].expression == "tcp.dstport eq 23"

    ssh, telnet = Pkt(dport=22, t=int(1.4 * SECOND)), Pkt(dport=23, t=int(1.4 * SECOND) + 1)
    after = p.process(flood_batch(1.0, n=1000, seed=3, extra=[ssh, telnet]))
    # Every flood packet of the first batch after the reload is dropped, by the same mitigation.
    assert dosd_flood_rows(after, skip_t=None) - {("pass", "pass", "")} == {("drop", "drop", attack_id)}
    assert by_system(after)["magic-firewall"] == [ssh.t, telnet.t]
    fw = {r["t"]: r["Verdict"] for r in rows(after) if r["MitigationSystem"] == "magic-firewall"}
    assert fw == {ssh.t: "pass", telnet.t: "drop"}  # the new rule applies

    # A fresh pipeline with the new settings has to detect the flood first.
    fresh = pipeline_from_settings(new).process(flood_batch(1.0, n=1000, seed=3))
    assert {r["Verdict"] for r in rows(fresh) if r["MitigationSystem"] == "dosd"} == {"pass"}


def test_a_dosd_change_reconfigures_in_place_and_keeps_the_mitigation() -> None:
    old = settings({"profile": "spectrum", "mode": "inline"})
    override = {"id": "cd" * 16, "expression": "true",
                "action_parameters": {"overrides": {"categories": [{"category": "ntp", "action": "log"}]}}}  # fmt: skip
    new = settings({"profile": "spectrum", "mode": "inline", "dosd": {"overrides": [override]}})
    p = pipeline_from_settings(old)
    p.process(flood_batch(0.0))
    [(_, _, attack_id)] = dosd_flood_rows(p.process(flood_batch(0.5, seed=2)))
    dosd = stage(p, "dosd")
    report = reload_pipeline(p, new)
    assert report.reconfigured == ["dosd"]
    assert stage(p, "dosd") is dosd and dosd.config == new.mitigation.dosd
    after = p.process(flood_batch(1.0, n=1000, seed=3))
    got = {(r["Verdict"], r["Outcome"], r["AttackID"], r["RulesetOverrideID"]) for r in
           rows(after, ("Verdict", "Outcome", "AttackID", "RulesetOverrideID"))}  # fmt: skip
    assert got == {("drop", "pass", attack_id, "cd" * 16)}  # same attack, now log only


# --- flowtrackd ---------------------------------------------------------------------------------

ATP = {
    "prefixes": [{"prefix": "192.0.2.0/24"}],
    "syn_protection": {"rules": [{"mode": "enabled", "rate_sensitivity": 100_000_000,
                                  "burst_sensitivity": 100_000_000}]},
    "tcp_flow_protection": {"rules": [{"mode": "enabled", "rate_sensitivity": 0, "burst_sensitivity": 0}]},
}  # fmt: skip
HANDSHAKE = [Pkt(flags=P.SYN, seq=1000, t=0), Pkt(flags=P.ACK, seq=1001, ack=5001, t=10 * MS)]
DATA = [Pkt(flags=P.ACK | P.PSH, seq=1001, ack=5001, payload=b"GET /", t=2 * SECOND)]


def flowtrackd_rows(table: Any) -> list[tuple[str, str, str]]:
    return [(r["Verdict"], r["ProtocolState"], r["MitigationReason"]) for r in rows(table)
            if r["MitigationSystem"] == "flowtrackd"]  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        {"allowlist": [{"prefix": "203.0.113.0/24", "enabled": True}]},
        {"syn_protection": {"rules": [{"mode": "monitoring"}],
                            "filters": [{"expression": "tcp.dstport eq 22", "mode": "enabled"}]}},
        {"tracker": {"open_timeout": 3600}},
    ],
)  # fmt: skip
def test_open_connections_stay_open_across_a_reload(change: dict[str, Any]) -> None:
    old = settings({"mode": "inline", "flowtrackd": ATP})
    new = settings({"mode": "inline", "flowtrackd": ATP | change})
    p = pipeline_from_settings(old)
    assert flowtrackd_rows(p.process(batch(HANDSHAKE))) == [("pass", "NEW", ""), ("pass", "OPEN", "")]
    flowtrackd = stage(p, "flowtrackd")
    report = reload_pipeline(p, new, previous=old)
    assert report.reconfigured == ["flowtrackd"]
    assert stage(p, "flowtrackd") is flowtrackd and flowtrackd.config == new.mitigation.flowtrackd
    assert flowtrackd_rows(p.process(batch(DATA))) == [("pass", "OPEN", "")]
    # Without the state, the same packet is out of state.
    assert flowtrackd_rows(pipeline_from_settings(new).process(batch(DATA))) == [("drop", "", "NOT_FOUND")]


def test_a_new_table_size_starts_the_table_afresh() -> None:
    # flowtrackd's documented exception: a new capacity needs a new table.
    old = settings({"mode": "inline", "flowtrackd": ATP})
    new = settings({"mode": "inline", "flowtrackd": ATP | {"tracker": {"table_capacity": 1 << 12}}})
    p = pipeline_from_settings(old)
    p.process(batch(HANDSHAKE))
    reload_pipeline(p, new)
    assert flowtrackd_rows(p.process(batch(DATA))) == [("drop", "", "NOT_FOUND")]


# --- systems, samplers, mode, stats ---------------------------------------------------------------


def test_profile_changes_add_and_remove_systems() -> None:
    p = pipeline_from_settings(settings({"mode": "inline"}))
    p.process(flood_batch(0.0))
    p.process(flood_batch(0.5, seed=2))
    dosd, firewall_sampler = stage(p, "dosd"), p.chain.samplers["magic-firewall"]
    assert len(dosd.active) == 1

    report = reload_pipeline(p, settings({"profile": "magic_wan", "mode": "inline"}))
    assert (report.removed, report.unchanged) == (["dosd", "flowtrackd"], ["magic-firewall"])
    assert [s.system for s in p.chain.stages] == ["magic-firewall"]
    assert list(p.chain.samplers) == ["magic-firewall"] and p.chain.samplers["magic-firewall"] is firewall_sampler

    report = reload_pipeline(p, settings({"mode": "inline"}))
    assert report.added == ["dosd", "flowtrackd"]
    assert [s.system for s in p.chain.stages] == ["dosd", "flowtrackd", "magic-firewall"]
    assert isinstance(stage(p, "dosd"), DosdSystem) and stage(p, "dosd") is not dosd
    assert stage(p, "dosd").active == []  # a system the profile dropped comes back fresh
    assert isinstance(stage(p, "flowtrackd"), FlowtrackdSystem)


def sampled(p: Pipeline, frames: FrameBatch) -> dict[str, list[int]]:
    return by_system(p.process(frames))


def test_samplers_keep_their_random_sequence() -> None:
    a = pipeline_from_settings(settings({"firewall": FIREWALL_A}, interval=3, seed=11))
    b = pipeline_from_settings(settings({"firewall": FIREWALL_A}, interval=3, seed=11))
    first, second = batch([Pkt(sport=1000 + i, t=i) for i in range(3000)]), batch(
        [Pkt(sport=5000 + i, t=10**6 + i) for i in range(3000)])  # fmt: skip
    assert sampled(a, first) == sampled(b, first)
    samplers = dict(a.chain.samplers)
    reload_pipeline(a, settings({"firewall": FIREWALL_B}, interval=3, seed=11))
    assert all(a.chain.samplers[name] is sampler for name, sampler in samplers.items())
    assert sampled(a, second) == sampled(b, second)  # not restarted from the seed

    # A new interval changes the policy, and the draws continue from the same generator.
    reload_pipeline(a, settings({"firewall": FIREWALL_B}, interval=5, seed=11))
    reference = Sampler(3, seed=0)
    reference._rng = np.random.default_rng(np.random.SeedSequence(11).spawn(3)[2])  # magic-firewall's stream
    reference.select(3000, 3)
    reference.select(3000, 3)
    expected = (10**6 + 3000 + np.flatnonzero(reference.select(3000, 5))).tolist()
    third = batch([Pkt(sport=9000 + i, t=10**6 + 3000 + i) for i in range(3000)])
    got = sampled(a, third)["magic-firewall"]
    assert got == expected
    assert {r["SampleInterval"] for r in rows(a.process(third))} == {5}


def test_mode_changes_and_stats_keep_counting() -> None:
    p = pipeline_from_settings(settings({"profile": "magic_wan", "mode": "passive", "firewall": FIREWALL_A}))
    stats = p.stats.systems
    ssh = [Pkt(dport=22, t=0)]
    assert [r["Outcome"] for r in rows(p.process(batch(ssh)))] == ["pass"]
    reload_pipeline(p, settings({"profile": "magic_wan", "mode": "inline", "firewall": FIREWALL_A}))
    assert [r["Outcome"] for r in rows(p.process(batch(ssh)))] == ["drop"]
    assert p.stats.systems is stats
    assert (stats["magic-firewall"].packets, stats["magic-firewall"].verdict_drops, stats["magic-firewall"].dropped) == (2, 2, 2)  # passive: would-be drops count


def test_enrichment_is_rebuilt_only_when_its_settings_change() -> None:
    old = settings({"profile": "magic_wan"}, site={"name": "ams01"})
    p = pipeline_from_settings(old)
    enricher = p.enricher
    assert reload_pipeline(p, settings({"profile": "magic_wan", "firewall": FIREWALL_B}, site={"name": "ams01"}),
                           previous=old).enricher is False  # fmt: skip
    assert p.enricher is enricher
    assert reload_pipeline(p, settings({"profile": "magic_wan"}, site={"name": "fra01"}), previous=old).enricher
    assert p.process(batch([Pkt()])).column("ColoName").to_pylist() == ["fra01"]


def test_a_failed_reload_changes_nothing(tmp_path: Path) -> None:
    old = settings({"profile": "spectrum"})
    p = pipeline_from_settings(old)
    dosd, config = stage(p, "dosd"), stage(p, "dosd").config
    broken = settings({"profile": "magic_transit", "dosd": {"rules": {"udp-flood": {"action": "log"}}}},
                      databases=[tmp_path / "missing.mmdb"])  # fmt: skip
    with pytest.raises(ValueError, match=r"missing\.mmdb: no such file"):
        reload_pipeline(p, broken, previous=old)
    assert [s.system for s in p.chain.stages] == ["dosd"]
    assert stage(p, "dosd") is dosd and dosd.config is config


# --- Reloader and SettingsStore -------------------------------------------------------------------


def test_reloader_applies_the_newest_request_between_batches() -> None:
    base = settings({"profile": "magic_wan", "firewall": FIREWALL_A})
    p = pipeline_from_settings(base)
    reloader = Reloader(p, base)
    assert reloader.apply_pending() is None
    threads = [threading.Thread(target=reloader.request, args=(settings({"profile": "magic_wan", "firewall": fw}),))
               for fw in (FIREWALL_B,)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reloader.request(settings({"profile": "magic_wan", "mode": "inline", "firewall": FIREWALL_B}))
    report = reloader.apply_pending()
    assert report is not None and report.rebuilt == ["magic-firewall"]
    assert p.chain.mode == "inline" and reloader.apply_pending() is None
    assert stage(p, "magic-firewall").config.ruleset.rules[0].expression == "tcp.dstport eq 23"


def test_settings_store_changes_are_whole_and_ordered() -> None:
    seen: list[str] = []
    store = SettingsStore(settings(), on_change=lambda s: seen.append(f"first {s.mitigation.mode}"))
    store.subscribe(lambda s: seen.append(f"second {s.mitigation.mode}"))
    before = store.current

    def refuse(s: Settings) -> Settings:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        store.update(refuse)
    assert store.current is before and seen == []
    new = store.replace(settings({"mode": "inline"}))
    assert store.current is new and seen == ["first inline", "second inline"]


# --- SIGHUP ------------------------------------------------------------------------------------


class CountingPipeline(Pipeline):
    """A real pipeline that counts batches and can signal itself in the middle of one."""

    def __init__(self, p: Pipeline) -> None:
        super().__init__(chain=p.chain, enricher=p.enricher)
        self.batches = 0
        self.hup_during: set[int] = set()

    def process(self, frames: FrameBatch) -> Any:
        self.batches += 1
        if self.batches in self.hup_during:
            os.kill(os.getpid(), signal.SIGHUP)  # handled at the next bytecode: mid-batch
        return super().process(frames)


def test_drive_reloads_on_sighup_between_batches_never_during_one(tmp_path: Path) -> None:
    p = CountingPipeline(pipeline_from_settings(settings({"profile": "magic_wan"})))
    p.hup_during = {2}
    reloads: list[int] = []

    def source() -> Iterator[FrameBatch]:
        yield batch([Pkt(t=0)])
        os.kill(os.getpid(), signal.SIGHUP)  # while the source waits: applied at once
        yield batch([Pkt(t=1)])
        yield batch([Pkt(t=2)])

    writer = RecordWriter(tmp_path / "out.ndjson", ["Datetime"], "unixnano")
    previous = signal.getsignal(signal.SIGHUP)
    with writer:
        _drive(source(), lambda: None, p, writer, lambda: reloads.append(p.batches))
    assert reloads == [1, 2]  # after batch 1 (source idle) and before batch 3 (signalled during 2)
    assert signal.getsignal(signal.SIGHUP) == previous
    assert len((tmp_path / "out.ndjson").read_bytes().splitlines()) == 3


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(stream: Any, text: bytes, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while text not in stream.readline():
        assert time.monotonic() < deadline and proc.poll() is None, f"no {text!r}"


def test_collect_sflow_reloads_its_settings_file_on_sighup(tmp_path: Path) -> None:
    from netlogpush.testing.sflow_encoder import FlowExporter

    config = tmp_path / "netlogpush.yaml"
    config.write_text("mitigation:\n  profile: magic_wan\n  firewall:\n    ruleset:\n      rules:\n"
                      "        - {expression: tcp.dstport eq 22, action: block}\n")  # fmt: skip
    port, out = _free_udp_port(), tmp_path / "out.ndjson"
    proc = subprocess.Popen(
        [sys.executable, "-m", "netlogpush", "collect", "sflow", "--host", "127.0.0.1", "--port", str(port),
         "-o", str(out), "-f", "DestinationPort,Verdict,RuleID", "-c", str(config)],
        stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    frame = P.ethernet(P.ipv4(P.tcp(sport=1, dport=22, flags=P.ACK), src="203.0.113.9", dst="192.0.2.1"),
                       ethertype=P.ETH_IPV4)  # fmt: skip

    def send_and_wait(lines: int) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for datagram in FlowExporter(sampling_rate=1).export([(frame, len(frame) + 4)]):
                s.sendto(datagram, ("127.0.0.1", port))
        while not out.exists() or len(out.read_bytes().splitlines()) < lines:
            assert time.monotonic() < deadline, "no record written"
            time.sleep(0.02)

    try:
        deadline = time.monotonic() + 30
        assert proc.stderr is not None
        _wait_for(proc.stderr, b"listening", proc, deadline)
        send_and_wait(1)
        config.write_text("mitigation:\n  profile: magic_wan\n  firewall:\n    ruleset:\n      rules:\n"
                          "        - {expression: tcp.dstport eq 23, action: block}\n")  # fmt: skip
        proc.send_signal(signal.SIGHUP)
        _wait_for(proc.stderr, b"reloaded settings", proc, deadline)
        send_and_wait(2)
        config.write_text("mitigation: {profile: nonsense}\n")
        proc.send_signal(signal.SIGHUP)
        _wait_for(proc.stderr, b"reload failed, settings unchanged", proc, deadline)
        send_and_wait(3)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()
    records = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [(r["DestinationPort"], r["Verdict"], bool(r["RuleID"])) for r in records] == [
        (22, "drop", True), (22, "pass", False), (22, "pass", False)]  # fmt: skip
