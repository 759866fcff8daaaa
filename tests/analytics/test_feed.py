"""StreamFeed: the real embedded stream into a real DuckDB store, exactly once across restarts,
a crash between commit and ack, errors, and kill -9 of a process mid-ingest."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from netlogpush.analytics.feed import StreamFeed
from netlogpush.analytics.store import HOUR_NS, MINUTE_NS, NS_PER_S, AnalyticsStore, Retention
from netlogpush.dataset.records import make_table
from netlogpush.stream import open_stream

T0 = 1_699_999_200 * NS_PER_S


def batch(first: int, n: int) -> pa.Table:
    """``n`` records meant for sequence numbers ``first..``; values vary with the number."""
    seq = np.arange(first, first + n, dtype=np.int64)
    return make_table(
        {
            "Datetime": T0 + seq * 7 * NS_PER_S // 10,  # 0.7 s apart: spans minutes and hours
            "SampleInterval": 1 + seq % 13,
            "IPTotalLength": 40 + seq % 1400,
            "MitigationSystem": np.where(seq % 3 == 0, "dosd", "magic-firewall"),
            "Outcome": np.where(seq % 5 == 0, "drop", "pass"),
            "SourceASN": seq % 7,
            "IPSourceAddress": pa.array([f"198.51.100.{s % 250}" for s in seq.tolist()]),
        },
        n,
    )


def expected(n: int) -> tuple[int, int, int]:
    """(samples, packets, bytes) of records 1..n, computed from the values batch() sets."""
    seq = np.arange(1, n + 1, dtype=np.int64)
    si, length = 1 + seq % 13, 40 + seq % 1400
    return n, int(si.sum()), int((si * length).sum())


def stored(store: AnalyticsStore) -> tuple[int, int, int]:
    """(samples, packets, bytes) over the three tiers, and the aggregates agree with them."""
    row = store.con.execute(
        "SELECT sum(s), sum(p), sum(b) FROM ("
        "SELECT count(*) s, sum(SampleInterval) p, sum(IPTotalLength * SampleInterval) b FROM records "
        "UNION ALL SELECT sum(samples), sum(packets), sum(bytes) FROM rollup_minute "
        "UNION ALL SELECT sum(samples), sum(packets), sum(bytes) FROM rollup_hour)"
    ).fetchall()[0]
    raw = store.con.execute(
        "SELECT count(*), coalesce(sum(SampleInterval), 0), "
        "coalesce(sum(IPTotalLength * SampleInterval), 0) FROM records"
    ).fetchall()[0]
    agg = store.con.execute(
        "SELECT coalesce(sum(samples), 0), coalesce(sum(packets), 0), coalesce(sum(bytes), 0) "
        "FROM agg_minute"
    ).fetchall()[0]
    assert tuple(int(x) for x in agg) == tuple(int(x) for x in raw)
    return (int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


def ids(store: AnalyticsStore) -> list[int]:
    return [int(r[0]) for r in store.con.execute("SELECT _id FROM records ORDER BY 1").fetchall()]


def fill(data: Path, sizes: list[int]) -> int:
    with open_stream(data) as s:
        first = s.stats().head_seq + 1
        for n in sizes:
            assert s.append(batch(first, n)).first_seq == first
            first += n
        return first - 1


def test_every_record_ingested_once(tmp_path: Path) -> None:
    n = fill(tmp_path / "stream", [500, 1, 2000, 777])
    with open_stream(tmp_path / "stream") as s, AnalyticsStore(tmp_path / "a.duckdb") as store:
        feed = StreamFeed(s, store, batch_records=1000)
        assert feed.drain() == n
        assert stored(store) == expected(n)
        assert ids(store) == list(range(1, n + 1))  # _id is the sequence number
        st = feed.stats()
        assert (st["ingested"], st["duplicates"], st["late"], st["lag"], st["position"]) == (
            n, 0, 0, 0, n,
        )  # fmt: skip
        assert feed.drain() == 0


def test_thread_follows_appends(tmp_path: Path) -> None:
    with open_stream(tmp_path / "stream") as s, AnalyticsStore() as store:
        feed = StreamFeed(s, store, batch_records=400, idle_wait_s=0.05, max_delay_s=0.05)
        feed.start()
        assert feed.running
        first = 1
        for n in (300, 50, 1200):
            s.append(batch(first, n))
            first += n
        deadline = time.monotonic() + 30
        while feed.stats()["ingested"] < first - 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        feed.stop(timeout=10)
        assert not feed.running
        assert stored(store) == expected(first - 1)
        assert s.consumer_info("analytics").cursor == first - 1  # everything acked


def test_restart_between_commit_and_ack(tmp_path: Path) -> None:
    """A crash after the store committed a batch but before the stream heard the ack: the batch
    comes again and is skipped by its sequence numbers."""
    n = fill(tmp_path / "stream", [1000, 1000, 1000])
    with open_stream(tmp_path / "stream") as s, AnalyticsStore(tmp_path / "a.duckdb") as store:
        feed = StreamFeed(s, store, batch_records=1000)
        assert feed.step(linger=False) == 1000  # committed and acked
        got = s.fetch("analytics", 1000)
        assert got is not None and (got.first_seq, got.last_seq) == (1001, 2000)
        store.ingest_stream(got.table, got.seqs(), "analytics")  # committed, never acked
    with open_stream(tmp_path / "stream") as s, AnalyticsStore(tmp_path / "a.duckdb") as store:
        assert s.consumer_info("analytics").cursor == 1000
        feed = StreamFeed(s, store, batch_records=1000)
        assert feed.drain() == 2000  # 1001..3000 delivered again
        st = feed.stats()
        assert (st["ingested"], st["duplicates"]) == (1000, 1000)
        assert stored(store) == expected(n)
        assert ids(store) == list(range(1, n + 1))


def test_stop_and_restart_midway(tmp_path: Path) -> None:
    n = fill(tmp_path / "stream", [700] * 6)
    for _ in range(3):  # each run takes a part; the store's totals never double
        with open_stream(tmp_path / "stream") as s, AnalyticsStore(tmp_path / "a.duckdb") as st:
            feed = StreamFeed(s, st, batch_records=700)
            feed.step(linger=False)
            feed.step(linger=False)
    with open_stream(tmp_path / "stream") as s, AnalyticsStore(tmp_path / "a.duckdb") as store:
        assert store.position("analytics") == n
        assert StreamFeed(s, store).drain() == 0
        assert stored(store) == expected(n)


class FailingOnceStore(AnalyticsStore):
    """A real store whose first ingest fails (as a full disk would)."""

    failed = False

    def ingest_stream(self, table: pa.Table, seqs: object, source: str):  # type: ignore[no-untyped-def,override]
        if not self.failed:
            self.failed = True
            raise OSError(28, "No space left on device")
        return super().ingest_stream(table, seqs, source)  # type: ignore[arg-type]


def test_error_is_logged_and_retried_without_loss(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    n = fill(tmp_path / "stream", [900, 900])
    with open_stream(tmp_path / "stream") as s, FailingOnceStore() as store:
        feed = StreamFeed(s, store, batch_records=900, idle_wait_s=0.05, retry_wait_s=0.05)
        feed.start()
        deadline = time.monotonic() + 30
        while feed.stats()["ingested"] < n and time.monotonic() < deadline:
            time.sleep(0.02)
        feed.stop(timeout=10)
        assert feed.stats()["errors"] == 1
        assert stored(store) == expected(n)
        assert "No space left on device" in caplog.text


def test_late_records_are_counted(tmp_path: Path) -> None:
    n = fill(tmp_path / "stream", [1000])  # 700 s of records from T0
    retention = Retention(raw_ns=HOUR_NS, minute_ns=2 * HOUR_NS, hour_ns=48 * HOUR_NS)
    with open_stream(tmp_path / "stream") as s, AnalyticsStore(retention=retention) as store:
        store.compact(T0 + HOUR_NS + 5 * MINUTE_NS)  # watermark at T0 + 5 min
        feed = StreamFeed(s, store)
        feed.drain()
        times = T0 + np.arange(1, n + 1) * 7 * NS_PER_S // 10
        late = int((times < T0 + 5 * MINUTE_NS).sum())
        st = feed.stats()
        assert (st["ingested"], st["late"], st["position"]) == (n - late, late, n)


def test_new_stream_behind_the_position(tmp_path: Path) -> None:
    """The stream's directory was replaced: its numbers restart, and its records still count,
    under _ids that differ from the first stream's."""
    fill(tmp_path / "s1", [300])
    fill(tmp_path / "s2", [100])
    with AnalyticsStore(tmp_path / "a.duckdb") as store:
        with open_stream(tmp_path / "s1") as s:
            StreamFeed(s, store).drain()
        with open_stream(tmp_path / "s2") as s:
            assert StreamFeed(s, store).drain() == 100
        got = ids(store)
        assert len(got) == len(set(got)) == 400
        assert got[-1] == (1 << 64) + 100
        assert stored(store)[0] == 400


