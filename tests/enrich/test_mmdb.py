"""MaxMind DB files of every supported layout, written with mmdb_writer and read back."""

from __future__ import annotations

import ipaddress
import math
import random
from pathlib import Path
from typing import Any

import maxminddb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmdb_writer import MmdbF64, MmdbU32, MMDBWriter
from netaddr import IPSet

from netlogpush.enrich import DatabaseError, open_database
from netlogpush.enrich.mmdb import METADATA_MARKER, MmdbDatabase
from netlogpush.enrich.ranges import Family, keys_from_ints
from netlogpush.enrich.result import LookupResult


def ip(text: str) -> int:
    return int(ipaddress.ip_address(text))


def build(path: Path, networks: dict[str, Any], *, ip_version: int = 6,
          database_type: str = "Test") -> Path:
    w = MMDBWriter(ip_version=ip_version, database_type=database_type,
                   ipv4_compatible=ip_version == 6)
    for cidr, record in networks.items():
        w.insert_network(IPSet([cidr]), record)
    w.to_db_file(str(path))
    return path


def look(db: Any, family: Family, addrs: list[str]) -> LookupResult:
    keys = sorted(ip(a) for a in addrs)
    assert keys == [ip(a) for a in addrs], "queries must be sorted, as np.unique gives them"
    result: LookupResult = db.lookup(keys_from_ints(keys, family), family)
    return result


def test_writer_output_is_readable_by_maxminddb(tmp_path: Path) -> None:
    p = build(tmp_path / "t.mmdb", {"8.8.8.0/24": {"country_code": "US"},
                                    "2001:db8::/32": {"country_code": "DE"}})
    with maxminddb.open_database(str(p)) as r:
        assert r.get_with_prefix_len("8.8.8.8") == ({"country_code": "US"}, 24)
        assert r.get("2001:db8::1") == {"country_code": "DE"}
        assert r.get("9.9.9.9") is None


GEOLITE2_ASN = {
    "1.0.0.0/24": {"autonomous_system_number": MmdbU32(13335),
                   "autonomous_system_organization": "CLOUDFLARENET"},
    "8.8.8.0/24": {"autonomous_system_number": MmdbU32(15169),
                   "autonomous_system_organization": "GOOGLE"},
    "2001:4860::/32": {"autonomous_system_number": MmdbU32(15169),
                       "autonomous_system_organization": "GOOGLE"},
}


def test_geolite2_asn_layout(tmp_path: Path) -> None:
    db = open_database(build(tmp_path / "GeoLite2-ASN.mmdb", GEOLITE2_ASN,
                             database_type="GeoLite2-ASN"))
    assert isinstance(db, MmdbDatabase) and db.layout == "maxmind"
    r = look(db, 4, ["0.255.255.255", "1.0.0.0", "1.0.0.255", "1.0.1.0", "8.8.8.8"])
    assert r.asn.tolist() == [0, 13335, 13335, 0, 15169]
    assert r.asn_name.tolist() == ["", "CLOUDFLARENET", "CLOUDFLARENET", "", "GOOGLE"]
    assert r.country.tolist() == [""] * 5
    r6 = look(db, 6, ["2001:485f:ffff:ffff:ffff:ffff:ffff:ffff", "2001:4860::",
                      "2001:4860:4860::8888", "2001:4860:ffff:ffff:ffff:ffff:ffff:ffff",
                      "2001:4861::"])
    assert r6.asn.tolist() == [0, 15169, 15169, 15169, 0]


GEOLITE2_CITY = {
    "81.2.69.0/24": {
        "city": {"geoname_id": MmdbU32(2643743), "names": {"en": "London"}},
        "continent": {"code": "EU"},
        "country": {"iso_code": "GB", "names": {"en": "United Kingdom", "de": "Vereinigtes"}},
        "location": {"latitude": MmdbF64(51.5142), "longitude": MmdbF64(-0.0931),
                     "accuracy_radius": 100},
        "registered_country": {"iso_code": "GB"},
    },
    # Only the registered country is known here.
    "81.2.70.0/24": {"registered_country": {"iso_code": "SE"}},
    "2a02:ff0::/32": {"country": {"iso_code": "SE"},
                      "location": {"latitude": MmdbF64(59.3247), "longitude": MmdbF64(18.056)}},
}


