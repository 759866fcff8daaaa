"""Dashboard queries against hand-computed expectations on a small hand-built table.

The table is an inline deployment's samples over two minutes from T (plus one sample in the
minute before T for period-over-period):

 #  t(s) system          Verdict Outcome SI    len  notes
 1  5    dosd            drop    drop    100   1000 att1 SYN flood, 203.0.113.1 -> 192.0.2.10, AS64500
 2  65   dosd            drop    drop    100   1000 att1 SYN flood, 203.0.113.2 -> 192.0.2.10, AS64500
 3  10   dosd            pass    pass    100   500  passes on: seen again by magic-firewall
 4  20   flowtrackd      pass    pass    1000  60   passes on
 5  30   flowtrackd      drop    drop    1000  40   OUT_OF_SEQUENCE/OPEN, 198.51.100.7, AS64501
 6  15   magic-firewall  pass    pass    10    500  AS64502
 7  70   magic-firewall  drop    drop    10    200  rule r1 block-telnet, port 23, AS64502
 8  80   dosd            drop    pass    100   300  att2 UDP flood, log-only rule
 9  -30  magic-firewall  pass    pass    10    100  previous period

Counted in "all traffic" (counting="outcome"): 1, 2, 5 (drops) and 6, 7 (last system).
  packets 100+100+1000+10+10 = 1220; bytes 100000+100000+40000+5000+2000 = 247000
  dropped 1210 packets / 242000 bytes; passed 10 packets / 5000 bytes.
"""

from __future__ import annotations

import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.analytics.queries import (
    DIMENSIONS,
    Attack,
    Filter,
    Point,
    Queries,
    View,
    all_queries,
    render,
)
from netlogpush.analytics.store import NS_PER_S, AnalyticsStore, Retention
from netlogpush.dataset.records import make_table

T = 1_699_999_980 * NS_PER_S  # a whole minute
END = T + 120 * NS_PER_S

ROWS: list[dict[str, object]] = [
    dict(
        t=5,
        sys="dosd",
        v="drop",
        o="drop",
        si=100,
        ln=1000,
        att="att1",
        vec="SYN flood",
        src="203.0.113.1",
        dst="192.0.2.10",
        asn=64500,
        rid="dosd-syn",
        rname="SYN flood rule",
    ),
    dict(
        t=65,
        sys="dosd",
        v="drop",
        o="drop",
        si=100,
        ln=1000,
        att="att1",
        vec="SYN flood",
        src="203.0.113.2",
        dst="192.0.2.10",
        asn=64500,
        rid="dosd-syn",
        rname="SYN flood rule",
    ),
    dict(t=10, sys="dosd", v="pass", o="pass", si=100, ln=500, src="192.0.2.99", dst="192.0.2.11"),
    dict(t=20, sys="flowtrackd", v="pass", o="pass", si=1000, ln=60, src="198.51.100.7"),
    dict(
        t=30,
        sys="flowtrackd",
        v="drop",
        o="drop",
        si=1000,
        ln=40,
        src="198.51.100.7",
        asn=64501,
        reason="OUT_OF_SEQUENCE",
        state="OPEN",
    ),
    dict(
        t=15, sys="magic-firewall", v="pass", o="pass", si=10, ln=500, src="192.0.2.99", asn=64502
    ),
    dict(
        t=70,
        sys="magic-firewall",
        v="drop",
        o="drop",
        si=10,
        ln=200,
        src="192.0.2.98",
        asn=64502,
        port=23,
        rid="r1",
        rname="block-telnet",
    ),
    dict(
        t=80,
        sys="dosd",
        v="drop",
        o="pass",
        si=100,
        ln=300,
        att="att2",
        vec="UDP flood",
        src="203.0.113.9",
        dst="192.0.2.12",
        rid="dosd-udp",
        rname="UDP flood rule",
    ),
    dict(t=-30, sys="magic-firewall", v="pass", o="pass", si=10, ln=100, src="192.0.2.50"),
]


