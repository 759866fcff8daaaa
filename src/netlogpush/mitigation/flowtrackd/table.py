"""A fixed-capacity hash table in numpy arrays, and the 64-bit keys it is indexed by.

Why hand-written: flowtrackd's state must stay bounded in memory under a flood of a million
spoofed sources and be read and written for a whole batch at once. A Python ``dict`` is
unbounded and per-key; no numpy-native hash map library is available. A bucketised table
over preallocated arrays gives a hard bound (``capacity`` slots, allocated once) and
vectorised batch lookups and inserts.

Layout: ``capacity / 8`` buckets of 8 slots; a key lives in bucket ``key & (buckets - 1)``.
A lookup reads the bucket's 8 keys as one 64-byte row and compares them at once. A key of 0
marks a free slot (real keys are never 0). When a bucket is full, the caller's ``score``
picks the victim: the lowest score is evicted, and only if it is below the newcomer's
``limit``. The connection table scores free or expired entries lowest, then unestablished
(NEW, CLOSED) entries, then established ones, older before newer; so a SYN flood evicts its
own kind, never an OPEN connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix64(z: U64) -> U64:
    """splitmix64's finaliser: a cheap, well-spread 64-bit mix (uint64 products wrap)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    out: U64 = z ^ (z >> np.uint64(31))
    return out


def combine(h: U64, x: U64) -> U64:
    return mix64(h ^ (x + _GOLDEN))


def nonzero(h: U64) -> U64:
    """Keys are never 0 (0 marks a free slot)."""
    out: U64 = np.where(h == 0, np.uint64(1), h)
    return out


def address_words(
    v4: npt.NDArray[np.uint32], v6: npt.NDArray[np.uint8], version: npt.NDArray[np.uint8]
) -> tuple[U64, U64]:
    """An address as two 64-bit words: IPv4 in the first (tagged), IPv6's halves as they are."""
    hi = v4.astype(np.uint64) | np.uint64(4 << 40)
    lo = np.zeros(v4.shape[0], np.uint64)
    six = np.flatnonzero(version == 6)
    if six.size:  # IPv4-only batches skip the 16-byte columns entirely
        words = np.ascontiguousarray(v6[six]).view(">u8").reshape(-1, 2).astype(np.uint64)
        hi[six], lo[six] = words[:, 0], words[:, 1]
    return hi, lo


BUCKET = 8  # slots per bucket: 8 keys are one 64-byte row, 8 match bytes one uint64


def first_byte(mask: Mask) -> tuple[Mask, I64]:
    """For a ``(m, 8)`` boolean array: whether each row has a True, and the first one's column.

    The 8 bytes of a row are read as one uint64; its lowest set byte is isolated with
    ``v & -v``, a power of two whose exponent (from ``frexp``) is 8 times the column.
    """
    v = np.ascontiguousarray(mask).view(np.uint64).reshape(-1)
    found = v != 0
    low = v & (~v + np.uint64(1))
    column = (np.frexp(low.astype(np.float64))[1].astype(np.int64) - 1) >> 3
    return found, column


class SlotTable:
    """``capacity`` slots: a 64-bit key and a record of ``width`` 64-bit words each.

    A record is one row of a ``(slots, width)`` int64 matrix (array of structs: one cache
    line per entry, read with ``np.take`` along rows, which numpy does far faster than
    fancy indexing of a structured array); callers pack their fields into the words.
    """

    def __init__(self, capacity: int, width: int) -> None:
        size = 1 << max(int(capacity) - 1, BUCKET - 1).bit_length()
        self.capacity = size
        self.buckets = size // BUCKET
        self.mask = np.uint64(self.buckets - 1)
        self.width = width
        self.bucket_keys: U64 = np.zeros((self.buckets, BUCKET), np.uint64)
        self.keys: U64 = self.bucket_keys.reshape(-1)
        self.rows: I64 = np.zeros((size, width), np.int64)
        self._flat = self.rows.reshape(-1)
        self._words = np.arange(width, dtype=np.int64)
        self._columns = np.arange(BUCKET, dtype=np.int64)

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.rows.nbytes)

    def occupied(self) -> int:
        return int(np.count_nonzero(self.keys))

    def bucket(self, keys: U64) -> I64:
        out: I64 = (keys & self.mask).astype(np.int64)
        return out

    def lookup(self, keys: U64) -> I64:
        """The slot of each key, or -1 when it is not in the table."""
        b = self.bucket(keys)
        found, column = first_byte(np.take(self.bucket_keys, b, axis=0) == keys[:, None])
        out: I64 = np.where(found, b * BUCKET + column, -1)
        return out

    def read(self, slots: I64) -> I64:
        """The records of ``slots``, one row each."""
        out: I64 = np.take(self.rows, slots, axis=0)
        return out

    def write(self, slots: I64, records: I64) -> None:
        if slots.size:
            self._flat[(slots[:, None] * self.width + self._words).reshape(-1)] = records.reshape(
                -1
            )

    def clear(self, slots: I64) -> None:
        self.keys[slots] = 0

    def place(
        self,
        keys: U64,
        records: I64,
        score: Callable[[I64, npt.NDArray[Any]], I64],
        context: npt.NDArray[Any],
        limit: I64,
    ) -> I64:
        """Insert ``keys`` (absent from the table, distinct, in priority order); their slots.

        A key takes a free slot of its bucket. With none free, the slot with the lowest
        ``score(slots, context)`` goes, if that score is below the key's ``limit``;
        otherwise the key is not stored (-1). Keys of one bucket go in priority order, one
        per round, so no two keys of a round compete for a slot; beyond ``2·BUCKET``
        newcomers to one bucket in one batch, the rest are not stored.
        """
        m = keys.shape[0]
        out = np.full(m, -1, np.int64)
        if not m:
            return out
        b = self.bucket(keys)
        # Stable order by bucket: sort (bucket, position) packed into one integer.
        bits = max(m - 1, 1).bit_length()
        by_bucket = (np.sort((b << bits) | np.arange(m)) & ((1 << bits) - 1)).astype(np.int64)
        sb = b[by_bucket]
        head = np.ones(m, np.bool_)
        head[1:] = sb[1:] != sb[:-1]
        starts = np.flatnonzero(head)
        rank = np.empty(m, np.int64)
        rank[by_bucket] = np.arange(m) - starts[np.cumsum(head) - 1]
        for r in range(min(int(rank.max()) + 1, 2 * BUCKET)):
            sel = np.flatnonzero(rank == r)
            bs = b[sel]
            free, column = first_byte(np.take(self.bucket_keys, bs, axis=0) == 0)
            slot = bs * BUCKET + column
            full = np.flatnonzero(~free)
            ok = free.copy()
            if full.size:
                window = bs[full, None] * BUCKET + self._columns[None, :]
                scores = score(window, context[sel[full], None])
                pick = scores.argmin(axis=1)
                rows = np.arange(full.size)
                slot[full] = window[rows, pick]
                ok[full] = scores[rows, pick] < limit[sel[full]]
            win, wslot = sel[ok], slot[ok]
            self.keys[wslot] = keys[win]
            self.write(wslot, records[win])
            out[win] = wslot
        return out
