"""``parse_datetime`` and ``records_table``: received JSON records back into a record table.

Expected values are computed independently of the code under test: truncation by integer
arithmetic, records' empty values from the schema, and the original table the pipeline built.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.config import SamplingConfig, Settings
from netlogpush.dataset.fields import FIELD_NAMES
from netlogpush.dataset.formats import encode_ndjson
from netlogpush.dataset.reader import RecordError, normalize_record, records_table
from netlogpush.dataset.records import SCHEMA, make_table
from netlogpush.dataset.timestamps import TIMESTAMP_FORMATS, format_datetime, parse_datetime
from netlogpush.enrich import SiteConfig
from netlogpush.mitigation.config import MitigationConfig
from netlogpush.pipeline import pipeline_from_settings
from netlogpush.scenarios.catalog import write_scenario
from netlogpush.scenarios.mixed import CUSTOMER_PREFIXES
from netlogpush.sources.pcap import iter_batches

NS = 1_000_000_000
#: Nanoseconds per unit of each format: parsing gives back the value truncated to it.
UNIT_NS = {"unixnano": 1, "unix": NS, "rfc3339": NS, "rfc3339ms": 1_000_000, "rfc3339ns": 1}
#: 10**17 ns is 1973-03-03T09:46:40Z: below it, a nanosecond epoch reads as microseconds.
LOW_NS = 10**17
HIGH_NS = (
    int((datetime(2200, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * NS
)
EMPTY: dict[str, Any] = {f.name: 0 if f.type == pa.int64() else "" for f in SCHEMA}
INT_NAMES = [f.name for f in SCHEMA if f.type == pa.int64() and f.name != "Datetime"]
SITE = SiteConfig(name="ams01", code="AMS", country="NL", latitude=52.3105, longitude=4.7683)


def test_unit_table_covers_every_format() -> None:
    assert set(UNIT_NS) == set(TIMESTAMP_FORMATS)
    assert HIGH_NS == 7_258_118_400 * NS


# -- parse_datetime ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(LOW_NS, HIGH_NS), min_size=1, max_size=20),
    st.sampled_from(TIMESTAMP_FORMATS),
)
def test_parse_inverts_format_to_the_formats_unit(values: list[int], fmt: str) -> None:
    text = format_datetime(pa.array(values, pa.int64()), fmt)
    back = parse_datetime(text)
    assert back.type == pa.int64()
    unit = UNIT_NS[fmt]
    assert back.to_pylist() == [v - v % unit for v in values]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # One instant in each magnitude a sender may use: s, ms, µs, ns.
        ([1_700_000_000], [1_700_000_000 * NS]),
        ([1_700_000_000_123], [1_700_000_000_123_000_000]),
        ([1_700_000_000_123_456], [1_700_000_000_123_456_000]),
        ([1_700_000_000_123_456_789], [1_700_000_000_123_456_789]),
        ([None, 5, None], [0, 5 * NS, 0]),
        ([-(2**63), 2**63 - 1], [-(2**63), 2**63 - 1]),  # nanoseconds already: no scaling
        ([9_223_372_036], [9_223_372_036 * NS]),  # the last whole second int64 ns can hold
        ([1.7e9], [1_700_000_000 * NS]),  # a JSON number Node sends as a double
        ([None, None], [0, 0]),
        # Nulls beside strings are the empty value, not an unparsable "".
        (["2023-11-14T22:13:20Z", None], [1_700_000_000 * NS, 0]),
        (["2023-11-15T00:13:20.5+02:00"], [1_700_000_000 * NS + NS // 2]),
        (["1970-01-01T00:00:00.000000001Z"], [1]),
    ],
)
def test_parse_exact_values(values: list[Any], expected: list[int]) -> None:
    assert parse_datetime(pa.array(values)).to_pylist() == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([9_223_372_037], "Datetime: 9223372037 is out of range"),  # seconds past 2262
        ([-50_000_000_000], "Datetime: -50000000000 is out of range"),
        ([1.5], "Datetime: not an integer epoch"),
        ([float("nan")], "Datetime: not an integer epoch"),
        (["yesterday"], "Datetime: not an epoch number or RFC 3339 time"),
        (["2023-11-14T22:13:20"], "Datetime: not an epoch number or RFC 3339 time"),  # no zone
        ([True], "Datetime: expected numbers or RFC 3339 strings, got bool"),
        ([[1]], "Datetime: expected numbers or RFC 3339 strings, got list<item: int64>"),
    ],
)
def test_parse_refuses_naming_datetime(values: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        parse_datetime(pa.array(values))


# -- records_table: hand-made records ---------------------------------------------------------


def test_missing_fields_nulls_and_ints_as_strings() -> None:
    records: list[dict[str, Any]] = [
        {"Datetime": 1_700_000_000_000_000_001, "SourcePort": 443, "ColoCode": "AMS"},
        # Fields the first record lacks must not be lost.
        {"Datetime": None, "SampleInterval": "100", "IPSourceAddress": "198.51.100.7"},
        {"SourcePort": None, "ColoCode": None, "TCPSequenceNumber": "4294967295"},
        {},
    ]
    expected = [
        {**EMPTY, "Datetime": 1_700_000_000_000_000_001, "SourcePort": 443, "ColoCode": "AMS"},
        {**EMPTY, "SampleInterval": 100, "IPSourceAddress": "198.51.100.7"},
        {**EMPTY, "TCPSequenceNumber": 4_294_967_295},
        dict(EMPTY),
    ]
    table = records_table(records)
    assert table.schema == SCHEMA
    assert table.to_pylist() == expected


def test_ints_and_strings_mixed_in_one_field() -> None:
    records: list[dict[str, Any]] = [
        {"SampleInterval": 5, "ColoCode": 7},
        {"SampleInterval": "6", "ColoCode": "AMS"},
        {"SampleInterval": None},
    ]
    table = records_table(records)
    assert table.column("SampleInterval").to_pylist() == [5, 6, 0]
    assert table.column("ColoCode").to_pylist() == ["7", "AMS", ""]


def test_datetime_in_each_format_and_all_null_columns() -> None:
    records: list[dict[str, Any]] = [
        {"Datetime": "2023-11-14T22:13:20.123Z", "RuleID": None},
        {"Datetime": "2023-11-14T22:13:21Z", "RuleID": None},
    ]
    table = records_table(records)
    assert table.column("Datetime").to_pylist() == [1_700_000_000_123_000_000, 1_700_000_001 * NS]
    assert table.column("RuleID").to_pylist() == ["", ""]
    seconds = records_table([{"Datetime": 1_700_000_000}, {"Datetime": 1_700_000_001}])
    assert seconds.column("Datetime").to_pylist() == [1_700_000_000 * NS, 1_700_000_001 * NS]


def test_legacy_spellings_after_normalize_record() -> None:
    legacy: list[dict[str, Any]] = [
        {"ColoID": 42, "IPTtl": 57, "SourceASNDescription": "EXAMPLE", "TCPMss": "1460"},
        {"IPTTL": 64, "IPTtl": 1, "GREEthertype": 2048, "Datetime": 1_700_000_000},
    ]
    table = records_table([normalize_record(r) for r in legacy])
    assert table.to_pylist() == [
        {**EMPTY, "IPTTL": 57, "SourceASNName": "EXAMPLE", "TCPMSS": 1460},
        {**EMPTY, "IPTTL": 64, "GREEtherType": 2048, "Datetime": 1_700_000_000 * NS},
    ]


def test_no_records_is_the_empty_table() -> None:
    assert records_table([]).equals(SCHEMA.empty_table())


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"SampleInterval": "x"}], "SampleInterval: expected integer values"),
        (
            [{"SampleInterval": 1}, {"SampleInterval": "x"}],
            "SampleInterval: expected integer values",
        ),
        ([{"SourcePort": 1}, {"SourcePort": [1]}], "SourcePort: values Arrow cannot convert"),
        ([{"SourcePort": [1]}], "SourcePort: expected integer values"),
        ([{"ColoCode": {"a": 1}}], "ColoCode: expected string values"),
        ([{"TCPFlags": True}], "TCPFlags: expected integer values, got true/false"),
        ([{"ColoCode": False}], "ColoCode: expected string values, got true/false"),
        ([{"SourcePort": 1.5}], "SourcePort: expected integer values"),
        ([{"SourcePort": 2**64 - 1}], "SourcePort: expected integer values"),
        ([{"SourcePort": 2**63}], "SourcePort: expected integer values"),
        ([{"ColoCode": "\ud800"}], "ColoCode: values Arrow cannot convert"),
        ([{"Datetime": "yesterday"}], "Datetime: not an epoch number or RFC 3339 time"),
        ([{"Datetime": 1}, {"Datetime": "2023-11-14T22:13:20Z"}], "Datetime: values Arrow cannot"),
        ([{"Datetime": 1.5}], "Datetime: not an integer epoch"),
        ([{"Datetime": 50_000_000_000}], "Datetime: 50000000000 is out of range"),
        ([{"SourcePort": 1}, {"Bogus": 1, "ClientIP": "x"}], "unknown field 'Bogus'"),
        ([{"IPTtl": 64}], "unknown field 'IPTtl'"),  # legacy names: normalize_record first
    ],
)
def test_a_wrong_type_names_the_field(records: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(RecordError, match=f"^{message}"):
        records_table(records)


# -- records_table: well-typed random records -------------------------------------------------


@st.composite
def typed_records(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Records with random fields, values, nulls and ints sent as strings; and the rows
    ``records_table`` must give back, built from the schema's empty values."""
    records, expected = [], []
    for _ in range(draw(st.integers(1, 6))):
        record: dict[str, Any] = {}
        row = dict(EMPTY)
        for name in draw(st.lists(st.sampled_from(FIELD_NAMES), unique=True, max_size=8)):
            how = draw(st.sampled_from(["null", "value", "text"]))
            if how == "null":
                record[name] = None
            elif name == "Datetime":
                row[name] = record[name] = draw(st.integers(LOW_NS, 2**63 - 1))
            elif name in INT_NAMES:
                number = draw(st.integers(-(2**63), 2**63 - 1))
                record[name] = str(number) if how == "text" else number
                row[name] = number
            else:  # "text" here: a number where a string belongs
                sent = draw(st.integers(0, 10**6) if how == "text" else st.text(max_size=8))
                record[name] = sent
                row[name] = str(sent)
        records.append(record)
        expected.append(row)
    return records, expected


