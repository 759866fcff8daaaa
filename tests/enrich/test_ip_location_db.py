"""Real data: the npm @ip-location-db databases, when installed.

Install them with ``npm install --prefix /tmp/ipdb @ip-location-db/asn
@ip-location-db/geo-whois-asn-country-mmdb`` (or into ./node_modules); another prefix can
be given in ``NETLOGPUSH_IPDB_PREFIX``.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import numpy as np
import pytest

from netlogpush.enrich import EnrichConfig, Enricher, find_ip_location_db

PREFIX = Path(os.environ.get("NETLOGPUSH_IPDB_PREFIX", "/tmp/ipdb"))
# .cache/ipdb is where scripts/demo.sh installs them.
FOUND = find_ip_location_db([PREFIX, Path(".cache/ipdb")])

pytestmark = pytest.mark.skipif(
    len(FOUND) < 3,
    reason=f"@ip-location-db/asn and geo-whois-asn-country-mmdb are not installed under "
    f"./node_modules, ./.cache/ipdb or {PREFIX} (found {[str(p) for p in FOUND]}); run "
    f"`npm install --prefix {PREFIX} @ip-location-db/asn "
    "@ip-location-db/geo-whois-asn-country-mmdb`",
)


def test_finds_all_three_files() -> None:
    assert [p.name for p in FOUND] == [
        "asn-ipv4-num.csv", "asn-ipv6.csv", "geo-whois-asn-country.mmdb"]


def test_well_known_addresses() -> None:
    e = Enricher.from_config(EnrichConfig(databases=FOUND))
    v4 = [("8.8.8.8", "1.1.1.1"), ("1.1.1.1", "8.8.8.8")]
    v6 = [("2001:4860:4860::8888", "2606:4700:4700::1111")]
    n = len(v4) + len(v6)
    ver = np.array([4] * len(v4) + [6] * len(v6), dtype=np.uint8)
    src4 = np.zeros(n, dtype=np.uint32)
    dst4 = np.zeros(n, dtype=np.uint32)
    src6 = np.zeros((n, 16), dtype=np.uint8)
    dst6 = np.zeros((n, 16), dtype=np.uint8)
    for i, (s, d) in enumerate(v4):
        src4[i], dst4[i] = int(ipaddress.IPv4Address(s)), int(ipaddress.IPv4Address(d))
    for j, (s, d) in enumerate(v6, start=len(v4)):
        src6[j] = np.frombuffer(ipaddress.IPv6Address(s).packed, dtype=np.uint8)
        dst6[j] = np.frombuffer(ipaddress.IPv6Address(d).packed, dtype=np.uint8)
    out = e.enrich(ver, src4, dst4, src6, dst6)
    assert out["SourceASN"].tolist() == [15169, 13335, 15169]
    assert out["SourceASNName"].tolist() == ["Google LLC", "Cloudflare, Inc.", "Google LLC"]
    assert out["SourceCountry"][[0, 2]].tolist() == ["US", "US"]
    assert out["DestinationASN"].tolist() == [13335, 15169, 13335]
    assert out["DestinationASNName"].tolist() == ["Cloudflare, Inc.", "Google LLC",
                                                  "Cloudflare, Inc."]
    # Neither database has coordinates.
    assert out["SourceGeoHash"].tolist() == ["", "", ""]
