"""Sampling: each system keeps 1 packet in N, at random, and says N in ``SampleInterval``.

A seed makes the choice reproducible run to run. For sFlow input the exporter has already
kept 1 in M, so a record stands for M × N packets on the wire.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class Sampler:
    """Bernoulli sampling with probability 1/interval, from a seeded generator.

    Bernoulli rather than every-Nth: periodic traffic (a flood of identical packets sent in
    rounds) can alias with a fixed stride, and random sampling is what makes
    Σ SampleInterval an unbiased estimate of the packet count.
    """

    def __init__(self, interval: int = 1, seed: int | None = None) -> None:
        if interval < 1:
            raise ValueError(f"sample interval must be at least 1, got {interval}")
        self.interval = interval
        self._rng = np.random.default_rng(seed)

    def select(self, n: int) -> npt.NDArray[np.bool_]:
        if self.interval == 1:
            return np.ones(n, np.bool_)
        return self._rng.random(n) < 1.0 / self.interval
