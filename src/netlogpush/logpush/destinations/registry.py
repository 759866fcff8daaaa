"""``destination_conf`` → typed destination, chosen by scheme; and redaction of any conf,
parseable or not."""

from __future__ import annotations

from netlogpush.logpush.destinations.conf import (
    REDACTED,
    Destination,
    DestinationConfError,
    looks_like_token,
    shown,
    split_conf,
)
from netlogpush.logpush.destinations.datadog import DatadogDestination
from netlogpush.logpush.destinations.https import HttpsDestination
from netlogpush.logpush.destinations.local import LocalDestination
from netlogpush.logpush.destinations.r2 import R2Destination
from netlogpush.logpush.destinations.s3 import S3Destination
from netlogpush.logpush.destinations.splunk import SplunkDestination
from netlogpush.logpush.destinations.websocket import WebSocketDestination

DESTINATION_TYPES: tuple[type[Destination], ...] = (
    HttpsDestination,
    SplunkDestination,
    S3Destination,
    R2Destination,
    DatadogDestination,
    WebSocketDestination,
    LocalDestination,
)
REGISTRY: dict[str, type[Destination]] = {
    scheme: cls for cls in DESTINATION_TYPES for scheme in cls.schemes
}
SUPPORTED_SCHEMES: tuple[str, ...] = tuple(sorted(REGISTRY))
# Documented by Cloudflare (api-configuration.mdx and the kinesis/bigquery pages) but not
# implemented here; named in the error so the user knows the conf is not a typo.
CLOUDFLARE_ONLY_SCHEMES = frozenset({"gs", "azure", "sumo", "kinesis", "bq"})


def parse_destination_conf(text: str) -> Destination:
    """Parse and validate a ``destination_conf``.

    Raises ``DestinationConfError`` (and nothing else) for any string that is not a usable
    destination; its message names the offending parameter and the rule it breaks.
    """
    conf = split_conf(text)
    cls = REGISTRY.get(conf.scheme)
    if cls is None:
        supported = ", ".join(SUPPORTED_SCHEMES)
        if conf.scheme in CLOUDFLARE_ONLY_SCHEMES:
            rule = f"{conf.scheme} destinations are not supported by netlogpush (supported: {supported})"
        else:
            rule = f"unsupported scheme {shown(conf.scheme, 16)} (supported: {supported})"
        raise DestinationConfError("scheme", rule)
    return cls.from_split(conf)


# Parameters whose values are never secret, kept when redacting a conf that does not parse.
_PUBLIC_PARAMS = frozenset(
    {
        "region", "sse", "endpoint", "account-id", "access-key-id", "channel",
        "insecure-skip-verify", "sourcetype", "source", "host", "index", "ack",
        "ddsource", "service", "ddtags", "header_content-type",
    }
)  # fmt: skip
_PATH_KEEPING_SCHEMES = frozenset({"s3", "r2", "file", "splunk", "datadog", "gs", "azure"})


def redact_destination_conf(text: str) -> str:
    """A version of ``text`` safe for logs and dashboards.

    A valid conf is rendered by its destination's ``redacted()``. An invalid one (a job
    creation that failed, say) is redacted by rule instead, erring on the side of hiding:
    user information is dropped, every query value not known to be public is replaced,
    and the path is hidden unless the scheme is one whose path is a bucket prefix or a
    fixed endpoint.
    """
    try:
        return parse_destination_conf(text).redacted()
    except DestinationConfError:
        pass
    if not isinstance(text, str):
        return REDACTED
    scheme, sep, rest = text.partition("://")
    if not sep:
        return REDACTED
    rest = rest.partition("#")[0]
    rest, question, query = rest.partition("?")
    slash = rest.find("/")
    authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    authority = authority.rpartition("@")[2]
    if path:
        if scheme.lower() in _PATH_KEEPING_SCHEMES:
            path = "/".join(REDACTED if looks_like_token(s) else s for s in path.split("/"))
        else:
            path = "/" + REDACTED
    pieces: list[str] = []
    for piece in query.split("&") if question else []:
        name, equals, _value = piece.partition("=")
        if not equals:
            pieces.append(REDACTED if piece else piece)
        elif name.lower() in _PUBLIC_PARAMS:
            pieces.append(piece)
        else:
            pieces.append(f"{name}={REDACTED}")
    return f"{scheme}://{authority}{path}" + (f"?{'&'.join(pieces)}" if question else "")
