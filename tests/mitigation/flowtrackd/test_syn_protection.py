"""SYN flood protection: challenges above the threshold, and what answering one looks like.

Thresholds here: rate 10 SYN/s, burst 5 packets. Eight SYNs at the same instant fill the
bucket to 5 with the fifth; the sixth to eighth are over (the level after them exceeds 5).
"""

from __future__ import annotations

from collections.abc import Mapping

from atp_support import (
    ALWAYS,
    MS,
    NEVER,
    SECOND,
    P,
    dropped,
    passed,
    run,
    system,
)

from netlogpush.mitigation.flowtrackd import FlowtrackdSystem
from netlogpush.testing.packets import ACK, FIN, PSH, SYN

LOW = {"rate_sensitivity": 10, "burst_sensitivity": 5}


def syn_system(
    mode: str = "enabled", oos: Mapping[str, object] | None = None, **tracker: object
) -> FlowtrackdSystem:
    return system(
        syn_protection={"rules": [{"mode": mode, **LOW}]},
        tcp_flow_protection={"rules": [{"mode": "enabled", **(oos or ALWAYS)}]},
        tracker=tracker,
    )


def flood(n: int = 8, t: int = 0, flags: int = SYN) -> list[P]:
    """``n`` SYNs from 10.0.0.1..n (port 1000), ISN 100·i, all at time ``t``."""
    return [P(flags, seq=100 * i, src=f"10.0.0.{i}", sport=1000, t=t) for i in range(1, n + 1)]


def test_syns_over_the_threshold_are_challenged() -> None:
    assert (
        run(syn_system(), flood()) == [passed("NEW")] * 5 + [dropped("NEW", "CHALLENGE_NEEDED")] * 3
    )


def test_syn_ack_floods_are_challenged_too() -> None:
    assert (
        run(syn_system(), flood(flags=SYN | ACK))
        == [passed("NEW")] * 5 + [dropped("NEW", "CHALLENGE_NEEDED")] * 3
    )


def test_answering_the_challenge() -> None:
    s = syn_system()
    c8 = {"src": "10.0.0.8", "sport": 1000}
    c7 = {"src": "10.0.0.7", "sport": 1000}
    c6 = {"src": "10.0.0.6", "sport": 1000}
    packets = [
        *flood(),
        # 10.0.0.8 is a real client: it answers with the ACK of its handshake (ISN 800 + 1).
        P(ACK, seq=801, ack=1, t=10 * MS, **c8),  # type: ignore[arg-type]
        P(ACK | PSH, seq=801, ack=1, payload=b"GET /", t=20 * MS, **c8),  # type: ignore[arg-type]
        # 10.0.0.7 was spoofed: the flooder's follow-up does not match the ISN.
        P(ACK, seq=5, ack=1, t=21 * MS, **c7),  # type: ignore[arg-type]
        # The real client closes, then opens a new connection on the same 4-tuple while the
        # flood goes on: verified, it is not challenged again.
        P(FIN | ACK, seq=806, ack=1, t=30 * MS, **c8),  # type: ignore[arg-type]
        P(ACK, seq=807, ack=2, t=40 * MS, **c8),  # type: ignore[arg-type]
        P(SYN, seq=9000, t=50 * MS, **c8),  # type: ignore[arg-type]
        # 10.0.0.6 never answered: its retransmitted SYN is challenged again.
        P(SYN, seq=600, t=60 * MS, **c6),  # type: ignore[arg-type]
    ]
    assert run(s, packets) == [
        *[passed("NEW")] * 5,
        *[dropped("NEW", "CHALLENGE_NEEDED")] * 3,
        dropped("OPEN", "CHALLENGE_PASSED"),
        passed("OPEN"),
        dropped("NEW", "OUT_OF_SEQUENCE"),
        passed("CLOSING"),
        passed("CLOSED"),
        passed("NEW"),
        dropped("NEW", "CHALLENGE_NEEDED"),
    ]
    counters = s.counters()
    assert counters["CHALLENGE_NEEDED"] == 4
    assert counters["CHALLENGE_PASSED"] == 1


def test_monitoring_mode_drops_in_the_verdict_only() -> None:
    c8 = {"src": "10.0.0.8", "sport": 1000}
    packets = [*flood(), P(ACK, seq=801, ack=1, t=10 * MS, **c8)]  # type: ignore[arg-type]
    assert run(syn_system("monitoring"), packets) == [
        *[passed("NEW")] * 5,
        *[dropped("NEW", "CHALLENGE_NEEDED", enforce=False)] * 3,
        dropped("OPEN", "CHALLENGE_PASSED", enforce=False),
    ]


def test_disabled_syn_protection_never_challenges() -> None:
    c8 = {"src": "10.0.0.8", "sport": 1000}
    packets = [*flood(), P(ACK, seq=801, ack=1, t=10 * MS, **c8)]  # type: ignore[arg-type]
    assert run(syn_system("disabled"), packets) == [passed("NEW")] * 8 + [passed("OPEN")]


def test_rate_below_the_threshold_is_not_challenged() -> None:
    # 10 SYN/s sustained for 3 s: the bucket drains as fast as it fills.
    packets = [
        P(SYN, seq=i, src=f"10.0.{i // 200}.{i % 200 + 1}", t=i * SECOND // 10) for i in range(30)
    ]
    assert run(syn_system(), packets) == [passed("NEW")] * 30


def test_mitigation_ends_when_the_flood_stops() -> None:
    # 100 SYNs at t=0 fill the bucket to its cap, 5 + hold·rate = 15 (hold 1 s). It drains at
    # 10/s: at 1.05 s the level after a SYN is 15 - 10.5 + 1 = 5.5 (over); at 1.25 s it
    # is 5.5 - 2 + 1 = 4.5 (under).
    s = syn_system(hold_seconds=1)
    packets = [
        *flood(100),
        P(SYN, seq=1, src="10.1.0.1", t=1050 * MS),
        P(SYN, seq=1, src="10.1.0.2", t=1250 * MS),
    ]
    out = run(s, packets)
    assert out[-2:] == [dropped("NEW", "CHALLENGE_NEEDED"), passed("NEW")]


def test_each_destination_has_its_own_threshold() -> None:
    packets = [*flood(), P(SYN, seq=1, dst="192.0.2.11", src="10.9.9.9")]
    assert run(syn_system(), packets)[-1] == passed("NEW")


def test_challenge_state_is_kept_while_out_of_state_protection_is_off() -> None:
    # SYN protection decides about challenges on its own; the answer is CHALLENGE_PASSED even
    # when out-of-state protection never drops.
    c8 = {"src": "10.0.0.8", "sport": 1000}
    packets = [*flood(), P(ACK, seq=801, ack=1, t=10 * MS, **c8)]  # type: ignore[arg-type]
    assert run(syn_system(oos=NEVER), packets)[-1] == dropped("OPEN", "CHALLENGE_PASSED")
