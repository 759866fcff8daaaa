"""output_options: exact bytes for every key and the documented combinations."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.dataset.formats import encode_ndjson
from netlogpush.dataset.records import make_table
from netlogpush.logpush.output_options import (
    OutputOptions,
    OutputOptionsError,
    Sampler,
    TemplateError,
    compile_options,
    encode_batch,
    from_logpull_options,
    job_output_options,
    parse_output_options,
    parse_template,
    to_logpull_options,
)

T0 = 1506702504433000200
FIELDS = ["ColoCode", "Datetime", "DestinationPort"]


def table3() -> pa.Table:
    return make_table(
        {
            "ColoCode": ["SJC", "AMS", "LHR"],
            "Datetime": [T0, T0 + 100, T0 + 1_000_000_200],
            "DestinationPort": [80, 443, 53],
        },
        3,
    )


def enc(opts: dict[str, Any], table: pa.Table | None = None) -> bytes:
    return encode_batch(table3() if table is None else table, parse_output_options(opts))


# ---- defaults and each layout key ------------------------------------------------------------


def test_ndjson_default_shape() -> None:
    assert enc({"field_names": FIELDS}) == (
        b'{"ColoCode":"SJC","Datetime":1506702504433000200,"DestinationPort":80}\n'
        b'{"ColoCode":"AMS","Datetime":1506702504433000300,"DestinationPort":443}\n'
        b'{"ColoCode":"LHR","Datetime":1506702505433000400,"DestinationPort":53}\n'
    )


def test_csv_default_quotes_every_string_and_no_integer() -> None:
    assert enc({"field_names": FIELDS, "output_type": "csv"}) == (
        b'"SJC",1506702504433000200,80\n"AMS",1506702504433000300,443\n'
        b'"LHR",1506702505433000400,53\n'
    )


def test_csv_quoting_of_quotes_commas_newlines() -> None:
    t = make_table({"ColoCode": ['a"b', "c,d", "e\nf"], "DestinationPort": [1, 2, 3]}, 3)
    out = enc({"field_names": ["ColoCode", "DestinationPort"], "output_type": "csv"}, t)
    assert out == b'"a""b",1\n"c,d",2\n"e\nf",3\n'
    assert list(csv.reader(io.StringIO(out.decode()))) == [
        ['a"b', "1"],
        ["c,d", "2"],
        ["e\nf", "3"],
    ]


def test_csv_header_and_tsv_from_the_docs() -> None:
    header = {"batch_prefix": "ColoCode,Datetime,DestinationPort\n"}
    assert enc({"field_names": FIELDS, "output_type": "csv", **header}).startswith(
        b'ColoCode,Datetime,DestinationPort\n"SJC",1506702504433000200,80\n'
    )
    tsv = enc({"field_names": FIELDS, "output_type": "csv", "field_delimiter": "\t"})
    assert tsv.split(b"\n")[0] == b'"SJC"\t1506702504433000200\t80'


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("batch_prefix", "[[", b'[[{"ColoCode":"SJC"}\n{"ColoCode":"AMS"}\n'),
        ("batch_suffix", "]]", b'{"ColoCode":"SJC"}\n{"ColoCode":"AMS"}\n]]'),
        ("record_prefix", "<{", b'<{"ColoCode":"SJC"}\n<{"ColoCode":"AMS"}\n'),
        ("record_suffix", "}", b'{"ColoCode":"SJC"}{"ColoCode":"AMS"}'),
        ("record_delimiter", "|", b'{"ColoCode":"SJC"}\n|{"ColoCode":"AMS"}\n'),
        ("record_prefix", "", b'"ColoCode":"SJC"}\n"ColoCode":"AMS"}\n'),
    ],
)
def test_each_layout_key(key: str, value: str, expected: bytes) -> None:
    t = make_table({"ColoCode": ["SJC", "AMS"]}, 2)
    assert enc({"field_names": ["ColoCode"], key: value}, t) == expected


def test_field_delimiter() -> None:
    t = make_table({"ColoCode": ["SJC"], "DestinationPort": [80]}, 1)
    out = enc({"field_names": ["ColoCode", "DestinationPort"], "field_delimiter": ", "}, t)
    assert out == b'{"ColoCode":"SJC", "DestinationPort":80}\n'


def test_nested_json_example_from_the_docs() -> None:
    opts = {
        "field_names": FIELDS,
        "batch_prefix": '{"events":[',
        "batch_suffix": "\n]}\n",
        "record_prefix": '\n  {"info":{',
        "record_suffix": "}}",
        "record_delimiter": ",",
    }
    out = enc(opts)
    assert out == (
        b'{"events":[\n'
        b'  {"info":{"ColoCode":"SJC","Datetime":1506702504433000200,"DestinationPort":80}},\n'
        b'  {"info":{"ColoCode":"AMS","Datetime":1506702504433000300,"DestinationPort":443}},\n'
        b'  {"info":{"ColoCode":"LHR","Datetime":1506702505433000400,"DestinationPort":53}}\n'
        b"]}\n"
    )
    assert len(orjson.loads(out)["events"]) == 3


def test_null_layout_keys_mean_the_type_default() -> None:
    nulls = {k: None for k in ("batch_prefix", "record_prefix", "record_suffix", "field_delimiter")}
    assert enc({"field_names": FIELDS, **nulls}) == enc({"field_names": FIELDS})
    o = parse_output_options({"output_type": None, "sample_rate": None, "timestamp_format": None})
    assert (o.output_type, o.sample_rate, o.timestamp_format) == ("ndjson", 1.0, "unixnano")


def test_empty_table_is_prefix_and_suffix() -> None:
    empty = make_table({}, 0)
    assert enc({"field_names": FIELDS, "batch_prefix": "[", "batch_suffix": "]"}, empty) == b"[]"
    assert enc({"field_names": FIELDS}, empty) == b""


# ---- timestamps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "value"),
    [
        ("unixnano", b"1506702504433000200"),
        ("unix", b"1506702504"),
        ("rfc3339", b'"2017-09-29T16:28:24Z"'),
        ("rfc3339ms", b'"2017-09-29T16:28:24.433Z"'),
        ("rfc3339ns", b'"2017-09-29T16:28:24.433000200Z"'),
    ],
)
def test_timestamp_formats(fmt: str, value: bytes) -> None:
    t = make_table({"Datetime": [T0]}, 1)
    assert enc({"field_names": ["Datetime"], "timestamp_format": fmt}, t) == (
        b'{"Datetime":' + value + b"}\n"
    )
    csv_value = value
    assert enc({"field_names": ["Datetime"], "output_type": "csv", "timestamp_format": fmt}, t) == (
        csv_value + b"\n"
    )


# ---- record_template ---------------------------------------------------------------------


def test_template_example_from_the_docs() -> None:
    tpl = '"client-ip":{{.ColoCode}},"timestamp":{{.Datetime}},"ray-id":{{.DestinationPort}}'
    assert enc({"field_names": FIELDS, "record_template": tpl}).split(b"\n")[0] == (
        b'{"client-ip":"SJC","timestamp":1506702504433000200,"ray-id":80}'
    )


def test_template_constants_comments_trim_and_literal_braces() -> None:
    t = make_table({"ColoCode": ["SJC"]}, 1)
    tpl = 'a {{/* gone */}}b {{- " c" -}}  d{{`{{`}}x}} {{ "\\t\\u00e9\\x41" }}{{.ColoCode}}'
    out = enc({"field_names": ["ColoCode"], "record_template": tpl, "record_prefix": ""}, t)
    assert out == b'a b cd{{x}} \t\xc3\xa9A"SJC"}\n'


def test_template_field_missing_from_field_names_is_null() -> None:
    t = make_table({"ColoCode": ["SJC"], "DestinationPort": [80]}, 1)
    out = enc(
        {"field_names": ["ColoCode"], "record_template": "{{.DestinationPort}}|{{.ColoCode}}"}, t
    )
    assert out == b'{null|"SJC"}\n'


def test_template_legacy_name_and_csv_quoting() -> None:
    t = make_table({"IPTTL": [64], "ColoCode": ['x"y']}, 1)
    opts = {
        "field_names": ["IPTtl", "ColoCode"],
        "output_type": "csv",
        "record_template": "{{.IPTtl}};{{.ColoCode}}",
    }
    assert enc(opts, t) == b'64;"x""y"\n'


def test_template_escapes_json_strings() -> None:
    t = make_table({"ColoCode": ['q"\\\n\x01']}, 1)
    out = enc({"field_names": ["ColoCode"], "record_template": "{{.ColoCode}}"}, t)
    assert out == b'{"q\\"\\\\\\n\\u0001"}\n'


@pytest.mark.parametrize(
    "bad",
    [
        "{{if .ColoCode}}x{{end}}",
        "{{ .ColoCode | printf }}",
        "{{ len .ColoCode }}",
        "{{ .ColoCode",
        "{{/* open",
        '{{ "\\q" }}',
        "{{ . }}",
        "{{ 12 }}",
        '{{ "a\nb" }}',
        '{{ "\\xff" }}',
    ],
)
def test_template_outside_the_subset_is_rejected(bad: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(bad)
    with pytest.raises(OutputOptionsError) as exc:
        parse_output_options({"field_names": ["ColoCode"], "record_template": bad})
    assert exc.value.problems[0][0] == "record_template"


def test_template_unknown_field_is_rejected() -> None:
    with pytest.raises(OutputOptionsError, match=r"record_template: \{\{\.Nope\}\}"):
        parse_output_options({"record_template": "{{.Nope}}"})


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='{}./*-" `\\abcNTxu0\n\t', max_size=40))
def test_template_parser_raises_only_template_errors(src: str) -> None:
    try:
        tokens = parse_template(src)
    except TemplateError:
        return
    assert all(kind in ("text", "field") for kind, _ in tokens)


# ---- CVE-2021-44228 ----------------------------------------------------------------------


def test_cve_escape_replaces_every_dollar_brace() -> None:
    t = make_table({"DNSQueryName": ["${jndi:ldap://x}", "a$b{c"]}, 2)
    opts = {"field_names": ["DNSQueryName"], "batch_prefix": "${p}"}
    assert enc({**opts, "CVE-2021-44228": True}, t) == (
        b'x{p}{"DNSQueryName":"x{jndi:ldap://x}"}\n{"DNSQueryName":"a$b{c"}\n'
    )
    assert enc(opts, t).startswith(b'${p}{"DNSQueryName":"${jndi')
    assert (
        enc({**opts, "output_type": "csv", "CVE-2021-4428": True}, t)
        == b'x{p}"x{jndi:ldap://x}"\n"a$b{c"\n'
    )


# ---- sample_rate -------------------------------------------------------------------------


def test_sampling_is_reproducible_and_near_the_rate() -> None:
    n = 20_000
    t = make_table({"DestinationPort": np.arange(n) % 65536}, n)
    o = parse_output_options({"field_names": ["DestinationPort"], "sample_rate": 0.25})
    a, b, c = (encode_batch(t, o, seed=s) for s in (7, 7, 8))
    assert a == b and a != c
    kept = a.count(b"\n")
    assert abs(kept - n / 4) < 4 * np.sqrt(n * 0.25 * 0.75)
    assert Sampler(1.0).mask(10) is None
    assert (
        encode_batch(t, parse_output_options({"field_names": ["DestinationPort"]})).count(b"\n")
        == n
    )


@pytest.mark.parametrize("rate", [0, -0.1, 1.5, "x"])
def test_sample_rate_range(rate: Any) -> None:
    with pytest.raises(OutputOptionsError) as exc:
        parse_output_options({"sample_rate": rate})
    assert exc.value.problems[0][0] == "sample_rate"


# ---- validation --------------------------------------------------------------------------


def test_errors_name_each_key() -> None:
    with pytest.raises(OutputOptionsError) as exc:
        parse_output_options(
            {"field_names": ["Nope"], "output_type": "xml", "timestamp_format": "iso", "bogus": 1}
        )
    keys = sorted(k for k, _ in exc.value.problems)
    assert keys == ["bogus", "field_names", "output_type", "timestamp_format"]
    assert "output_options.bogus: not an output_options key" in str(exc.value)


def test_field_names_current_legacy_duplicates() -> None:
    o = parse_output_options({"field_names": ["IPTtl", "ColoID", "TCPSacksPermitted"]})
    assert o.field_names == ["IPTTL", "TCPSACKPermitted"]
    for bad in ([], ["IPTTL", "IPTtl"], ["ColoID"], [3]):
        with pytest.raises(OutputOptionsError) as exc:
            parse_output_options({"field_names": bad})
        assert exc.value.problems[0][0].startswith("field_names")


def test_unset_field_names_means_all_fields_in_dataset_order() -> None:
    t = table3()
    assert encode_batch(t, OutputOptions()) == bytes(encode_ndjson(t))


def test_to_api_uses_the_documented_key_names() -> None:
    o = parse_output_options(
        {"field_names": ["ColoCode"], "CVE-2021-4428": True, "record_delimiter": ""}
    )
    assert o.to_api() == {
        "field_names": ["ColoCode"],
        "output_type": "ndjson",
        "record_delimiter": "",
        "timestamp_format": "unixnano",
        "sample_rate": 1.0,
        "CVE-2021-44228": True,
    }
    assert parse_output_options(o.to_api()) == o


# ---- logpull_options ---------------------------------------------------------------------


def test_logpull_migration_example_from_the_docs() -> None:
    o = from_logpull_options(
        "fields=ColoCode,Datetime,SourcePort&sample=0.1&timestamps=rfc3339&CVE-2021-44228=true"
    )
    assert o == parse_output_options(
        {
            "field_names": ["ColoCode", "Datetime", "SourcePort"],
            "sample_rate": 0.1,
            "timestamp_format": "rfc3339",
            "CVE-2021-44228": True,
        }
    )
    assert to_logpull_options(o) == (
        "fields=ColoCode,Datetime,SourcePort&sample=0.1&timestamps=rfc3339&CVE-2021-44228=true"
    )
    assert from_logpull_options(to_logpull_options(o)) == o


def test_logpull_full_url_and_errors() -> None:
    o = from_logpull_options(
        "https://x/logs/received?start=1&end=2&fields=ColoCode&timestamps=unix"
    )
    assert (o.field_names, o.timestamp_format) == (["ColoCode"], "unix")
    with pytest.raises(OutputOptionsError) as exc:
        from_logpull_options("fields=ColoCode&colour=red&sample=half&CVE-2021-44228=maybe")
    assert [k for k, _ in exc.value.problems] == ["colour", "sample_rate", "CVE-2021-44228"]
    with pytest.raises(OutputOptionsError, match="timestamp_format"):
        from_logpull_options("timestamps=iso")
    with pytest.raises(OutputOptionsError, match="record_template: cannot be expressed"):
        to_logpull_options(parse_output_options({"record_template": "{{.ColoCode}}"}))


def test_output_options_win_over_logpull_options() -> None:
    o = job_output_options({"field_names": ["ColoCode"]}, "fields=SourcePort")
    assert o.field_names == ["ColoCode"]
    assert job_output_options(None, "fields=SourcePort").field_names == ["SourcePort"]
    assert job_output_options(None, None) == OutputOptions()


# ---- the generic path agrees with dataset.formats ----------------------------------------

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(_TEXT, _TEXT, st.integers(0, 65535), st.integers(0, 2**62)),
        min_size=1,
        max_size=20,
    )
)
def test_generic_encoder_matches_encode_ndjson(rows: list[tuple[str, str, int, int]]) -> None:
    cols = {
        "ColoCode": [r[0] for r in rows],
        "DNSQueryName": [r[1] for r in rows],
        "DestinationPort": [r[2] for r in rows],
        "Datetime": [r[3] for r in rows],
    }
    # pyarrow arrays: numpy would drop trailing NULs from the strings
    t = make_table({k: pa.array(v) for k, v in cols.items()}, len(rows))
    names = ["DNSQueryName", "Datetime", "ColoCode", "DestinationPort"]
    e = compile_options(parse_output_options({"field_names": names}))
    generic = e.assemble([e.encode_records(t)])
    assert generic == bytes(encode_ndjson(t, names)) == e.encode(t)
    parsed = [orjson.loads(line) for line in generic.split(b"\n")[:-1]]
    assert parsed == [{k: cols[k][i] for k in names} for i in range(len(rows))]
    # CSV round-trips through the csv module, strings and integers intact.
    out = encode_batch(t, parse_output_options({"field_names": names, "output_type": "csv"}))
    back = list(csv.reader(io.StringIO(out.decode(), newline="")))
    assert back == [
        [cols[k][i] if k in ("ColoCode", "DNSQueryName") else str(cols[k][i]) for k in names]
        for i in range(len(rows))
    ]
