"""Reading records back: NDJSON lines in current or legacy (2021-2022) field spellings."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import repeat
from typing import Any

import orjson
import pyarrow as pa

from netlogpush.dataset.fields import FIELDS_BY_NAME, LEGACY_NAMES
from netlogpush.dataset.records import SCHEMA, make_table
from netlogpush.dataset.timestamps import parse_datetime


class RecordError(ValueError):
    """A record that is not a JSON object, or names a field the dataset never had."""


def normalize_record(record: dict[str, Any]) -> dict[str, Any]:
    """Rename legacy fields to their current names; drop ``ColoID``, which has none.

    A current name wins over its legacy twin when a record carries both.
    """
    out: dict[str, Any] = {}
    legacy: dict[str, Any] = {}
    for key, value in record.items():
        if key in FIELDS_BY_NAME:
            out[key] = value
        elif key in LEGACY_NAMES:
            current = LEGACY_NAMES[key]
            if current is not None:
                legacy[current] = value
        else:
            raise RecordError(f"unknown field {key!r}")
    for key, value in legacy.items():
        out.setdefault(key, value)
    return out


def iter_ndjson(lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """Parse NDJSON lines into normalised records; blank lines are skipped."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise RecordError(f"line {number}: not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise RecordError(f"line {number}: a record must be a JSON object")
        try:
            yield normalize_record(obj)
        except RecordError as exc:
            raise RecordError(f"line {number}: {exc}") from None


def records_table(records: list[dict[str, Any]]) -> pa.Table:
    """Normalised records (current field names) as a ``records.SCHEMA`` table.

    ``Datetime`` may come in any Logpush ``timestamp_format``; absent fields and JSON nulls
    get the dataset's empty value; integers sent as strings (and the reverse) are converted.
    A field the dataset does not have, or a value of the wrong type, raises ``RecordError``
    naming the field, so a receiver can refuse the request rather than store half of it.
    """
    if not records:
        return SCHEMA.empty_table()
    present: set[str] = set().union(*records)
    unknown = present - FIELDS_BY_NAME.keys()
    if unknown:
        raise RecordError(f"unknown field {min(unknown)!r}")
    # Table.from_pylist takes its columns from the first record's keys and would silently
    # drop a field that record lacks; a leading row of nulls holding every key prevents that.
    rows = records
    if not all(len(r) == len(present) for r in records):
        rows = [dict.fromkeys(present), *records]
    try:
        # Arrow gathers the dicts' values in Cython: ~25 % faster than a per-field map here.
        raw = pa.Table.from_pylist(rows).slice(len(rows) - len(records))
        arrays = {name: raw[name].combine_chunks() for name in raw.column_names}
    except _ARROW_ERRORS:
        # Mixed types in a field: field by field, to name it (or to read ints and strings mixed).
        arrays = {n: _convert(n, list(map(dict.get, records, repeat(n)))) for n in present}
    columns: dict[str, Any] = {}
    for name, column in arrays.items():
        typed = _typed(name, column)
        if typed is not None:
            columns[name] = typed
    return make_table(columns, len(records))


_TYPE_NAMES = {pa.int64(): "integer", pa.string(): "string"}
# Arrow's conversion of outside values raises any of these (OverflowError beyond int64,
# UnicodeEncodeError for lone surrogates, ArrowTypeError/TypeError for mixed types).
_ARROW_ERRORS = (pa.ArrowException, ValueError, TypeError, OverflowError)


def _typed(name: str, column: pa.Array) -> pa.Array | None:
    """One field's values as its schema type; None when every value is null (empty value)."""
    if pa.types.is_null(column.type):
        return None
    if name == "Datetime":
        try:
            return parse_datetime(column)
        except ValueError as exc:
            raise RecordError(str(exc)) from None
    target = SCHEMA.field(name).type
    # Arrow would cast true to 1 and "true"; JSON booleans are no field's type.
    if pa.types.is_boolean(column.type):
        raise RecordError(f"{name}: expected {_TYPE_NAMES[target]} values, got true/false")
    try:
        typed = column.cast(target)
    except _ARROW_ERRORS as exc:
        raise RecordError(f"{name}: expected {_TYPE_NAMES[target]} values ({exc})") from None
    return typed.fill_null(0 if target == pa.int64() else "")


def _convert(name: str, values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except _ARROW_ERRORS as exc:
        return _mixed_as_text(name, values, exc)


def _mixed_as_text(name: str, values: list[Any], exc: BaseException) -> pa.Array:
    """Integers and strings mixed in one field (``5`` in one record, ``"5"`` in the next) as
    strings, which the cast then converts; so a record is read the same whatever its batch.
    Anything else Arrow could not convert is a ``RecordError``."""
    if name != "Datetime" and all(v is None or type(v) in (int, str) for v in values):
        try:
            return pa.array([v if v is None or type(v) is str else str(v) for v in values])
        except _ARROW_ERRORS:
            pass  # a lone surrogate: no UTF-8 for it
    raise RecordError(f"{name}: values Arrow cannot convert ({exc})") from None
