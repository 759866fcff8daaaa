from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from stream_support import assert_records, drain, records

from netlogpush.dataset.fields import FIELDS
from netlogpush.dataset.records import SCHEMA, make_table
from netlogpush.stream import (
    AckRangeError,
    EmbeddedConfig,
    EmbeddedStream,
    RecordStream,
    RetentionPolicy,
    StreamLockedError,
    UnknownConsumerError,
    open_stream,
)

UNBOUNDED = RetentionPolicy(max_bytes=None, max_age_s=None)


def random_table(rng: np.random.Generator, n: int) -> pa.Table:
    cols: dict[str, object] = {}
    for f in FIELDS:
        if f.name == "Datetime" or f.is_int:
            cols[f.name] = rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64)
        else:
            words = ["", "a", "ünï", 'q"\\\n', "x" * 300, "198.51.100.7"]
            cols[f.name] = pa.array([words[k] for k in rng.integers(0, len(words), n)])
    return make_table(cols, n)


@pytest.mark.parametrize("compression", ["zstd", "lz4", "none"])
@pytest.mark.parametrize("fsync", ["always", "interval", "off"])
def test_round_trip_exact_records(tmp_path: Path, compression: str, fsync: str) -> None:
    rng = np.random.default_rng(7)
    tables = [random_table(rng, n) for n in (1, 257, 3000)]
    cfg = EmbeddedConfig(fsync=fsync, compression=compression, fsync_interval_ms=5)  # type: ignore[arg-type]
    with open_stream(tmp_path, cfg) as s:
        assert isinstance(s, RecordStream)
        ranges = [s.append(t) for t in tables]
        assert [(r.first_seq, r.last_seq) for r in ranges] == [(1, 1), (2, 258), (259, 3258)]
        s.add_consumer("job-1")
        got = s.fetch("job-1", 10_000)
        assert got is not None and (got.first_seq, got.last_seq) == (1, 3258)
        assert got.table.combine_chunks().equals(pa.concat_tables(tables).combine_chunks())
    with open_stream(tmp_path, cfg) as s:  # and from disk after reopening
        got = s.fetch("job-1", 10_000)
        assert got is not None
        assert got.table.combine_chunks().equals(pa.concat_tables(tables).combine_chunks())


def test_empty_append_uses_no_numbers(tmp_path: Path) -> None:
    with open_stream(tmp_path) as s:
        r = s.append(SCHEMA.empty_table())
        assert (r.first_seq, r.last_seq, r.count) == (1, 0, 0)
        assert s.append(records(1, 3)).first_seq == 1
        assert s.stats().head_seq == 3


def test_schema_is_enforced(tmp_path: Path) -> None:
    with open_stream(tmp_path) as s:
        with pytest.raises(ValueError, match="schema"):
            s.append(pa.table({"x": [1]}))
        # Same columns in another order (or nullable flags) are conformed, not refused.
        t = records(1, 2)
        t2 = t.select(list(reversed(t.column_names)))
        s.append(t2)
        s.add_consumer("c")
        got = s.fetch("c", 10)
        assert got is not None
        assert_records(got.table, 1)


def test_many_consumers_independent_cursors(tmp_path: Path) -> None:
    cfg = EmbeddedConfig(segment_bytes=20_000, retention=UNBOUNDED)
    with open_stream(tmp_path, cfg) as s:
        for i in range(20):
            s.append(records(1 + 50 * i, 50))
        assert s.stats().segments > 3
        names = [f"job-{i}" for i in range(8)]
        for n in names:
            s.add_consumer(n)
        for k, n in enumerate(names):  # consumer k reads and acks k*100 records
            left = k * 100
            while left:
                got = s.fetch(n, min(left, 37))
                assert got is not None
                assert_records(got.table, got.first_seq)
                s.ack(n, got.last_seq)
                left -= got.count
        st = s.stats()
        assert {n: (c.cursor, c.lag) for n, c in st.consumers.items()} == {
            n: (k * 100, 1000 - k * 100) for k, n in enumerate(names)
        }
    with open_stream(tmp_path, cfg) as s:
        for k, n in enumerate(names):
            assert drain(s, n, 333) == list(range(k * 100 + 1, 1001))
            assert s.consumer_info(n).skipped == 0


