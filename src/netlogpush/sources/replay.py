"""Replaying a capture as if it were live traffic.

A capture's packets carry the time they were captured. The dashboard and the analytics
store show recent time ranges, so ``netlogpush serve --replay live`` (and the demo) shift
every timestamp so that the first packet is "now", and release each slice of packets when
its time comes, so attacks appear on the dashboard as they would in production.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import numpy as np

from netlogpush.decode.frames import FrameBatch

#: Packets are released in slices of this much capture time: short enough that a live view
#: moves smoothly, long enough that each slice is still a batch worth vectorising.
SLICE_NS = 100_000_000


def replay_live(
    batches: Iterable[FrameBatch],
    *,
    clock: Callable[[], int] = time.time_ns,
    sleep: Callable[[float], None] = time.sleep,
    stopped: Callable[[], bool] = lambda: False,
) -> Iterator[FrameBatch]:
    """Yield ``batches`` re-timed to start now, each ``SLICE_NS`` of them at its wall time.

    Frames keep their spacing; a capture out of time order is released in file order (a
    slice is cut at the first frame past its end). ``stopped`` ends the replay early.
    """
    start_wall: int | None = None
    first_ts = 0
    for batch in batches:
        if len(batch) == 0:
            continue
        if start_wall is None:
            start_wall, first_ts = clock(), int(batch.ts_ns[0])
        shifted = replace(batch, ts_ns=batch.ts_ns - first_ts + start_wall)
        i, n = 0, len(shifted)
        while i < n:
            if stopped():
                return
            slice_end = int(shifted.ts_ns[i]) + SLICE_NS
            # The frames up to the first one at or past slice_end (file order).
            past = np.flatnonzero(shifted.ts_ns[i:] >= slice_end)
            j = i + int(past[0]) if past.size else n
            j = max(j, i + 1)
            wait_ns = int(shifted.ts_ns[i]) - clock()
            if wait_ns > 0:
                sleep(wait_ns / 1e9)
            yield _slice(shifted, i, j)
            i = j


def _slice(batch: FrameBatch, start: int, stop: int) -> FrameBatch:
    # Frames index into the shared ``data`` buffer by offset, so a slice copies no bytes.
    part = slice(start, stop)
    return FrameBatch(
        data=batch.data,
        offsets=batch.offsets[part],
        caplen=batch.caplen[part],
        wirelen=batch.wirelen[part],
        ts_ns=batch.ts_ns[part],
        linktype=batch.linktype[part],
        sample_interval=batch.sample_interval[part],
    )
