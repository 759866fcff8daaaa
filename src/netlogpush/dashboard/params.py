"""The dashboard's view parameters: a query string -> an analytics ``View`` and its extras.

The same parameters are the page's own URL (docs/dashboard.md), so a view can be shared by
copying the address bar. Every mistake is a ``ParamError`` whose message names the parameter
and what it accepts; the routes answer it with a 400.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import get_args

from netlogpush.analytics.queries import DIMENSIONS, Counting, Filter, Metric, View
from netlogpush.analytics.store import NS_PER_S, Retention, is_int_field

# (seconds, bucket seconds, label): bucket sizes fixed by the dashboard contract.
RANGES: dict[str, tuple[int, int, str]] = {
    "15m": (15 * 60, 10, "Last 15 minutes"),
    "1h": (3600, 30, "Last hour"),
    "6h": (6 * 3600, 120, "Last 6 hours"),
    "24h": (86400, 600, "Last 24 hours"),
    "7d": (7 * 86400, 3600, "Last 7 days"),
    "30d": (30 * 86400, 4 * 3600, "Last 30 days"),
}
DEFAULT_RANGE = "24h"

# Tab key -> (View.system, label). Labels are the Cloudflare dashboard's tab names.
TABS: dict[str, tuple[str | None, str]] = {
    "all": (None, "All traffic"),
    "dosd": ("dosd", "DDoS managed rules"),
    "flowtrackd": ("flowtrackd", "TCP protection"),
    "magic-firewall": ("magic-firewall", "Network firewall"),
}
METRICS: tuple[str, ...] = ("packets", "bits")
COUNTINGS: tuple[str, ...] = get_args(Counting)
DEFAULT_DIMENSION = "action"

# Steps an absolute range's buckets are rounded up to, so axis ticks fall on round times.
NICE_STEPS_S: tuple[int, ...] = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
    3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400,
)  # fmt: skip
TARGET_BUCKETS = 150
# Bounds that keep one request's SQL and answer small.
MAX_FILTER_VALUES = 200
MAX_ATTACK_ID_CHARS = 128

_INT = re.compile(r"-?[0-9]{1,19}")
_NS = re.compile(r"[0-9]{1,19}")
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)
_INT64 = (-(1 << 63), (1 << 63) - 1)


class ParamError(ValueError):
    """A query parameter that cannot be used; the message names it and what it accepts."""


def _one_of(name: str, value: str, allowed: Iterable[str]) -> ParamError:
    return ParamError(f"{name}: {value!r} is not one of {', '.join(allowed)}")


def int_dimensions() -> tuple[str, ...]:
    """Dimensions whose values are integers (their column is an int64 field)."""
    return tuple(d for d, col in DIMENSIONS.items() if is_int_field(col))


def _rfc3339(text: str) -> int | None:
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        # datetime validates the calendar (no 30 February, no second 60).
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    offset = 0
    if m.group(9):
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            return None
        offset = (1 if m.group(9) == "+" else -1) * (oh * 3600 + om * 60)
    seconds = calendar.timegm(moment.timetuple()) - offset
    return seconds * NS_PER_S + int((m.group(7) or "").ljust(9, "0"))


def parse_time(name: str, text: str) -> int:
    """RFC 3339 (any offset, up to nanoseconds) or integer nanoseconds since the epoch."""
    ns = int(text) if _NS.fullmatch(text) else _rfc3339(text)
    if ns is not None and _INT64[0] <= ns <= _INT64[1]:
        return ns
    raise ParamError(
        f"{name}: {text!r} is not an RFC 3339 time (e.g. 2026-01-01T00:00:00Z) "
        "or integer nanoseconds since the epoch"
    )


def nice_step(span_ns: int, floor_s: int = 1) -> int:
    """The smallest round step (seconds) giving at most ``TARGET_BUCKETS`` buckets, not below
    ``floor_s``."""
    want = max(floor_s, -(-span_ns // (TARGET_BUCKETS * NS_PER_S)), 1)
    for step in NICE_STEPS_S:
        if step >= want:
            return step
    week = NICE_STEPS_S[-1]
    return -(-want // week) * week


def bucket_floor_s(start_ns: int, now_ns: int, retention: Retention | None) -> int:
    """The finest bucket the stored tiers allow from ``start_ns``: roll-ups hold one row per
    minute or per hour, and a bucket finer than that would pile a whole row into one bucket."""
    if retention is None:
        return 1
    if start_ns < now_ns - retention.minute_ns:
        return 3600
    if start_ns < now_ns - retention.raw_ns:
        return 60
    return 1


@dataclass(frozen=True)
class DashboardView:
    """A parsed query string: the analytics ``View`` plus what the routes need besides it."""

    view: View
    bucket_s: int  # time-series bucket
    range: str | None  # a RANGES key, or None for an absolute start/end
    tab: str
    dim: str
    metric: Metric
    attack_id: str | None
    now_ns: int
    floor_s: int = 1  # finest bucket the stored tiers allow over this range

    @property
    def peak_bucket_s(self) -> int:
        """Bucket over which attack peak rates are measured: one minute, or an hour when the
        range reaches the hourly roll-up."""
        return max(60, self.floor_s)


class Params:
    """Query parameters with the repeat rules: ``f`` repeats, every other name at most once."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self.multi: dict[str, list[str]] = {}
        for key, value in items:
            self.multi.setdefault(key, []).append(value)

    def get(self, name: str) -> str | None:
        values = self.multi.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise ParamError(f"{name}: given {len(values)} times; give it once")
        return values[0]

    def all(self, name: str) -> list[str]:
        return self.multi.get(name, [])

    def choice(self, name: str, allowed: Sequence[str], default: str) -> str:
        value = self.get(name)
        if value is None or value == "":
            return default
        if value not in allowed:
            raise _one_of(name, value, allowed)
        return value

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        value = self.get(name)
        if value is None or value == "":
            return default
        if not _INT.fullmatch(value) or not lo <= int(value) <= hi:
            raise ParamError(f"{name}: {value!r} is not an integer from {lo} to {hi}")
        return int(value)

    def dimension(self, name: str, default: str | None) -> str:
        value = self.get(name)
        if value is None or value == "":
            if default is None:
                raise ParamError(f"{name}: missing; one of {', '.join(DIMENSIONS)}")
            return default
        if value not in DIMENSIONS:
            raise _one_of(name, value, DIMENSIONS)
        return value