def _load(store: AnalyticsStore, rows: list[dict[str, object]]) -> None:
    def col(key: str, default: object) -> list[object]:
        return [r.get(key, default) for r in rows]

    store.ingest(
        make_table(
            {
                "Datetime": [T + int(r["t"]) * NS_PER_S for r in rows],  # type: ignore[call-overload]
                "MitigationSystem": col("sys", ""),
                "Verdict": col("v", ""),
                "Outcome": col("o", ""),
                "SampleInterval": col("si", 1),
                "IPTotalLength": col("ln", 0),
                "AttackID": col("att", ""),
                "AttackVector": col("vec", ""),
                "IPSourceAddress": col("src", ""),
                "IPDestinationAddress": col("dst", ""),
                "SourceASN": col("asn", 0),
                "DestinationPort": col("port", 80),
                "RuleID": col("rid", ""),
                "RuleName": col("rname", ""),
                "MitigationReason": col("reason", ""),
                "ProtocolState": col("state", ""),
            },
            len(rows),
        )
    )


@pytest.fixture
def q() -> Queries:
    store = AnalyticsStore()
    _load(store, ROWS)
    return Queries(store)


ALL = View(T, END)


def test_timeseries_by_action_counts_each_packet_once(q: Queries) -> None:
    assert q.timeseries(ALL, 60) == [
        Point(T, "drop", 1100, 1100 / 60),  # rows 1 + 5
        Point(T, "pass", 10, 10 / 60),  # row 6 only: rows 3, 4 are earlier systems' passes
        Point(T + 60 * NS_PER_S, "drop", 110, 110 / 60),  # rows 2 + 7; row 8 was not enforced
    ]


def test_timeseries_in_bits(q: Queries) -> None:
    got = q.timeseries(ALL, 60, metric="bits")
    assert [(p.key, p.value, p.rate) for p in got] == [
        ("drop", 140_000 * 8, 140_000 * 8 / 60),
        ("pass", 5_000 * 8, 5_000 * 8 / 60),
        ("drop", 102_000 * 8, 102_000 * 8 / 60),
    ]


def test_verdict_counting_for_passive_deployments(q: Queries) -> None:
    v = View(T, END, counting="verdict")
    got = q.timeseries(v, 60)
    assert [(p.key, p.value) for p in got] == [("drop", 1100), ("pass", 10), ("drop", 210)]


def test_split_by_mitigation_system(q: Queries) -> None:
    got = q.timeseries(ALL, 120, dimension="mitigation_system")
    assert [(p.key, p.value) for p in got] == [
        ("dosd", 200),
        ("flowtrackd", 1000),
        ("magic-firewall", 20),
    ]


def test_top_n_beyond_is_other(q: Queries) -> None:
    got = q.timeseries(ALL, 120, dimension="source_ip", top=2)
    assert [(p.key, p.value) for p in got] == [
        ("198.51.100.7", 1000),
        ("203.0.113.1", 100),
        ("Other", 120),  # 203.0.113.2 (100), 192.0.2.99 (10), 192.0.2.98 (10)
    ]


def test_system_tab_counts_all_its_samples(q: Queries) -> None:
    got = q.timeseries(View(T, END, system="dosd"), 120)
    assert [(p.key, p.value) for p in got] == [("drop", 200), ("pass", 200)]


def test_top_panels(q: Queries) -> None:
    assert q.top(ALL, "source_asn") == [("64501", 1000), ("64500", 200), ("64502", 20)]
    assert q.top(ALL, "destination_port", n=1) == [("80", 1210)]
    assert q.rules_hit(ALL) == [
        ("dosd", "dosd-syn", "SYN flood rule", 200),
        ("magic-firewall", "r1", "block-telnet", 10),
    ]
    assert q.atp_reasons(ALL) == [("OUT_OF_SEQUENCE", "OPEN", 1000)]


def test_filters_include_and_exclude(q: Queries) -> None:
    port23 = View(T, END, filters=(Filter("destination_port", (23,)),))
    assert q.top(port23, "action") == [("drop", 10)]
    not_asn = View(T, END, filters=(Filter("source_asn", (64501,), exclude=True),))
    assert q.top(not_asn, "action") == [("drop", 210), ("pass", 10)]
    # A quote in a value is data, not SQL.
    odd = View(T, END, filters=(Filter("source_ip", ("x' OR '1'='1",)),))
    assert q.top(odd, "action") == []
    with pytest.raises(ValueError, match="unknown dimension"):
        Filter("nope", ("a",)).sql()


