"""Logpush ``destination_conf`` strings: parsing into typed destinations, validation with
Cloudflare-style errors, redaction, and object paths. See docs/destinations.md.

>>> d = parse_destination_conf("s3://logs-bucket/nal/{DATE}?region=us-east-1&sse=AES256")
>>> d.bucket, d.path, d.requires_ownership_challenge
('logs-bucket', 'nal/{DATE}', True)
"""

from __future__ import annotations

from netlogpush.logpush.destinations.conf import (
    MAX_CONF_LENGTH,
    REDACTED,
    Destination,
    DestinationConfError,
)
from netlogpush.logpush.destinations.datadog import DatadogDestination
from netlogpush.logpush.destinations.https import HttpsDestination
from netlogpush.logpush.destinations.local import LocalDestination
from netlogpush.logpush.destinations.paths import (
    CHALLENGE_FILENAME,
    DATE_PLACEHOLDER,
    challenge_key,
    date_stamp,
    expand_date,
    object_key,
    object_name,
)
from netlogpush.logpush.destinations.r2 import R2Destination
from netlogpush.logpush.destinations.registry import (
    REGISTRY,
    SUPPORTED_SCHEMES,
    parse_destination_conf,
    redact_destination_conf,
)
from netlogpush.logpush.destinations.s3 import S3Destination
from netlogpush.logpush.destinations.splunk import SplunkDestination
from netlogpush.logpush.destinations.websocket import WebSocketDestination

__all__ = [
    "CHALLENGE_FILENAME",
    "DATE_PLACEHOLDER",
    "MAX_CONF_LENGTH",
    "REDACTED",
    "REGISTRY",
    "SUPPORTED_SCHEMES",
    "DatadogDestination",
    "Destination",
    "DestinationConfError",
    "HttpsDestination",
    "LocalDestination",
    "R2Destination",
    "S3Destination",
    "SplunkDestination",
    "WebSocketDestination",
    "challenge_key",
    "date_stamp",
    "expand_date",
    "object_key",
    "object_name",
    "parse_destination_conf",
    "redact_destination_conf",
]
