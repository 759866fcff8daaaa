"""The embedded stream backend: segment files and a cursor ledger in a local directory."""

from __future__ import annotations

from netlogpush.stream.embedded.store import EmbeddedConfig, EmbeddedStream

__all__ = ["EmbeddedConfig", "EmbeddedStream"]
