"""iptoasn.com TSV and ip-location-db CSV range files: layouts, edges, bad rows, fuzzing."""

from __future__ import annotations

import gzip
import ipaddress
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlogpush.enrich import DatabaseError, open_database
from netlogpush.enrich.rangefile import RangeDatabase, load_range_file
from netlogpush.enrich.ranges import Family, keys_from_ints
from netlogpush.enrich.result import LookupResult


def ip(text: str) -> int:
    return int(ipaddress.ip_address(text))


def look(db: RangeDatabase, family: Family, addrs: list[str]) -> LookupResult:
    return db.lookup(keys_from_ints([ip(a) for a in addrs], family), family)


IPTOASN_V4 = (
    "0.0.0.0\t0.255.255.255\t0\tNone\tNot routed\n"
    "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n"
    "1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n"
    "1.0.4.0\t1.0.7.255\t38803\tAU\tGTELECOM-AUSTRALIA Gtelecom Pty Ltd\n"
    "8.8.8.0\t8.8.8.255\t15169\tUS\tGOOGLE\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    if name.endswith(".gz"):
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text)
    return p


def test_iptoasn_v4_text(tmp_path: Path) -> None:
    db = load_range_file(write(tmp_path, "ip2asn-v4.tsv", IPTOASN_V4))
    assert db is not None and db.kind == "iptoasn-tsv"
    r = look(db, 4, ["1.0.0.0", "1.0.0.255", "1.0.1.0", "1.0.3.255", "1.0.4.0", "1.0.7.255",
                     "1.0.8.0", "8.8.8.8", "0.0.0.1", "255.255.255.255"])
    assert r.asn.tolist() == [13335, 13335, 0, 0, 38803, 38803, 0, 15169, 0, 0]
    assert r.asn_name.tolist() == ["CLOUDFLARENET", "CLOUDFLARENET", "", "", (
        "GTELECOM-AUSTRALIA Gtelecom Pty Ltd"), "GTELECOM-AUSTRALIA Gtelecom Pty Ltd", "",
        "GOOGLE", "", ""]
    assert r.country.tolist() == ["US", "US", "", "", "AU", "AU", "", "US", "", ""]
    assert np.isnan(r.latitude).all()
    # "Not routed" rows are not indexed at all: only the 3 routed ranges remain.
    assert len(db.v4) == 3 and len(db.v6) == 0


def test_iptoasn_u32_gz(tmp_path: Path) -> None:
    text = "16777216\t16777471\t13335\tUS\tCLOUDFLARENET\n134744064\t134744319\t15169\tUS\tGOOGLE\n"
    db = load_range_file(write(tmp_path, "ip2asn-v4-u32.tsv.gz", text))
    assert db is not None and db.kind == "iptoasn-tsv"
    r = look(db, 4, ["1.0.0.0", "1.0.0.255", "1.0.1.0", "8.8.8.0", "8.8.8.255", "8.8.9.0"])
    assert r.asn.tolist() == [13335, 13335, 0, 15169, 15169, 0]


def test_iptoasn_combined_v4_and_v6(tmp_path: Path) -> None:
    text = IPTOASN_V4 + (
        "2001:4860::\t2001:4860:ffff:ffff:ffff:ffff:ffff:ffff\t15169\tUS\tGOOGLE\n"
        "2606:4700::\t2606:4700:ffff:ffff:ffff:ffff:ffff:ffff\t13335\tUS\tCLOUDFLARENET\n"
    )
    db = load_range_file(write(tmp_path, "ip2asn-combined.tsv", text))
    assert db is not None
    assert (len(db.v4), len(db.v6)) == (3, 2)
    r = look(db, 6, ["2001:4860::", "2001:4860:4860::8888",
                     "2001:4860:ffff:ffff:ffff:ffff:ffff:ffff", "2001:4861::", "2001:485f::",
                     "2606:4700:4700::1111"])
    assert r.asn.tolist() == [15169, 15169, 15169, 0, 0, 13335]
    assert r.asn_name.tolist() == ["GOOGLE"] * 3 + ["", "", "CLOUDFLARENET"]
    assert look(db, 4, ["8.8.8.8"]).asn.tolist() == [15169]


