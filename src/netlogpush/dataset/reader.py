"""Reading records back: NDJSON lines in current or legacy (2021-2022) field spellings."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from netlogpush.dataset.fields import FIELDS_BY_NAME, LEGACY_NAMES


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
