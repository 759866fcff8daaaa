"""Per-address lookup results and the interface every IP database implements."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from netlogpush.enrich.ranges import Family


def object_full(n: int, value: str) -> npt.NDArray[np.object_]:
    """``np.full(n, value, dtype=object)``, 30x faster: np.full fills object arrays one by one."""
    out = np.empty(n, dtype=object)
    out[:] = value
    return out


class DatabaseError(ValueError):
    """An IP database cannot be used; the message names the file and says why."""


@dataclass(slots=True)
class LookupResult:
    """What the databases know about a set of addresses (one element per address).

    Empty values: ASN ``0``, names and countries ``""``, coordinates NaN.
    """

    asn: npt.NDArray[np.int64]
    asn_name: npt.NDArray[np.object_]
    country: npt.NDArray[np.object_]
    latitude: npt.NDArray[np.float64]
    longitude: npt.NDArray[np.float64]

    @classmethod
    def empty(cls, n: int) -> LookupResult:
        return cls(
            asn=np.zeros(n, dtype=np.int64),
            asn_name=object_full(n, ""),
            country=object_full(n, ""),
            latitude=np.full(n, np.nan),
            longitude=np.full(n, np.nan),
        )

    def fill_from(self, other: LookupResult) -> None:
        """Take ``other``'s values where this result has none (earlier databases win).

        The ASN number and name move together, as do latitude and longitude, so one
        answer never mixes two databases' opinions about the same thing.
        """
        need_as = (self.asn == 0) & (self.asn_name == "")
        self.asn[need_as] = other.asn[need_as]
        self.asn_name[need_as] = other.asn_name[need_as]
        need_cc = self.country == ""
        self.country[need_cc] = other.country[need_cc]
        need_loc = np.isnan(self.latitude) | np.isnan(self.longitude)
        self.latitude[need_loc] = other.latitude[need_loc]
        self.longitude[need_loc] = other.longitude[need_loc]


class IpDatabase(Protocol):
    """One opened database file."""

    path: Path

    @property
    def description(self) -> str:
        """Kind/layout and size, for logs and ``--help`` output."""
        ...

    def lookup(self, keys: npt.NDArray[np.generic], family: Family) -> LookupResult:
        """Look up sorted, distinct keys (``uint32`` for IPv4, ``S16`` for IPv6)."""
        ...