def test_geolite2_city_layout(tmp_path: Path) -> None:
    db = open_database(build(tmp_path / "GeoLite2-City.mmdb", GEOLITE2_CITY,
                             database_type="GeoLite2-City"))
    assert isinstance(db, MmdbDatabase) and db.layout == "maxmind"
    r = look(db, 4, ["81.2.69.142", "81.2.70.1", "81.2.71.1"])
    assert r.country.tolist() == ["GB", "SE", ""]
    assert r.latitude[0] == 51.5142 and r.longitude[0] == -0.0931
    assert math.isnan(r.latitude[1]) and math.isnan(r.latitude[2])
    assert r.asn.tolist() == [0, 0, 0]
    r6 = look(db, 6, ["2a02:ff0::", "2a02:ff1::"])
    assert r6.country.tolist() == ["SE", ""]
    assert r6.latitude[0] == 59.3247 and r6.longitude[0] == 18.056


IPINFO_LITE = {
    "1.1.1.0/24": {"asn": "AS13335", "as_name": "Cloudflare, Inc.", "as_domain": "cloudflare.com",
                   "country_code": "AU", "country": "Australia", "continent_code": "OC",
                   "continent": "Oceania"},
    "2606:4700::/32": {"asn": "AS13335", "as_name": "Cloudflare, Inc.", "country_code": "US",
                       "country": "United States", "continent": "North America"},
    "9.9.9.0/24": {"asn": "ASbogus", "as_name": "Bad number", "country_code": "CH"},
}


def test_ipinfo_lite_layout(tmp_path: Path) -> None:
    db = open_database(build(tmp_path / "ipinfo_lite.mmdb", IPINFO_LITE,
                             database_type="ipinfo lite.mmdb"))
    assert isinstance(db, MmdbDatabase) and db.layout == "flat"
    r = look(db, 4, ["1.1.1.1", "9.9.9.9"])
    assert r.asn.tolist() == [13335, 0]
    assert r.asn_name.tolist() == ["Cloudflare, Inc.", "Bad number"]
    assert r.country.tolist() == ["AU", "CH"]
    assert look(db, 6, ["2606:4700:4700::1111"]).country.tolist() == ["US"]


def test_old_ipinfo_country_asn_layout(tmp_path: Path) -> None:
    # The older free "country_asn" file keeps the code in "country".
    db = open_database(build(tmp_path / "country_asn.mmdb", {
        "8.8.8.0/24": {"asn": "AS15169", "as_name": "Google LLC", "country": "US",
                       "country_name": "United States", "continent": "NA"}}))
    r = look(db, 4, ["8.8.8.8"])
    assert (r.asn.tolist(), r.country.tolist()) == ([15169], ["US"])


def test_ip_location_db_layouts(tmp_path: Path) -> None:
    country = open_database(build(tmp_path / "geo-whois-asn-country.mmdb", {
        "1.0.0.0/24": {"country_code": "AU"}, "2001:200::/32": {"country_code": "JP"}},
        database_type="country ipvAll"))
    assert isinstance(country, MmdbDatabase) and country.layout == "flat"
    assert look(country, 4, ["1.0.0.1", "1.0.1.1"]).country.tolist() == ["AU", ""]
    assert look(country, 6, ["2001:200::1"]).country.tolist() == ["JP"]
    city = open_database(build(tmp_path / "dbip-city.mmdb", {
        "1.0.0.0/24": {"city": "South Brisbane", "country_code": "AU",
                       "latitude": MmdbF64(-27.4748), "longitude": MmdbF64(153.017)}}))
    r = look(city, 4, ["1.0.0.1"])
    assert r.country.tolist() == ["AU"] and r.latitude[0] == -27.4748
    asn = open_database(build(tmp_path / "asn.mmdb", {
        "1.0.0.0/24": {"autonomous_system_number": MmdbU32(13335),
                       "autonomous_system_organization": "Cloudflare, Inc."}}))
    assert look(asn, 4, ["1.0.0.1"]).asn.tolist() == [13335]