def test_ip_location_db_asn_num(tmp_path: Path) -> None:
    text = ('16777216,16777471,13335,"Cloudflare, Inc."\n'
            "16778240,16779263,38803,Gtelecom Pty Ltd\n"
            "134744064,134744319,15169,Google LLC\n")
    db = load_range_file(write(tmp_path, "asn-ipv4-num.csv", text))
    assert db is not None and db.kind == "ip-location-db-asn"
    r = look(db, 4, ["1.0.0.1", "1.0.4.0", "1.0.7.255", "1.0.8.0", "8.8.8.8"])
    assert r.asn.tolist() == [13335, 38803, 38803, 0, 15169]
    assert r.asn_name.tolist() == ["Cloudflare, Inc.", "Gtelecom Pty Ltd", "Gtelecom Pty Ltd",
                                   "", "Google LLC"]
    assert r.country.tolist() == [""] * 5


def test_ip_location_db_asn_v6_num_and_text_agree(tmp_path: Path) -> None:
    num = ("42540488161975842760550356425300246528,42540488241204005274814694018844196863,"
           "6939,Hurricane Electric LLC\n"
           "42540528726795050063891204319802818560,42540528727329395276160870415022948351,"
           "2500,WIDE Project\n")
    txt = ("2001::,2001::ffff:ffff:ffff:ffff:ffff:ffff,6939,Hurricane Electric LLC\n"
           "2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project\n")
    queries = ["2001::", "2001::ffff:ffff:ffff:ffff:ffff:ffff", "2001:1::", "2001:200::1",
               "2001:200:1b9:ffff:ffff:ffff:ffff:ffff", "2001:200:1ba::", "::1"]
    expected = [6939, 6939, 0, 2500, 2500, 0, 0]
    for name, text in (("asn-ipv6-num.csv", num), ("asn-ipv6.csv", txt)):
        db = load_range_file(write(tmp_path, name, text))
        assert db is not None and len(db.v6) == 2 and len(db.v4) == 0, name
        assert look(db, 6, queries).asn.tolist() == expected, name


def test_small_numeric_ipv6_file_is_ipv6_by_name(tmp_path: Path) -> None:
    # ::/96 values fit in 32 bits; the file name decides the family.
    db = load_range_file(write(tmp_path, "asn-ipv6-num.csv", "1,255,64500,Tiny\n"))
    assert db is not None and (len(db.v4), len(db.v6)) == (0, 1)
    assert look(db, 6, ["::1", "::ff", "::100"]).asn.tolist() == [64500, 64500, 0]


def test_country_and_city_csv(tmp_path: Path) -> None:
    country = load_range_file(write(tmp_path, "c.csv", "1.0.0.0,1.0.0.255,au\n2001:200::,"
                                    "2001:200:ffff:ffff:ffff:ffff:ffff:ffff,JP\n"))
    assert country is not None and country.kind == "ip-location-db-country"
    assert look(country, 4, ["1.0.0.9", "1.0.1.0"]).country.tolist() == ["AU", ""]
    assert look(country, 6, ["2001:200::5"]).country.tolist() == ["JP"]
    city = load_range_file(write(
        tmp_path, "city.csv",
        "1.0.0.0,1.0.0.255,AU,Queensland,,South Brisbane,4101,-27.4748,153.017,Australia/Brisbane\n"
        "1.0.1.0,1.0.1.255,CN,Fujian,,Wenzhou,,999,153.017,\n"))  # latitude out of range
    assert city is not None and city.kind == "ip-location-db-city"
    r = look(city, 4, ["1.0.0.1", "1.0.1.1"])
    assert r.country.tolist() == ["AU", "CN"]
    assert r.latitude[0] == pytest.approx(-27.4748) and r.longitude[0] == pytest.approx(153.017)
    assert math.isnan(r.latitude[1]) and math.isnan(r.longitude[1])


def test_header_line_is_skipped(tmp_path: Path) -> None:
    db = load_range_file(write(tmp_path, "h.csv", "range_start,range_end,asn,name\n"
                               "10.0.0.0,10.0.0.255,64500,Example\n"))
    assert db is not None
    assert look(db, 4, ["10.0.0.7"]).asn.tolist() == [64500]


