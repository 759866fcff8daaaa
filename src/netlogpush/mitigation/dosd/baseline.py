"""What normal traffic looks like, so ``ddos_dynamic`` can tell a selective fingerprint.

``ddos_dynamic`` blocks a fingerprint only when it is *very selective*: when it matches
almost none of the ordinary traffic of its class. A SYN flood shaped like Linux clients'
SYNs (length 60, window 64240) shares every value with the real clients, and blocking it
would drop them too; that one is logged instead (flowtrackd's challenges are the tool
for it).

The baseline is a reservoir per traffic class of recently seen packets' header values:

* a stride sample (1 in ``stride``) of the packets that no mitigation matched is *pending*
  for ``delay`` ticks;
* it then joins its class's reservoir (a ring of the latest ``capacity`` samples) unless its
  destination *started* being hot within ``delay`` ticks of it (before or after): the first
  packets of an attack, sent before its destination crossed the watch rate, never make it
  into "normal", while a server that is busy all day still counts;
* a fingerprint's share of normal traffic is the weighted share of the reservoir's samples
  from the last ``window`` ticks that it matches: the exact joint share, no independence
  assumption between fields.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.dosd.classes import N_CLASSES, TrafficClass
from netlogpush.mitigation.dosd.features import FIELDS, Features

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer[Any]]
Constraint = tuple[str, Sequence[int]]


@dataclass(slots=True)
class _Pending:
    ready: int  # tick from which it may join
    tick: I64
    cls: npt.NDArray[np.uint8]
    keys: U64  # (n, levels) destination keys, to check they did not turn hot
    weight: F64
    values: dict[str, IntArray]


@dataclass(slots=True)
class _Ring:
    capacity: int
    values: dict[str, IntArray] = field(default_factory=dict)
    weight: F64 = field(default_factory=lambda: np.zeros(0))
    tick: I64 = field(default_factory=lambda: np.zeros(0, np.int64))

    def __post_init__(self) -> None:
        for name in FIELDS:
            self.values.setdefault(name, np.zeros(0, np.int64))

    def add(self, values: dict[str, IntArray], weight: F64, tick: I64) -> None:
        cap = self.capacity
        for name in FIELDS:
            self.values[name] = np.concatenate((self.values[name], values[name]))[-cap:]
        self.weight = np.concatenate((self.weight, weight))[-cap:]
        self.tick = np.concatenate((self.tick, tick))[-cap:]


class Baseline:
    def __init__(
        self, window_ticks: int, delay_ticks: int, maturity_ticks: int, capacity: int = 2048,
        stride: int = 16, min_samples: int = 100,
    ) -> None:
        self.window = window_ticks
        self.maturity = maturity_ticks
        self.first: int | None = None  # first tick a sample was committed
        self.delay = delay_ticks
        self.stride = stride
        self.min_samples = min_samples
        self.rings = [_Ring(capacity) for _ in range(N_CLASSES)]
        self.pending: deque[_Pending] = deque()
        self._hot_keys = np.zeros(0, np.uint64)  # sorted
        self._hot_last = np.zeros(0, np.int64)  # the last tick each key was hot
        self._hot_start = np.zeros(0, np.int64)  # when its current hot spell started
        self._phase = 0
        self.now = 0

    def hot(self, keys: U64, ticks: I64) -> None:
        """Destinations (keys) that were hot at ``ticks``.

        A key hot again within ``delay`` ticks of its last hot tick continues its spell;
        otherwise a new spell starts. (A Python loop, but over hot entries only: a few per
        hot destination and tick.)
        """
        if keys.size == 0:
            return
        order = np.lexsort((ticks, keys))
        for key, tick in zip(keys[order].tolist(), ticks[order].tolist(), strict=True):
            at = int(np.searchsorted(self._hot_keys, np.uint64(key)))
            if at < self._hot_keys.size and int(self._hot_keys[at]) == key:
                if tick - int(self._hot_last[at]) > self.delay:
                    self._hot_start[at] = tick
                self._hot_last[at] = max(int(self._hot_last[at]), tick)
            else:
                self._hot_keys = np.insert(self._hot_keys, at, np.uint64(key))
                self._hot_last = np.insert(self._hot_last, at, tick)
                self._hot_start = np.insert(self._hot_start, at, tick)

    def add(self, f: Features, eligible: npt.NDArray[np.bool_], keys: Sequence[U64]) -> None:
        """Sample the ``eligible`` positions of ``f``; ``keys`` are their destination keys."""
        self.now = int(f.tick[-1])
        pos = np.flatnonzero(eligible)
        start = (-self._phase) % self.stride
        self._phase += pos.size
        pos = pos[start :: self.stride]
        if pos.size:
            self.pending.append(_Pending(
                ready=self.now + self.delay,
                tick=f.tick[pos],
                cls=f.cls[pos],
                keys=np.stack([k[pos] for k in keys], axis=1),
                weight=f.weight[pos],
                values={name: f.values(name, pos) for name in FIELDS},
            ))
        self._commit()

    def commit(self, now: int) -> None:
        """Let pending samples ready by tick ``now`` join (call after ``hot`` for the batch)."""
        self.now = max(self.now, now)
        self._commit()

    def _commit(self) -> None:
        while self.pending and self.pending[0].ready <= self.now:
            p = self.pending.popleft()
            if self.first is None:
                self.first = int(p.tick[0])
            ok = np.ones(p.tick.size, np.bool_)
            if self._hot_keys.size:
                for col in range(p.keys.shape[1]):
                    k = p.keys[:, col]
                    at = np.minimum(np.searchsorted(self._hot_keys, k), self._hot_keys.size - 1)
                    near = np.abs(self._hot_start[at] - p.tick) <= self.delay
                    ok &= ~((self._hot_keys[at] == k) & near)
            for c in np.unique(p.cls[ok]).tolist():
                sel = ok & (p.cls == c)
                self.rings[c].add({n: v[sel] for n, v in p.values.items()}, p.weight[sel], p.tick[sel])
        # Keys not hot for longer than a sample can wait are forgotten.
        if self._hot_last.size:
            keep = self._hot_last >= self.now - 3 * self.delay
            self._hot_keys = self._hot_keys[keep]
            self._hot_last, self._hot_start = self._hot_last[keep], self._hot_start[keep]

    def _recent(self, cls: TrafficClass) -> tuple[_Ring, npt.NDArray[np.bool_]]:
        ring = self.rings[cls]
        return ring, ring.tick >= self.now - self.window

    @property
    def mature(self) -> bool:
        """Watched long enough that a class with few samples is rare, not just unseen yet."""
        return self.first is not None and self.now - self.first >= self.maturity

    def trusted(self, cls: TrafficClass) -> bool:
        """Enough recent normal traffic of ``cls`` to judge a fingerprint by."""
        _, recent = self._recent(cls)
        return int(recent.sum()) >= self.min_samples

    def share(self, cls: TrafficClass, constraints: Sequence[Constraint]) -> float:
        """Weighted share of recent normal traffic of ``cls`` matching every constraint."""
        ring, recent = self._recent(cls)
        total = float(ring.weight[recent].sum())
        if total <= 0:
            return 0.0
        ok = recent.copy()
        for name, vals in constraints:
            ok &= np.isin(ring.values[name], np.asarray(vals, np.int64))
        return float(ring.weight[ok].sum()) / total