def test_ipv4_only_database_answers_nothing_for_ipv6(tmp_path: Path) -> None:
    db = open_database(build(tmp_path / "v4.mmdb", {"8.8.8.0/24": {"country_code": "US"}},
                             ip_version=4))
    assert look(db, 4, ["8.8.8.8"]).country.tolist() == ["US"]
    assert look(db, 6, ["2001:db8::1"]).country.tolist() == [""]


def test_unknown_layout_is_a_clear_error(tmp_path: Path) -> None:
    p = build(tmp_path / "odd.mmdb", {"10.0.0.0/8": {"colour": "blue"}}, database_type="Paint")
    with pytest.raises(DatabaseError, match=r"unknown MaxMind DB record layout.*'Paint'.*colour"):
        open_database(p)


def test_truncated_mmdb_is_a_clear_error(tmp_path: Path) -> None:
    good = build(tmp_path / "good.mmdb", GEOLITE2_ASN)
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(good.read_bytes()[:40])
    with pytest.raises(DatabaseError) as info:
        open_database(bad)
    assert str(bad) in str(info.value)


def test_garbage_after_metadata_marker_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.mmdb"
    bad.write_bytes(b"\x00" * 100 + METADATA_MARKER + b"\xe0garbage")
    with pytest.raises(DatabaseError, match="not a readable MaxMind DB file") as info:
        open_database(bad)
    assert str(bad) in str(info.value)


def test_prefix_runs_match_one_by_one_lookups(tmp_path: Path) -> None:
    # Many queried hosts share networks; one lookup per network must give each host the
    # same answer as looking it up alone, including hosts right at network borders.
    networks: dict[str, Any] = {}
    rnd = random.Random(7)
    for i in range(40):
        plen = rnd.choice([16, 20, 24, 28, 31, 32])
        net = ipaddress.ip_network(f"{10 + i}.{rnd.randrange(256)}.{rnd.randrange(256)}.0/{plen}",
                                   strict=False)
        networks[str(net)] = {"autonomous_system_number": MmdbU32(64500 + i),
                              "autonomous_system_organization": f"AS{i}"}
    p = build(tmp_path / "runs.mmdb", networks)
    db = open_database(p)
    queries: set[int] = set()
    for cidr in networks:
        net = ipaddress.ip_network(cidr)
        first, last = int(net.network_address), int(net.broadcast_address)
        queries |= {first, last, first - 1, last + 1, (first + last) // 2}
    queries |= {rnd.randrange(2**32) for _ in range(300)}
    keys = sorted(queries)
    got = db.lookup(keys_from_ints(keys, 4), 4)
    with maxminddb.open_database(str(p)) as r:
        want: list[Any] = [r.get(str(ipaddress.IPv4Address(k))) for k in keys]
    assert got.asn.tolist() == [w["autonomous_system_number"] if w else 0 for w in want]
    assert got.asn_name.tolist() == [w["autonomous_system_organization"] if w else ""
                                     for w in want]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_corrupted_mmdb_never_crashes(tmp_path: Path, data: st.DataObject) -> None:
    # With the pure-Python reader: maxminddb's C extension can segfault on corrupt files
    # (see MmdbDatabase.open), which no Python code can catch.
    base = getattr(test_fuzz_corrupted_mmdb_never_crashes, "_base", None)
    if base is None:
        base = build(tmp_path / "base.mmdb", {**GEOLITE2_ASN, **{
            k: v for k, v in GEOLITE2_CITY.items() if ":" not in k}}).read_bytes()
        test_fuzz_corrupted_mmdb_never_crashes._base = base  # type: ignore[attr-defined]
    raw = bytearray(base)
    for _ in range(data.draw(st.integers(1, 12))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    p = tmp_path / "fuzz.mmdb"
    p.write_bytes(bytes(raw))
    try:
        db = MmdbDatabase.open(p, maxminddb.MODE_MEMORY)
    except DatabaseError as exc:
        assert str(p) in str(exc)
        return
    for family in (4, 6):
        fam: Family = 4 if family == 4 else 6
        keys = sorted({0, ip("1.0.0.1"), ip("8.8.8.8"), ip("81.2.69.1"), 2**32 - 1})
        r = db.lookup(keys_from_ints(keys, fam), fam)
        assert len(r.asn) == len(keys)
