"""When a Logpush upload closes: ``max_upload_records``, ``max_upload_bytes``,
``max_upload_interval_seconds``, whichever is hit first.

Sources (reference spec §2.4, §4; cloudflare-docs ``logs/logpush/logpush-job/api-configuration.mdx``
"Max Upload Parameters"):

- "Files will be sent based on whichever parameter is hit first. If these options are not set,
  the system uses our internal defaults of 30s, 100k records";
- ``max_upload_bytes``: "The maximum **uncompressed** file size of a batch", 5 MB – 1 GB;
  it is therefore measured on the formatted batch (prefixes, delimiters and all) before gzip;
- ``max_upload_records``: 1,000 – 1,000,000; ``max_upload_interval_seconds``: 30 – 300;
  each "or 0 to disable" (TS-SDK). Here 0 (or null) means the limit falls back to the
  default (records, interval) or to none (bytes, which has no documented default);
- the deprecated ``frequency``: ``high`` = 30 s / 100,000 records, ``low`` = 5 min /
  1,000,000 records (cloudflare-docs PR #7512). Explicit ``max_upload_*`` values win over it.

A single record larger than ``max_upload_bytes`` still goes out, alone: records are never split.
The clock is injected so tests step time by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from netlogpush.logpush.output_options import Encoder

DEFAULT_MAX_RECORDS = 100_000
DEFAULT_MAX_INTERVAL_SECONDS = 30
#: frequency -> (max records, max interval seconds)
FREQUENCIES: dict[str, tuple[int, int]] = {"high": (100_000, 30), "low": (1_000_000, 300)}
#: Documented ranges; 0 disables (see the module docstring for what that means here).
RANGES: dict[str, tuple[int, int]] = {
    "max_upload_records": (1_000, 1_000_000),
    "max_upload_bytes": (5_000_000, 1_000_000_000),
    "max_upload_interval_seconds": (30, 300),
}

CloseReason = Literal["records", "bytes", "interval", "flush"]


class BatchLimitError(ValueError):
    """An out-of-range job setting; ``key`` names it."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_records: int
    max_bytes: int | None  # uncompressed; None = no byte limit
    max_interval_seconds: float


def _setting(key: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BatchLimitError(key, f"must be an integer, got {value!r}")
    if value == 0:
        return None
    low, high = RANGES[key]
    if not low <= value <= high:
        raise BatchLimitError(key, f"must be 0 or between {low:,} and {high:,}, got {value:,}")
    return value


def batch_limits(
    max_upload_records: Any = None,
    max_upload_bytes: Any = None,
    max_upload_interval_seconds: Any = None,
    frequency: Any = None,
) -> BatchLimits:
    """A job's limits from its (validated) settings."""
    if frequency is not None and frequency not in FREQUENCIES:
        raise BatchLimitError("frequency", f'must be "high" or "low", got {frequency!r}')
    records, interval = FREQUENCIES[frequency or "high"]
    return BatchLimits(
        max_records=_setting("max_upload_records", max_upload_records) or records,
        max_bytes=_setting("max_upload_bytes", max_upload_bytes),
        max_interval_seconds=_setting("max_upload_interval_seconds", max_upload_interval_seconds)
        or interval,
    )


@dataclass(frozen=True, slots=True)
class Batch:
    """A closed batch: the formatted, uncompressed upload body."""

    data: bytes
    records: int
    opened_at: float
    closed_at: float
    reason: CloseReason


class Batcher:
    """Accumulates encoded records (``Encoder.encode_records``) and cuts batches.

    ``add`` returns the batches its records closed (zero, one or several); call ``poll`` when
    ``deadline()`` passes, and ``flush`` on shutdown. Records keep their order.
    """

    def __init__(
        self,
        encoder: Encoder,
        limits: BatchLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.encoder = encoder
        self.limits = limits
        self.clock = clock
        o = encoder.options
        self._delim = len(o.resolved("record_delimiter").encode())
        self._base = len(o.resolved("batch_prefix").encode()) + len(
            o.resolved("batch_suffix").encode()
        )
        self._chunks: list[pa.Array] = []
        self._records = 0
        self._cost = 0  # sum over pending records of (length + delimiter length)
        self._opened: float | None = None

    @property
    def pending_records(self) -> int:
        return self._records

    @property
    def pending_bytes(self) -> int:
        """Uncompressed size the pending batch would have if closed now."""
        return self._base + self._cost - self._delim if self._records else 0

    def deadline(self) -> float | None:
        """When the pending batch reaches ``max_upload_interval_seconds`` (None if empty)."""
        if self._opened is None:
            return None
        return self._opened + self.limits.max_interval_seconds

    def add_table(self, table: pa.Table) -> list[Batch]:
        """Encode (already filtered and sampled) records and add them."""
        return self.add(self.encoder.encode_records(table))

    def add(self, records: pa.Array) -> list[Batch]:
        out = self.poll()
        n = len(records)
        if not n:
            return out
        now = self.clock()
        if isinstance(records, pa.ChunkedArray):
            records = records.combine_chunks()
        # costs[j] = bytes records[0..j] add to a batch, each with the delimiter before it
        costs = np.cumsum(_value_lengths(records) + self._delim)
        i = 0
        while i < n:
            if self._opened is None:
                self._opened = now
            room = self.limits.max_records - self._records
            take = min(room, n - i)
            by_bytes = False
            if self.limits.max_bytes is not None:
                before = int(costs[i - 1]) if i else 0
                budget = self.limits.max_bytes - self._base + self._delim - self._cost
                fit = int(np.searchsorted(costs[i:], before + budget, side="right"))
                if fit == 0 and self._records == 0:
                    fit = 1  # an oversized record goes alone
                if fit < take:
                    take, by_bytes = fit, True
            if take:
                self._chunks.append(records.slice(i, take))
                self._records += take
                self._cost += int(costs[i + take - 1]) - (int(costs[i - 1]) if i else 0)
                i += take
            if self._records >= self.limits.max_records:
                out.append(self._close(now, "records"))
            elif by_bytes or (
                self.limits.max_bytes is not None and self.pending_bytes >= self.limits.max_bytes
            ):
                out.append(self._close(now, "bytes"))
        return out

    def poll(self) -> list[Batch]:
        """Close the pending batch if it has waited ``max_upload_interval_seconds``."""
        deadline = self.deadline()
        now = self.clock()
        if deadline is not None and now >= deadline:
            return [self._close(now, "interval")]
        return []

    def flush(self) -> list[Batch]:
        """Close whatever is pending (shutdown, job disabled)."""
        return [self._close(self.clock(), "flush")] if self._records else []

    def _close(self, now: float, reason: CloseReason) -> Batch:
        assert self._opened is not None
        batch = Batch(
            data=self.encoder.assemble(self._chunks),
            records=self._records,
            opened_at=self._opened,
            closed_at=now,
            reason=reason,
        )
        self._chunks, self._records, self._cost, self._opened = [], 0, 0, None
        return batch


def _value_lengths(records: pa.Array) -> np.ndarray[Any, np.dtype[np.int64]]:
    """UTF-8 byte length of each record, from the offsets (no copy of the data)."""
    offsets = np.frombuffer(records.buffers()[1], dtype=np.int32)
    offsets = offsets[records.offset : records.offset + len(records) + 1]
    return np.diff(offsets).astype(np.int64)
