"""The state machine, packet by packet: every state and every out-of-state reason.

Out-of-state protection is set to drop every out-of-state packet and SYN protection never to
challenge (``STRICT``), so each row shows the tracker's verdict directly.
"""

from __future__ import annotations

from atp_support import (
    MS,
    SECOND,
    STRICT,
    P,
    dropped,
    handshake,
    passed,
    run,
    system,
)

from netlogpush.testing.packets import ACK, FIN, PSH, RST, SYN

NF = dropped("", "NOT_FOUND")


def test_handshake_data_and_fin_close() -> None:
    s = system(**STRICT)
    packets = [
        *handshake(),
        P(ACK | PSH, seq=1001, ack=5001, payload=b"GET /", t=20 * MS),
        P(ACK, seq=1006, ack=5101, t=30 * MS),  # acknowledges 100 bytes of the response
        P(FIN | ACK, seq=1006, ack=5101, t=40 * MS),
        P(ACK, seq=1007, ack=5102, t=50 * MS),  # acknowledges the server's FIN
        P(ACK, seq=1007, ack=5102, t=60 * MS),  # the final ACK again
    ]
    assert run(s, packets) == [
        passed("NEW"),
        passed("OPEN"),
        passed("OPEN"),
        passed("OPEN"),
        passed("CLOSING"),
        passed("CLOSED"),
        passed("CLOSED"),
    ]
    counters = s.counters()
    assert counters["tracked"] == 7
    assert counters["NOT_FOUND"] == counters["OUT_OF_SEQUENCE"] == 0
    assert counters["ALREADY_CLOSED"] == counters["UNEXPECTED"] == 0


def test_data_or_fin_after_close_is_already_closed() -> None:
    packets = [
        *handshake(),
        P(FIN | ACK, seq=1001, ack=5001, t=20 * MS),
        P(ACK, seq=1002, ack=5002, t=30 * MS),
        P(ACK | PSH, seq=1002, ack=5002, payload=b"late", t=40 * MS),
        P(FIN | ACK, seq=1002, ack=5002, t=50 * MS),
        P(RST, seq=1002, t=60 * MS),  # an RST after the close is tolerated
    ]
    assert run(system(**STRICT), packets) == [
        passed("NEW"),
        passed("OPEN"),
        passed("CLOSING"),
        passed("CLOSED"),
        dropped("CLOSED", "ALREADY_CLOSED"),
        dropped("CLOSED", "ALREADY_CLOSED"),
        passed("CLOSED"),
    ]


def test_rst_closes_and_later_data_is_already_closed() -> None:
    packets = [
        *handshake(),
        P(RST | ACK, seq=1001, ack=5001, t=20 * MS),
        P(ACK | PSH, seq=1001, ack=5001, payload=b"x", t=30 * MS),
        P(RST, seq=1001, t=40 * MS),  # a repeated RST
        P(ACK, seq=1001, ack=5001, t=50 * MS),  # no final-ACK tolerance after an RST
    ]
    assert run(system(**STRICT), packets) == [
        passed("NEW"),
        passed("OPEN"),
        passed("CLOSED"),
        dropped("CLOSED", "ALREADY_CLOSED"),
        passed("CLOSED"),
        dropped("CLOSED", "ALREADY_CLOSED"),
    ]


def test_rst_in_new_and_out_of_window_rst() -> None:
    packets = [
        P(SYN, seq=1000),
        P(RST, seq=1000 + (1 << 25), t=1 * MS),  # far outside the window
        P(RST, seq=1001, t=2 * MS),
    ]
    assert run(system(**STRICT), packets) == [
        passed("NEW"),
        dropped("NEW", "OUT_OF_SEQUENCE"),
        passed("CLOSED"),
    ]


def test_packets_without_a_connection_are_not_found() -> None:
    packets = [
        P(ACK, seq=1, ack=2),
        P(ACK | PSH, seq=1, ack=2, payload=b"data", sport=40001),
        P(FIN | ACK, seq=1, ack=2, sport=40002),
        P(RST, seq=1, sport=40003),
        P(SYN | FIN, seq=1, sport=40004),  # invalid flags and no connection
        P(0, seq=1, sport=40005),  # null scan
    ]
    assert run(system(**STRICT), packets) == [NF] * 6


