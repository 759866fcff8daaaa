"""Batching limits, the frequency mapping, and gzip of batches."""

from __future__ import annotations

import gzip
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.dataset.records import make_table
from netlogpush.logpush.batch import (
    Batch,
    Batcher,
    BatchLimitError,
    BatchLimits,
    batch_limits,
)
from netlogpush.logpush.compress import BACKEND, gzip_bytes
from netlogpush.logpush.output_options import Encoder, compile_options, parse_output_options


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def encoder(**opts: Any) -> Encoder:
    return compile_options(parse_output_options({"field_names": ["DestinationPort"], **opts}))


def records(ports: list[int]) -> pa.Array:
    """Each record is '{"DestinationPort":N}\\n': 21 bytes + digits."""
    return encoder().encode_records(make_table({"DestinationPort": ports}, len(ports)))


def ports_of(batch: Batch) -> list[int]:
    return [int(line[19:-1]) for line in batch.data.decode().splitlines()]


# ---- limits ------------------------------------------------------------------------------


def test_defaults_and_frequency() -> None:
    assert batch_limits() == BatchLimits(100_000, None, 30)
    assert batch_limits(frequency="high") == BatchLimits(100_000, None, 30)
    assert batch_limits(frequency="low") == BatchLimits(1_000_000, None, 300)
    assert batch_limits(0, 0, 0, "low") == BatchLimits(1_000_000, None, 300)
    assert batch_limits(5000, 5_000_000, 60, "low") == BatchLimits(5000, 5_000_000, 60)
    assert batch_limits(1_000_000, 1_000_000_000, 300) == BatchLimits(1_000_000, 1_000_000_000, 300)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"max_upload_records": 999}, "max_upload_records"),
        ({"max_upload_records": 1_000_001}, "max_upload_records"),
        ({"max_upload_records": True}, "max_upload_records"),
        ({"max_upload_records": 5000.0}, "max_upload_records"),
        ({"max_upload_bytes": 4_999_999}, "max_upload_bytes"),
        ({"max_upload_bytes": 1_000_000_001}, "max_upload_bytes"),
        ({"max_upload_interval_seconds": 29}, "max_upload_interval_seconds"),
        ({"max_upload_interval_seconds": 301}, "max_upload_interval_seconds"),
        ({"max_upload_interval_seconds": -1}, "max_upload_interval_seconds"),
        ({"frequency": "medium"}, "frequency"),
    ],
)
def test_ranges(kwargs: dict[str, Any], key: str) -> None:
    with pytest.raises(BatchLimitError) as exc:
        batch_limits(**kwargs)
    assert exc.value.key == key and str(exc.value).startswith(key + ": ")


# ---- the batcher -------------------------------------------------------------------------


def test_record_limit_cuts_exactly() -> None:
    clock = Clock()
    b = Batcher(encoder(), BatchLimits(3, None, 30), clock)
    out = b.add(records([1, 2, 3, 4, 5, 6, 7]))
    assert [ports_of(x) for x in out] == [[1, 2, 3], [4, 5, 6]]
    assert [x.reason for x in out] == ["records", "records"]
    assert b.pending_records == 1
    assert b.add(records([8, 9])) and b.pending_records == 0
    assert b.flush() == []


def test_byte_limit_counts_the_formatted_uncompressed_batch() -> None:
    e = encoder(batch_prefix="[", batch_suffix="]", record_delimiter=",", record_suffix="}")
    one = len(b'{"DestinationPort":1}')  # 21
    # "[" + 3 records + 2 commas + "]" = 2 + 63 + 2 = 67 bytes: exactly at the limit
    b = Batcher(e, BatchLimits(1000, 67, 30), Clock())
    out = b.add(e.encode_records(make_table({"DestinationPort": [1, 2, 3, 4]}, 4)))
    assert len(out) == 1 and out[0].reason == "bytes" and out[0].records == 3
    assert len(out[0].data) == 67 == 2 + 3 * one + 2
    assert out[0].data == b'[{"DestinationPort":1},{"DestinationPort":2},{"DestinationPort":3}]'
    assert b.pending_bytes == 2 + one
    b66 = Batcher(e, BatchLimits(1000, 66, 30), Clock())
    out = b66.add(e.encode_records(make_table({"DestinationPort": [1, 2, 3, 4]}, 4)))
    assert [x.records for x in out] == [2] and b66.pending_records == 2


