"""Records as a pyarrow ``Table`` with the dataset's 84 columns, in Cloudflare's order.

Integers are ``int64``; strings are ``string``; ``Datetime`` is kept as integer nanoseconds
since the epoch and formatted only on output (``timestamps.py``). An absent string is ``""``
and an absent integer ``0``, as Cloudflare's records show them: never null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from netlogpush.dataset.fields import FIELDS, FIELDS_BY_NAME

SCHEMA = pa.schema(
    [
        pa.field(
            f.name, pa.int64() if f.is_int or f.name == "Datetime" else pa.string(), nullable=False
        )
        for f in FIELDS
    ]
)


def make_table(columns: Mapping[str, Any], num_rows: int) -> pa.Table:
    """Assemble a record table from per-field columns; missing fields get their empty value.

    A column may be a numpy array, a pyarrow array, or a scalar repeated over every row.
    Unknown names are an error: they would silently vanish from the output otherwise.
    """
    unknown = set(columns) - FIELDS_BY_NAME.keys()
    if unknown:
        raise KeyError(f"not fields of network_analytics_logs: {', '.join(sorted(unknown))}")
    arrays = []
    for field in SCHEMA:
        value = columns.get(field.name)
        if value is None:
            value = 0 if field.type == pa.int64() else ""
        if isinstance(value, (int, str)):
            arrays.append(pa.repeat(pa.scalar(value, field.type), num_rows))
            continue
        arr = (
            value if isinstance(value, (pa.Array, pa.ChunkedArray)) else pa.array(np.asarray(value))
        )
        if len(arr) != num_rows:
            raise ValueError(f"{field.name} has {len(arr)} values for {num_rows} records")
        arrays.append(arr.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def empty_table() -> pa.Table:
    return SCHEMA.empty_table()
