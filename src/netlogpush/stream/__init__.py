"""The durable, append-only record stream that jobs read with their own cursors.

``open_stream(data_dir)`` opens the embedded default (files under ``data_dir``, no server).
Jobs program against ``RecordStream`` (interface.py) only, so another backend (NATS
JetStream) can take its place. See docs/stream.md.
"""

from __future__ import annotations

import os

from netlogpush.stream.embedded import EmbeddedConfig, EmbeddedStream
from netlogpush.stream.interface import (
    AckRangeError,
    AppendResult,
    ConsumerInfo,
    DeliverPolicy,
    Fetched,
    RecordStream,
    StreamError,
    StreamFullError,
    StreamLockedError,
    StreamStats,
    UnknownConsumerError,
)
from netlogpush.stream.retention import RetentionPolicy


def open_stream(
    data_dir: str | os.PathLike[str], config: EmbeddedConfig | None = None
) -> EmbeddedStream:
    """Open (or create) the embedded stream under ``data_dir``, recovering after a crash."""
    return EmbeddedStream(data_dir, config)


__all__ = [
    "AckRangeError",
    "AppendResult",
    "ConsumerInfo",
    "DeliverPolicy",
    "EmbeddedConfig",
    "EmbeddedStream",
    "Fetched",
    "RecordStream",
    "RetentionPolicy",
    "StreamError",
    "StreamFullError",
    "StreamLockedError",
    "StreamStats",
    "UnknownConsumerError",
    "open_stream",
]
