"""MaxMind DB (``.mmdb``) files read with ``maxminddb``, whatever vendor wrote them.

The record layout is detected once when the file is opened, from the keys of its first
records (metadata ``database_type`` only breaks a tie or names an empty file):

``maxmind``
    Nested MaxMind GeoIP2/GeoLite2 style, also written by DB-IP "compat" lite files and by
    ip-location-db's ``asn-mmdb``: ``autonomous_system_number`` /
    ``autonomous_system_organization`` (ASN files; ``traits.*`` in Enterprise files),
    ``country.iso_code`` (falling back to ``registered_country.iso_code``),
    ``location.latitude`` / ``location.longitude``.
``flat``
    One-level records: IPinfo Lite (``asn`` like ``"AS13335"``, ``as_name``,
    ``country_code``; older IPinfo files put the code in ``country``) and ip-location-db
    (``country_code``; city files add ``latitude`` / ``longitude``).

Lookups go one address at a time through the C extension (~1 µs), but only for distinct
addresses, and each answer covers every other queried address inside the same network
(``get_with_prefix_len``), so a batch with many hosts of one /24 costs one lookup.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import maxminddb
import numpy as np
import numpy.typing as npt

from netlogpush.enrich.ranges import Family, keys_to_ints, v6_key_bytes
from netlogpush.enrich.result import DatabaseError, LookupResult

log = logging.getLogger(__name__)

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"
_METADATA_MAX = 128 * 1024  # the format puts metadata in the last 128 KiB
_SAMPLE_RECORDS = 64

#: (asn, asn_name, country, latitude, longitude)
Extracted = tuple[int, str, str, float, float]
_NOTHING: Extracted = (0, "", "", math.nan, math.nan)

#: Keys whose value is a map in MaxMind's nested layout (IPinfo has string ``country``,
#: ``continent``: the value type, not the key, tells the layouts apart).
_NESTED_KEYS = frozenset(
    {"country", "registered_country", "represented_country", "location", "city", "continent",
     "traits", "subdivisions", "postal"}
)
_AS_KEYS = frozenset({"autonomous_system_number", "autonomous_system_organization"})
_FLAT_KEYS = frozenset({"asn", "as_name", "country_code", "latitude", "longitude"})


def is_mmdb(path: Path) -> bool:
    """Whether ``path`` carries the MaxMind DB metadata marker."""
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - _METADATA_MAX))
        return METADATA_MARKER in f.read()


def _country(value: object) -> str:
    if isinstance(value, str) and len(value) == 2 and value.isascii() and value.isalpha():
        return value.upper()
    return ""


def _int_asn(value: object) -> int:
    # IPinfo writes "AS13335"; everyone else an integer.
    if isinstance(value, str) and value[:2].upper() == "AS":
        value = value[2:]
    if isinstance(value, bool):
        return 0
    try:
        n = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
    return n if 0 < n < 2**32 else 0


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _coordinate(value: object, limit: float) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return v if abs(v) <= limit else math.nan


def _location(lat: object, lon: object) -> tuple[float, float]:
    la, lo = _coordinate(lat, 90.0), _coordinate(lon, 180.0)
    if math.isnan(la) or math.isnan(lo):
        return math.nan, math.nan
    return la, lo


def _sub(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = record.get(key)
    return value if isinstance(value, dict) else {}


# The extractors run once per looked-up network, so they check for a key before parsing
# its value: most records carry only some of the fields (measured 2x faster than calling
# every parser on every record).


def extract_maxmind(record: Any) -> Extracted:
    if not isinstance(record, dict):
        return _NOTHING
    asn, name, country, lat, lon = _NOTHING
    if "autonomous_system_number" in record or "autonomous_system_organization" in record:
        asn = _int_asn(record.get("autonomous_system_number"))
        name = _text(record.get("autonomous_system_organization"))
    elif "traits" in record:  # GeoIP2 Enterprise
        traits = _sub(record, "traits")
        asn = _int_asn(traits.get("autonomous_system_number"))
        name = _text(traits.get("autonomous_system_organization"))
    if "country" in record:
        country = _country(_sub(record, "country").get("iso_code"))
    if not country and "registered_country" in record:
        country = _country(_sub(record, "registered_country").get("iso_code"))
    if "location" in record:
        loc = _sub(record, "location")
        lat, lon = _location(loc.get("latitude"), loc.get("longitude"))
    return asn, name, country, lat, lon


def extract_flat(record: Any) -> Extracted:
    if not isinstance(record, dict):
        return _NOTHING
    asn, name, country, lat, lon = _NOTHING
    if "asn" in record:
        asn = _int_asn(record["asn"])
    elif "autonomous_system_number" in record:
        asn = _int_asn(record["autonomous_system_number"])
    if "as_name" in record:
        name = _text(record["as_name"])
    elif "autonomous_system_organization" in record:
        name = _text(record["autonomous_system_organization"])
    if "country_code" in record:
        country = _country(record["country_code"])
    if not country and "country" in record:
        country = _country(record["country"])
    if "latitude" in record or "lat" in record:
        lat, lon = _location(
            record.get("latitude", record.get("lat")),
            record.get("longitude", record.get("lng", record.get("lon"))),
        )
    return asn, name, country, lat, lon


_EXTRACTORS: dict[str, Callable[[Any], Extracted]] = {
    "maxmind": extract_maxmind,
    "flat": extract_flat,
}


def detect_layout(path: Path, reader: maxminddb.Reader) -> str:
    """``"maxmind"`` or ``"flat"``; raises :class:`DatabaseError` naming the file otherwise."""
    db_type = str(reader.metadata().database_type)
    keys: set[str] = set()
    nested = False
    for _, record in islice(iter(reader), _SAMPLE_RECORDS):
        if isinstance(record, dict):
            keys.update(record)
            nested = nested or any(
                isinstance(v, dict) for k, v in record.items() if k in _NESTED_KEYS
            )
    if nested:
        return "maxmind"
    if keys & _FLAT_KEYS or "country" in keys:  # here "country" is a string (old IPinfo)
        return "flat"
    if keys & _AS_KEYS:
        return "maxmind"
    if not keys:
        lowered = db_type.lower()
        if "ipinfo" in lowered:
            return "flat"
        if any(w in lowered for w in ("geolite2", "geoip2", "dbip", "asn", "country", "city")):
            return "maxmind"
    raise DatabaseError(
        f"{path}: unknown MaxMind DB record layout (database_type {db_type!r}, record keys "
        f"{sorted(keys) or 'none found'}); expected GeoLite2/GeoIP2/DB-IP, IPinfo or "
        "ip-location-db records (see docs/enrichment.md)"
    )


@dataclass(slots=True)
class MmdbDatabase:
    path: Path
    reader: maxminddb.Reader
    layout: str
    database_type: str
    ip_version: int
    errors: Counter[str] = field(default_factory=Counter)

    @classmethod
    def open(cls, path: Path, mode: int = maxminddb.MODE_AUTO) -> MmdbDatabase:
        """Open with the C extension when available (``MODE_AUTO``).

        ``maxminddb``'s C extension can crash the process on a *corrupt* file (we saw
        segfaults when fuzzing; upstream has fixed such bugs before, e.g.
        MaxMind-DB-Reader-python#58). The pure-Python reader (``MODE_MEMORY``) raises
        instead but is ~5x slower (9 µs vs 1.9 µs per lookup measured), so it is used only
        where robustness matters more than speed (tests fuzz it).
        """
        try:
            reader = maxminddb.open_database(str(path), mode)
        except OSError as exc:
            raise DatabaseError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        except Exception as exc:
            # InvalidDatabaseError, but the pure-Python decoder also raises TypeError,
            # UnicodeDecodeError, RecursionError... on corrupt metadata.
            raise DatabaseError(f"{path}: not a readable MaxMind DB file: {exc!r}") from exc
        try:
            layout = detect_layout(path, reader)
        except DatabaseError:
            reader.close()
            raise
        except Exception as exc:
            reader.close()
            raise DatabaseError(f"{path}: corrupt MaxMind DB file: {exc!r}") from exc
        meta = reader.metadata()
        return cls(path, reader, layout, str(meta.database_type), int(meta.ip_version))

    @property
    def description(self) -> str:
        return f"mmdb ({self.layout} layout, database_type {self.database_type!r})"

    def lookup(self, keys: npt.NDArray[np.generic], family: Family) -> LookupResult:
        n = len(keys)
        if n == 0 or (family == 6 and self.ip_version == 4):
            return LookupResult.empty(n)
        bits = 32 if family == 4 else 128
        ints = keys_to_ints(keys, family)  # ascending: keys come from np.unique
        if family == 4:
            addrs: list[Any] = ints
            make: Callable[[Any], Any] = ipaddress.IPv4Address
        else:
            addrs = v6_key_bytes(keys)  # type: ignore[arg-type]
            make = ipaddress.IPv6Address
        extract = _EXTRACTORS[self.layout]
        get = self.reader.get_with_prefix_len
        answers: list[Extracted] = []
        run_lengths: list[int] = []  # answers[k] covers the next run_lengths[k] keys
        i = 0
        while i < n:
            try:
                record, prefix_len = get(make(addrs[i]))
                answer = extract(record)
            except Exception as exc:
                # A corrupt data section must not stop the pipeline: count and move on.
                # (The pure-Python decoder raises assorted exception types here.)
                if not self.errors:
                    log.error("%s: lookup failed, treating as unknown: %s", self.path, exc)
                self.errors["lookup error"] += 1
                record, prefix_len, answer = None, bits, _NOTHING
            host_bits = bits - min(max(int(prefix_len), 0), bits)
            last = ints[i] | ((1 << host_bits) - 1)
            j = bisect_right(ints, last, i + 1)
            answers.append(answer)
            run_lengths.append(j - i)
            i = j
        which = np.repeat(np.arange(len(answers)), run_lengths)
        asn, name, country, lat, lon = zip(*answers, strict=True)
        return LookupResult(
            asn=np.array(asn, dtype=np.int64)[which],
            asn_name=np.array(name, dtype=object)[which],
            country=np.array(country, dtype=object)[which],
            latitude=np.array(lat, dtype=np.float64)[which],
            longitude=np.array(lon, dtype=np.float64)[which],
        )
