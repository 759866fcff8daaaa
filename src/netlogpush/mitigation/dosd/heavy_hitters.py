"""Which destinations are hot: a decayed count-min sketch, then exact rates for the few.

Rates are exponentially decayed packet rates in packets per second of *packet time*: after
each tick of ``T`` seconds, ``r <- alpha * r + (1 - alpha) * count / T`` with
``alpha = exp(-T / tau)``; a steady flow of R pps converges to R.

1. **Sketch.** Every packet adds its weight to two buckets (low and high hash bits) of a
   2 x W table of decayed rates (a count-min sketch: a bucket's rate is at least the rate of
   any key in it). A batch costs two ``bincount`` calls per row of the sketch.
2. **Bound.** A key can only reach its watch rate during this batch if both its buckets,
   plus everything this batch adds to them, do. That bound is checked per packet; on
   ordinary traffic almost nothing passes it, and nothing else is sorted or looked up.
3. **Exact.** For the packets that pass, rates are computed per (key, tick) exactly, seeded
   by the rate carried from the previous batch (or the sketch's estimate for a new key), with
   a vectorised segmented scan. Entries at or above the watch rate are handed to the
   fingerprint analysis.

The exact table keeps only keys that passed the bound in the latest batch, at most
``capacity`` of them (the fastest); a key that drops out comes back with the sketch's
estimate, which can only overestimate its rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

#: Ticks after which an old rate is treated as zero (exp(-lambda * gap) is negligible).
_FORGET_LAMBDA = 40.0


@dataclass(slots=True)
class Watched:
    """(key, tick) entries whose rate reached the watch rate, with their packets.

    ``pos[start[i]:end[i]]`` are the positions (batch-local, time order) of entry ``i``.
    """

    key: U64
    tick: I64
    rate: F64
    start: I64
    end: I64
    pos: I64

    @classmethod
    def empty(cls) -> Watched:
        z = np.zeros(0, np.int64)
        return cls(np.zeros(0, np.uint64), z, np.zeros(0), z, z, z)

    def __len__(self) -> int:
        return int(self.key.shape[0])


class HeavyHitters:
    def __init__(self, width: int, capacity: int, tick_s: float, tau_s: float) -> None:
        self.width = width
        self.capacity = capacity
        self.lam = tick_s / tau_s  # decay exponent per tick
        self.gain = (1.0 - np.exp(-self.lam)) / tick_s  # rate added per packet in a tick
        self.sketch = np.zeros((2, width), np.float64)
        self.tick: int | None = None  # tick the sketch's rates are as of
        self.keys = np.zeros(0, np.uint64)  # exact table, sorted
        self.rate = np.zeros(0, np.float64)
        self.rate_tick = np.zeros(0, np.int64)
        #: After ``update``: positions whose exact (key, tick) rate reached ``warm_ratio``
        #: of the watch rate at some level (attacks from their first tick on).
        self.warm = np.zeros(0, np.bool_)

    @property
    def max_span(self) -> int:
        """Most ticks one call may span before the scan's exp() could overflow."""
        return max(1, int(600.0 / self.lam - _FORGET_LAMBDA / self.lam) - 1)

    def _buckets(self, keys: U64) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        mask = np.uint64(self.width - 1)
        b0 = (keys & mask).astype(np.intp)
        b1 = ((keys >> np.uint64(32)) & mask).astype(np.intp)
        return b0, b1

    def update(
        self, levels: list[tuple[U64, F64]], weight: F64, tick: I64, warm_ratio: float = 0.4
    ) -> list[Watched]:
        """Add one batch; per level ``(keys, watch rate per packet)``, return watched entries.

        ``tick`` is non-decreasing and its span is at most ``max_span``.
        """
        n = int(tick.shape[0])
        self.warm = np.zeros(n, np.bool_)
        if n == 0:
            return [Watched.empty() for _ in levels]
        k_end = int(tick[-1])
        span = k_end - int(tick[0])
        if span == 0:
            wd, stretch = weight, 1.0
        else:
            # Each packet's weight decayed from its tick to k_end (exp() once per tick).
            wd = weight * np.exp(-self.lam * np.arange(span + 1))[k_end - tick]
            stretch = float(np.exp(self.lam * span))
        buckets = [self._buckets(keys) for keys, _ in levels]
        add0 = np.zeros(self.width)
        add1 = np.zeros(self.width)
        for b0, b1 in buckets:
            add0 += np.bincount(b0, wd, self.width)
            add1 += np.bincount(b1, wd, self.width)
        # Upper bound of any bucket's rate during the batch: its rate before, plus all the
        # batch adds to it (undecayed: the decayed sum stretched back by the batch's span).
        lim0 = self.sketch[0] + (self.gain * stretch) * add0
        lim1 = self.sketch[1] + (self.gain * stretch) * add1
        prior_tick = k_end if self.tick is None else self.tick
        found: list[tuple[npt.NDArray[np.intp], F64]] = []
        for (_keys, watch), (b0, b1) in zip(levels, buckets, strict=True):
            cidx = np.flatnonzero(np.minimum(lim0[b0], lim1[b1]) >= warm_ratio * watch)
            # The sketch's estimate before this batch seeds keys the exact table lacks.
            prior = np.minimum(self.sketch[0][b0[cidx]], self.sketch[1][b1[cidx]])
            found.append((cidx, prior))
        decay_all = 1.0 if self.tick is None else float(np.exp(-self.lam * (k_end - self.tick)))
        self.sketch[0] *= decay_all
        self.sketch[0] += self.gain * add0
        self.sketch[1] *= decay_all
        self.sketch[1] += self.gain * add1
        self.tick = k_end

        out: list[Watched] = []
        new_keys: list[U64] = []
        new_rate: list[F64] = []
        new_tick: list[I64] = []
        for (keys, watch), (cidx, prior) in zip(levels, found, strict=True):
            if cidx.size == 0:
                out.append(Watched.empty())
                continue
            watched, (fk, fr, ft) = self._exact(
                keys[cidx], tick[cidx], weight[cidx], cidx, watch[cidx], prior, prior_tick,
                warm_ratio,
            )
            out.append(watched)
            new_keys.append(fk)
            new_rate.append(fr)
            new_tick.append(ft)
        self._store(new_keys, new_rate, new_tick, k_end)
        return out

    def _exact(
        self, keys: U64, tick: I64, weight: F64, pos: I64, watch: F64, prior: F64,
        prior_tick: int, warm_ratio: float,
    ) -> tuple[Watched, tuple[U64, F64, I64]]:
        order = np.argsort(keys, kind="stable")  # stable: time order kept within a key
        k, t, w, p, wt, pr = keys[order], tick[order], weight[order], pos[order], watch[order], prior[order]
        m = k.size
        new_seg = np.ones(m, np.bool_)
        new_seg[1:] = (k[1:] != k[:-1]) | (t[1:] != t[:-1])
        seg = np.flatnonzero(new_seg)
        seg_end = np.append(seg[1:], m)
        s_key, s_tick = k[seg], t[seg]
        s_count = np.add.reduceat(w, seg)
        first = np.ones(seg.size, np.bool_)
        first[1:] = s_key[1:] != s_key[:-1]
        kfirst = np.flatnonzero(first)
        key_of_seg = np.cumsum(first) - 1
        ukeys = s_key[kfirst]
        # Seed: the exact table's rate if the key is there, else the sketch's estimate.
        init_rate = pr[seg[kfirst]]
        init_tick = np.full(ukeys.size, prior_tick, np.int64)
        if self.keys.size:
            at = np.searchsorted(self.keys, ukeys)
            at_c = np.minimum(at, self.keys.size - 1)
            found = self.keys[at_c] == ukeys
            init_rate = np.where(found, self.rate[at_c], init_rate)
            init_tick = np.where(found, self.rate_tick[at_c], init_tick)
        first_tick = s_tick[kfirst]
        init_tick = np.minimum(init_tick, first_tick)
        stale = (first_tick - init_tick) * self.lam > _FORGET_LAMBDA
        base = np.where(stale, first_tick, init_tick)
        init_rate = np.where(stale, 0.0, init_rate)
        # r_e = exp(-lam x_e) * (r0 + sum_{j<=e} gain c_j exp(lam x_j)), x = tick - base.
        x = (s_tick - base[key_of_seg]).astype(np.float64) * self.lam
        terms = self.gain * s_count * np.exp(x)
        cs = np.cumsum(terms)
        before = np.concatenate(([0.0], cs))[kfirst]  # cumsum before each key's first segment
        s_rate = (init_rate[key_of_seg] + cs - before[key_of_seg]) * np.exp(-x)
        # Warm on the decayed rate or on this tick's own rate: the decayed rate lags a
        # ramping flood by about tau times its slope.
        inst = s_count * (self.gain / (1.0 - np.exp(-self.lam)))
        warm_seg = np.maximum(s_rate, inst) >= warm_ratio * wt[seg]
        if warm_seg.any():
            self.warm[p[np.repeat(warm_seg, seg_end - seg)]] = True
        hot = np.flatnonzero(s_rate >= wt[seg])
        watched = Watched(s_key[hot], s_tick[hot], s_rate[hot], seg[hot], seg_end[hot], p)
        klast = np.append(kfirst[1:], seg.size) - 1
        return watched, (ukeys, s_rate[klast], s_tick[klast])

    def _store(self, keys: list[U64], rate: list[F64], tick: list[I64], k_end: int) -> None:
        if not keys:
            self.keys = np.zeros(0, np.uint64)
            self.rate = np.zeros(0, np.float64)
            self.rate_tick = np.zeros(0, np.int64)
            return
        k = np.concatenate(keys)
        r = np.concatenate(rate)
        t = np.concatenate(tick)
        if k.size > self.capacity:
            now = r * np.exp(-self.lam * (k_end - t))
            keep = np.argpartition(-now, self.capacity - 1)[: self.capacity]
            k, r, t = k[keep], r[keep], t[keep]
        order = np.argsort(k)
        self.keys, self.rate, self.rate_tick = k[order], r[order], t[order]

    def estimate(self, keys: U64) -> F64:
        """The sketch's rate estimate (an upper bound) for ``keys``, as of ``self.tick``."""
        b0, b1 = self._buckets(keys)
        out: F64 = np.minimum(self.sketch[0][b0], self.sketch[1][b1])
        return out
