"""The enrichment stage: site constants, Direction, and ASN/country/geohash per address."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from netlogpush.enrich.config import EnrichConfig, SiteConfig
from netlogpush.enrich.databases import open_database
from netlogpush.enrich.direction import DirectionClassifier, Network
from netlogpush.enrich.geohash import GeohashCache
from netlogpush.enrich.ranges import Family, empty_keys, v6_keys
from netlogpush.enrich.result import IpDatabase, LookupResult, object_full

log = logging.getLogger(__name__)

#: Fields this stage fills, in dataset order per group.
SITE_FIELDS = ("ColoCity", "ColoCode", "ColoCountry", "ColoGeoHash", "ColoName")
ADDRESS_FIELDS = tuple(
    f"{side}{what}"
    for side in ("Destination", "Source")
    for what in ("ASN", "ASNName", "Country", "GeoHash")
)
ENRICHED_FIELDS = (*SITE_FIELDS, "Direction", *ADDRESS_FIELDS)


class Enricher:
    """Fills the enrichment fields for batches of packets.

    ``enrich`` returns int fields as ``int64`` arrays and string fields as numpy ``object``
    arrays of ``str`` (never ``None``), all of the batch's length.
    """

    def __init__(
        self,
        site: SiteConfig,
        networks: Sequence[Network] = (),
        databases: Sequence[IpDatabase] = (),
    ) -> None:
        self._site = {
            "ColoCity": site.city,
            "ColoCode": site.code,
            "ColoCountry": site.country,
            "ColoGeoHash": site.geohash,
            "ColoName": site.name,
        }
        self._direction = DirectionClassifier(networks)
        self._databases = list(databases)
        self._geohash = GeohashCache()
        if not self._databases:
            log.warning(
                "no ASN/geo database configured: Source/Destination ASN, ASNName, Country "
                "and GeoHash stay empty (see docs/enrichment.md)"
            )

    @classmethod
    def from_config(cls, config: EnrichConfig) -> Enricher:
        """Open every configured database (raises ``DatabaseError`` naming a bad file)."""
        return cls(config.site, config.networks(), [open_database(p) for p in config.databases])

    @property
    def databases(self) -> list[IpDatabase]:
        return list(self._databases)

    def enrich(
        self,
        ip_version: npt.NDArray[np.uint8],
        src4: npt.NDArray[np.uint32],
        dst4: npt.NDArray[np.uint32],
        src6: npt.NDArray[np.uint8],
        dst6: npt.NDArray[np.uint8],
    ) -> dict[str, npt.NDArray[np.generic]]:
        """Dataset field name -> column for the batch (rows neither IPv4 nor IPv6 get empty values)."""
        n = len(ip_version)
        out: dict[str, npt.NDArray[np.generic]] = {
            name: object_full(n, value) for name, value in self._site.items()
        }
        out["Direction"] = self._direction.classify(ip_version, src4, dst4, src6, dst6)
        for side in ("Destination", "Source"):
            out[f"{side}ASN"] = np.zeros(n, dtype=np.int64)
            for what in ("ASNName", "Country", "GeoHash"):
                out[f"{side}{what}"] = object_full(n, "")
        if not self._databases or n == 0:
            return out

        rows4 = np.flatnonzero(ip_version == 4)
        rows6 = np.flatnonzero(ip_version == 6)
        keys4 = (
            np.asarray(src4, dtype=np.uint32)[rows4],
            np.asarray(dst4, dtype=np.uint32)[rows4],
        )
        keys6 = (v6_keys(np.asarray(src6)[rows6]), v6_keys(np.asarray(dst6)[rows6]))
        for family, rows, (src, dst) in ((4, rows4, keys4), (6, rows6, keys6)):
            if len(rows) == 0:
                continue
            fam: Family = 4 if family == 4 else 6
            # Each distinct address is looked up once per batch, source and destination alike.
            distinct, inverse = np.unique(np.concatenate([src, dst]), return_inverse=True)
            inverse = inverse.reshape(-1)
            info, geohash = self._lookup(distinct, fam)
            for side, inv in (("Source", inverse[: len(rows)]), ("Destination", inverse[len(rows):])):
                out[f"{side}ASN"][rows] = info.asn[inv]
                out[f"{side}ASNName"][rows] = info.asn_name[inv]
                out[f"{side}Country"][rows] = info.country[inv]
                out[f"{side}GeoHash"][rows] = geohash[inv]
        return out

    def lookup(self, keys: npt.NDArray[np.generic], family: Family) -> LookupResult:
        """Merged answer of all databases for sorted distinct keys (earlier databases win)."""
        info = LookupResult.empty(len(keys))
        for db in self._databases:
            info.fill_from(db.lookup(keys, family))
        return info

    def _lookup(
        self, keys: npt.NDArray[np.generic], family: Family
    ) -> tuple[LookupResult, npt.NDArray[np.object_]]:
        if len(keys) == 0:
            keys = empty_keys(family)
        info = self.lookup(keys, family)
        return info, self._geohash.encode_many(info.latitude, info.longitude)
