"""NDJSON and CSV encoders: exact output for any values, key order, every timestamp format."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlogpush.dataset.fields import FIELD_NAMES, FIELDS, empty_value
from netlogpush.dataset.formats import encode_csv, encode_ndjson
from netlogpush.dataset.records import make_table
from netlogpush.dataset.timestamps import TIMESTAMP_FORMATS

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Strings that take every path of the encoders: JSON escapes, CSV quoting, multi-byte UTF-8.
SPECIAL = [
    '"',
    "\\",
    "\n",
    "\r",
    "\r\n",
    ",",
    "\x00",
    "\x1f",
    "\x7f",
    "\t",
    "é",
    "😀",
    "\u2028",
    "",
    " ",
    "a,b",
    '""',
]
texts = st.one_of(
    st.text(max_size=8), st.sampled_from(SPECIAL), st.text(alphabet='ab",\\\n', max_size=5)
)
ints = st.integers(-(2**63), 2**63 - 1)
datetimes = st.integers(0, 2**63 - 1)


@st.composite
def tables(draw: st.DrawFn) -> tuple[pa.Table, list[dict[str, Any]]]:
    """A record table with random values, half its columns constant; and its rows."""
    n = draw(st.integers(1, 4))
    columns: dict[str, list[Any]] = {}
    for f in FIELDS:
        values = ints if f.is_int else datetimes if f.name == "Datetime" else texts
        if draw(st.booleans()):
            columns[f.name] = [draw(values)] * n
        else:
            columns[f.name] = draw(st.lists(values, min_size=n, max_size=n))
    table = make_table({k: pa.array(v) for k, v in columns.items()}, n)
    rows = [{k: columns[k][i] for k in FIELD_NAMES} for i in range(n)]
    return table, rows


field_subsets = st.none() | st.lists(
    st.sampled_from(FIELD_NAMES), unique=True, min_size=1, max_size=84
)


def reference(ts_ns: int, fmt: str) -> int | str:
    """``Datetime`` formatted independently of the code under test."""
    if fmt == "unixnano":
        return ts_ns
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    if fmt == "unix":
        return seconds
    text = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    frac = {"rfc3339": "", "rfc3339ms": f".{nanos // 1_000_000:03d}", "rfc3339ns": f".{nanos:09d}"}[
        fmt
    ]
    return text + frac + "Z"


def expected_dicts(
    rows: list[dict[str, Any]], names: Sequence[str], fmt: str
) -> list[dict[str, Any]]:
    return [{n: reference(r[n], fmt) if n == "Datetime" else r[n] for n in names} for r in rows]


@PROPERTY
@given(tables(), field_subsets, st.sampled_from(TIMESTAMP_FORMATS))
def test_ndjson_is_orjson_of_every_record(
    data: tuple[pa.Table, list[dict[str, Any]]], names: list[str] | None, fmt: str
) -> None:
    table, rows = data
    out = bytes(encode_ndjson(table, names, fmt))
    want = expected_dicts(rows, names or FIELD_NAMES, fmt)
    lines = out.split(b"\n")
    assert lines[-1] == b""  # every line ends in "\n", the last one too
    parsed = [orjson.loads(line) for line in lines[:-1]]
    assert parsed == want
    assert [list(p) for p in parsed] == [list(names or FIELD_NAMES)] * len(rows)  # key order
    # Byte for byte what orjson writes for the same record: compact, same escapes.
    assert out == b"".join(orjson.dumps(w) + b"\n" for w in want)


def _csv_text(value: int | str) -> str:
    return str(value)


@PROPERTY
@given(
    tables(),
    field_subsets.filter(lambda f: f is None or len(f) > 1),
    st.sampled_from(TIMESTAMP_FORMATS),
)
def test_csv_parses_back(
    data: tuple[pa.Table, list[dict[str, Any]]], names: list[str] | None, fmt: str
) -> None:
    table, rows = data
    out = encode_csv(table, names, fmt, header=True)
    parsed = list(csv.reader(io.StringIO(out.decode("utf-8"), newline="")))
    header = list(names or FIELD_NAMES)
    assert parsed[0] == header
    want = [[_csv_text(v) for v in d.values()] for d in expected_dicts(rows, header, fmt)]
    assert parsed[1:] == want
    assert out.endswith(b"\n")
    assert encode_csv(table, names, fmt) == out[out.index(b"\n") + 1 :]


def _small(values: dict[str, list[Any]]) -> pa.Table:
    n = len(next(iter(values.values())))
    return make_table({k: pa.array(v) for k, v in values.items()}, n)


def test_ndjson_exact_bytes_for_each_path() -> None:
    table = _small(
        {
            "AttackID": ['say "hi"', 'say "hi"'],  # constant, needs escaping
            "RuleName": ["tab\there", "back\\slash"],  # varies, needs escaping
            "ColoName": ["ams01", "sjc06"],  # varies, plain
            "ColoCity": ["São Paulo", "São Paulo"],  # constant, plain, not ASCII
            "SourcePort": [443, 443],  # constant int
            "DestinationPort": [1, 65535],  # varying int
            "Datetime": [1_700_000_000_000_000_000, 1_700_000_001_500_000_000],
        }
    )
    names = [
        "AttackID",
        "RuleName",
        "ColoName",
        "ColoCity",
        "SourcePort",
        "DestinationPort",
        "Datetime",
    ]
    assert bytes(encode_ndjson(table, names, "rfc3339ms")) == (
        b'{"AttackID":"say \\"hi\\"","RuleName":"tab\\there","ColoName":"ams01",'
        b'"ColoCity":"S\xc3\xa3o Paulo","SourcePort":443,"DestinationPort":1,'
        b'"Datetime":"2023-11-14T22:13:20.000Z"}\n'
        b'{"AttackID":"say \\"hi\\"","RuleName":"back\\\\slash","ColoName":"sjc06",'
        b'"ColoCity":"S\xc3\xa3o Paulo","SourcePort":443,"DestinationPort":65535,'
        b'"Datetime":"2023-11-14T22:13:21.500Z"}\n'
    )
    assert bytes(encode_ndjson(table, ["Datetime", "SourcePort"], "unix")) == (
        b'{"Datetime":1700000000,"SourcePort":443}\n{"Datetime":1700000001,"SourcePort":443}\n'
    )


def test_ndjson_all_constant_table() -> None:
    table = _small({"ColoName": ["a\nb"] * 3, "SourcePort": [7] * 3})
    assert bytes(encode_ndjson(table, ["SourcePort", "ColoName", "Verdict"])) == (
        b'{"SourcePort":7,"ColoName":"a\\nb","Verdict":""}\n' * 3
    )


def test_ndjson_default_is_all_84_fields_with_unixnano() -> None:
    table = _small({"Datetime": [1_700_000_000_123_456_789]})
    (record,) = [orjson.loads(line) for line in bytes(encode_ndjson(table)).splitlines()]
    assert list(record) == list(FIELD_NAMES)
    assert record == {name: empty_value(name) for name in FIELD_NAMES} | {
        "Datetime": 1_700_000_000_123_456_789
    }


def test_sliced_and_chunked_tables() -> None:
    values: dict[str, list[Any]] = {
        "RuleName": ["a", 'b"', "c", "d"],
        "SourcePort": [1, 2, 3, 4],
        "Datetime": [5, 6, 7, 8],
    }
    table = _small(values)
    sliced = table.slice(1, 2)
    fresh = _small({k: v[1:3] for k, v in values.items()})
    assert bytes(encode_ndjson(sliced)) == bytes(encode_ndjson(fresh))
    assert encode_csv(sliced) == encode_csv(fresh)
    chunked = pa.concat_tables([table.slice(0, 1), table.slice(1, 3)])
    assert chunked.column("RuleName").num_chunks == 2
    assert bytes(encode_ndjson(chunked)) == bytes(encode_ndjson(table))
    assert encode_csv(chunked) == encode_csv(table)


def test_csv_exact_bytes() -> None:
    table = _small({"RuleName": ['a"b', "c,d", "e\nf", "plain"], "SourcePort": [1, 2, 3, 4]})
    assert encode_csv(table, ["SourcePort", "RuleName"], header=True) == (
        b'SourcePort,RuleName\n1,"a""b"\n2,"c,d"\n3,"e\nf"\n4,plain\n'
    )


def test_empty_tables() -> None:
    empty = make_table({}, 0)
    assert bytes(encode_ndjson(empty)) == b""
    assert encode_csv(empty) == b""
    assert encode_csv(empty, ["Datetime", "SourcePort"], header=True) == b"Datetime,SourcePort\n"


def test_unknown_field_names_are_rejected() -> None:
    table = _small({"SourcePort": [1]})
    with pytest.raises(ValueError, match="unknown field name\\(s\\): ClientIP, IPTtl"):
        encode_ndjson(table, ["SourcePort", "ClientIP", "IPTtl"])
    with pytest.raises(ValueError, match="ClientIP"):
        encode_csv(table, ["ClientIP"])


def test_unknown_timestamp_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="timestamp_format"):
        encode_ndjson(_small({"SourcePort": [1]}), ["Datetime"], "rfc3339us")
