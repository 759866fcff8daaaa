"""``Datetime`` in each Logpush ``timestamp_format``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.dataset.timestamps import (
    DEFAULT_TIMESTAMP_FORMAT,
    TIMESTAMP_FORMATS,
    format_datetime,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def reference(ts_ns: int, fmt: str) -> int | str:
    """``ts_ns`` formatted independently of the code under test (datetime + integer maths)."""
    if fmt == "unixnano":
        return ts_ns
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    if fmt == "unix":
        return seconds
    text = (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if fmt == "rfc3339ms":
        text += f".{nanos // 1_000_000:03d}"
    elif fmt == "rfc3339ns":
        text += f".{nanos:09d}"
    return text + "Z"


def test_formats_and_default() -> None:
    assert TIMESTAMP_FORMATS == ("unixnano", "unix", "rfc3339", "rfc3339ms", "rfc3339ns")
    assert DEFAULT_TIMESTAMP_FORMAT == "unixnano"


@pytest.mark.parametrize(
    ("fmt", "values"),
    [
        ("unixnano", [0, 1_700_000_000_123_456_789, 999_999_999]),
        ("unix", [0, 1_700_000_000, 0]),
        ("rfc3339", ["1970-01-01T00:00:00Z", "2023-11-14T22:13:20Z", "1970-01-01T00:00:00Z"]),
        (
            "rfc3339ms",
            ["1970-01-01T00:00:00.000Z", "2023-11-14T22:13:20.123Z", "1970-01-01T00:00:00.999Z"],
        ),
        (
            "rfc3339ns",
            [
                "1970-01-01T00:00:00.000000000Z",
                "2023-11-14T22:13:20.123456789Z",
                "1970-01-01T00:00:00.999999999Z",
            ],
        ),
    ],
)
def test_exact_values(fmt: str, values: list[int | str]) -> None:
    ts = pa.array([0, 1_700_000_000_123_456_789, 999_999_999], pa.int64())
    out = format_datetime(ts, fmt)
    assert out.to_pylist() == values
    assert out.type == (pa.int64() if fmt.startswith("unix") else pa.string())


def test_unknown_format_names_the_choices() -> None:
    with pytest.raises(
        ValueError,
        match="timestamp_format must be one of unixnano, unix, rfc3339, rfc3339ms, rfc3339ns; got 'iso'",
    ):
        format_datetime(pa.array([0], pa.int64()), "iso")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=20), st.sampled_from(TIMESTAMP_FORMATS)
)
def test_matches_datetime(values: list[int], fmt: str) -> None:
    out = format_datetime(pa.array(values, pa.int64()), fmt)
    assert out.to_pylist() == [reference(v, fmt) for v in values]
