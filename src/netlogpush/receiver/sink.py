"""Where received records go: anything with ``on_records(records) -> None``.

The analytics store plugs in here later. The receiver calls the sink once per accepted request,
with every record of that request, from a worker thread (never the event loop), so a sink may
block on disk. A request is all-or-nothing: the sink sees no records of a rejected request.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol


class RecordSink(Protocol):
    def on_records(self, records: list[dict[str, Any]]) -> None: ...


class CollectingSink:
    """Keeps every record in memory (tests, the demo before the store exists)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.batches = 0
        self._lock = threading.Lock()

    def on_records(self, records: list[dict[str, Any]]) -> None:
        with self._lock:
            self.records.extend(records)
            self.batches += 1


class CountingSink:
    """Counts and drops records (benchmarks)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def on_records(self, records: list[dict[str, Any]]) -> None:
        with self._lock:
            self.count += len(records)
