"""No mitigation on benign traffic: the ordinary mix, a busy server's burst, sampled input."""

from __future__ import annotations

import numpy as np
from dosd_traffic import WEB, benign, dns_clients, generate, run, web_clients

from netlogpush.mitigation.dosd import DosdSystem


def test_benign_mix_activates_nothing() -> None:
    traffic = generate(benign(0.0, 10.0), seed=11)
    system = DosdSystem()
    r = run(system, traffic)
    assert len(traffic.frames) > 20_000
    assert system.stats.activated == 0
    assert not r.drop.any() and not r.enforce.any()
    assert set(r.fields["AttackID"].tolist()) == {""}


def test_benign_burst_to_a_busy_server_activates_nothing() -> None:
    """A web server at 4,000 pps triples for 3 s (12,000 pps, 11,400 of them ACK-class,
    above the ACK flood threshold), and the DNS server goes from 400 to 3,400 queries/s.
    The traffic is diverse (client TTLs, windows, lengths), so no fingerprint but the
    coarsest carries the threshold rate, and that one has no evidence in it."""
    comps = [
        *benign(0.0, 10.0),
        web_clients(WEB, 3100, 0.0, 10.0, name="busy"),
        web_clients(WEB, 8000, 4.0, 7.0, name="burst"),
        dns_clients(3000, 4.0, 7.0),
    ]
    traffic = generate(comps, seed=12)
    system = DosdSystem()
    r = run(system, traffic)
    burst = (traffic.ts_s >= 4.0) & (traffic.ts_s < 7.0)
    assert burst.sum() / 3.0 > 14_000  # packets per second during the burst
    assert system.stats.activated == 0
    assert system.stats.analysed > 0  # the server was hot and analysed, and let through
    assert not r.drop.any()


def test_sampled_benign_input_activates_nothing() -> None:
    """sFlow-style input, 1 frame in 100 kept and weighted 100: rates are the wire's."""
    traffic = generate(benign(0.0, 10.0, scale=0.05), seed=13)
    system = DosdSystem()
    r = run(system, traffic, sample_interval=100)
    assert system.stats.activated == 0
    assert not r.drop.any()
    assert np.all(r.fields["RuleID"] == "")
