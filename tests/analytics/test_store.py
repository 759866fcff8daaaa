"""The analytics store: idempotent ingest (twice, and across a killed process), the hour
partition column, retention with minute/hour roll-ups, and refusal of late samples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.analytics.store import (
    DAY_NS,
    HOUR_NS,
    MINUTE_NS,
    NS_PER_S,
    AnalyticsStore,
    IngestResult,
    Retention,
)
from netlogpush.dataset.records import make_table

T0 = 1_699_999_200 * NS_PER_S  # a whole hour


def table(
    times: list[int], intervals: list[int], lengths: list[int], **cols: list[object]
) -> pa.Table:
    return make_table(
        {"Datetime": times, "SampleInterval": intervals, "IPTotalLength": lengths, **cols},
        len(times),
    )


def sums(store: AnalyticsStore) -> tuple[int, int, int]:
    """(samples, packets, bytes) over all three tiers."""
    row = store.con.execute(
        "SELECT sum(s), sum(p), sum(b) FROM ("
        "SELECT count(*) s, sum(SampleInterval) p, sum(IPTotalLength * SampleInterval) b FROM records "
        "UNION ALL SELECT sum(samples), sum(packets), sum(bytes) FROM rollup_minute "
        "UNION ALL SELECT sum(samples), sum(packets), sum(bytes) FROM rollup_hour)"
    ).fetchall()[0]
    return (int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


BATCH = table(
    [T0 + 1, T0 + 2, T0 + HOUR_NS + 3],
    [100, 1000, 10],
    [60, 1500, 40],
    MitigationSystem=["dosd", "flowtrackd", "magic-firewall"],
)


def test_ingest_twice_counts_once() -> None:
    store = AnalyticsStore()
    assert store.ingest(BATCH) == IngestResult(received=3, inserted=3, duplicates=0, late=0)
    assert store.ingest(BATCH) == IngestResult(received=3, inserted=0, duplicates=3, late=0)
    # A batch overlapping the first: only its new sample is added.
    overlap = pa.concat_tables([BATCH.slice(2), table([T0 + 9], [7], [100])])
    assert store.ingest(overlap) == IngestResult(received=2, inserted=1, duplicates=1, late=0)
    assert sums(store) == (4, 100 + 1000 + 10 + 7, 6000 + 1_500_000 + 400 + 700)


def test_samples_differing_in_one_field_are_distinct() -> None:
    store = AnalyticsStore()
    two = table([T0, T0], [1, 1], [60, 60], TCPSequenceNumber=[1, 2])
    assert store.ingest(two).inserted == 2
    # Same bytes in a batch twice: one sample.
    assert store.ingest(table([T0, T0], [1, 1], [61, 61])).inserted == 1


def test_caller_keys_decide_identity() -> None:
    store = AnalyticsStore()
    assert store.ingest(BATCH, ids=[1, 2, 3]).inserted == 3
    # A redelivery with the same sequence numbers is ignored even if a field differs.
    changed = table([T0 + 1, T0 + 50], [5, 5], [60, 60])
    assert store.ingest(changed, ids=[3, 4]) == IngestResult(2, 1, 1, 0)
    with pytest.raises(ValueError, match="2 ids for 3 records"):
        store.ingest(BATCH, ids=[1, 2])


def test_hour_partition_column() -> None:
    store = AnalyticsStore()
    store.ingest(BATCH)
    rows = store.con.execute("SELECT _hour FROM records ORDER BY Datetime").fetchall()
    assert [r[0] for r in rows] == [T0, T0, T0 + HOUR_NS]


def test_reopen_after_restart_counts_once(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    with AnalyticsStore(db) as store:
        store.ingest(BATCH)
    with AnalyticsStore(db) as store:
        assert store.ingest(BATCH).inserted == 0
        assert sums(store) == (3, 1110, 1_506_400)


_KILLED_MID_INGEST = """
import os, sys
import pyarrow.ipc as ipc
from netlogpush.analytics.store import AnalyticsStore
store = AnalyticsStore(sys.argv[1])
batch = ipc.open_file(sys.argv[2]).read_all()
store.ingest(batch.slice(0, 1))          # committed
store.con.execute("BEGIN TRANSACTION")   # the next ingest is cut off before its commit
store.con.execute("INSERT INTO records SELECT 100 + IPTotalLength, 0, * FROM batch")
os._exit(9)
"""


def test_process_killed_during_ingest(tmp_path: Path) -> None:
    """A real process dies mid-transaction; the sender re-sends the whole batch after the
    restart, and every sample counts once."""
    db, arrow = tmp_path / "a.duckdb", tmp_path / "batch.arrow"
    with pa.OSFile(str(arrow), "wb") as sink, pa.ipc.new_file(sink, BATCH.schema) as w:
        w.write_table(BATCH)
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_INGEST, str(db), str(arrow)], timeout=60
    )
    assert proc.returncode == 9
    with AnalyticsStore(db) as store:
        assert sums(store) == (1, 100, 6000)  # only the committed part survived
        assert store.ingest(BATCH) == IngestResult(3, 2, 1, 0)
        assert sums(store) == (3, 1110, 1_506_400)


def test_retention_rolls_up_and_keeps_totals() -> None:
    r = Retention(raw_ns=HOUR_NS, minute_ns=2 * HOUR_NS, hour_ns=DAY_NS)
    store = AnalyticsStore(retention=r)
    # Two samples in one minute that share every roll-up dimension, one in the next minute.
    t = table(
        [T0 + 1, T0 + 30 * NS_PER_S, T0 + MINUTE_NS + 5],
        [100, 100, 10],
        [60, 80, 1500],
        IPSourceAddress=["203.0.113.1", "203.0.113.2", "203.0.113.3"],
    )
    store.ingest(t)
    before = sums(store)
    res = store.compact(now_ns=T0 + HOUR_NS + 2 * MINUTE_NS)  # raw cut at T0 + 2 min
    assert (res.raw_rolled, res.minute_rolled, res.hour_deleted) == (3, 0, 0)
    assert sums(store) == before == (3, 210, 6000 + 8000 + 15000)
    minute = store.con.execute(
        "SELECT Datetime, packets, bytes, samples FROM rollup_minute ORDER BY 1"
    ).fetchall()
    assert minute == [(T0, 200, 14000, 2), (T0 + MINUTE_NS, 10, 15000, 1)]
    assert store.watermark_ns == T0 + 2 * MINUTE_NS
    # A late duplicate of a rolled-up sample is refused, not counted again.
    assert store.ingest(t.slice(0, 1)) == IngestResult(1, 0, 0, 1)
    # Compacting again at the same time changes nothing.
    assert store.compact(now_ns=T0 + HOUR_NS + 2 * MINUTE_NS).raw_rolled == 0
    assert sums(store) == before
    # Two hours later the minutes become one hour row.
    res = store.compact(now_ns=T0 + 3 * HOUR_NS)
    assert res.minute_rolled == 2
    hour = store.con.execute("SELECT Datetime, packets, bytes, samples FROM rollup_hour").fetchall()
    assert hour == [(T0, 210, 29000, 3)]
    # After the hour retention everything is gone.
    assert store.compact(now_ns=T0 + 2 * DAY_NS).hour_deleted == 1
    assert sums(store) == (0, 0, 0)


def test_retention_must_be_ordered() -> None:
    with pytest.raises(ValueError):
        Retention(raw_ns=2 * HOUR_NS, minute_ns=HOUR_NS)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.integers(1, 10_000), st.integers(20, 1500)), max_size=30
    ),
    st.lists(st.integers(0, 29), max_size=40),
    st.integers(1, 7),
)
def test_redelivery_in_any_chunks_counts_each_sample_once(
    samples: list[tuple[int, int, int]], replays: list[int], chunk: int
) -> None:
    """Any order, chunking and repetition of deliveries gives the totals of the distinct samples."""
    rows = [samples[i] for i in replays if i < len(samples)] + samples
    store = AnalyticsStore()
    for i in range(0, len(rows), chunk):
        part = rows[i : i + chunk]
        store.ingest(
            table([T0 + t for t, _, _ in part], [s for _, s, _ in part], [n for _, _, n in part])
        )
    distinct = set(samples)
    assert sums(store) == (
        len(distinct),
        sum(s for _, s, _ in distinct),
        sum(s * n for _, s, n in distinct),
    )


def test_ingest_stream_takes_each_sequence_number_once() -> None:
    store = AnalyticsStore()
    assert store.ingest_stream(BATCH, [1, 2, 3], "s") == IngestResult(3, 3, 0, 0)
    assert store.position("s") == 3
    # A redelivery overlapping the position: only numbers above it are new.
    again = pa.concat_tables([BATCH.slice(1), table([T0 + 9], [7], [100])])
    assert store.ingest_stream(again, [2, 3, 4], "s") == IngestResult(3, 1, 2, 0)
    assert sums(store) == (4, 100 + 1000 + 10 + 7, 6000 + 1_500_000 + 400 + 700)
    # Positions are per source; the same content from another source is another sample.
    assert store.ingest_stream(BATCH, [1, 2, 3], "other") == IngestResult(3, 3, 0, 0)
    assert store.position("s") == 4
    with pytest.raises(ValueError, match="increasing"):
        store.ingest_stream(BATCH, [5, 7, 6], "s")
    with pytest.raises(ValueError, match="2 sequence numbers for 3 records"):
        store.ingest_stream(BATCH, [5, 6], "s")


def test_store_of_the_first_schema_is_refused(tmp_path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE TABLE records (_id UHUGEINT PRIMARY KEY, _hour BIGINT)")
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value BIGINT)")
    con.close()
    with pytest.raises(RuntimeError, match="schema version 1, this is version 2"):
        AnalyticsStore(tmp_path / "old.duckdb")
