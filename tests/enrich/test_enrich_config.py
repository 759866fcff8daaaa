"""EnrichConfig / SiteConfig validation and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from netlogpush.enrich import EnrichConfig, SiteConfig


def test_site_from_coordinates() -> None:
    site = SiteConfig.model_validate(
        {"name": "sjc01", "code": "sjc", "city": "San Jose", "country": "us",
         "lat": 37.3639, "lon": -121.929})
    assert (site.name, site.code, site.city, site.country) == ("sjc01", "SJC", "San Jose", "US")
    assert site.geohash == "9q9k93yh2ru1"
    assert len(site.geohash) == 12


def test_site_geohash_given_directly_and_consistent() -> None:
    assert SiteConfig(geohash="9Q9K93WHBM56").geohash == "9q9k93whbm56"
    site = SiteConfig(geohash="9q9k9", latitude=37.3639, longitude=-121.929)
    assert site.geohash == "9q9k9"


def test_site_defaults_are_empty() -> None:
    site = SiteConfig()
    assert (site.name, site.code, site.city, site.country, site.geohash) == ("", "", "", "", "")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "SJCX"}, "3-letter IATA"),
        ({"country": "USA"}, "ISO 3166-1 alpha-2"),
        ({"geohash": "9q9a"}, "geohash alphabet"),
        ({"lat": 37.0}, "latitude and longitude must be given together"),
        ({"lat": 91.0, "lon": 0.0}, "less than or equal to 90"),
        ({"lat": 1.0, "lon": 2.0, "geohash": "zz"}, "does not match latitude/longitude"),
        ({"colour": "blue"}, "Extra inputs are not permitted"),
    ],
)
def test_site_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SiteConfig.model_validate(data)


def test_prefixes_normalised() -> None:
    cfg = EnrichConfig(customer_prefixes=["2001:DB8::/32", " 10.0.0.0/8", "192.0.2.7"])
    assert cfg.customer_prefixes == ["2001:db8::/32", "10.0.0.0/8", "192.0.2.7/32"]
    assert [n.version for n in cfg.networks()] == [6, 4, 4]


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("192.0.2.1/24", r"has host bits set; did you mean '192.0.2.0/24'"),
        ("2001:db8::1/32", r"did you mean '2001:db8::/32'"),
        ("10.0.0.0/33", "is not an IPv4 or IPv6 prefix"),
        ("customer", "is not an IPv4 or IPv6 prefix"),
        ("", "is not an IPv4 or IPv6 prefix"),
    ],
)
def test_prefix_errors_name_the_entry(prefix: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        EnrichConfig(customer_prefixes=["10.0.0.0/8", prefix])
    assert info.value.errors()[0]["loc"] == ("customer_prefixes", 1)


def test_config_from_yaml_like_dict(tmp_path: Path) -> None:
    cfg = EnrichConfig.model_validate({
        "site": {"name": "ams01", "code": "AMS", "city": "Amsterdam", "country": "NL",
                 "geohash": "u173zq37x014"},
        "customer_prefixes": ["203.0.113.0/24"],
        "databases": [str(tmp_path / "a.mmdb")],
    })
    assert cfg.databases == [tmp_path / "a.mmdb"]
    with pytest.raises(ValidationError, match="Extra inputs"):
        EnrichConfig.model_validate({"asn_databases": []})


def test_every_field_is_documented() -> None:
    for model in (EnrichConfig, SiteConfig):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"
