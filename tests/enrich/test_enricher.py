"""Enricher end to end: all enrichment fields for mixed IPv4/IPv6/non-IP batches."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmdb_writer import MmdbF64, MMDBWriter
from netaddr import IPSet

from netlogpush.dataset.fields import FIELDS_BY_NAME
from netlogpush.enrich import (
    ENRICHED_FIELDS,
    DatabaseError,
    EnrichConfig,
    Enricher,
    SiteConfig,
    open_database,
)
from netlogpush.enrich.geohash import encode
from netlogpush.enrich.ranges import Family
from netlogpush.enrich.result import IpDatabase, LookupResult

Batch = tuple[npt.NDArray[Any], ...]


def batch(pairs: list[tuple[str, str]]) -> Batch:
    """(src, dst) address pairs -> the five enrich() input arrays; "" makes a non-IP row."""
    n = len(pairs)
    ver = np.zeros(n, dtype=np.uint8)
    src4 = np.zeros(n, dtype=np.uint32)
    dst4 = np.zeros(n, dtype=np.uint32)
    src6 = np.zeros((n, 16), dtype=np.uint8)
    dst6 = np.zeros((n, 16), dtype=np.uint8)
    for i, (s, d) in enumerate(pairs):
        if not s:
            continue
        a, b = ipaddress.ip_address(s), ipaddress.ip_address(d)
        ver[i] = a.version
        if a.version == 4:
            src4[i], dst4[i] = int(a), int(b)
        else:
            src6[i] = np.frombuffer(a.packed, dtype=np.uint8)
            dst6[i] = np.frombuffer(b.packed, dtype=np.uint8)
    return ver, src4, dst4, src6, dst6


def write_mmdb(path: Path, networks: dict[str, Any]) -> Path:
    w = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    for cidr, rec in networks.items():
        w.insert_network(IPSet([cidr]), rec)
    w.to_db_file(str(path))
    return path


@pytest.fixture
def databases(tmp_path: Path) -> list[Path]:
    asn = tmp_path / "ip2asn-combined.tsv"
    asn.write_text(
        "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n"
        "8.8.8.0\t8.8.8.255\t15169\tUS\tGOOGLE\n"
        "81.2.69.0\t81.2.69.255\t20712\tGB\tANDREWS-ARNOLD\n"
        "2001:4860::\t2001:4860:ffff:ffff:ffff:ffff:ffff:ffff\t15169\tUS\tGOOGLE\n"
    )
    city = write_mmdb(tmp_path / "GeoLite2-City.mmdb", {
        "81.2.69.0/24": {"country": {"iso_code": "GB"},
                         "location": {"latitude": MmdbF64(51.5142), "longitude": MmdbF64(-0.0931)}},
        "8.8.8.0/24": {"country": {"iso_code": "US"},
                       "location": {"latitude": MmdbF64(37.751), "longitude": MmdbF64(-97.822)}},
        "2001:4860::/32": {"country": {"iso_code": "US"},
                           "location": {"latitude": MmdbF64(37.751),
                                        "longitude": MmdbF64(-97.822)}},
        "2a02:ff0::/32": {"country": {"iso_code": "SE"},
                          "location": {"latitude": MmdbF64(59.3247), "longitude": MmdbF64(18.056)}},
    })
    return [asn, city]


SITE = SiteConfig(name="lhr01", code="LHR", city="London", country="GB", latitude=51.47,
                  longitude=-0.4543)


def test_mixed_batch_exact_values(databases: list[Path]) -> None:
    cfg = EnrichConfig(site=SITE, customer_prefixes=["81.2.69.0/24", "2a02:ff0::/32"],
                       databases=databases)
    enricher = Enricher.from_config(cfg)
    out = enricher.enrich(*batch([
        ("8.8.8.8", "81.2.69.142"),                     # v4 ingress to the customer
        ("81.2.69.142", "1.0.0.1"),                     # v4 egress
        ("", ""),                                       # not IP (ARP, ...)
        ("2001:4860:4860::8888", "2a02:ff0::1"),        # v6 ingress
        ("2a02:ff0::1", "2001:db8::1"),                 # v6 egress to an unknown address
        ("9.9.9.9", "8.8.8.8"),                         # neither side is the customer
    ]))
    assert set(out) == set(ENRICHED_FIELDS)
    london, mountain, stockholm = (encode(51.5142, -0.0931), encode(37.751, -97.822),
                                   encode(59.3247, 18.056))
    expected: dict[str, list[Any]] = {
        "ColoName": ["lhr01"] * 6,
        "ColoCode": ["LHR"] * 6,
        "ColoCity": ["London"] * 6,
        "ColoCountry": ["GB"] * 6,
        "ColoGeoHash": [encode(51.47, -0.4543)] * 6,
        "Direction": ["ingress", "egress", "ingress", "ingress", "egress", "ingress"],
        "SourceASN": [15169, 20712, 0, 15169, 0, 0],
        "SourceASNName": ["GOOGLE", "ANDREWS-ARNOLD", "", "GOOGLE", "", ""],
        "SourceCountry": ["US", "GB", "", "US", "SE", ""],
        "SourceGeoHash": [mountain, london, "", mountain, stockholm, ""],
        "DestinationASN": [20712, 13335, 0, 0, 0, 15169],
        "DestinationASNName": ["ANDREWS-ARNOLD", "CLOUDFLARENET", "", "", "", "GOOGLE"],
        "DestinationCountry": ["GB", "US", "", "SE", "", "US"],
        "DestinationGeoHash": [london, "", "", stockholm, "", mountain],
    }
    for name, want in expected.items():
        assert out[name].tolist() == want, name
    assert london == "gcpvjcu5ywgs"  # spelled out once so a geohash regression shows here


def test_types_match_the_dataset(databases: list[Path]) -> None:
    out = Enricher.from_config(EnrichConfig(databases=databases)).enrich(
        *batch([("8.8.8.8", "1.0.0.1")]))
    for name, arr in out.items():
        assert len(arr) == 1
        if FIELDS_BY_NAME[name].is_int:
            assert arr.dtype == np.int64, name
        else:
            assert arr.dtype == object and all(type(v) is str for v in arr), name


def test_earlier_database_wins_per_field(tmp_path: Path) -> None:
    first = tmp_path / "first.tsv"
    first.write_text("10.0.0.0\t10.0.0.255\t64500\tNone\tFIRST\n")  # no country
    second = tmp_path / "second.csv"
    second.write_text("10.0.0.0,10.0.0.127,64501,SECOND\n10.0.1.0,10.0.1.255,64502,ONLY\n")
    third = tmp_path / "third.csv"
    third.write_text("10.0.0.0,10.0.1.255,DE\n")
    e = Enricher.from_config(EnrichConfig(databases=[first, second, third]))
    out = e.enrich(*batch([("10.0.0.1", "10.0.1.1"), ("10.0.0.200", "10.0.2.0")]))
    assert out["SourceASN"].tolist() == [64500, 64500]
    assert out["SourceASNName"].tolist() == ["FIRST", "FIRST"]
    assert out["SourceCountry"].tolist() == ["DE", "DE"]
    assert out["DestinationASN"].tolist() == [64502, 0]
    assert out["DestinationASNName"].tolist() == ["ONLY", ""]
    assert out["DestinationCountry"].tolist() == ["DE", ""]


def test_without_databases_logs_once_and_leaves_fields_empty(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="netlogpush.enrich"):
        e = Enricher.from_config(EnrichConfig())
        out1 = e.enrich(*batch([("8.8.8.8", "1.1.1.1")]))
        e.enrich(*batch([("8.8.4.4", "1.1.1.1")]))
    msgs = [r.getMessage() for r in caplog.records if "no ASN/geo database" in r.getMessage()]
    assert len(msgs) == 1
    assert out1["SourceASN"].tolist() == [0]
    assert out1["SourceASNName"].tolist() == [""]
    assert out1["DestinationGeoHash"].tolist() == [""]
    assert out1["Direction"].tolist() == ["ingress"]
    assert out1["ColoName"].tolist() == [""]


def test_empty_batch(databases: list[Path]) -> None:
    out = Enricher.from_config(EnrichConfig(databases=databases)).enrich(*batch([]))
    assert set(out) == set(ENRICHED_FIELDS)
    assert all(len(v) == 0 for v in out.values())


class Counting:
    """A real database that records how many keys each lookup asked for."""

    def __init__(self, inner: IpDatabase) -> None:
        self.inner = inner
        self.path = inner.path
        self.calls: list[tuple[int, int]] = []

    @property
    def description(self) -> str:
        return self.inner.description

    def lookup(self, keys: npt.NDArray[np.generic], family: Family) -> LookupResult:
        self.calls.append((family, len(keys)))
        return self.inner.lookup(keys, family)


def test_each_distinct_address_looked_up_once(databases: list[Path]) -> None:
    db = Counting(open_database(databases[0]))
    e = Enricher(SiteConfig(), databases=[db])
    pairs = [("8.8.8.8", "1.0.0.1")] * 50 + [("1.0.0.1", "8.8.8.8")] * 50 + [
        ("2001:4860::1", "2001:4860::2")] * 7
    out = e.enrich(*batch(pairs))
    assert sorted(db.calls) == [(4, 2), (6, 2)]
    assert out["SourceASN"].tolist() == [15169] * 50 + [13335] * 50 + [15169] * 7


@pytest.mark.parametrize("kind", ["missing", "directory", "unknown", "empty"])
def test_database_errors_name_the_file(tmp_path: Path, kind: str) -> None:
    p = tmp_path / "db.mmdb"
    message = {"missing": "no such file", "directory": "is a directory",
               "unknown": "unknown database format", "empty": "file is empty"}[kind]
    if kind == "directory":
        p.mkdir()
    elif kind == "unknown":
        p.write_text("definitely not a database\n")
    elif kind == "empty":
        p.write_bytes(b"")
    with pytest.raises(DatabaseError, match=message) as info:
        Enricher.from_config(EnrichConfig(databases=[p]))
    assert str(info.value).startswith(str(p))


def test_gzipped_mmdb_says_decompress(tmp_path: Path, databases: list[Path]) -> None:
    import gzip

    p = tmp_path / "GeoLite2-City.mmdb.gz"
    p.write_bytes(gzip.compress(databases[1].read_bytes()))
    with pytest.raises(DatabaseError, match="decompress it first"):
        open_database(p)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
                               st.booleans()), max_size=80))
def test_property_batch_equals_row_by_row(databases: list[Path],
                                          rows: list[tuple[int, int, bool]]) -> None:
    # Bias addresses into the databases' networks so that most rows hit something.
    nets = [int(ipaddress.IPv4Address(a)) for a in ("1.0.0.0", "8.8.8.0", "81.2.69.0")]
    pairs = []
    for s, d, near in rows:
        if near:
            s, d = nets[s % 3] + s % 300, nets[d % 3] + d % 300
        pairs.append((str(ipaddress.IPv4Address(s)), str(ipaddress.IPv4Address(d))))
    e = Enricher.from_config(EnrichConfig(databases=databases, customer_prefixes=["8.8.8.0/24"]))
    out = e.enrich(*batch(pairs))
    for i, pair in enumerate(pairs):
        one = e.enrich(*batch([pair]))
        for name in ENRICHED_FIELDS:
            assert out[name][i] == one[name][0], (name, pair)


def test_databases_property_lists_opened(databases: list[Path]) -> None:
    e = Enricher.from_config(EnrichConfig(databases=databases))
    assert [d.path for d in e.databases] == databases
    assert "iptoasn-tsv" in e.databases[0].description
    assert "maxmind layout" in e.databases[1].description


def test_unreadable_file_is_a_clear_error() -> None:
    # Root can read any file mode, so use a file whose read fails: /proc/self/mem at offset 0.
    p = Path("/proc/self/mem")
    if not p.exists():
        pytest.skip("needs Linux /proc/self/mem for a file that exists but cannot be read")
    with pytest.raises(DatabaseError, match="cannot read") as info:
        open_database(p)
    assert str(info.value).startswith(str(p))
