"""Feeds the analytics store from the record stream, exactly once, in its own thread.

stream fetch (durable consumer ``analytics``) → ``store.ingest_stream`` → stream ack.

Exactly once across restarts and kill -9 (docs/analytics.md): the store writes the last
sequence number it took in the same DuckDB transaction as the rows. A crash before the commit
leaves neither; the batch is un-acked, so the stream delivers it again. A crash after the
commit but before the ack redelivers records the store already has; their sequence numbers
are at or below the stored position, and ``ingest_stream`` skips them (counted as
duplicates). No content key is computed and no index is looked up.

Batches of at least one DuckDB row group (``ROW_GROUP_ROWS``): the feed keeps fetching, for
up to ``max_delay_s``, until it has that many records, because DuckDB appends smaller inserts
to a partial row group and pays up to a second to compress it each time one fills (measured:
~85k records/s in 65,536-record inserts, ~650k/s in 122,880-record ones; docs/analytics.md).

Errors (a full disk, a DuckDB failure) are logged and counted; the un-acked records are
delivered again after a pause, so nothing is lost while the feed keeps trying. Every
``compact_every_s`` the feed applies the store's retention (``store.compact``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from netlogpush.analytics.store import ROW_GROUP_ROWS, AnalyticsStore
from netlogpush.stream.interface import DeliverPolicy, Fetched, RecordStream

log = logging.getLogger(__name__)


class StreamFeed:
    def __init__(
        self,
        stream: RecordStream,
        store: AnalyticsStore,
        consumer: str = "analytics",
        *,
        batch_records: int = 131_072,
        min_batch_records: int = ROW_GROUP_ROWS,
        max_delay_s: float = 1.0,
        compact_every_s: float = 60.0,
        clock: Callable[[], int] = time.time_ns,
        idle_wait_s: float = 0.5,
        retry_wait_s: float = 1.0,
        deliver: DeliverPolicy = "all",
    ) -> None:
        if batch_records <= 0:
            raise ValueError("batch_records must be positive")
        self.stream = stream
        self.store = store
        self.consumer = consumer
        self.batch_records = batch_records
        self.min_batch_records = min(min_batch_records, batch_records)
        self.max_delay_s = max_delay_s
        self.compact_every_s = compact_every_s
        self.clock = clock
        self.idle_wait_s = idle_wait_s
        self.retry_wait_s = retry_wait_s
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(
            ("ingested", "duplicates", "late", "batches", "errors", "compactions"), 0
        )
        self._last_compact = time.monotonic()
        stream.add_consumer(consumer, deliver)
        # Records fetched by an earlier feed in this process but never acked come again.
        stream.rewind(consumer)
        self._check_stream_identity()

    def _check_stream_identity(self) -> None:
        """A stream whose head is behind the store's position is a new stream (its data
        directory was replaced): its numbers start again at 1 and would all look like
        duplicates. Start the position afresh (``_id``s stay unique: docs/analytics.md)."""
        head = self.stream.stats().head_seq
        position = self.store.position(self.consumer)
        if head < position:
            log.warning(
                "analytics feed: stream head %d is behind the store's position %d for %r; "
                "taking it as a new stream",
                head,
                position,
                self.consumer,
            )
            self.store.reset_stream(self.consumer)

    # ---- control -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("feed already started")
        self._thread = threading.Thread(target=self.run, name="analytics-feed", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the batch in hand (it is committed and acked, or left for next time)."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> dict[str, int]:
        """Counters since start (records ingested, duplicates skipped, late refused, batches,
        errors, compactions), and the consumer's lag and the store's position."""
        with self._lock:
            out = dict(self._counts)
        try:
            out["lag"] = self.stream.consumer_info(self.consumer).lag
        except Exception:  # a closed stream: the counters are still worth reporting
            out["lag"] = -1
        out["position"] = self.store.position(self.consumer)
        return out

    def _add(self, **counts: int) -> None:
        with self._lock:
            for key, n in counts.items():
                self._counts[key] += n

    # ---- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.step(self.idle_wait_s)
                if time.monotonic() - self._last_compact >= self.compact_every_s:
                    self.compact()
            except Exception:
                log.exception("analytics feed: will retry in %.1f s", self.retry_wait_s)
                self._add(errors=1)
                self._halt.wait(self.retry_wait_s)
                try:  # deliver again what was fetched but not acked
                    self.stream.rewind(self.consumer)
                except Exception:
                    log.exception("analytics feed: rewind failed")

    def step(self, wait_s: float = 0.0, linger: bool = True) -> int:
        """Fetch a batch (waiting up to ``wait_s`` for its first records and, if ``linger``,
        up to ``max_delay_s`` more to fill a row group), ingest it, ack it; the number of
        records fetched (0: none)."""
        first = self.stream.fetch(self.consumer, self.batch_records, wait_s)
        if first is None:
            return 0
        parts: list[Fetched] = [first]
        n = first.count
        deadline = time.monotonic() + (self.max_delay_s if linger else 0.0)
        while n < self.min_batch_records and not self._halt.is_set():
            more = self.stream.fetch(
                self.consumer, self.batch_records - n, max(0.0, deadline - time.monotonic())
            )
            if more is None:
                break
            parts.append(more)
            n += more.count
        seqs = np.concatenate([self._seqs(f) for f in parts])
        table = parts[0].table if len(parts) == 1 else pa.concat_tables(f.table for f in parts)
        result = self.store.ingest_stream(table, seqs, self.consumer)
        self.stream.ack(self.consumer, parts[-1].last_seq)
        self._add(
            ingested=result.inserted, duplicates=result.duplicates, late=result.late, batches=1
        )
        return n

    @staticmethod
    def _seqs(fetched: Fetched) -> np.ndarray:
        seqs = fetched.seqs()
        n = fetched.count
        # Defensive, as the job runner: the records are the last n sequence numbers.
        return seqs if len(seqs) == n else seqs[len(seqs) - n :]

    def drain(self) -> int:
        """Ingest everything the stream has now (tests, benchmarks); records fetched."""
        total = 0
        while n := self.step(linger=False):
            total += n
        return total

    def compact(self) -> None:
        self._last_compact = time.monotonic()
        self.store.compact(self.clock())
        self._add(compactions=1)
