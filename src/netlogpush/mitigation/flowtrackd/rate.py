"""Rate detectors: one leaky bucket per key (a destination, per component and rule).

A rule's rate ``R`` (packets/s) and burst ``B`` (packets) set a bucket that drains at ``R``
and fills by one per packet, capped at ``B + hold·R``. The mitigation is active for a packet
when the level after it exceeds ``B``: the traffic has run above ``R`` long enough to pile
up a burst of ``B`` packets. When the flood stops, the level drains from the cap to ``B``
in at most ``hold`` seconds, and the mitigation ends.

Exactness across batches: levels are integers (millionths of a packet, time in µs), so the
result is the same however the packets are split into batches. A batch is evaluated with a
segmented parallel scan: each packet's update ``L -> min(hi, max(lo, L + a))`` is a clamp
map, clamp maps compose into clamp maps, and a log-depth (Hillis–Steele) scan composes the
prefixes of every key's run at once; no Python loop runs per packet.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.flowtrackd.table import SlotTable, combine, nonzero

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

UNIT = 1_000_000  # a level of one packet
_NEVER = np.iinfo(np.int64).max
_LOWEST = np.iinfo(np.int64).min


BLOCK = 64  # scan length handled by the direct scan; longer runs go through block totals


def _direct_scan(a: I64, lo: I64, hi: I64, depth: I64, bound: int) -> tuple[I64, I64, I64]:
    """Hillis–Steele: log2(longest run) passes over contiguous slices."""
    a, lo, hi = a.copy(), lo.copy(), hi.copy()
    longest = int(depth.max()) + 1 if depth.size else 0
    step = 1
    while step < longest:
        # Element i takes in element i - step when both are in one run; a pair that
        # straddles a run's start keeps the later element as it is.
        joins = depth[step:] >= step
        a_e, lo_e, hi_e = a[:-step], lo[:-step], hi[:-step]
        a_l, lo_l, hi_l = a[step:], lo[step:], hi[step:]
        new_a, new_lo, new_hi = compose(a_e, lo_e, hi_e, a_l, lo_l, hi_l, bound)
        a[step:] = np.where(joins, new_a, a_l)
        lo[step:] = np.where(joins, new_lo, lo_l)
        hi[step:] = np.where(joins, new_hi, hi_l)
        step *= 2
    return a, lo, hi


def compose(
    a_e: I64, lo_e: I64, hi_e: I64, a_l: I64, lo_l: I64, hi_l: I64, bound: int
) -> tuple[I64, I64, I64]:
    """``later ∘ earlier``: shift by both offsets; earlier's bounds pass through later's clamp."""
    return (
        np.clip(a_e + a_l, -bound, bound),
        np.minimum(np.maximum(lo_e + a_l, lo_l), hi_l),
        np.minimum(np.maximum(hi_e + a_l, lo_l), hi_l),
    )


def clamp_scan(a: I64, lo: I64, hi: I64, first: I64, bound: int) -> tuple[I64, I64, I64]:
    """Inclusive prefix compositions of clamp maps ``x -> min(hi, max(lo, x + a))``.

    ``first[i]`` is the index where element ``i``'s run starts; prefixes do not cross
    runs. ``bound`` is at least every ``hi``: offsets beyond ``±bound`` act alike on levels
    in ``[0, bound]``, so sums are clipped there and never overflow.

    Runs longer than ``BLOCK`` are cut into blocks: each block is scanned directly, the
    block totals are scanned (recursively), and each block's elements are composed with the
    total of the blocks before it. That is ~log2(BLOCK) + 2 passes instead of log2(run).
    """
    n = a.shape[0]
    pos = np.arange(n, dtype=np.int64)
    depth = pos - first
    if n == 0 or int(depth.max()) < BLOCK:
        return _direct_scan(a, lo, hi, depth, bound)
    in_block = depth % BLOCK
    A, LO, HI = _direct_scan(a, lo, hi, in_block, bound)
    block_start = in_block == 0
    block = np.cumsum(block_start) - 1
    tails = np.append(np.flatnonzero(block_start)[1:], n) - 1
    # Block totals, scanned within each run (a run's blocks are consecutive).
    tail_first_block = block[first[tails]]
    t_first = tail_first_block  # index (among tails) of the run's first block
    TA, TLO, THI = clamp_scan(A[tails], LO[tails], HI[tails], t_first, bound)
    # Elements of block k (not a run's first block) are preceded by total k - 1.
    later = block > block[first]
    prev = block[later] - 1
    out_a, out_lo, out_hi = A.copy(), LO.copy(), HI.copy()
    out_a[later], out_lo[later], out_hi[later] = compose(
        TA[prev], TLO[prev], THI[prev], A[later], LO[later], HI[later], bound
    )
    return out_a, out_lo, out_hi


class RateDetector:
    """Leaky buckets for many keys, kept in a bounded table between batches."""

    def __init__(self, capacity: int, hold_seconds: float) -> None:
        # Record words: level, time of the last packet (µs), time the level reaches 0 (µs).
        self.table = SlotTable(capacity, 3)
        self.hold_seconds = hold_seconds

    def cap(self, rate: I64, burst: I64) -> I64:
        """The bucket's ceiling: ``B`` plus ``hold`` seconds of draining (at least a packet)."""
        hold = np.ceil(self.hold_seconds * rate.astype(np.float64)).astype(np.int64)
        out: I64 = (burst + np.maximum(hold, 1)) * UNIT
        return out

    def update(self, keys: U64, ts_ns: I64, rate: I64, burst: I64) -> Mask:
        """Feed packets (in time order) and return, per packet, whether its key is over."""
        n = keys.shape[0]
        if n == 0:
            return np.zeros(0, np.bool_)
        t_all = ts_ns // 1000
        group = self._slots(keys, t_all)
        # Group by slot: slots fit 16 bits in the default table, and numpy sorts 16-bit
        # integers with a stable radix sort, several times faster than 64-bit keys.
        if int(group.max()) < 1 << 16:
            order = np.argsort(group.astype(np.uint16), kind="stable")
        else:
            order = np.argsort(group, kind="stable")
        g = group[order]
        t = t_all[order]
        r = rate[order].astype(np.int64)
        b = burst[order].astype(np.int64)
        start = np.ones(n, np.bool_)
        start[1:] = g[1:] != g[:-1]
        heads = np.flatnonzero(start)
        seg = np.cumsum(start) - 1
        first = heads[seg]
        stored = g[heads] < self.table.capacity
        level0 = np.zeros(heads.size, np.int64)
        last0 = t[heads].copy()
        saved = self.table.read(g[heads][stored])
        level0[stored] = saved[:, 0]
        last0[stored] = saved[:, 1]

        prev = np.empty(n, np.int64)
        prev[1:] = t[:-1]
        prev[heads] = last0
        cap = self.cap(r, b)
        dt = np.maximum(t - prev, 0)
        dt = np.minimum(dt, cap // np.maximum(r, 1) + 1)  # keeps r·dt from overflowing
        drain = np.minimum(r * dt, cap)
        bound = int(cap.max())
        a, lo, hi = clamp_scan(UNIT - drain, np.full(n, UNIT, np.int64), cap, first, bound)
        level = np.minimum(hi, np.maximum(lo, level0[seg] + a))
        over = level > b * UNIT

        tails = np.append(heads[1:], n) - 1
        end_level, end_t, end_r = level[tails], t[tails], r[tails]
        zero_at = np.where(
            end_r > 0, end_t + (end_level + end_r - 1) // np.maximum(end_r, 1), _NEVER
        )
        values = np.stack([end_level, end_t, zero_at], axis=1)
        self.table.write(g[heads][stored], values[stored])
        out = np.empty(n, np.bool_)
        out[order] = over
        return out

    def _slots(self, keys: U64, t: I64) -> I64:
        """Each packet's detector slot; a new key gets one (level 0), evicting an idle or
        the soonest-idle bucket. Keys that find no slot get ids from ``capacity`` up (their
        state lasts this batch only)."""
        slots = self.table.lookup(keys)
        miss = np.flatnonzero(slots < 0)
        if not miss.size:
            return slots
        # Buckets in use by this batch must not be evicted by its newcomers: mark them
        # busy (never idle) until the batch writes their new state.
        used = np.unique(slots[slots >= 0])
        self.table.rows[used, 2] = _NEVER
        new_keys, first, inverse = np.unique(keys[miss], return_index=True, return_inverse=True)
        t0 = t[miss][first]
        records = np.stack([np.zeros_like(t0), t0, np.full_like(t0, _NEVER)], axis=1)
        placed = self.table.place(
            new_keys, records, self._score, t0, np.full(new_keys.size, _NEVER, np.int64)
        )
        lost = placed < 0
        placed[lost] = self.table.capacity + np.arange(int(lost.sum()))
        slots[miss] = placed[inverse]
        return slots

    def _score(self, slots: I64, now: I64) -> I64:
        """Idle buckets (drained to zero) go first, then the one that drains soonest."""
        zero_at = np.take(self.table.rows[:, 2], slots)
        out: I64 = np.where(zero_at <= now, _LOWEST + 1, zero_at)
        return out


def destination_keys(tag: int, seed: int, rule: I64, dst_hi: U64, dst_lo: U64) -> U64:
    """One detector key per (component, rule, destination address)."""
    h = np.full(rule.shape[0], np.uint64((seed ^ (tag * 0x9E3779B97F4A7C15)) & ((1 << 64) - 1)))
    h = combine(h, rule.astype(np.uint64))
    h = combine(h, dst_hi)
    return nonzero(combine(h, dst_lo))
