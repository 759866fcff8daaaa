"""The view parameters: defaults, every range, times, filters, errors, and fuzzing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.analytics.queries import DIMENSIONS, Filter, View
from netlogpush.analytics.store import NS_PER_S, Retention
from netlogpush.dashboard.params import (
    MAX_FILTER_VALUES,
    DashboardView,
    ParamError,
    nice_step,
    parse_filters,
    parse_time,
    parse_view,
)
from netlogpush.dataset.timestamps import format_datetime

NOW = 1_767_229_207_123_456_789  # 2026-01-01T01:00:07.123456789Z
HOUR = 3600 * NS_PER_S


def test_defaults() -> None:
    dv = parse_view([], NOW)
    step = 600 * NS_PER_S
    end = (NOW // step + 1) * step
    assert dv == DashboardView(
        view=View(end - 24 * HOUR, end, None, (), "outcome"),
        bucket_s=600,
        range="24h",
        tab="all",
        dim="action",
        metric="packets",
        attack_id=None,
        now_ns=NOW,
        floor_s=1,
    )
    assert dv.peak_bucket_s == 60


@pytest.mark.parametrize(
    ("key", "seconds", "bucket"),
    [("15m", 900, 10), ("1h", 3600, 30), ("6h", 21600, 120), ("24h", 86400, 600),
     ("7d", 604800, 3600), ("30d", 2592000, 14400)],
)  # fmt: skip
def test_relative_ranges_end_on_a_bucket_edge(key: str, seconds: int, bucket: int) -> None:
    dv = parse_view([("range", key)], NOW)
    assert dv.bucket_s == bucket and dv.range == key
    assert dv.view.end_ns - dv.view.start_ns == seconds * NS_PER_S
    assert dv.view.end_ns % (bucket * NS_PER_S) == 0
    assert 0 <= dv.view.end_ns - NOW < bucket * NS_PER_S
    on_edge = parse_view([("range", key)], dv.view.end_ns)  # now exactly on an edge
    assert on_edge.view.end_ns == dv.view.end_ns


def test_tab_dim_metric_counting_attack() -> None:
    dv = parse_view(
        [("tab", "magic-firewall"), ("dim", "source_asn"), ("metric", "bits"),
         ("counting", "verdict"), ("attack_id", "a1"), ("unknown", "ignored")],
        NOW,
    )  # fmt: skip
    assert (dv.view.system, dv.view.counting, dv.dim, dv.metric, dv.attack_id, dv.tab) == (
        "magic-firewall", "verdict", "source_asn", "bits", "a1", "magic-firewall",
    )  # fmt: skip
    for tab, system in (("all", None), ("dosd", "dosd"), ("flowtrackd", "flowtrackd")):
        assert parse_view([("tab", tab)], NOW).view.system == system
    assert parse_view([("range", ""), ("tab", ""), ("attack_id", "")], NOW).attack_id is None


def test_absolute_window_wins_over_range() -> None:
    dv = parse_view(
        [("range", "bogus"), ("start", "2026-01-01T00:00:00Z"), ("end", "2026-01-01T06:00:00Z")],
        NOW,
    )
    assert (dv.view.start_ns, dv.view.end_ns, dv.range) == (NOW - 3607123456789, NOW - 3607123456789 + 6 * HOUR, None)  # fmt: skip
    assert dv.bucket_s == 300  # 6 h / 150 = 144 s -> 300 s


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2026-01-01T00:00:00Z", 1_767_225_600 * NS_PER_S),
        ("2026-01-01t00:00:00z", 1_767_225_600 * NS_PER_S),
        ("2026-01-01 01:00:00+01:00", 1_767_225_600 * NS_PER_S),
        ("2025-12-31T19:30:00-04:30", 1_767_225_600 * NS_PER_S),
        ("2026-01-01T00:00:00.5Z", 1_767_225_600 * NS_PER_S + 500_000_000),
        ("2026-01-01T00:00:00.000000001Z", 1_767_225_600 * NS_PER_S + 1),
        ("1767225600000000000", 1_767_225_600 * NS_PER_S),
        ("0", 0),
        ("1969-12-31T23:59:59.999999999Z", -1),
    ],
)
def test_parse_time(text: str, ns: int) -> None:
    assert parse_time("start", text) == ns


@pytest.mark.parametrize(
    "text",
    ["", "now", "2026-01-01", "2026-01-01T00:00:00", "2026-02-29T00:00:00Z", "2026-01-01T24:00:00Z",
     "2026-01-01T00:00:60Z", "2026-01-01T00:00:00.1234567890Z", "2026-01-01T00:00:00+24:00",
     "-5", "1e9", "99999999999999999999", " 1", "１２３"],
)  # fmt: skip
def test_parse_time_refuses(text: str) -> None:
    with pytest.raises(ParamError, match=r"^start: .* is not an RFC 3339 time"):
        parse_time("start", text)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, (1 << 63) - 1 - 86400 * NS_PER_S),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
    st.integers(0, 9),
)
def test_rfc3339_round_trip(ns: int, offset_min: int, digits: int) -> None:
    """What the dataset's own formatter writes parses back; so does the same instant written
    with any offset and any number of fraction digits that keeps it exact."""
    text = format_datetime(pa.array([ns], pa.int64()), "rfc3339ns")[0].as_py()
    assert parse_time("end", text) == ns
    truncated = ns - ns % 10 ** (9 - digits)
    local = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
        seconds=truncated // NS_PER_S, minutes=offset_min
    )
    sign = "+" if offset_min >= 0 else "-"
    frac = f"{truncated % NS_PER_S:09d}"[:digits]
    written = f"{local:%Y-%m-%dT%H:%M:%S}{'.' + frac if digits else ''}{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    assert parse_time("end", written) == truncated


def test_filters_group_by_dimension_and_sign() -> None:
    got = parse_filters(
        ["source_asn:1", "source_asn:2", "!source_asn:3", "source_asn:1", "source_ip:2001:db8::1",
         "source_country:", "packet_size:1500", "!action:drop", "destination_port:-1"]
    )  # fmt: skip
    assert got == (
        Filter("source_asn", (1, 2)),
        Filter("source_asn", (3,), exclude=True),
        Filter("source_ip", ("2001:db8::1",)),
        Filter("source_country", ("",)),
        Filter("packet_size", (1500,)),
        Filter("action", ("drop",), exclude=True),
        Filter("destination_port", (-1,)),
    )
    assert parse_view([("f", "tcp_flag:SYN-ACK")], NOW).view.filters == (
        Filter("tcp_flag", ("SYN-ACK",)),
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("nodim", "f: 'nodim' is not dimension:value or !dimension:value"),
        ("!", "f: '!' is not dimension:value or !dimension:value"),
        ("ttl:5", "f: unknown dimension 'ttl'; one of " + ", ".join(DIMENSIONS)),
        ("source_port:80.0", "f: source_port takes an integer, got '80.0' in 'source_port:80.0'"),
        ("packet_size:", "f: packet_size takes an integer, got '' in 'packet_size:'"),
        ("source_asn:99999999999999999999", "f: source_asn takes an integer"),
    ],
)
def test_bad_filters(raw: str, message: str) -> None:
    with pytest.raises(ParamError) as err:
        parse_filters([raw])
    assert str(err.value).startswith(message)


def test_filter_values_are_bounded() -> None:
    parse_filters([f"source_asn:{i}" for i in range(MAX_FILTER_VALUES)])
    with pytest.raises(ParamError, match="at most"):
        parse_filters([f"source_asn:{i}" for i in range(MAX_FILTER_VALUES + 1)])
    with pytest.raises(ParamError, match="attack_id: longer than"):
        parse_view([("attack_id", "x" * 129)], NOW)


def test_buckets_follow_the_stored_tiers() -> None:
    """Roll-ups hold a row per minute or hour: a finer bucket would misplace them."""
    ret = Retention(raw_ns=HOUR, minute_ns=2 * HOUR, hour_ns=100 * HOUR)
    assert parse_view([("range", "15m")], NOW, ret).bucket_s == 10
    assert parse_view([("range", "6h")], NOW, ret).bucket_s == 3600
    assert parse_view([("range", "6h")], NOW, ret).peak_bucket_s == 3600
    mid = parse_view([("start", str(NOW - 90 * 60 * NS_PER_S)), ("end", str(NOW))], NOW, ret)
    assert (mid.bucket_s, mid.peak_bucket_s) == (60, 60)


@pytest.mark.parametrize(
    ("span_s", "step"),
    [(1, 1), (150, 1), (151, 2), (900, 10), (3600, 30), (86400, 600), (3 * 86400, 1800),
     (400 * 86400, 604800), (10 * 365 * 86400, 4 * 604800)],
)  # fmt: skip
def test_nice_steps(span_s: int, step: int) -> None:
    assert nice_step(span_s * NS_PER_S) == step


_PARAM_NAMES = ["range", "start", "end", "tab", "dim", "metric", "f", "counting", "attack_id", "x"]
_VALUES = st.one_of(
    st.sampled_from(["15m", "1h", "24h", "all", "dosd", "action", "bits", "verdict", "source_asn:1",
                     "!source_ip:1.2.3.4", "2026-01-01T00:00:00Z", "1767225600000000000", ""]),
    st.text(max_size=20),
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PARAM_NAMES), _VALUES), max_size=6))
def test_any_query_string_gives_a_view_or_a_param_error(items: list[tuple[str, str]]) -> None:
    try:
        dv = parse_view(items, NOW)
    except ParamError as err:
        name = str(err).split(":", 1)[0]
        assert name in _PARAM_NAMES, str(err)
        return
    assert dv.view.start_ns < dv.view.end_ns
    assert dv.bucket_s >= 1
    assert (dv.view.end_ns - dv.view.start_ns) // (dv.bucket_s * NS_PER_S) <= 200
    for f in dv.view.filters:
        f.sql()  # every accepted filter renders
