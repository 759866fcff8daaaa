"""The embedded stream against an in-memory model: random appends, fetches, acks, rewinds
and reopenings must give exactly the model's records and cursors."""

from __future__ import annotations

import shutil
import tempfile

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from stream_support import assert_records, records

from netlogpush.stream import (
    AckRangeError,
    EmbeddedConfig,
    EmbeddedStream,
    RetentionPolicy,
    open_stream,
)

CFG = EmbeddedConfig(
    fsync="off",
    segment_bytes=6_000,  # a segment every few appends
    frame_records=16,  # several frames per append
    retention=RetentionPolicy(max_bytes=None, max_age_s=None),
)
NAMES = st.sampled_from(["a", "b", "c"])


class StreamModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="stream-model-")
        self.s: EmbeddedStream = open_stream(self.dir, CFG)
        self.head = 0
        self.cursor: dict[str, int] = {}
        self.delivered: dict[str, int] = {}

    @initialize()
    def start(self) -> None:
        pass

    @rule(n=st.integers(0, 60))
    def append(self, n: int) -> None:
        r = self.s.append(records(self.head + 1, n))
        assert (r.first_seq, r.last_seq) == (self.head + 1, self.head + n)
        self.head += n

    @rule(name=NAMES, new=st.booleans())
    def add_consumer(self, name: str, new: bool) -> None:
        info = self.s.add_consumer(name, "new" if new else "all")
        if name not in self.cursor:
            self.cursor[name] = self.delivered[name] = self.head if new else 0
        assert info.cursor == self.cursor[name]

    @precondition(lambda self: self.cursor)
    @rule(data=st.data(), k=st.integers(1, 70))
    def fetch(self, data: st.DataObject, k: int) -> None:
        name = data.draw(st.sampled_from(sorted(self.cursor)))
        got = self.s.fetch(name, k)
        start = self.delivered[name] + 1
        if start > self.head:
            assert got is None
            return
        assert got is not None
        assert (got.first_seq, got.last_seq) == (start, min(self.head, start + k - 1))
        assert_records(got.table, start)
        self.delivered[name] = got.last_seq

    @precondition(lambda self: self.cursor)
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.cursor)))
        seq = data.draw(st.integers(0, self.delivered[name] + 2))
        if seq > self.delivered[name] and seq > self.cursor[name]:
            with pytest.raises(AckRangeError):
                self.s.ack(name, seq)
            return
        self.s.ack(name, seq)
        self.cursor[name] = max(self.cursor[name], seq)

    @precondition(lambda self: self.cursor)
    @rule(data=st.data())
    def rewind(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.cursor)))
        self.s.rewind(name)
        self.delivered[name] = self.cursor[name]

    @rule()
    def reopen(self) -> None:
        self.s.close()
        self.s = open_stream(self.dir, CFG)
        self.delivered = dict(self.cursor)  # un-acked records are delivered again

    @invariant()
    def stats_agree(self) -> None:
        st_ = self.s.stats()
        assert st_.head_seq == self.head
        assert {n: (c.cursor, c.lag, c.skipped) for n, c in st_.consumers.items()} == {
            n: (c, self.head - c, 0) for n, c in self.cursor.items()
        }

    def teardown(self) -> None:
        self.s.close()
        shutil.rmtree(self.dir)


StreamModel.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_stream_matches_model = StreamModel.TestCase
