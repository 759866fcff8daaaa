"""Object paths for storage destinations (S3, R2, local directory): the ``{DATE}``
template, batch object names and the ownership-challenge file.

Cloudflare documents only ``{DATE}`` → UTC ``YYYYMMDD`` (api-configuration.mdx: "replaced
with the date in the YYYYMMDD format (for example, 20180523)"). Object names are not
documented; Cloudflare's own loader (cloudflare/cloudflare-gcp PR #70) lists objects by the
prefix ``<DIR><yyyyMMdd>/<yyyyMMdd'T'HHmm>`` and speaks of a first (buffer start) and a
second (flush) time in the name, so names here are
``<YYYYMMDDTHHMMSSZ start>_<YYYYMMDDTHHMMSSZ end>_<8 hex>.log.gz``. Cloudflare's suffix is
random; ours is a hash of the payload so a retried batch overwrites its own object instead
of duplicating it, and everything here is a pure function of its arguments.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from netlogpush.logpush.destinations.conf import DestinationConfError, shown

DATE_PLACEHOLDER = "{DATE}"
CHALLENGE_FILENAME = "ownership-challenge.txt"  # logpush-ownership-challenge.mdx
OBJECT_SUFFIX = ".log.gz"
HASH_HEX_DIGITS = 8
# S3 and R2 object keys are at most 1024 bytes; keep room for the date and the file name.
MAX_PREFIX_BYTES = 1024 - len("20260101T000000Z_20260101T000000Z_00000000.log.gz") - 8

_NS = 1_000_000_000


def check_path_template(path: str, parameter: str = "path") -> str:
    """Validate a storage path (``/logs/{DATE}``) and return it without leading or
    trailing slashes (``logs/{DATE}``), the canonical form.

    Empty, ``.`` and ``..`` segments are refused: in a local directory they would climb out
    of the configured tree, and on S3 they make keys that most tools show wrongly.
    ``{DATE}`` is the only placeholder; any other brace is an error rather than a literal,
    so a typo such as ``{date}`` is caught at job creation, not after a day of misfiled
    objects.
    """
    trimmed = path.strip("/")
    if trimmed == "":
        return ""
    for segment in trimmed.split("/"):
        if segment in ("", ".", ".."):
            raise DestinationConfError(
                parameter, f"must not contain empty, . or .. segments, got {shown(path)}"
            )
        if "\x00" in segment or "\\" in segment:
            raise DestinationConfError(parameter, "must not contain NUL or backslash")
        bare = segment.replace(DATE_PLACEHOLDER, "")
        if "{" in bare or "}" in bare:
            raise DestinationConfError(
                parameter,
                f"only the {DATE_PLACEHOLDER} placeholder is supported, got {shown(path)}",
            )
    if len(trimmed.encode("utf-8")) > MAX_PREFIX_BYTES:
        raise DestinationConfError(parameter, f"must be at most {MAX_PREFIX_BYTES} bytes")
    return trimmed


def date_stamp(ns: int) -> str:
    """UTC ``YYYYMMDD`` of a Unix time in nanoseconds."""
    return datetime.fromtimestamp(ns // _NS, tz=UTC).strftime("%Y%m%d")


def time_stamp(ns: int) -> str:
    """UTC ``YYYYMMDDTHHMMSSZ`` of a Unix time in nanoseconds (floored to the second)."""
    return datetime.fromtimestamp(ns // _NS, tz=UTC).strftime("%Y%m%dT%H%M%SZ")


def expand_date(template: str, first_record_ns: int) -> str:
    """``template`` with ``{DATE}`` replaced by the date of the batch's first record."""
    if DATE_PLACEHOLDER not in template:
        return template
    return template.replace(DATE_PLACEHOLDER, date_stamp(first_record_ns))


def object_name(start_ns: int, end_ns: int, payload: bytes, *, compressed: bool = True) -> str:
    """``20260101T000000Z_20260101T000030Z_1a2b3c4d.log.gz`` for a batch covering
    ``[start_ns, end_ns]`` whose (uncompressed) body is ``payload``."""
    if end_ns < start_ns:
        raise ValueError(f"batch ends ({end_ns}) before it starts ({start_ns})")
    digest = hashlib.sha256(payload).hexdigest()[:HASH_HEX_DIGITS]
    suffix = OBJECT_SUFFIX if compressed else ".log"
    return f"{time_stamp(start_ns)}_{time_stamp(end_ns)}_{digest}{suffix}"


def object_key(
    template: str,
    first_record_ns: int,
    start_ns: int,
    end_ns: int,
    payload: bytes,
    *,
    compressed: bool = True,
) -> str:
    """The full key (path inside the bucket or directory) of one batch object.

    ``template`` is a destination's canonical path (``logs/{DATE}``); ``{DATE}`` comes from
    the first record, the name from the batch window and payload.
    """
    name = object_name(start_ns, end_ns, payload, compressed=compressed)
    prefix = expand_date(template, first_record_ns)
    return f"{prefix}/{name}" if prefix else name


def static_prefix(template: str) -> str:
    """The part of a canonical path before the first segment holding a placeholder."""
    kept: list[str] = []
    for segment in template.split("/") if template else []:
        if DATE_PLACEHOLDER in segment:
            break
        kept.append(segment)
    return "/".join(kept)


def challenge_key(template: str) -> str:
    """Where the ownership-challenge file goes for a destination path.

    Cloudflare's example answers ``burritobot/logs/ownership-challenge.txt`` for
    ``s3://burritobot/logs``; what it does with ``{DATE}`` is not documented. A challenge
    is not a batch and has no date, so it goes into the fixed part of the path, before the
    first ``{DATE}`` segment (``logs/{DATE}`` → ``logs/ownership-challenge.txt``).
    """
    prefix = static_prefix(template)
    return f"{prefix}/{CHALLENGE_FILENAME}" if prefix else CHALLENGE_FILENAME
