"""Logpush delivery: senders per destination, retries, the dead-letter store, per-job
runners and their metrics. See docs/delivery.md.

``make_sender(parse_destination_conf(conf))`` gives the sender for any pushing destination;
``JobRunner`` moves one job's records from the stream to it.
"""

from __future__ import annotations

import ssl

from netlogpush.logpush.delivery.deadletter import DeadLetter, DeadLetterStore, ReplayResult
from netlogpush.logpush.delivery.http_sender import HttpSender, HttpTimeouts
from netlogpush.logpush.delivery.local_sender import LocalSender
from netlogpush.logpush.delivery.metrics import JobMetrics, render_prometheus
from netlogpush.logpush.delivery.object_sender import ObjectSender
from netlogpush.logpush.delivery.retry import Outcome, RetryPolicy, deliver
from netlogpush.logpush.delivery.runner import JobRunner, JobState, RunnerConfig
from netlogpush.logpush.delivery.sender import BatchMeta, Sender, SendResult, classify_status
from netlogpush.logpush.destinations import (
    DatadogDestination,
    Destination,
    HttpsDestination,
    LocalDestination,
    R2Destination,
    S3Destination,
    SplunkDestination,
)


def make_sender(
    destination: Destination,
    *,
    timeouts: HttpTimeouts | None = None,
    verify: str | ssl.SSLContext | None = None,
    endpoint_url: str | None = None,
) -> Sender:
    """The sender for a parsed destination. WebSocket destinations are not pushed to (the
    server keeps the session for its readers), so they have no sender: ``ValueError``."""
    if isinstance(destination, (HttpsDestination, SplunkDestination, DatadogDestination)):
        return HttpSender(destination, timeouts=timeouts, verify=verify)
    if isinstance(destination, (S3Destination, R2Destination)):
        ca = verify if isinstance(verify, str) else None
        return ObjectSender(destination, endpoint_url=endpoint_url, verify=ca)
    if isinstance(destination, LocalDestination):
        return LocalSender(destination)
    raise ValueError(f"no pushing sender for {destination.kind} destinations")


__all__ = [
    "BatchMeta",
    "DeadLetter",
    "DeadLetterStore",
    "HttpSender",
    "HttpTimeouts",
    "JobMetrics",
    "JobRunner",
    "JobState",
    "LocalSender",
    "ObjectSender",
    "Outcome",
    "ReplayResult",
    "RetryPolicy",
    "RunnerConfig",
    "SendResult",
    "Sender",
    "classify_status",
    "deliver",
    "make_sender",
    "render_prometheus",
]