CHILD = r"""
import sys, time, threading
from netlogpush.analytics.feed import StreamFeed
from netlogpush.analytics.store import AnalyticsStore
from netlogpush.stream import open_stream
T0 = 1_699_999_200 * 10**9
stream = open_stream(sys.argv[1])
store = AnalyticsStore(sys.argv[2])
# compaction every 20 ms (merges aggregate rows in its own transaction): kills land in it too
feed = StreamFeed(stream, store, batch_records=int(sys.argv[3]), compact_every_s=0.02,
                  clock=lambda: T0 + 7 * 3600 * 10**9, idle_wait_s=0.01, max_delay_s=0.0)
print("READY", flush=True)
feed.start()
while True:
    print("P", store.position("analytics"), flush=True)
    time.sleep(0.01)
"""


def test_kill_9_mid_ingest_then_restart(tmp_path: Path) -> None:
    n = fill(tmp_path / "stream", [250] * 240)  # 60,000 records
    rng = random.Random(5)
    db = tmp_path / "a.duckdb"
    rounds = mid = 0
    while rounds < 8:
        with AnalyticsStore(db) as store:
            before = store.position("analytics")
        if before >= n:
            break
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                str(tmp_path / "stream"),
                str(db),
                str(rng.choice([300, 700, 1500])),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "MALLOC_TOP_PAD_": "268435456"},
        )
        assert child.stdout is not None
        assert child.stdout.readline() == "READY\n"
        time.sleep(rng.uniform(0.2, 0.7))
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL
        rounds += 1
        with AnalyticsStore(db) as store:  # after every kill: what is there is exact
            position = store.position("analytics")
            assert position >= before
            mid += 0 < position < n
            assert stored(store) == expected(position)
            assert ids(store) == list(range(1, position + 1))
    with open_stream(tmp_path / "stream") as s, AnalyticsStore(db) as store:
        assert mid >= 2  # kills landed while the feed was working
        StreamFeed(s, store).drain()
        assert stored(store) == expected(n)
        assert ids(store) == list(range(1, n + 1))