def test_unacked_records_are_redelivered_after_reopen(tmp_path: Path) -> None:
    with open_stream(tmp_path) as s:
        s.append(records(1, 100))
        s.add_consumer("j")
        a = s.fetch("j", 30)
        b = s.fetch("j", 30)  # two batches in flight
        assert a is not None and b is not None
        assert (a.first_seq, a.last_seq, b.first_seq, b.last_seq) == (1, 30, 31, 60)
        s.ack("j", 30)  # only the first delivered
        info = s.consumer_info("j")
        assert (info.cursor, info.delivered, info.lag) == (30, 60, 70)
    with open_stream(tmp_path) as s:
        got = s.fetch("j", 1000)
        assert got is not None and (got.first_seq, got.last_seq) == (31, 100)
        assert_records(got.table, 31)


def test_rewind_redelivers_in_process(tmp_path: Path) -> None:
    with open_stream(tmp_path) as s:
        s.append(records(1, 10))
        s.add_consumer("j")
        assert s.fetch("j", 4) is not None
        s.ack("j", 2)
        s.rewind("j")
        got = s.fetch("j", 100)
        assert got is not None and (got.first_seq, got.last_seq) == (3, 10)


def test_ack_rules(tmp_path: Path) -> None:
    with open_stream(tmp_path) as s:
        s.append(records(1, 10))
        s.add_consumer("j")
        with pytest.raises(AckRangeError):
            s.ack("j", 1)  # nothing delivered yet
        assert s.fetch("j", 5) is not None
        with pytest.raises(AckRangeError):
            s.ack("j", 6)
        s.ack("j", 5)
        s.ack("j", 3)  # behind the cursor: a no-op
        assert s.consumer_info("j").cursor == 5
        with pytest.raises(UnknownConsumerError):
            s.fetch("nobody", 1)
        with pytest.raises(UnknownConsumerError):
            s.ack("nobody", 1)
        with pytest.raises(ValueError):
            s.add_consumer("bad.name")
        with pytest.raises(ValueError):
            s.fetch("j", 0)


def test_deliver_policies_and_delete(tmp_path: Path) -> None:
    with open_stream(tmp_path) as s:
        s.append(records(1, 10))
        assert s.add_consumer("all").cursor == 0
        assert s.add_consumer("new", deliver="new").cursor == 10
        assert s.add_consumer("all").cursor == 0  # idempotent
        s.append(records(11, 5))
        assert drain(s, "new") == list(range(11, 16))
        s.delete_consumer("all")
        assert s.consumers() == ["new"]
    with open_stream(tmp_path) as s:
        assert s.consumers() == ["new"]
        assert s.consumer_info("new").cursor == 15


def test_second_process_is_refused(tmp_path: Path) -> None:
    with open_stream(tmp_path), pytest.raises(StreamLockedError):
        EmbeddedStream(tmp_path)
    open_stream(tmp_path).close()  # released on close


def test_fetch_waits_for_an_append(tmp_path: Path) -> None:
    with open_stream(tmp_path) as s:
        s.add_consumer("j")
        assert s.fetch("j", 10) is None
        t = threading.Timer(0.1, lambda: s.append(records(1, 3)))
        t.start()
        start = time.monotonic()
        got = s.fetch("j", 10, timeout=5)
        t.join()
        assert got is not None and got.count == 3
        assert time.monotonic() - start < 4


def test_big_append_is_split_into_frames(tmp_path: Path) -> None:
    cfg = EmbeddedConfig(frame_records=1000)
    with open_stream(tmp_path, cfg) as s:
        s.append(records(1, 4500))
        s.add_consumer("j")
        got = s.fetch("j", 2500)  # spans three frames
        assert got is not None and (got.first_seq, got.last_seq) == (1, 2500)
        assert_records(got.table, 1)
        assert drain(s, "j", 700) == list(range(2501, 4501))