@settings(max_examples=150, deadline=None)
@given(typed_records())
def test_random_well_typed_records(case: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    records, expected = case
    assert records_table(records).to_pylist() == expected


# -- records_table: fuzz ----------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["\ud800", "2023-11-14T22:13:20Z", "12", "-1", "1e3"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
field_names = st.sampled_from(FIELD_NAMES) | st.text(max_size=10)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.dictionaries(field_names, json_values, max_size=6), max_size=6))
def test_fuzz_records_table(records: list[dict[str, Any]]) -> None:
    try:
        table = records_table(records)
    except RecordError:
        return
    assert table.schema == SCHEMA
    assert table.num_rows == len(records)


# -- the pipeline's records through NDJSON and back -------------------------------------------


@pytest.fixture(scope="module")
def pipeline_table(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    """An attack mixed into benign traffic, through the three systems (inline, so drops)."""
    path = tmp_path_factory.mktemp("capture") / "dns.pcap"
    made = write_scenario("dns-amplification", path, seed=3, duration_s=2.0, attack_start_s=0.5,
                          attack_duration_s=1.0, benign_pps=2000.0, attack_pps=4000.0)  # fmt: skip
    settings = Settings(
        site=SITE,
        customer_prefixes=list(CUSTOMER_PREFIXES),
        sampling=SamplingConfig(interval=10, seed=1),
        mitigation=MitigationConfig(mode="inline"),
    )
    table = pa.concat_tables(pipeline_from_settings(settings).run(iter_batches(made.path)))
    # The round trip must carry every kind of value: several systems, drops, attack fields.
    assert table.num_rows > 500
    systems = {"dosd", "flowtrackd", "magic-firewall"}
    assert set(table.column("MitigationSystem").to_pylist()) == systems
    assert "drop" in table.column("Outcome").to_pylist()
    return table


def _through_ndjson(table: pa.Table, fmt: str, names: list[str] | None = None) -> pa.Table:
    text = bytes(encode_ndjson(table, names, timestamp_format=fmt))
    return records_table([orjson.loads(line) for line in text.splitlines()])


def _truncated(table: pa.Table, unit: int) -> pa.Table:
    ts = table.column("Datetime").to_numpy()
    i = table.schema.get_field_index("Datetime")
    return table.set_column(i, SCHEMA.field("Datetime"), pa.array(ts - ts % unit, pa.int64()))


@pytest.mark.parametrize("fmt", TIMESTAMP_FORMATS)
def test_pipeline_records_round_trip(pipeline_table: pa.Table, fmt: str) -> None:
    back = _through_ndjson(pipeline_table, fmt)
    expected = _truncated(pipeline_table, UNIT_NS[fmt])
    assert back.schema == SCHEMA
    assert back.equals(expected)
    if UNIT_NS[fmt] > 1:  # the capture has sub-unit times, so truncation was exercised
        assert not back.equals(pipeline_table)


def test_pipeline_records_with_a_field_selection(pipeline_table: pa.Table) -> None:
    # Every other field (Datetime is at an even index, so added): the rest read as empty.
    names = ["Datetime", *FIELD_NAMES[1::2]]
    back = _through_ndjson(pipeline_table, "rfc3339ns", names)
    expected = make_table({n: pipeline_table.column(n) for n in names}, pipeline_table.num_rows)
    assert back.equals(expected)
    # AttackVector is left out, and the capture's attack samples had one.
    assert set(pipeline_table.column("AttackVector").to_pylist()) == {"", "DNS Amplification"}
    assert set(back.column("AttackVector").to_pylist()) == {""}
