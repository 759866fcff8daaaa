"""``Datetime`` formats, as a Logpush job's ``timestamp_format`` names them."""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TimestampFormat = Literal["unixnano", "unix", "rfc3339", "rfc3339ms", "rfc3339ns"]
TIMESTAMP_FORMATS: tuple[str, ...] = get_args(TimestampFormat)
#: ``unixnano`` is the Logpush API's default.
DEFAULT_TIMESTAMP_FORMAT: TimestampFormat = "unixnano"

_UNITS = {"rfc3339": "s", "rfc3339ms": "ms", "rfc3339ns": "ns"}


def format_datetime(ts_ns: pa.Array, fmt: str) -> pa.Array:
    """Integers for ``unixnano``/``unix``; UTC RFC 3339 strings ending in ``Z`` otherwise."""
    if fmt == "unixnano":
        return ts_ns
    if fmt == "unix":
        return pc.divide(ts_ns, 1_000_000_000)
    unit = _UNITS.get(fmt)
    if unit is None:
        raise ValueError(
            f"timestamp_format must be one of {', '.join(TIMESTAMP_FORMATS)}; got {fmt!r}"
        )
    values: np.typing.NDArray[np.datetime64] = np.asarray(ts_ns, dtype=np.int64).astype(
        "datetime64[ns]"
    )
    text = np.datetime_as_string(values, unit=unit)  # type: ignore[call-overload]
    return pc.binary_join_element_wise(pa.array(text, pa.string()), "Z", "")


# Integer epochs below these are taken as seconds, milliseconds, microseconds; above as
# nanoseconds. Logpush sends ``unix`` (s) or ``unixnano``; the magnitudes of the others are
# accepted because hand-written senders use them, and the ranges do not overlap for any date
# from 1973-03-03T09:46:40Z (10**17 ns) to 2262, where int64 nanoseconds end.
_EPOCH_LIMITS = (
    (100_000_000_000, 1_000_000_000),
    (100_000_000_000_000, 1_000_000),
    (100_000_000_000_000_000, 1_000),
)
_NS_MAX = int(np.iinfo(np.int64).max)


def parse_datetime(values: pa.Array) -> pa.Array:
    """Epoch integers (any of s/ms/µs/ns) or RFC 3339 strings to int64 nanoseconds.

    Nulls become 0, the dataset's empty value. Raises ``ValueError`` starting ``Datetime:``
    for a value that is neither, or that int64 nanoseconds cannot hold (after 2262).
    """
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        try:
            ints = np.asarray(values.cast(pa.int64()).fill_null(0), dtype=np.int64)
        except pa.ArrowInvalid as exc:
            raise ValueError(f"Datetime: not an integer epoch ({exc})") from None
        out = ints.copy()
        done = np.zeros(len(ints), dtype=bool)
        for limit, scale in _EPOCH_LIMITS:
            # Both bounds rather than np.abs, which overflows for -2**63.
            pick = ~done & (ints > -limit) & (ints < limit)
            # Seconds up to 10**11 (year 5138) pass the limit, but int64 nanoseconds end in
            # 2262: the product would wrap around to a wrong date without a word.
            top = _NS_MAX // scale
            over = pick & ((ints > top) | (ints < -top))
            if over.any():
                value = int(ints[over][0])
                raise ValueError(f"Datetime: {value} is out of range (ns span 1677 to 2262)")
            out[pick] = ints[pick] * scale
            done |= pick
        return pa.array(out, pa.int64())
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        try:
            # Nulls stay null through the cast ("" would not parse) and become 0 after it.
            stamps = pc.cast(values, pa.timestamp("ns", tz="UTC"))
        except pa.ArrowInvalid as exc:
            raise ValueError(f"Datetime: not an epoch number or RFC 3339 time ({exc})") from None
        return stamps.cast(pa.int64()).fill_null(0)
    if pa.types.is_null(values.type):
        return pa.array(np.zeros(len(values), dtype=np.int64), pa.int64())
    raise ValueError(f"Datetime: expected numbers or RFC 3339 strings, got {values.type}")
