"""Records whose content follows from their sequence number, so any loss, duplicate or
damage is visible field by field."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from netlogpush.dataset.fields import FIELDS
from netlogpush.dataset.records import SCHEMA, make_table
from netlogpush.stream import EmbeddedStream


def records(first: int, n: int) -> pa.Table:
    """``n`` records meant for sequence numbers ``first..``: every field derives from it."""
    seq = np.arange(first, first + n, dtype=np.int64)
    cols: dict[str, object] = {}
    for i, f in enumerate(FIELDS):
        if f.name == "Datetime" or f.is_int:
            cols[f.name] = seq * (i + 1)
        else:
            cols[f.name] = pa.array([f"{f.name[:3]}-{s}-é" for s in seq.tolist()], pa.string())
    return make_table(cols, n)


def assert_records(table: pa.Table, first: int) -> None:
    """``table`` is exactly ``records(first, len(table))``."""
    assert table.schema.equals(SCHEMA)
    expected = records(first, table.num_rows)
    assert table.combine_chunks().equals(expected.combine_chunks())


def drain(stream: EmbeddedStream, consumer: str, max_records: int = 1000) -> list[int]:
    """Fetch and ack everything; the sequence numbers delivered, each checked for content."""
    out: list[int] = []
    while (got := stream.fetch(consumer, max_records)) is not None:
        assert_records(got.table, got.first_seq)
        out.extend(range(got.first_seq, got.last_seq + 1))
        stream.ack(consumer, got.last_seq)
    return out