def test_attack_list(q: Queries) -> None:
    assert q.attacks(ALL) == [
        Attack(
            "att1",
            T + 5 * NS_PER_S,
            T + 65 * NS_PER_S,
            "SYN flood",
            "192.0.2.10",
            200,
            200_000,
            100 / 60,
            100_000 * 8 / 60,
            ("203.0.113.1", "203.0.113.2"),
        ),
        Attack(
            "att2",
            T + 80 * NS_PER_S,
            T + 80 * NS_PER_S,
            "UDP flood",
            "192.0.2.12",
            100,
            30_000,
            100 / 60,
            30_000 * 8 / 60,
            ("203.0.113.9",),
        ),
    ]
    # Peak rate over 120 s buckets: att1's two samples share one bucket.
    assert q.attacks(ALL, bucket_s=120)[0].peak_pps == 200 / 120


def test_executive_summary(q: Queries) -> None:
    s = q.summary(ALL)
    assert (s.attacks, s.packets, s.bytes, s.dropped_packets, s.dropped_bytes) == (
        2,
        1220,
        247_000,
        1210,
        242_000,
    )
    assert s.mitigated_pct == 1210 * 100 / 1220
    assert (s.largest_attack_pps, s.largest_attack_bps) == (100 / 60, 100_000 * 8 / 60)
    assert s.top_source == "198.51.100.7"
    assert s.previous == {
        "packets": 10,
        "bytes": 1000,
        "dropped_packets": 0,
        "dropped_bytes": 0,
        "attacks": 0,
    }
    assert s.change_pct == {
        "packets": (1220 - 10) * 100 / 10,
        "bytes": (247_000 - 1000) * 100 / 1000,
        "dropped_packets": None,
        "dropped_bytes": None,
        "attacks": None,
    }


def test_rolled_up_data_gives_the_same_totals(q: Queries) -> None:
    store = q.store
    store.retention = Retention(
        raw_ns=NS_PER_S * 60, minute_ns=NS_PER_S * 3600, hour_ns=NS_PER_S * 86400
    )
    store.compact(now_ns=END + 600 * NS_PER_S)  # everything into minute rows
    assert store.con.execute("SELECT count(*) FROM records").fetchall() == [(0,)]
    assert q.timeseries(ALL, 60) == [
        Point(T, "drop", 1100, 1100 / 60),
        Point(T, "pass", 10, 10 / 60),
        Point(T + 60 * NS_PER_S, "drop", 110, 110 / 60),
    ]
    assert q.top(ALL, "source_asn") == [("64501", 1000), ("64500", 200), ("64502", 20)]
    # Per-address dimensions are not kept in roll-ups.
    assert q.top(ALL, "source_ip") == [("", 1220)]


def test_every_dimension_runs(q: Queries) -> None:
    for dim in DIMENSIONS:
        total = sum(p.value for p in q.timeseries(ALL, 120, dimension=dim, top=100))
        assert total == 1220, dim


@pytest.mark.parametrize("dialect", ["clickhouse"])
def test_queries_transpile_and_parse(dialect: str) -> None:
    v = View(T, END, filters=(Filter("source_country", ("CN",), exclude=True),))
    for name, sql in all_queries(v).items():
        assert render(sql, "duckdb") == sql
        out = render(sql, "clickhouse")
        assert "records" in out and "rollup_hour" in out, name
        sqlglot.parse_one(out, read=dialect)  # raises on a query ClickHouse's grammar rejects


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["dosd", "flowtrackd", "magic-firewall", None]), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_no_double_counting_through_the_chain(packets: list[tuple[str | None, bool]]) -> None:
    """Every packet crosses the three systems in order, sampled 1:1 at each it reaches; it
    stops at the system that drops it (None: nobody drops it). Whatever happens, the counted
    packets equal the real packets and the dropped ones equal the real drops."""
    chain = ["dosd", "flowtrackd", "magic-firewall"]
    rows: list[dict[str, object]] = []
    for i, (dropper, _) in enumerate(packets):
        for system in chain:
            drop = system == dropper
            rows.append(
                dict(
                    t=i,
                    sys=system,
                    v="drop" if drop else "pass",
                    o="drop" if drop else "pass",
                    si=1,
                    ln=100,
                )
            )
            if drop:
                break
    store = AnalyticsStore()
    _load(store, rows)
    s = Queries(store).summary(View(T, T + 60 * NS_PER_S))
    assert s.packets == len(packets)
    assert s.bytes == 100 * len(packets)
    assert s.dropped_packets == sum(1 for d, _ in packets if d is not None)
