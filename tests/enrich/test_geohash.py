"""Geohash: known vectors, an independent reference encoder, the per-batch cache."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netlogpush.enrich.geohash import GeohashCache, encode, is_valid_geohash

_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"


def reference(lat: float, lon: float, length: int = 12) -> str:
    """Textbook bisection (Niemeyer's definition): even bits longitude, value >= mid -> 1."""
    lat_lo, lat_hi, lon_lo, lon_hi = -90.0, 90.0, -180.0, 180.0
    bits: list[int] = []
    while len(bits) < 5 * length:
        if len(bits) % 2 == 0:
            mid = (lon_lo + lon_hi) / 2
            bits.append(1 if lon >= mid else 0)
            lon_lo, lon_hi = (mid, lon_hi) if lon >= mid else (lon_lo, mid)
        else:
            mid = (lat_lo + lat_hi) / 2
            bits.append(1 if lat >= mid else 0)
            lat_lo, lat_hi = (mid, lat_hi) if lat >= mid else (lat_lo, mid)
    return "".join(_BASE32[int("".join(map(str, bits[i:i + 5])), 2)]
                   for i in range(0, len(bits), 5))


def test_known_vectors() -> None:
    assert encode(57.64911, 10.40744).startswith("u4pruydqqvj")  # Wikipedia's example
    assert encode(42.6, -5.6).startswith("ezs42")
    assert encode(0.0, 0.0) == "s00000000000"
    assert encode(-90.0, -180.0) == "000000000000"
    assert len(encode(37.3639, -121.929)) == 12


def test_invalid_points_give_empty() -> None:
    assert encode(float("nan"), 1.0) == ""
    assert encode(91.0, 0.0) == ""
    assert encode(0.0, -180.5) == ""
    assert encode(float("inf"), 0.0) == ""


@settings(max_examples=300, deadline=None)
@given(lat=st.floats(-90, 90), lon=st.floats(-180, 180))
def test_matches_reference(lat: float, lon: float) -> None:
    assert encode(lat, lon) == reference(lat, lon)


def test_is_valid_geohash() -> None:
    assert is_valid_geohash("9q9k93whbm56")
    assert not is_valid_geohash("")
    assert not is_valid_geohash("9q9k93whbm56x")  # 13 characters
    assert not is_valid_geohash("abc")  # 'a' is not in the alphabet


def test_cache_encodes_distinct_points_once() -> None:
    cache = GeohashCache()
    lat = np.array([51.5142, np.nan, 51.5142, -27.4748, 51.5142])
    lon = np.array([-0.0931, 1.0, -0.0931, 153.017, np.nan])
    out = cache.encode_many(lat, lon)
    assert out.dtype == object
    assert out.tolist() == [reference(51.5142, -0.0931), "", reference(51.5142, -0.0931),
                            reference(-27.4748, 153.017), ""]
    assert len(cache._known) == 2
    assert cache.encode_many(np.array([]), np.array([])).tolist() == []