def test_sequence_and_acknowledgement_out_of_window() -> None:
    w = 1 << 24  # the default seq_window
    packets = [
        *handshake(),
        P(ACK, seq=1001 + w + 1, ack=5001, t=20 * MS),
        P(ACK, seq=(1001 - w - 1) % (1 << 32), ack=5001, t=21 * MS),
        P(ACK, seq=1001, ack=5001 + w + 1, t=22 * MS),
        P(ACK | PSH, seq=1001 + w, ack=5001, payload=b"ok", t=23 * MS),  # edge of the window
        # The maximum is now 1003 + w: 1003 is the window's lower edge, 1002 is beyond it.
        P(ACK, seq=1003, ack=5001, t=24 * MS),
        P(ACK, seq=1002, ack=5001, t=25 * MS),
    ]
    assert run(system(**STRICT), packets) == [
        passed("NEW"),
        passed("OPEN"),
        dropped("OPEN", "OUT_OF_SEQUENCE"),
        dropped("OPEN", "OUT_OF_SEQUENCE"),
        dropped("OPEN", "OUT_OF_SEQUENCE"),
        passed("OPEN"),
        passed("OPEN"),
        dropped("OPEN", "OUT_OF_SEQUENCE"),
    ]


def test_handshake_ack_must_follow_the_isn() -> None:
    packets = [
        P(SYN, seq=1000),
        P(ACK, seq=999, ack=5001, t=1 * MS),  # before ISN + 1
        P(ACK, seq=1000 + (1 << 24) + 2, ack=5001, t=2 * MS),  # too far after it
        P(ACK, seq=1001, ack=5001, t=3 * MS),
    ]
    assert run(system(**STRICT), packets) == [
        passed("NEW"),
        dropped("NEW", "OUT_OF_SEQUENCE"),
        dropped("NEW", "OUT_OF_SEQUENCE"),
        passed("OPEN"),
    ]


def test_unexpected_flags_and_syns() -> None:
    packets = [
        P(SYN, seq=1000),
        P(SYN | ACK, seq=7, ack=1001, t=1 * MS),  # a SYN-ACK on a client-opened connection
        P(ACK, seq=1001, ack=5001, t=2 * MS),
        P(SYN | FIN, seq=1001, t=3 * MS),
        P(SYN | RST, seq=1001, t=4 * MS),
        P(FIN, seq=1001, t=5 * MS),  # FIN without ACK
        P(SYN, seq=7777, t=6 * MS),  # a new ISN on an open connection
        P(SYN, seq=1000, t=7 * MS),  # the same SYN again: a duplicate
        P(ACK, seq=1001, ack=5001, t=8 * MS),
    ]
    assert run(system(**STRICT), packets) == [
        passed("NEW"),
        dropped("NEW", "UNEXPECTED"),
        passed("OPEN"),
        dropped("OPEN", "UNEXPECTED"),
        dropped("OPEN", "UNEXPECTED"),
        dropped("OPEN", "UNEXPECTED"),
        dropped("OPEN", "UNEXPECTED"),
        passed("OPEN"),
        passed("OPEN"),
    ]


def test_connection_opened_by_the_customer_starts_with_a_syn_ack() -> None:
    # The customer's SYN left by the other path; the remote end's SYN-ACK is the first
    # packet flowtrackd sees.
    packets = [
        P(SYN | ACK, seq=9000, ack=3001, sport=443, dport=50000),
        P(SYN | ACK, seq=9000, ack=3001, sport=443, dport=50000, t=1 * MS),  # retransmitted
        P(ACK | PSH, seq=9001, ack=3001, payload=b"hello", sport=443, dport=50000, t=2 * MS),
        P(SYN | ACK, seq=9000, ack=3001, sport=443, dport=50000, t=3 * MS),  # duplicate
        P(SYN, seq=9000, sport=443, dport=50000, t=4 * MS),
        P(ACK, seq=9006, ack=3001 + (1 << 25), sport=443, dport=50000, t=5 * MS),
    ]
    assert run(system(**STRICT), packets) == [
        passed("NEW"),
        passed("NEW"),
        passed("OPEN"),
        passed("OPEN"),
        dropped("OPEN", "UNEXPECTED"),
        dropped("OPEN", "OUT_OF_SEQUENCE"),
    ]


def test_closing_state() -> None:
    packets = [
        *handshake(),
        P(ACK | PSH, seq=1001, ack=5001, payload=b"abcd", t=20 * MS),
        P(FIN | ACK, seq=1005, ack=5001, t=30 * MS),
        P(ACK | PSH, seq=1001, ack=5001, payload=b"abcd", t=31 * MS),  # retransmitted data
        P(ACK | PSH, seq=1006, ack=5001, payload=b"more", t=32 * MS),  # data after the FIN
        P(FIN | ACK, seq=1005, ack=5001, t=33 * MS),  # the FIN again
        P(FIN | ACK, seq=1009, ack=5001, t=34 * MS),  # a FIN elsewhere
        P(ACK, seq=1006, ack=5001, t=35 * MS),  # acknowledges nothing new
        P(SYN, seq=1000, t=36 * MS),  # the connection's SYN again: a duplicate
        P(SYN, seq=4242, t=37 * MS),
        P(RST, seq=1006, t=38 * MS),
    ]
    assert run(system(**STRICT), packets) == [
        passed("NEW"),
        passed("OPEN"),
        passed("OPEN"),
        passed("CLOSING"),
        passed("CLOSING"),
        dropped("CLOSING", "OUT_OF_SEQUENCE"),
        passed("CLOSING"),
        dropped("CLOSING", "OUT_OF_SEQUENCE"),
        passed("CLOSING"),
        passed("CLOSING"),
        dropped("CLOSING", "UNEXPECTED"),
        passed("CLOSED"),
    ]


