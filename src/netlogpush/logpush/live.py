"""An in-process fan-out of freshly ingested record tables to live subscribers (the WebSocket
stream, in the spirit of Cloudflare's Instant Logs).

``publish`` is called by the ingest threads right after each stream append and must never
slow them: it only appends the table (a reference, no copy) to each subscriber's bounded
queue, and when a queue is full the table is dropped for that subscriber and its records
counted. Filtering, sampling and encoding happen on the subscriber's side, so their cost is
paid by the reader that asked for them, not by ingest.

Subscribers are consumed from an asyncio loop (the WebSocket handler). The queue is a deque
under a lock rather than an ``asyncio.Queue``: ``publish`` runs in other threads, and posting
every table with ``call_soon_threadsafe`` would queue callbacks without bound when the loop
is busy. Only one wake-up per empty-to-non-empty transition is posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque

import pyarrow as pa

#: Tables (ingest batches) a subscriber may have waiting before newer ones are dropped.
DEFAULT_MAX_QUEUED = 64


class Subscription:
    """One reader's queue. Use ``await next_table()``; ``close()`` (or ``LiveFeed.unsubscribe``)
    ends it, and ``next_table`` then returns None."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_queued: int) -> None:
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        self._loop = loop
        self._max = max_queued
        self._lock = threading.Lock()
        self._queue: deque[pa.Table] = deque()
        self._event = asyncio.Event()
        self._wake_pending = False
        self.closed = False
        self.dropped_tables = 0
        self.dropped_records = 0
        self.queued_records = 0  # total ever accepted, for tests and stats

    def offer(self, table: pa.Table) -> bool:
        """Queue ``table`` without blocking; False (and counted) when full or closed."""
        with self._lock:
            if self.closed:
                return False
            if len(self._queue) >= self._max:
                self.dropped_tables += 1
                self.dropped_records += table.num_rows
                return False
            self._queue.append(table)
            self.queued_records += table.num_rows
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
            self._wake()
        return True

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: its reader is gone
            self._loop.call_soon_threadsafe(self._event.set)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._queue.clear()
        self._wake()

    async def next_table(self) -> pa.Table | None:
        while True:
            with self._lock:
                if self._queue:
                    return self._queue.popleft()
                if self.closed:
                    return None
                # Cleared under the lock, before awaiting: a publisher that appends after this
                # sees no pending wake-up and posts one, which runs after the clear below.
                self._wake_pending = False
            self._event.clear()
            await self._event.wait()


class LiveFeed:
    """The set of live subscribers; thread-safe."""

    def __init__(self, max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        self.max_queued = max_queued
        self._lock = threading.Lock()
        self._subs: list[Subscription] = []
        self.published_records = 0

    def subscribe(self, max_queued: int | None = None) -> Subscription:
        """A new subscription read from the running event loop."""
        sub = Subscription(asyncio.get_running_loop(), max_queued or self.max_queued)
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.close()
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, table: pa.Table) -> None:
        """Offer ``table`` to every subscriber; never blocks on a slow one."""
        if table.num_rows == 0:
            return
        with self._lock:
            subs = list(self._subs)
            self.published_records += table.num_rows
        for sub in subs:
            sub.offer(table)

    def stats(self) -> dict[str, int]:
        with self._lock:
            subs = list(self._subs)
            published = self.published_records
        return {
            "subscribers": len(subs),
            "published_records": published,
            "dropped_records": sum(s.dropped_records for s in subs),
        }