def parse_filters(raw: Sequence[str]) -> tuple[Filter, ...]:
    """``f`` values: ``dim:value`` includes, ``!dim:value`` excludes. One ``Filter`` per
    dimension and sign, its values in the order first given (repeats dropped)."""
    ints = set(int_dimensions())
    grouped: dict[tuple[str, bool], list[str | int]] = {}
    count = 0
    for item in raw:
        exclude = item.startswith("!")
        body = item[1:] if exclude else item
        dim, sep, text = body.partition(":")
        if not sep:
            raise ParamError(f"f: {item!r} is not dimension:value or !dimension:value")
        if dim not in DIMENSIONS:
            raise ParamError(f"f: unknown dimension {dim!r}; one of {', '.join(DIMENSIONS)}")
        value: str | int = text
        if dim in ints:
            if not _INT.fullmatch(text) or not _INT64[0] <= int(text) <= _INT64[1]:
                raise ParamError(f"f: {dim} takes an integer, got {text!r} in {item!r}")
            value = int(text)
        values = grouped.setdefault((dim, exclude), [])
        if value not in values:
            values.append(value)
            count += 1
        if count > MAX_FILTER_VALUES:
            raise ParamError(f"f: at most {MAX_FILTER_VALUES} filter values")
    return tuple(Filter(d, tuple(vs), exclude) for (d, exclude), vs in grouped.items())


def parse_window(
    params: Params, now_ns: int, retention: Retention | None
) -> tuple[int, int, int, int, str | None]:
    """(start_ns, end_ns, bucket_s, floor_s, range key or None)."""
    start, end = params.get("start"), params.get("end")
    if start or end:
        if not (start and end):
            missing = "end" if start else "start"
            raise ParamError(f"{missing}: missing; start and end go together (or use range)")
        start_ns, end_ns = parse_time("start", start), parse_time("end", end)
        if end_ns <= start_ns:
            raise ParamError("end: must be after start")
        floor = bucket_floor_s(start_ns, now_ns, retention)
        return start_ns, end_ns, nice_step(end_ns - start_ns, floor), floor, None
    key = params.choice("range", tuple(RANGES), DEFAULT_RANGE)
    span_s, bucket_s, _ = RANGES[key]
    floor = bucket_floor_s(now_ns - span_s * NS_PER_S, now_ns, retention)
    bucket_s = max(bucket_s, floor)
    # The window ends at the first bucket edge at or after now: bucket edges stay put from one
    # refresh to the next, so a live chart's points do not slide.
    step = bucket_s * NS_PER_S
    end_ns = -(-now_ns // step) * step
    return end_ns - span_s * NS_PER_S, end_ns, bucket_s, floor, key


def parse_view(
    items: Params | Iterable[tuple[str, str]], now_ns: int, retention: Retention | None = None
) -> DashboardView:
    """The query string's view. ``now_ns`` comes from the router's clock (injectable)."""
    params = items if isinstance(items, Params) else Params(items)
    start_ns, end_ns, bucket_s, floor_s, range_key = parse_window(params, now_ns, retention)
    tab = params.choice("tab", tuple(TABS), "all")
    counting = params.choice("counting", COUNTINGS, "outcome")
    attack_id = params.get("attack_id") or None
    if attack_id is not None and len(attack_id) > MAX_ATTACK_ID_CHARS:
        raise ParamError(f"attack_id: longer than {MAX_ATTACK_ID_CHARS} characters")
    view = View(
        start_ns,
        end_ns,
        TABS[tab][0],
        parse_filters(params.all("f")),
        "verdict" if counting == "verdict" else "outcome",
    )
    metric: Metric = "bits" if params.choice("metric", METRICS, "packets") == "bits" else "packets"
    return DashboardView(
        view=view,
        bucket_s=bucket_s,
        range=range_key,
        tab=tab,
        dim=params.dimension("dim", DEFAULT_DIMENSION),
        metric=metric,
        attack_id=attack_id,
        now_ns=now_ns,
        floor_s=floor_s,
    )
