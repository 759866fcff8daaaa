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
    values: np.typing.NDArray[np.datetime64] = np.asarray(ts_ns, dtype=np.int64).astype("datetime64[ns]")
    text = np.datetime_as_string(values, unit=unit)  # type: ignore[call-overload]
    return pc.binary_join_element_wise(pa.array(text, pa.string()), "Z", "")
