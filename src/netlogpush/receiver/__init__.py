"""The log receiver: Splunk HEC and generic HTTP Logpush endpoints feeding a record sink."""

from __future__ import annotations

from netlogpush.receiver._common import ReceiverConfig, ReceiverStats
from netlogpush.receiver.hec import CODES, HecReceiver, create_hec_app
from netlogpush.receiver.http_logpush import HttpLogpushReceiver, create_http_logpush_app
from netlogpush.receiver.sink import CollectingSink, CountingSink, RecordSink
from netlogpush.receiver.tokens import HecToken, HecTokenStore

__all__ = [
    "CODES", "CollectingSink", "CountingSink", "HecReceiver", "HecToken", "HecTokenStore",
    "HttpLogpushReceiver", "ReceiverConfig", "ReceiverStats", "RecordSink", "create_hec_app",
    "create_http_logpush_app",
]  # fmt: skip