def test_fin_behind_data_already_seen_is_out_of_sequence() -> None:
    packets = [
        *handshake(),
        P(ACK | PSH, seq=1001, ack=5001, payload=b"abcdef", t=20 * MS),
        P(FIN | ACK, seq=1003, ack=5001, t=30 * MS),
    ]
    assert run(system(**STRICT), packets)[-1] == dropped("OPEN", "OUT_OF_SEQUENCE")


def test_entries_expire_by_packet_time() -> None:
    s = system(**STRICT, tracker={"new_timeout": 1, "open_timeout": 10, "closed_timeout": 2})
    packets = [
        P(SYN, seq=1000, sport=1),
        P(ACK, seq=1001, ack=5001, sport=1, t=1 * SECOND + 1),  # NEW lived 1 s
        *handshake(sport=2),
        P(ACK, seq=1001, ack=5001, sport=2, t=10 * SECOND),  # 9.99 s idle: still open
        P(ACK, seq=1001, ack=5001, sport=2, t=20 * SECOND + 1),  # just over 10 s idle
        *handshake(sport=3, t0=30 * SECOND),
        P(RST, seq=1001, sport=3, t=31 * SECOND),
        P(ACK | PSH, seq=1001, ack=5001, payload=b"x", sport=3, t=32 * SECOND),
        P(ACK | PSH, seq=1001, ack=5001, payload=b"x", sport=3, t=33 * SECOND + 1),
        P(SYN, seq=2000, sport=3, t=34 * SECOND),  # the 4-tuple is free again
    ]
    assert run(s, packets) == [
        passed("NEW"),
        NF,
        passed("NEW"),
        passed("OPEN"),
        passed("OPEN"),
        NF,
        passed("NEW"),
        passed("OPEN"),
        passed("CLOSED"),
        dropped("CLOSED", "ALREADY_CLOSED"),
        NF,
        passed("NEW"),
    ]


def test_new_connection_on_a_closed_tuple() -> None:
    packets = [
        *handshake(),
        P(RST, seq=1001, t=20 * MS),
        P(SYN, seq=90000, t=30 * MS),
        P(ACK, seq=90001, ack=1, t=40 * MS),
    ]
    assert run(system(**STRICT), packets) == [
        passed("NEW"),
        passed("OPEN"),
        passed("CLOSED"),
        passed("NEW"),
        passed("OPEN"),
    ]


def test_sequence_numbers_wrap_around() -> None:
    isn = (1 << 32) - 3
    packets = [
        P(SYN, seq=isn),
        P(ACK, seq=isn + 1, ack=1, t=1 * MS),
        P(ACK | PSH, seq=isn + 1, ack=1, payload=b"abcdefgh", t=2 * MS),  # crosses 2^32
        P(ACK | PSH, seq=(isn + 9) % (1 << 32), ack=1, payload=b"ij", t=3 * MS),
        P(FIN | ACK, seq=(isn + 11) % (1 << 32), ack=1, t=4 * MS),
        P(ACK, seq=(isn + 12) % (1 << 32), ack=2, t=5 * MS),
    ]
    assert run(system(**STRICT), packets) == [
        passed("NEW"),
        passed("OPEN"),
        passed("OPEN"),
        passed("OPEN"),
        passed("CLOSING"),
        passed("CLOSED"),
    ]


def test_ipv6_connections_are_tracked() -> None:
    s = system(**STRICT, prefixes=[{"prefix": "2001:db8:1::/48"}, {"prefix": "192.0.2.0/24"}])
    v6 = {"src": "2001:db8:ffff::7", "dst": "2001:db8:1::10"}
    packets = [
        P(SYN, seq=1000, **v6),  # type: ignore[arg-type]
        P(ACK, seq=1001, ack=5001, t=1 * MS, **v6),  # type: ignore[arg-type]
        P(ACK, seq=1, ack=1, t=2 * MS, sport=1, **v6),  # type: ignore[arg-type]
        P(ACK, seq=1001, ack=5001, t=3 * MS),  # the same ports over IPv4: another connection
    ]
    assert run(s, packets) == [passed("NEW"), passed("OPEN"), NF, NF]
