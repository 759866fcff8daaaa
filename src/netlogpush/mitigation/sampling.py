"""Sampling: each system keeps 1 packet in N, at random, and says N in ``SampleInterval``.

N is fixed when configured, or dynamic by volume within the system's documented range
(Cloudflare: dosd 1/100–1/10,000, magic-firewall 1/100–1/1,000,000, flowtrackd 1/10,000 in
one page and 1/1,000 in another, so 1,000–10,000 here): busy traffic is sampled more
sparsely, keeping the number of samples per second near a target. For sFlow input the
exporter has already kept 1 in M, so a record stands for M × N packets on the wire.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Documented dynamic ranges per system (min interval, max interval).
DOCUMENTED_RANGES: dict[str, tuple[int, int]] = {
    "dosd": (100, 10_000),
    "flowtrackd": (1_000, 10_000),
    "magic-firewall": (100, 1_000_000),
}


class SamplingPolicy(BaseModel):
    """How one system picks its sample interval."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    interval: int | None = Field(default=None, ge=1, le=1_000_000)
    """A fixed interval; unset means dynamic, between ``min_interval`` and ``max_interval``."""

    min_interval: int = Field(default=100, ge=1)
    """Smallest dynamic interval (most samples)."""

    max_interval: int = Field(default=10_000, ge=1)
    """Largest dynamic interval (fewest samples)."""

    target_samples_per_second: float = Field(default=1_000.0, gt=0)
    """Dynamic sampling aims at about this many samples per second of packet time."""

    @model_validator(mode="after")
    def _range(self) -> SamplingPolicy:
        if self.min_interval > self.max_interval:
            raise ValueError(f"min_interval {self.min_interval} is above max_interval {self.max_interval}")
        return self

    @classmethod
    def documented(cls, system: str) -> SamplingPolicy:
        low, high = DOCUMENTED_RANGES[system]
        return cls(min_interval=low, max_interval=high)


class Sampler:
    """Bernoulli sampling with probability 1/interval, from a seeded generator.

    Bernoulli rather than every-Nth: periodic traffic (a flood of identical packets sent in
    rounds) can alias with a fixed stride, and random sampling is what makes
    Σ SampleInterval an unbiased estimate of the packet count.
    """

    def __init__(self, policy: SamplingPolicy | int = 1, seed: np.random.Generator | int | None = None) -> None:
        if isinstance(policy, int):
            if policy < 1:
                raise ValueError(f"sample interval must be at least 1, got {policy}")
            policy = SamplingPolicy(interval=policy)
        self.policy = policy
        self._rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    @property
    def interval(self) -> int:
        """The fixed interval, or the dynamic range's lower end."""
        return self.policy.interval or self.policy.min_interval

    def interval_for(self, packets: int, span_ns: int) -> int:
        """The interval for a batch of ``packets`` spread over ``span_ns`` of packet time."""
        p = self.policy
        if p.interval is not None:
            return p.interval
        rate = packets / max(span_ns / 1e9, 1e-3)
        return min(p.max_interval, max(p.min_interval, math.ceil(rate / p.target_samples_per_second)))

    def select(self, n: int, interval: int | None = None) -> npt.NDArray[np.bool_]:
        interval = self.interval if interval is None else interval
        if interval == 1:
            return np.ones(n, np.bool_)
        return self._rng.random(n) < 1.0 / interval
