"""Logpush filters: every operator, nesting, limits, and agreement with a per-record evaluator."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.dataset.records import make_table
from netlogpush.logpush.filter import MAX_BYTES, MAX_CONDITIONS, FilterError, parse_filter


def table() -> pa.Table:
    return make_table(
        {
            "MitigationSystem": ["dosd", "flowtrackd", "magic-firewall", "", "dosd"],
            "ColoCode": ["SJC", "AMS", "SJC", "LHR", "ams"],
            "DestinationPort": [80, 443, 53, 0, 8080],
            "IPv4DontFragment": [1, 0, 1, 0, 1],
            "TCPOptions": ["1,1,5", "", "2,4,8", "5", "1,5"],
        },
        5,
    )


def rows(where: dict[str, Any]) -> list[int]:
    f = parse_filter(json.dumps({"where": where}))
    assert f is not None
    return [i for i, keep in enumerate(f.mask(table()).to_pylist()) if keep]


def leaf(key: str, op: str, value: Any) -> dict[str, Any]:
    return {"key": key, "operator": op, "value": value}


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        (leaf("MitigationSystem", "eq", "dosd"), [0, 4]),
        (leaf("MitigationSystem", "!eq", "dosd"), [1, 2, 3]),
        (leaf("MitigationSystem", "neq", "dosd"), [1, 2, 3]),
        (leaf("DestinationPort", "eq", 80), [0]),
        (leaf("DestinationPort", "eq", "80"), [0]),
        (leaf("DestinationPort", "!eq", 80), [1, 2, 3, 4]),
        (leaf("DestinationPort", "lt", "80"), [2, 3]),
        (leaf("DestinationPort", "leq", 80), [0, 2, 3]),
        (leaf("DestinationPort", "gt", 80), [1, 4]),
        (leaf("DestinationPort", "geq", 443.0), [1, 4]),
        (leaf("IPv4DontFragment", "eq", True), [0, 2, 4]),
        (leaf("IPv4DontFragment", "eq", False), [1, 3]),
        (leaf("MitigationSystem", "startsWith", "magic"), [2]),
        (leaf("MitigationSystem", "!startsWith", "magic"), [0, 1, 3, 4]),
        (leaf("MitigationSystem", "endsWith", "d"), [0, 1, 4]),
        (leaf("MitigationSystem", "!endsWith", "d"), [2, 3]),
        (leaf("TCPOptions", "contains", "5"), [0, 3, 4]),
        (leaf("TCPOptions", "!contains", "5"), [1, 2]),
        (leaf("ColoCode", "in", ["SJC", "LHR"]), [0, 2, 3]),
        (leaf("ColoCode", "!in", ["SJC", "LHR"]), [1, 4]),
        (leaf("DestinationPort", "in", [80, 53]), [0, 2]),
        (leaf("DestinationPort", "in", "80,53"), [0, 2]),
        (leaf("DestinationPort", "!in", ["80", 53]), [1, 3, 4]),
        (leaf("DestinationPort", "in", [2**70]), []),
        (leaf("DestinationPort", "lt", 2**70), [0, 1, 2, 3, 4]),
        (leaf("DestinationPort", "geq", -(2**70)), [0, 1, 2, 3, 4]),
        (leaf("ColoCode", "eq", "sjc"), []),  # case-sensitive
        (leaf("IPTtl", "eq", 0), [0, 1, 2, 3, 4]),  # legacy name of IPTTL
    ],
)
def test_every_operator(cond: dict[str, Any], expected: list[int]) -> None:
    assert rows(cond) == expected


def test_nested_and_or() -> None:
    x = leaf("MitigationSystem", "eq", "dosd")
    y = leaf("DestinationPort", "eq", 80)
    z = leaf("ColoCode", "eq", "LHR")
    assert rows({"and": [x, {"or": [y, z]}]}) == [0]
    assert rows({"or": [{"and": [x, y]}, z]}) == [0, 3]
    assert rows({"or": [x, y, z]}) == [0, 3, 4]
    assert rows({"and": [{"and": [{"or": [x]}]}]}) == [0, 4]


def test_no_filter_and_apply() -> None:
    assert parse_filter(None) is None
    assert parse_filter("  ") is None
    f = parse_filter({"where": leaf("ColoCode", "eq", "SJC")})
    assert f is not None and f.conditions == 1
    assert f.apply(table()).column("DestinationPort").to_pylist() == [80, 53]


@pytest.mark.parametrize(
    ("doc", "path", "rule"),
    [
        ("{", "filter", "json"),
        ("[]", "filter", "where"),
        ('{"key":"ColoCode"}', "filter", "where"),
        ('{"where":{},"x":1}', "filter", "shape"),
        ('{"where":[]}', "where", "shape"),
        ('{"where":{"and":[]}}', "where.and", "shape"),
        ('{"where":{"and":{}}}', "where.and", "shape"),
        ('{"where":{"and":[{"key":"ColoCode","operator":"eq"}]}}', "where.and[0]", "shape"),
        ('{"where":{"and":[1],"or":[1]}}', "where", "shape"),
        ('{"where":{"or":[{"key":"Nope","operator":"eq","value":"x"}]}}', "where.or[0].key", "key"),
        ('{"where":{"key":"ColoID","operator":"eq","value":1}}', "where.key", "key"),
        ('{"where":{"key":7,"operator":"eq","value":1}}', "where.key", "key"),
        (
            '{"where":{"key":"ColoCode","operator":"like","value":"x"}}',
            "where.operator",
            "operator",
        ),
        ('{"where":{"key":"ColoCode","operator":"lt","value":"x"}}', "where.operator", "operator"),
        (
            '{"where":{"key":"DestinationPort","operator":"contains","value":"8"}}',
            "where.operator",
            "operator",
        ),
        (
            '{"where":{"key":"DestinationPort","operator":"startsWith","value":"8"}}',
            "where.operator",
            "operator",
        ),
        (
            '{"where":{"key":"DestinationPort","operator":"eq","value":"eighty"}}',
            "where.value",
            "value",
        ),
        ('{"where":{"key":"DestinationPort","operator":"eq","value":8.5}}', "where.value", "value"),
        ('{"where":{"key":"ColoCode","operator":"eq","value":5}}', "where.value", "value"),
        ('{"where":{"key":"ColoCode","operator":"in","value":[]}}', "where.value", "value"),
        ('{"where":{"key":"ColoCode","operator":"in","value":["a",1]}}', "where.value[1]", "value"),
        (
            '{"where":{"key":"DestinationPort","operator":"in","value":{"a":1}}}',
            "where.value",
            "value",
        ),
    ],
)
def test_errors_name_path_and_rule(doc: str, path: str, rule: str) -> None:
    with pytest.raises(FilterError) as exc:
        parse_filter(doc)
    assert (exc.value.path, exc.value.rule) == (path, rule)
    assert str(exc.value).startswith(f"filter {path}: ")


def test_condition_limit() -> None:
    # The shortest condition is 41 bytes (+1 comma), so under the documented 1000 bytes at most 23 fit:
    # the byte limit bites first. The count is checked with a raised byte limit.
    short = {"key": "IPTTL", "operator": "eq", "value": 0}
    assert len(json.dumps(short, separators=(",", ":"))) == 41  # 42 with its comma
    with pytest.raises(FilterError) as exc:
        parse_filter({"where": {"or": [short] * 24}})
    assert (exc.value.path, exc.value.rule) == ("filter", "max_bytes")
    ok = {"where": {"or": [short] * MAX_CONDITIONS}}
    f = parse_filter(ok, max_bytes=10_000)
    assert f is not None and f.conditions == MAX_CONDITIONS
    over = {"where": {"and": [short, {"or": [short] * MAX_CONDITIONS}]}}
    with pytest.raises(FilterError) as exc:
        parse_filter(over, max_bytes=10_000)
    assert (exc.value.rule, exc.value.path) == (
        "max_conditions",
        f"where.and[1].or[{MAX_CONDITIONS - 1}]",
    )
    f = parse_filter({"where": {"or": [short] * 23}})
    assert f is not None and f.conditions == 23


def test_byte_limit_counts_utf8_bytes_of_the_string() -> None:
    base = '{"where":{"key":"DNSQueryName","operator":"eq","value":"%s"}}'
    pad = MAX_BYTES - len(base % "")
    assert parse_filter(base % ("a" * pad)) is not None
    with pytest.raises(FilterError, match="max_bytes"):
        parse_filter(base % ("é" * (pad // 2 + 1)))


# ---- property: vectorised mask == per-record reference -----------------------------------

STR_FIELDS = ["ColoCode", "DNSQueryName"]
INT_FIELDS = ["DestinationPort", "IPTTL"]
_S = st.text(alphabet="ab,", max_size=3)
_I = st.integers(-2, 5)


def _leaf_strategy() -> st.SearchStrategy[dict[str, Any]]:
    s = st.builds(
        leaf,
        st.sampled_from(STR_FIELDS),
        st.sampled_from(
            [
                "eq",
                "!eq",
                "startsWith",
                "endsWith",
                "!startsWith",
                "!endsWith",
                "contains",
                "!contains",
            ]
        ),
        _S,
    )
    s_in = st.builds(
        leaf,
        st.sampled_from(STR_FIELDS),
        st.sampled_from(["in", "!in"]),
        st.lists(_S, min_size=1, max_size=3),
    )
    i = st.builds(
        leaf,
        st.sampled_from(INT_FIELDS),
        st.sampled_from(["eq", "!eq", "lt", "leq", "gt", "geq"]),
        _I,
    )
    i_in = st.builds(
        leaf,
        st.sampled_from(INT_FIELDS),
        st.sampled_from(["in", "!in"]),
        st.lists(_I, min_size=1, max_size=3),
    )
    return st.one_of(s, s_in, i, i_in)


_WHERE = st.recursive(
    _leaf_strategy(),
    lambda kids: st.one_of(
        st.builds(lambda xs: {"and": xs}, st.lists(kids, min_size=1, max_size=3)),
        st.builds(lambda xs: {"or": xs}, st.lists(kids, min_size=1, max_size=3)),
    ),
    max_leaves=8,
)


def reference(node: dict[str, Any], rec: dict[str, Any]) -> bool:
    """Plain per-record semantics of the docs' operators."""
    if "and" in node:
        return all(reference(n, rec) for n in node["and"])
    if "or" in node:
        return any(reference(n, rec) for n in node["or"])
    v, op, x = rec[node["key"]], node["operator"], node["value"]
    neg = op.startswith("!")
    base = op.lstrip("!")
    result = {
        "eq": lambda: v == x,
        "lt": lambda: v < x,
        "leq": lambda: v <= x,
        "gt": lambda: v > x,
        "geq": lambda: v >= x,
        "startsWith": lambda: v.startswith(x),
        "endsWith": lambda: v.endswith(x),
        "contains": lambda: x in v,
        "in": lambda: v in x,
    }[base]()
    return result != neg


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_S, _S, _I, _I), min_size=0, max_size=12),
    _WHERE,
)
def test_vectorised_equals_reference(
    recs: list[tuple[str, str, int, int]], where: dict[str, Any]
) -> None:
    cols = {name: pa.array([r[i] for r in recs]) for i, name in enumerate(STR_FIELDS + INT_FIELDS)}
    t = make_table(cols, len(recs))
    f = parse_filter(json.dumps({"where": where}))
    assert f is not None
    got = f.mask(t).to_pylist()
    expected = [reference(where, rec) for rec in t.select(STR_FIELDS + INT_FIELDS).to_pylist()]
    assert got == expected


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_fuzz_parse_raises_only_filter_error(src: str) -> None:
    with contextlib.suppress(FilterError):
        parse_filter(src)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
        lambda kids: st.one_of(
            st.lists(kids, max_size=3),
            st.dictionaries(
                st.sampled_from(
                    ["where", "and", "or", "key", "operator", "value", "ColoCode", "eq"]
                ),
                kids,
                max_size=4,
            ),
        ),
        max_leaves=12,
    )
)
def test_fuzz_structures_raise_only_filter_error(doc: Any) -> None:
    with contextlib.suppress(FilterError):
        parse_filter(json.dumps({"where": doc}))
