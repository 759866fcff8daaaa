"""{DATE} templating, object names and challenge keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlogpush.logpush.destinations import (
    DestinationConfError,
    LocalDestination,
    parse_destination_conf,
)
from netlogpush.logpush.destinations.paths import (
    challenge_key,
    check_path_template,
    date_stamp,
    expand_date,
    object_key,
    object_name,
    static_prefix,
    time_stamp,
)

NS = 1_000_000_000
T0 = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()) * NS  # 2026-01-01T00:00:00Z


def test_date_is_the_utc_day_of_the_first_record() -> None:
    assert date_stamp(T0) == "20260101"
    assert date_stamp(T0 - 1) == "20251231"  # one nanosecond before midnight UTC
    assert date_stamp(1527033600 * NS + 5) == "20180523"  # Cloudflare's example date
    assert expand_date("logs/{DATE}", T0 - 1) == "logs/20251231"
    assert expand_date("a/date={DATE}/b/{DATE}", T0) == "a/date=20260101/b/20260101"
    assert expand_date("logs", T0) == "logs"


def test_object_name_format() -> None:
    name = object_name(T0, T0 + 30 * NS + 999_999_999, b'{"a":1}\n')
    assert name == "20260101T000000Z_20260101T000030Z_" + _h(b'{"a":1}\n') + ".log.gz"
    assert object_name(T0, T0, b"", compressed=False) == (
        "20260101T000000Z_20260101T000000Z_e3b0c442.log"
    )
    with pytest.raises(ValueError, match="ends"):
        object_name(T0 + 1, T0, b"")


def _h(payload: bytes) -> str:
    import hashlib

    return hashlib.sha256(payload).hexdigest()[:8]


def test_object_key_joins_expanded_prefix_and_name() -> None:
    first = T0 + 86_399 * NS  # 23:59:59 on Jan 1st
    key = object_key("nal/{DATE}", first, first, first + 2 * NS, b"x")
    assert key == f"nal/20260101/20260101T235959Z_20260102T000001Z_{_h(b'x')}.log.gz"
    assert (
        object_key("", T0, T0, T0, b"x") == f"20260101T000000Z_20260101T000000Z_{_h(b'x')}.log.gz"
    )


def test_object_names_are_deterministic_and_content_addressed() -> None:
    a = object_name(T0, T0 + NS, b"batch one")
    assert a == object_name(T0, T0 + NS, b"batch one")
    assert a != object_name(T0, T0 + NS, b"batch two")


def test_local_destination_keys_resolve_under_its_directory() -> None:
    d = parse_destination_conf("file:///var/log/netlogpush/{DATE}")
    assert isinstance(d, LocalDestination)
    key = object_key(d.template, T0, T0, T0, b"")
    assert str(d.directory()) == "/var/log/netlogpush/{DATE}"
    assert "/" + key == f"/var/log/netlogpush/20260101/{object_name(T0, T0, b'')}"


@pytest.mark.parametrize(
    ("template", "prefix", "challenge"),
    [
        ("", "", "ownership-challenge.txt"),
        ("logs", "logs", "logs/ownership-challenge.txt"),
        ("logs/{DATE}", "logs", "logs/ownership-challenge.txt"),
        ("{DATE}/x", "", "ownership-challenge.txt"),
        ("a/b/date={DATE}/c", "a/b", "a/b/ownership-challenge.txt"),
    ],
)
def test_challenge_key(template: str, prefix: str, challenge: str) -> None:
    assert static_prefix(template) == prefix
    assert challenge_key(template) == challenge


def test_check_path_template() -> None:
    assert check_path_template("/logs/{DATE}/") == "logs/{DATE}"
    assert check_path_template("///") == ""
    with pytest.raises(DestinationConfError) as info:
        check_path_template("/a/" + "x" * 1000)
    assert str(info.value) == "invalid destination_conf: path: must be at most 967 bytes"
    with pytest.raises(DestinationConfError):
        check_path_template("/a\\b")


INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(INT64, st.integers(min_value=0, max_value=10**12), st.binary(max_size=64))
def test_names_match_the_documented_shape(start: int, span: int, payload: bytes) -> None:
    end = min(start + span, 2**63 - 1)
    name = object_name(start, end, payload)
    assert re.fullmatch(r"\d{8}T\d{6}Z_\d{8}T\d{6}Z_[0-9a-f]{8}\.log\.gz", name)
    assert name[:8] == date_stamp(start)
    assert name[:16] == time_stamp(start)


@given(INT64, INT64)
def test_timestamps_sort_like_time(a: int, b: int) -> None:
    if a // NS <= b // NS:
        assert time_stamp(a) <= time_stamp(b)