def test_byte_limit_across_adds_and_oversized_records() -> None:
    b = Batcher(encoder(), BatchLimits(1000, 50, 30), Clock())
    assert b.add(records([1])) == []  # 22 bytes
    out = b.add(records([22222, 3]))  # 26 more would make 48 <= 50; then 22 more > 50
    assert [ports_of(x) for x in out] == [[1, 22222]] and out[0].reason == "bytes"
    big = Batcher(encoder(), BatchLimits(1000, 10, 30), Clock())
    out = big.add(records([1, 2]))
    assert [x.records for x in out] == [1, 1]  # each record alone is over the limit


def test_interval_from_the_first_record() -> None:
    clock = Clock()
    b = Batcher(encoder(), BatchLimits(1000, None, 30), clock)
    assert b.deadline() is None and b.poll() == []
    b.add(records([1]))
    assert b.deadline() == 1030.0
    clock.now = 1029.9
    assert b.poll() == [] and b.add(records([2])) == []
    clock.now = 1030.0
    (batch,) = b.poll()
    assert (batch.reason, batch.records, batch.opened_at, batch.closed_at) == (
        "interval",
        2,
        1000.0,
        1030.0,
    )
    assert b.deadline() is None
    clock.now = 1100.0
    b.add(records([3]))
    clock.now = 1200.0
    out = b.add(records([4]))  # the stale batch closes before the new record joins
    assert [(x.reason, ports_of(x)) for x in out] == [("interval", [3])]
    assert b.deadline() == 1230.0
    (last,) = b.flush()
    assert (last.reason, ports_of(last)) == ("flush", [4])


def test_empty_input_and_chunked_arrays() -> None:
    b = Batcher(encoder(), BatchLimits(2, None, 30), Clock())
    assert b.add(records([])) == []
    chunked = pa.chunked_array([records([1]), records([2, 3])])
    out = b.add(chunked)
    assert [ports_of(x) for x in out] == [[1, 2]]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 99999), max_size=30), max_size=8),
    st.integers(1, 20),
    st.one_of(st.none(), st.integers(1, 300)),
    st.sampled_from(["", ",", "\n--\n"]),
)
def test_batches_partition_the_stream(
    adds: list[list[int]], max_records: int, max_bytes: int | None, delim: str
) -> None:
    e = encoder(record_delimiter=delim, batch_prefix="<", batch_suffix=">")
    b = Batcher(e, BatchLimits(max_records, max_bytes, 30), Clock())
    out: list[Batch] = []
    for ports in adds:
        out += b.add(e.encode_records(make_table({"DestinationPort": ports}, len(ports))))
    out += b.flush()
    got: list[int] = []
    for batch in out:
        assert batch.data[:1] == b"<" and batch.data[-1:] == b">"
        body = batch.data[1:-1].decode()
        lines = [x for x in body.split(delim)] if delim else body.splitlines(keepends=True)
        assert len(lines) == batch.records <= max_records
        got += [int(x.strip()[19:-1]) for x in lines]
        if max_bytes is not None and batch.records > 1:
            assert len(batch.data) <= max_bytes
    assert got == [p for ports in adds for p in ports]
    assert all(x.records > 0 for x in out)


# ---- gzip --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["isal", "zlib"])
def test_gzip_round_trips_with_stdlib(backend: Any) -> None:
    data = b'{"DestinationPort":80}\n' * 5000 + bytes(range(256))
    out = gzip_bytes(data, backend=backend)
    assert out[:2] == b"\x1f\x8b" and gzip.decompress(out) == data
    assert len(out) < len(data) // 10
    assert gzip_bytes(memoryview(data), backend=backend) == out  # deterministic (mtime 0)
    assert gzip.decompress(gzip_bytes(b"", backend=backend)) == b""


def test_isal_is_the_default_backend() -> None:
    assert BACKEND == "isal"


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=5000))
def test_gzip_any_bytes(data: bytes) -> None:
    assert gzip.decompress(gzip_bytes(data)) == data
    assert gzip.decompress(gzip_bytes(data, backend="zlib")) == data


def test_batch_then_gzip() -> None:
    b = Batcher(encoder(), BatchLimits(1000, None, 30), Clock())
    b.add(records(list(np.arange(500) % 7)))
    (batch,) = b.flush()
    assert gzip.decompress(gzip_bytes(batch.data)) == batch.data
    assert batch.data.count(b"\n") == 500