def test_bad_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    text = ("1.0.0.0,1.0.0.255,13335,Cloudflare\n"
            "1.0.1.0,1.0.0.0,64500,Backwards\n"            # start after end
            "1.0.2.0,nonsense,64501,Bad\n"                 # bad address
            "1.0.3.0,2001:db8::,64502,Mixed\n"             # different families
            "1.0.4.0,1.0.4.255\n"                          # too few columns
            "1.0.5.0,1.0.5.255,99999999999,Huge\n"         # AS number beyond 32 bits
            "1.0.6.0,1.0.6.255,64503,Fine\n")
    db = load_range_file(write(tmp_path, "asn-ipv4.csv", text))
    assert db is not None
    assert dict(db.skipped) == {
        "start after end": 1, "bad address": 1, "start and end of different families": 1,
        "wrong number of columns": 1, "bad AS number": 1,
    }
    r = look(db, 4, ["1.0.0.1", "1.0.1.0", "1.0.5.1", "1.0.6.1"])
    assert r.asn.tolist() == [13335, 0, 0, 64503]


def test_overlapping_rows_most_specific_wins(tmp_path: Path) -> None:
    text = ("10.0.0.0\t10.255.255.255\t64500\tUS\tBIG\n"
            "10.1.0.0\t10.1.255.255\t64501\tDE\tSMALL\n")
    db = load_range_file(write(tmp_path, "ip2asn-v4.tsv", text))
    assert db is not None
    r = look(db, 4, ["10.0.255.255", "10.1.0.0", "10.1.255.255", "10.2.0.0"])
    assert r.asn.tolist() == [64500, 64501, 64501, 64500]
    assert r.country.tolist() == ["US", "DE", "DE", "US"]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("hello world\nthis is not a database\n", "unknown database format"),
        ("1.0.0.0,1.0.0.255,13335,x,y,z\n", "unknown database format"),
        ("\x00\x01\x02binary", "unknown database format"),
    ],
)
def test_unknown_text_formats_name_the_file(tmp_path: Path, text: str, why: str) -> None:
    p = write(tmp_path, "weird.dat", text)
    with pytest.raises(DatabaseError, match=why) as info:
        open_database(p)
    assert str(p) in str(info.value)


def test_all_rows_bad_is_an_error(tmp_path: Path) -> None:
    p = write(tmp_path, "asn.csv", "1.0.0.0,1.0.0.255,13335,a\n2.0.0.0,1.0.0.0,1,b\n")
    p.write_text("9.0.0.0,8.0.0.0,1,a\n9.0.0.0,8.0.0.0,1,b\n")
    with pytest.raises(DatabaseError, match="no valid rows") as info:
        open_database(p)
    assert str(p) in str(info.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ranges=st.lists(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 5000), st.integers(1, 2**32 - 1)),
        min_size=1, max_size=30,
    ),
    queries=st.lists(st.integers(0, 2**32 - 1), max_size=30),
)
def test_property_csv_lookup_matches_brute_force(
    tmp_path: Path, ranges: list[tuple[int, int, int]], queries: list[int]
) -> None:
    # Disjoint ranges, as real files have: keep each range only if it misses all earlier ones.
    rows: list[tuple[int, int, int]] = []
    for start, length, asn in ranges:
        end = min(start + length, 2**32 - 1)
        if all(end < a or start > b for a, b, _ in rows):
            rows.append((start, end, asn))
    p = tmp_path / "asn-ipv4-num.csv"
    p.write_text("".join(f'{a},{b},{asn},"AS {asn}, Inc."\n' for a, b, asn in rows))
    db = load_range_file(p)
    assert db is not None
    probe = queries + [x for a, b, _ in rows for x in (a, b, a - 1, b + 1) if 0 <= x < 2**32]
    got = db.lookup(keys_from_ints(probe, 4), 4)
    want = [next((asn for a, b, asn in rows if a <= q <= b), 0) for q in probe]
    assert got.asn.tolist() == want
    assert got.asn_name.tolist() == [f"AS {w}, Inc." if w else "" for w in want]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(
    st.binary(max_size=400),
    st.lists(st.sampled_from(["1.0.0.0", "1.0.0.255", "2001:db8::", "16777216", ",", "\t",
                              "13335", '"', "US", "x", "\n", "-1", "1e5", " "]),
             max_size=60).map(lambda parts: "".join(parts).encode()),
))
def test_fuzz_text_database_never_crashes(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "fuzz.csv"
    p.write_bytes(data)
    try:
        db = open_database(p)
    except DatabaseError as exc:
        assert str(p) in str(exc)
        return
    for family in (4, 6):
        fam: Family = 4 if family == 4 else 6
        r = db.lookup(keys_from_ints([0, 16777216, 2**32 - 1], fam), fam)
        assert len(r.asn) == 3
