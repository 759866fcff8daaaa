"""Reading NDJSON records back, in current or legacy (2021-2022) field spellings."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.dataset.fields import FIELD_NAMES
from netlogpush.dataset.formats import encode_ndjson
from netlogpush.dataset.reader import RecordError, iter_ndjson, normalize_record
from netlogpush.dataset.records import make_table


def test_legacy_names_are_renamed() -> None:
    legacy = {
        "ColoID": 42,
        "DestinationASNDescription": "CLOUDFLARENET",
        "SourceASNDescription": "CHINANET",
        "GREEthertype": 2048,
        "IPTtl": 114,
        "IPTtlBuckets": 110,
        "IPv4Dscp": 46,
        "IPv4Ecn": 1,
        "IPv6Dscp": 10,
        "IPv6Ecn": 2,
        "TCPMss": 1460,
        "TCPSackBlocks": "1,2",
        "TCPSacksPermitted": 1,
        "TCPTimestampEcr": 9,
        "SourcePort": 80,
    }
    assert normalize_record(legacy) == {
        "SourcePort": 80,
        "DestinationASNName": "CLOUDFLARENET",
        "SourceASNName": "CHINANET",
        "GREEtherType": 2048,
        "IPTTL": 114,
        "IPTTLBuckets": 110,
        "IPv4DSCP": 46,
        "IPv4ECN": 1,
        "IPv6DSCP": 10,
        "IPv6ECN": 2,
        "TCPMSS": 1460,
        "TCPSACKBlocks": "1,2",
        "TCPSACKPermitted": 1,
        "TCPTimestampECR": 9,
    }


@pytest.mark.parametrize(
    "record",
    [
        {"IPTtl": 1, "IPTTL": 2},
        {"IPTTL": 2, "IPTtl": 1},
    ],
)
def test_current_name_wins_over_its_legacy_twin(record: dict[str, Any]) -> None:
    assert normalize_record(record) == {"IPTTL": 2}


def test_coloid_is_dropped() -> None:
    assert normalize_record({"ColoID": 7, "ColoName": "ams01"}) == {"ColoName": "ams01"}


def test_unknown_field() -> None:
    with pytest.raises(RecordError, match="unknown field 'ClientIP'"):
        normalize_record({"SourcePort": 1, "ClientIP": "192.0.2.1"})


def test_iter_ndjson_reads_lines_and_skips_blank_ones() -> None:
    lines = [b'{"IPTtl":64,"SourcePort":1}\n', b"\n", b"   \r\n", b'{"Verdict":"drop"}\r\n']
    assert list(iter_ndjson(lines)) == [{"IPTTL": 64, "SourcePort": 1}, {"Verdict": "drop"}]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([b'{"SourcePort":1}', b"", b"{nope"], "line 3: not JSON"),
        ([b'{"SourcePort":1}', b"[1,2]"], "line 2: a record must be a JSON object"),
        ([b'"text"'], "line 1: a record must be a JSON object"),
        ([b"\n", b'{"Bogus":1}'], "line 2: unknown field 'Bogus'"),
        ([b'{"SourcePort":1'], "line 1: not JSON"),
    ],
)
def test_iter_ndjson_errors_name_the_line(lines: list[bytes], message: str) -> None:
    records = iter_ndjson(lines)
    with pytest.raises(RecordError, match=f"^{message}"):
        list(records)


def test_records_before_a_bad_line_are_yielded() -> None:
    records = iter_ndjson([b'{"SourcePort":1}', b"{nope"])
    assert next(records) == {"SourcePort": 1}
    with pytest.raises(RecordError):
        next(records)


texts = st.text(max_size=6)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(texts, st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1)),
        min_size=1,
        max_size=5,
    )
)
def test_round_trip_through_ndjson(rows: list[tuple[str, int, int]]) -> None:
    table = make_table(
        {
            "RuleName": pa.array([r[0] for r in rows], pa.string()),
            "TCPSequenceNumber": np.array([r[1] for r in rows], np.int64),
            "Datetime": np.array([r[2] for r in rows], np.int64),
        },
        len(rows),
    )
    text = bytes(encode_ndjson(table))
    back = list(iter_ndjson(text.splitlines(keepends=True)))
    assert back == table.to_pylist()
    assert [list(r) for r in back] == [list(FIELD_NAMES)] * len(rows)
    assert back == [orjson.loads(line) for line in text.splitlines()]
