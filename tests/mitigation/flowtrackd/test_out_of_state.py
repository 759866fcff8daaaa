"""Out-of-state protection: tolerance below the threshold, drops above it, and its modes.

Thresholds here: rate 10 packets/s, burst 2. Out-of-state packets at one instant: the first
two fill the bucket to 2 and pass, from the third on the level is over 2 and they drop.
"""

from __future__ import annotations

from atp_support import MS, NEVER, PASS_NONE, SECOND, P, dropped, handshake, passed, run, system

from netlogpush.mitigation.flowtrackd import FlowtrackdSystem
from netlogpush.testing.packets import ACK, RST

LOW = {"rate_sensitivity": 10, "burst_sensitivity": 2}


def oos_system(mode: str = "enabled") -> FlowtrackdSystem:
    return system(
        syn_protection={"rules": [{"mode": "enabled", **NEVER}]},
        tcp_flow_protection={"rules": [{"mode": mode, **LOW}]},
    )


def ack_flood(n: int, t: int = 0, dst: str = "192.0.2.10") -> list[P]:
    return [P(ACK, seq=i, ack=i, src=f"10.0.0.{i}", dst=dst, t=t) for i in range(1, n + 1)]


def test_tolerated_below_the_threshold_dropped_above() -> None:
    assert run(oos_system(), ack_flood(5)) == [PASS_NONE] * 2 + [dropped("", "NOT_FOUND")] * 3


def test_out_of_state_packets_of_any_reason_count_towards_the_threshold() -> None:
    # One connection, then one packet of each out-of-state reason at one instant: the first
    # two pass (their state still logged), the rest drop.
    packets = [
        *handshake(),
        P(ACK, seq=1001 + (1 << 30), ack=5001, t=20 * MS),  # OUT_OF_SEQUENCE
        P(ACK | RST, seq=1001, ack=5001, t=20 * MS),
        P(ACK, seq=1001, ack=5001, payload=b"x", t=20 * MS),  # ALREADY_CLOSED
        P(ACK, seq=1, ack=1, sport=1, t=20 * MS),  # NOT_FOUND
        P(0, seq=1, sport=2, t=20 * MS),  # NOT_FOUND (no connection)
    ]
    assert run(oos_system(), packets) == [
        passed("NEW"),
        passed("OPEN"),
        passed("OPEN"),  # out of sequence, but only the first out-of-state packet
        passed("CLOSED"),
        passed("CLOSED"),  # already closed, the second
        dropped("", "NOT_FOUND"),
        dropped("", "NOT_FOUND"),
    ]


def test_monitoring_mode() -> None:
    assert (
        run(oos_system("monitoring"), ack_flood(4))
        == [PASS_NONE] * 2 + [dropped("", "NOT_FOUND", enforce=False)] * 2
    )


def test_disabled_mode_gives_no_verdicts() -> None:
    packets = [*handshake(), *ack_flood(6, t=20 * MS)]
    assert run(oos_system("disabled"), packets) == [passed("NEW"), passed("OPEN")] + [PASS_NONE] * 6


def test_each_destination_has_its_own_threshold() -> None:
    packets = [*ack_flood(4), *ack_flood(2, dst="192.0.2.11")]
    assert (
        run(oos_system(), packets)
        == [PASS_NONE] * 2 + [dropped("", "NOT_FOUND")] * 2 + [PASS_NONE] * 2
    )


def test_tolerance_returns_after_the_flood() -> None:
    # Default hold 5 s: the cap is 2 + 50 = 52; 60 packets fill it; it drains at 10/s and is
    # back under 2 after 5 s.
    packets = [*ack_flood(60), P(ACK, seq=1, ack=1, src="10.1.1.1", t=6 * SECOND)]
    out = run(oos_system(), packets)
    assert out[-2:] == [dropped("", "NOT_FOUND"), PASS_NONE]
