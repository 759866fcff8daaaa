"""The ingest-time aggregates and the query planner: on random samples and ranges that start
and end anywhere (partial minutes and hours at both ends), every dashboard query answers what a
plain Python computation over the samples sent gives; compaction keeps the aggregates equal to
the raw tier, also when its cut splits an hour."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.analytics.queries import Attack, Point, Queries, View
from netlogpush.analytics.store import (
    AGGREGATES,
    HOUR_NS,
    MINUTE_NS,
    NS_PER_S,
    AnalyticsStore,
    Retention,
)
from netlogpush.dataset.records import make_table

T0 = 1_699_999_200 * NS_PER_S  # a whole hour
SPAN = 3 * HOUR_NS


@dataclass(frozen=True)
class S:
    t: int
    sys: str
    outcome: str
    si: int
    ln: int
    asn: int
    port: int
    src: str
    attack: str  # "" or an id; an attack has one vector and one target

    @property
    def vector(self) -> str:
        return f"vec-{self.attack}" if self.attack else ""

    @property
    def dst(self) -> str:
        return f"192.0.2.{len(self.attack)}" if self.attack else "192.0.2.200"


samples = st.builds(
    S,
    t=st.integers(T0, T0 + SPAN - 1),
    sys=st.sampled_from(["dosd", "flowtrackd", "magic-firewall"]),
    outcome=st.sampled_from(["pass", "drop"]),
    si=st.integers(1, 1000),
    ln=st.integers(20, 1500),
    asn=st.integers(64500, 64503),
    port=st.sampled_from([22, 53, 443]),
    src=st.sampled_from(["203.0.113.1", "203.0.113.2", "198.51.100.7", "2001:db8::1"]),
    attack=st.sampled_from(["", "", "a", "bb"]),
)


def table(rows: list[S]) -> pa.Table:
    # AttackIDs are dosd's only, as the pipeline writes them.
    return make_table(
        {
            "Datetime": [r.t for r in rows],
            "MitigationSystem": [r.sys for r in rows],
            "Outcome": [r.outcome for r in rows],
            "Verdict": [r.outcome for r in rows],
            "SampleInterval": [r.si for r in rows],
            "IPTotalLength": [r.ln for r in rows],
            "SourceASN": [r.asn for r in rows],
            "DestinationPort": [r.port for r in rows],
            "IPSourceAddress": [r.src for r in rows],
            "IPDestinationAddress": [r.dst for r in rows],
            "AttackID": [r.attack if r.sys == "dosd" else "" for r in rows],
            "AttackVector": [r.vector if r.sys == "dosd" else "" for r in rows],
        },
        len(rows),
    )


# ---- the reference: plain Python over the samples ------------------------------------------


def counted(rows: list[S], s: int, e: int) -> list[S]:
    return [r for r in rows if s <= r.t < e and (r.outcome == "drop" or r.sys == "magic-firewall")]


def top(pairs: list[tuple[str, int]], n: int = 10) -> list[tuple[str, int]]:
    sums: dict[str, int] = defaultdict(int)
    for k, v in pairs:
        sums[k] += v
    return sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def timeseries(rows: list[S], s: int, e: int, step_s: int) -> list[Point]:
    step = step_s * NS_PER_S
    origin = s - s % MINUTE_NS  # buckets of whole minutes start at the range's start minute
    sums: dict[tuple[int, str], int] = defaultdict(int)
    for r in counted(rows, s, e):
        sums[(origin + (r.t - origin) // step * step, r.outcome)] += r.si
    return [Point(b, k, v, v / step_s) for (b, k), v in sorted(sums.items())]


def attacks(rows: list[S], s: int, e: int) -> list[Attack]:
    by: dict[str, list[S]] = defaultdict(list)
    for r in rows:
        if r.sys == "dosd" and r.attack and s <= r.t < e:
            by[r.attack].append(r)
    origin = s - s % MINUTE_NS
    out = []
    for a, rs in by.items():
        buckets: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for r in rs:
            b = buckets[(r.t - origin) // MINUTE_NS]
            b[0] += r.si
            b[1] += r.si * r.ln
        sources = [k for k, _ in top([(r.src, r.si) for r in rs], 3)]
        out.append(
            Attack(
                a,
                min(r.t for r in rs),
                max(r.t for r in rs),
                rs[0].vector,
                rs[0].dst,
                sum(r.si for r in rs),
                sum(r.si * r.ln for r in rs),
                max(p for p, _ in buckets.values()) / 60,
                max(b for _, b in buckets.values()) * 8 / 60,
                tuple(sources),
            )
        )
    return sorted(out, key=lambda x: (-x.packets, x.attack_id))


def check(q: Queries, rows: list[S], s: int, e: int) -> None:
    v = View(s, e)
    c = counted(rows, s, e)
    assert q.timeseries(v, 600) == timeseries(rows, s, e, 600)
    assert q.timeseries(v, 60) == timeseries(rows, s, e, 60)
    assert q.top(v, "source_asn") == top([(str(r.asn), r.si) for r in c])
    assert q.top(v, "destination_port", metric="bytes") == top(
        [(str(r.port), r.si * r.ln) for r in c]
    )
    assert q.attacks(v) == attacks(rows, s, e)
    summary = q.summary(v)
    dropped = [r for r in c if r.outcome == "drop"]
    assert (summary.packets, summary.bytes) == (sum(r.si for r in c), sum(r.si * r.ln for r in c))
    assert summary.dropped_packets == sum(r.si for r in dropped)
    assert summary.attacks == len(
        {r.attack for r in rows if r.sys == "dosd" and r.attack and s <= r.t < e}
    )
    tops = top([(r.src, r.si) for r in dropped], 1)
    assert summary.top_source == (tops[0][0] if tops else "")
    listed = attacks(rows, s, e)
    assert summary.largest_attack_pps == max((a.peak_pps for a in listed), default=0.0)
    assert summary.previous["packets"] == sum(r.si for r in counted(rows, 2 * s - e, s))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(samples, min_size=1, max_size=60),
    st.integers(0, SPAN),
    st.integers(1, SPAN),
    st.lists(st.integers(1, 20), min_size=1, max_size=6),
    st.booleans(),
)
def test_queries_equal_a_plain_computation(
    rows: list[S], start: int, length: int, chunks: list[int], merge: bool
) -> None:
    store = AnalyticsStore()
    seq, i, k = 1, 0, 0
    while i < len(rows):  # batches of any size, in any time order, merged or not in between
        part = rows[i : i + chunks[k % len(chunks)]]
        store.ingest_stream(table(part), np.arange(seq, seq + len(part)), "s")
        seq, i, k = seq + len(part), i + len(part), k + 1
        if merge:
            store.compact(T0 + SPAN)  # within the raw retention: only merges aggregate rows
    check(Queries(store), rows, T0 + start, T0 + start + length)
    # The whole range, and one inside a single minute (no whole bucket: samples only).
    check(Queries(store), rows, T0 - 5, T0 + SPAN + 5)
    check(Queries(store), rows, T0 + start, T0 + start + 17 * NS_PER_S)


def random_rows(rng: np.random.Generator, n: int) -> list[S]:
    return [
        S(int(T0 + rng.integers(0, SPAN)), str(rng.choice(["dosd", "flowtrackd", "magic-firewall"])),
          str(rng.choice(["pass", "drop"])), int(rng.integers(1, 100)), int(rng.integers(40, 1500)),
          int(rng.integers(1, 6)), int(rng.choice([53, 443, 8080])),
          str(rng.choice(["203.0.113.9", "203.0.113.10", "2001:db8::2"])),
          str(rng.choice(["", "", "x", "yy"])))
        for _ in range(n)
    ]  # fmt: skip


def test_random_ranges_over_many_samples() -> None:
    """Dense samples, so that every partial minute and hour at a range's ends holds some."""
    rng = np.random.default_rng(11)
    rows = random_rows(rng, 4000)
    store = AnalyticsStore()
    for i in range(0, len(rows), 250):
        store.ingest_stream(table(rows[i : i + 250]), np.arange(i + 1, i + 251), "s")
    q = Queries(store)
    ranges = [(T0 - 1, T0 + SPAN)]
    for _ in range(10):
        s = T0 + int(rng.integers(0, SPAN // 2))
        ranges.append((s, s + int(rng.integers(HOUR_NS, SPAN))))
    for s, e in ranges:
        check(q, rows, s, e)
    # Once the attacks are over, compaction keeps their top sources (attack_sources); a
    # range holding all of an attack's samples reads them from there, a range cutting it
    # from the samples: the same answers.
    store.compact(T0 + SPAN + HOUR_NS)
    assert store.con.execute("SELECT count(*) FROM attack_sources").fetchall() == [(2,)]
    for s, e in ranges:
        check(q, rows, s, e)
    x = [r.t for r in rows if r.sys == "dosd" and r.attack == "x"]
    late = [S((min(x) + max(x)) // 2, "dosd", "drop", 10**6, 100, 1, 53, "192.0.2.99", "x")]
    store.ingest_stream(table(late), [len(rows) + 1], "s")  # a late sample: the row is stale
    check(q, rows + late, T0 - 1, T0 + SPAN)


def agg_matches_raw(store: AnalyticsStore) -> None:
    """Every aggregate holds exactly the raw tier's samples, bucket by bucket."""
    for agg in AGGREGATES:
        dims = ", ".join(agg.dims)
        where = f"WHERE {agg.rows}" if agg.rows else ""
        got = store.con.execute(
            f"SELECT Datetime, {dims}, sum(packets), sum(bytes), sum(samples) FROM {agg.table} "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        want = store.con.execute(
            f"SELECT Datetime - Datetime % {agg.step_ns} AS b, {dims}, sum(SampleInterval), "
            f"sum(CAST(IPTotalLength AS HUGEINT) * SampleInterval), count(*) FROM records {where} "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        assert got == want, agg.table


def test_compaction_splitting_an_hour_keeps_aggregates_exact() -> None:
    rows = random_rows(np.random.default_rng(3), 3000)
    store = AnalyticsStore(retention=Retention(raw_ns=HOUR_NS, minute_ns=4 * HOUR_NS))
    for i in range(0, len(rows), 100):  # small batches: many partial aggregate rows
        store.ingest(table(rows[i : i + 100]))
    agg_matches_raw(store)
    before = store.con.execute("SELECT count(*) FROM agg_hour_source_asn").fetchall()[0][0]
    store.compact(T0 + 2 * HOUR_NS + 23 * MINUTE_NS)  # raw cut at T0 + 1 h 23 min
    assert store.watermark_ns == T0 + HOUR_NS + 23 * MINUTE_NS
    agg_matches_raw(store)
    after = store.con.execute("SELECT count(*) FROM agg_hour_source_asn").fetchall()[0][0]
    assert after < before  # rolled out, and the rest merged to one row per bucket
    # A range over rolled-up and raw time, on whole minutes (roll-ups count a minute by its
    # start): the same totals and top-N as the samples give.
    q = Queries(store)
    for s, e in ((T0, T0 + SPAN), (T0 + 50 * MINUTE_NS, T0 + 150 * MINUTE_NS)):
        c = counted(rows, s, e)
        summary = q.summary(View(s, e))
        assert (summary.packets, summary.bytes) == (
            sum(r.si for r in c),
            sum(r.si * r.ln for r in c),
        )
        assert q.top(View(s, e), "source_asn") == top([(str(r.asn), r.si) for r in c])
        assert q.timeseries(View(s, e), 600) == timeseries(rows, s, e, 600)
