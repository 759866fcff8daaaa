"""The receiver's records into the analytics store.

The HEC and HTTP Logpush receivers hand over each accepted request's records
(``netlogpush.receiver.sink.RecordSink``). Senders retry a batch whose answer they did not
see, so the store's default content keys are used here: a batch sent twice counts once.
"""

from __future__ import annotations

import threading
from typing import Any

from netlogpush.analytics.store import AnalyticsStore
from netlogpush.dataset.reader import records_table


class StoreSink:
    """Writes received records to ``store``; raises ``RecordError`` for a mistyped value."""

    def __init__(self, store: AnalyticsStore) -> None:
        self.store = store
        self.received = 0
        self.inserted = 0
        self.duplicates = 0
        self.late = 0
        self._lock = threading.Lock()

    def on_records(self, records: list[dict[str, Any]]) -> None:
        table = records_table(records)  # RecordError: the receiver answers "invalid format"
        # The receiver calls from several worker threads at once, and the store's one DuckDB
        # connection refuses a second caller mid-transaction (ResourceInUseException).
        with self._lock:
            result = self.store.ingest(table)
            self.received += result.received
            self.inserted += result.inserted
            self.duplicates += result.duplicates
            self.late += result.late

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "received": self.received,
                "inserted": self.inserted,
                "duplicates": self.duplicates,
                "late": self.late,
            }
