"""Request bodies to records: gzip inflate with a size cap, NDJSON and HEC-envelope parsing.

Nothing here raises anything but :class:`BodyError` on bad outside input; the HEC and Logpush
apps map its ``reason`` to their response codes.
"""

from __future__ import annotations

import json
import types
import zlib
from collections.abc import Callable
from typing import Any, Literal

import orjson

from netlogpush.dataset.fields import FIELDS_BY_NAME
from netlogpush.dataset.reader import RecordError, normalize_record

_zlib: types.ModuleType
try:  # ISA-L inflates gzip ~2-3x faster than zlib; same API, so zlib is a drop-in fallback.
    from isal import isal_zlib as _zlib
except ImportError:  # pragma: no cover - isal is a declared dependency
    _zlib = zlib

Reason = Literal[
    "no_data",
    "invalid_format",
    "event_required",
    "event_blank",
    "too_large",
    "bad_gzip",
    "bad_encoding",
]
_CURRENT = FIELDS_BY_NAME.keys()
#: The body Cloudflare uploads (as test.txt.gz) to check a destination before creating a job.
VALIDATION_RECORD = {"content": "tests"}


class BodyError(ValueError):
    def __init__(self, reason: Reason, message: str, event_number: int | None = None) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.event_number = event_number


class IndexRefused(BodyError):
    """An envelope names an index its token may not write (HEC code 7)."""

    def __init__(self, index: str, event_number: int) -> None:
        super().__init__("invalid_format", f"event {event_number}: index {index!r}", event_number)
        self.index = index


def inflate(data: bytes, limit: int) -> bytes:
    """Un-gzip ``data`` (all concatenated members), refusing output beyond ``limit`` bytes.

    Hand-rolled over ``decompressobj`` rather than ``gzip.decompress`` because the latter has
    no output cap, and a 1 MiB gzip bomb inflates to 1 GiB.
    """
    out: list[bytes] = []
    total = 0
    while data:
        d = _zlib.decompressobj(31)
        try:
            chunk = d.decompress(data, limit + 1 - total)
        except (zlib.error, _zlib.error, ValueError) as exc:
            raise BodyError("bad_gzip", f"bad gzip data: {exc}") from None
        total += len(chunk)
        out.append(chunk)
        if total > limit or d.unconsumed_tail:
            raise BodyError("too_large", f"inflated body exceeds {limit} bytes")
        if not d.eof:
            raise BodyError("bad_gzip", "truncated gzip data")
        data = d.unused_data
        # Trailing zero padding after the last member is legal in gzip files; stop at it.
        if data and not data.lstrip(b"\0"):
            break
    return b"".join(out)


def decode_body(data: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Apply ``Content-Encoding``; a gzip magic number is honoured even without the header,
    because Logpush's first (validation) request may omit it and JSON never starts with 0x1f."""
    enc = (content_encoding or "").strip().lower()
    if enc in ("gzip", "x-gzip") or (enc in ("", "identity") and data[:2] == b"\x1f\x8b"):
        return inflate(data, limit)
    if enc not in ("", "identity"):
        raise BodyError("bad_encoding", f"unsupported Content-Encoding {enc!r}")
    if len(data) > limit:
        raise BodyError("too_large", f"body exceeds {limit} bytes")
    return data


def to_record(obj: Any, number: int) -> dict[str, Any]:
    """A parsed JSON value as a dataset record (old spellings renamed)."""
    if not isinstance(obj, dict):
        raise BodyError("invalid_format", f"event {number}: not a JSON object", number)
    # Fast path: a record already in current spelling is used as is. The C-level key-view
    # comparison costs far less than normalize_record's per-key Python loop.
    if obj.keys() <= _CURRENT:
        return obj
    try:
        return normalize_record(obj)
    except RecordError as exc:
        raise BodyError("invalid_format", f"event {number}: {exc}", number) from None


def parse_ndjson(text: bytes) -> list[dict[str, Any]]:
    """NDJSON lines to records; blank lines are skipped, an empty body is ``no_data``."""
    objs: list[Any] = []
    # One orjson call per line; joining the lines into one JSON array was measured slower
    # for 1.7 kB records (bench/bench_receiver.py). bytes.splitlines splits on \n and \r only,
    # neither of which can occur raw inside a JSON string.
    for line in text.splitlines():
        try:
            objs.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            if line.strip():
                n = len(objs)
                raise BodyError("invalid_format", f"event {n}: not JSON: {exc}", n) from None
    if not objs:
        raise BodyError("no_data", "no data")
    if objs == [VALIDATION_RECORD]:
        return objs
    return [to_record(o, i) for i, o in enumerate(objs)]


def iter_json_values(text: bytes) -> list[Any]:
    """Concatenated JSON values (HEC event bodies are ``{..}{..}``, not an array).

    Fast path: one value per line, parsed by orjson. Otherwise the stdlib's ``raw_decode``
    walks the text, since orjson has no streaming decoder.
    """
    lines = [line for line in text.split(b"\n") if line.strip()]
    try:
        return [orjson.loads(line) for line in lines]
    except orjson.JSONDecodeError:
        pass
    try:
        s = text.decode()
    except UnicodeDecodeError:
        raise BodyError("invalid_format", "body is not UTF-8") from None
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos, end = 0, len(s)
    while True:
        while pos < end and s[pos].isspace():
            pos += 1
        if pos >= end:
            return values
        try:
            value, pos = decoder.raw_decode(s, pos)
        except (json.JSONDecodeError, RecursionError) as exc:
            n = len(values)
            raise BodyError("invalid_format", f"event {n}: not JSON: {exc}", n) from None
        values.append(value)


def _blank(event: Any) -> bool:
    return event is None or event == {} or (isinstance(event, str) and not event.strip())


def parse_events(
    text: bytes, check_index: Callable[[str], bool] | None = None
) -> list[dict[str, Any]]:
    """HEC ``/event`` envelopes to records. ``event`` may be an object or a JSON string.

    ``check_index`` returns False for an index the token may not write: :class:`IndexRefused`.
    """
    values = iter_json_values(text)
    if not values:
        raise BodyError("no_data", "no data")
    records: list[dict[str, Any]] = []
    for i, env in enumerate(values):
        if not isinstance(env, dict):
            raise BodyError("invalid_format", f"event {i}: envelope is not an object", i)
        if "event" not in env:
            raise BodyError("event_required", f"event {i}: no 'event' field", i)
        event = env["event"]
        if _blank(event):
            raise BodyError("event_blank", f"event {i}: 'event' is blank", i)
        index = env.get("index")
        if index is not None and check_index is not None and not check_index(str(index)):
            raise IndexRefused(str(index), i)
        if isinstance(event, str):
            try:
                event = orjson.loads(event)
            except orjson.JSONDecodeError:
                raise BodyError("invalid_format", f"event {i}: not a JSON record", i) from None
        if event == VALIDATION_RECORD and len(values) == 1:
            return [event]
        records.append(to_record(event, i))
    return records


def is_validation_upload(records: list[dict[str, Any]]) -> bool:
    return len(records) == 1 and records[0] == VALIDATION_RECORD
