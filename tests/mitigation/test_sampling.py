"""Bernoulli sampling: 1 in N kept at random, reproducibly with a seed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netlogpush.mitigation.sampling import Sampler


def test_interval_1_keeps_everything() -> None:
    sampler = Sampler(1, seed=3)
    assert sampler.select(1000).all()
    assert sampler.select(0).shape == (0,)


@pytest.mark.parametrize("interval", [0, -5])
def test_interval_below_1_is_rejected(interval: int) -> None:
    with pytest.raises(ValueError, match=f"sample interval must be at least 1, got {interval}"):
        Sampler(interval)


def test_seed_makes_the_choice_reproducible() -> None:
    a = Sampler(10, seed=42).select(10_000)
    b = Sampler(10, seed=42).select(10_000)
    c = Sampler(10, seed=43).select(10_000)
    assert a.dtype == np.bool_
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_batch_sizes_do_not_change_the_choice() -> None:
    whole = Sampler(7, seed=5).select(1000)
    sampler = Sampler(7, seed=5)
    parts = np.concatenate([sampler.select(n) for n in (1, 0, 333, 500, 166)])
    assert np.array_equal(parts, whole)


@pytest.mark.parametrize("interval", [2, 100, 1000])
def test_kept_count_is_within_5_sigma(interval: int) -> None:
    n = 1_000_000
    p = 1 / interval
    kept = int(Sampler(interval, seed=interval).select(n).sum())
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(kept - n * p) <= 5 * sigma, (kept, n * p, sigma)


def test_unseeded_samplers_differ() -> None:
    a, b = Sampler(2).select(256), Sampler(2).select(256)
    assert not np.array_equal(a, b)  # fails with probability 2**-256


def test_gaps_between_kept_packets_are_geometric() -> None:
    # Not every N-th packet: the gaps vary, with mean N (a stride would alias periodic floods).
    kept = np.flatnonzero(Sampler(100, seed=9).select(1_000_000))
    gaps = np.diff(kept)
    assert len(set(gaps.tolist())) > 100
    assert abs(gaps.mean() - 100) < 5
