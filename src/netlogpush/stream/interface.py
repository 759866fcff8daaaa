"""The backend-neutral record stream: what jobs see, whichever backend stores the records.

The shape follows NATS JetStream on purpose, so that a JetStream backend can implement it
later without any change to the jobs:

* a *stream* of records, each with a sequence number that only grows (JetStream's stream
  sequence; here one per record, starting at 1);
* a *durable consumer* per job, created by name (JetStream's durable name) with a deliver
  policy ``all`` or ``new``;
* ``fetch(consumer, max_records)`` is a pull fetch of at most ``max_records`` records after
  what this consumer was last handed (several batches may be in flight at once);
* ``ack(consumer, up_to_seq)`` acknowledges everything up to and including ``up_to_seq``
  (JetStream's ``AckAll`` policy); only this moves the durable cursor (the *ack floor*);
* what was fetched but not acknowledged is delivered again after a restart (or at once after
  ``rewind``, JetStream's ``nak``).

Records are pyarrow Tables of one fixed schema (the dataset's 84 fields by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

DeliverPolicy = Literal["all", "new"]


class StreamError(Exception):
    """Base class of the stream's errors."""


class StreamFullError(StreamError, OSError):
    """The data directory has no space left (ENOSPC). Nothing written by the failed call stays."""


class StreamLockedError(StreamError):
    """Another process has the data directory open."""


class UnknownConsumerError(StreamError, KeyError):
    """No durable consumer of that name."""


class AckRangeError(StreamError, ValueError):
    """An ack beyond what was fetched: it would acknowledge records never delivered."""


@dataclass(frozen=True)
class AppendResult:
    """The sequence numbers given to an appended batch: ``first_seq..last_seq`` inclusive.

    An empty batch gets ``last_seq == first_seq - 1`` (no numbers used).
    """

    first_seq: int
    last_seq: int

    @property
    def count(self) -> int:
        return self.last_seq - self.first_seq + 1


@dataclass(frozen=True)
class Fetched:
    """Records handed to a consumer: consecutive sequence numbers ``first_seq..last_seq``.

    ``skipped_before`` is how many sequence numbers between the previous fetch and
    ``first_seq`` could not be delivered (corrupt data); they are added to the consumer's
    ``skipped`` counter when an ack passes them.
    """

    consumer: str
    first_seq: int
    last_seq: int
    table: pa.Table
    skipped_before: int = 0

    @property
    def count(self) -> int:
        return int(self.table.num_rows)

    def seqs(self) -> np.ndarray:
        return np.arange(self.first_seq, self.last_seq + 1, dtype=np.int64)


@dataclass(frozen=True)
class ConsumerInfo:
    name: str
    cursor: int  # the ack floor: every record up to here is acknowledged or counted skipped
    delivered: int  # the last record handed out by fetch (in this process)
    lag: int  # records after the cursor, up to the head
    skipped: int  # records this consumer never got: passed by retention, or corrupt


@dataclass(frozen=True)
class StreamStats:
    head_seq: int  # the last sequence number given out (0: nothing appended yet)
    first_seq: int  # the oldest retained sequence number (head_seq + 1 when empty)
    disk_bytes: int
    segments: int
    corrupt_frames: int = 0  # corrupt batches found (each reported in the log)
    corrupt_records: int = 0
    truncated_bytes: int = 0  # torn tail cut off when the stream was opened
    retention_deleted_records: int = 0
    consumers: dict[str, ConsumerInfo] = field(default_factory=dict)


@runtime_checkable
class RecordStream(Protocol):
    """A durable, append-only stream of records with durable consumers."""

    @property
    def schema(self) -> pa.Schema: ...

    def append(self, table: pa.Table) -> AppendResult:
        """Store ``table``'s records; they are durable (per the fsync policy) on return."""
        ...

    def add_consumer(self, name: str, deliver: DeliverPolicy = "all") -> ConsumerInfo:
        """Create the durable consumer ``name`` if it is new (idempotent otherwise)."""
        ...

    def delete_consumer(self, name: str) -> None: ...

    def consumer_info(self, name: str) -> ConsumerInfo: ...

    def consumers(self) -> list[str]: ...

    def fetch(self, consumer: str, max_records: int, timeout: float = 0.0) -> Fetched | None:
        """At most ``max_records`` records after the last fetched one; ``None`` if there are
        none within ``timeout`` seconds."""
        ...

    def ack(self, consumer: str, up_to_seq: int) -> None:
        """Acknowledge every record up to ``up_to_seq`` (delivered or dead-lettered)."""
        ...

    def rewind(self, consumer: str) -> None:
        """Deliver again everything after the cursor (un-acked batches are given up)."""
        ...

    def stats(self) -> StreamStats: ...

    def close(self) -> None: ...
