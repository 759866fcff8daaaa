"""Configuration of the enrichment stage: the site, the customer network, the IP databases."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from netlogpush.enrich.geohash import GEOHASH_LENGTH, encode, is_valid_geohash

_COUNTRY = re.compile(r"[A-Z]{2}")
_IATA = re.compile(r"[A-Z]{3}")


class SiteConfig(BaseModel):
    """The site (Cloudflare: data center, "colo") whose traffic netlogpush logs.

    Every record of the run gets these values in its ``Colo*`` fields. All are optional;
    an unset value leaves its field empty.
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: str = ""
    """``ColoName``: unique site identifier, e.g. ``ams01``."""

    code: str = ""
    """``ColoCode``: IATA code of the nearest airport, e.g. ``AMS`` (3 letters, upper-cased)."""

    city: str = ""
    """``ColoCity``: city of the site, e.g. ``Amsterdam``."""

    country: str = ""
    """``ColoCountry``: ISO 3166-1 alpha-2 country code, e.g. ``NL`` (upper-cased)."""

    geohash: str = ""
    """``ColoGeoHash``: geohash of the site. Give this or ``latitude``/``longitude``."""

    latitude: float | None = Field(
        default=None, ge=-90.0, le=90.0, validation_alias=AliasChoices("latitude", "lat")
    )
    """Latitude of the site in degrees (alias ``lat``); used to compute a 12-character geohash."""

    longitude: float | None = Field(
        default=None, ge=-180.0, le=180.0, validation_alias=AliasChoices("longitude", "lon")
    )
    """Longitude of the site in degrees (alias ``lon``); used to compute a 12-character geohash."""

    @field_validator("code", "country", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("code")
    @classmethod
    def _check_code(cls, value: str) -> str:
        if value and not _IATA.fullmatch(value):
            raise ValueError(f"site code must be a 3-letter IATA airport code, got {value!r}")
        return value

    @field_validator("country")
    @classmethod
    def _check_country(cls, value: str) -> str:
        if value and not _COUNTRY.fullmatch(value):
            raise ValueError(f"site country must be an ISO 3166-1 alpha-2 code, got {value!r}")
        return value

    @field_validator("geohash", mode="before")
    @classmethod
    def _check_geohash(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        value = value.strip().lower()
        if value and not is_valid_geohash(value):
            raise ValueError(
                f"site geohash must be 1-{GEOHASH_LENGTH} characters of the geohash alphabet "
                f"(0-9, b-z without a, i, l, o), got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _geohash_from_coordinates(self) -> Self:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("site latitude and longitude must be given together")
        if self.latitude is None or self.longitude is None:
            return self
        computed = encode(self.latitude, self.longitude)
        if self.geohash and not computed.startswith(self.geohash):
            raise ValueError(
                f"site geohash {self.geohash!r} does not match latitude/longitude "
                f"({self.latitude}, {self.longitude}) -> {computed!r}; give only one of them"
            )
        if not self.geohash:
            self.geohash = computed
        return self


def parse_prefix(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parse one customer prefix; a bare address is a /32 or /128. Errors say what is wrong."""
    text = value.strip()
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            net = ipaddress.ip_network(text, strict=False)
            raise ValueError(f"{value!r} has host bits set; did you mean {str(net)!r}?") from None
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 prefix in CIDR notation") from None


#: A customer prefix, validated and normalised (``2001:DB8::/32`` -> ``2001:db8::/32``).
CustomerPrefix = Annotated[str, AfterValidator(lambda v: str(parse_prefix(v)))]


class EnrichConfig(BaseModel):
    """Settings of the enrichment stage (``Colo*``, ``Direction``, ``*ASN*``, ``*Country``, ``*GeoHash``)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    site: SiteConfig = Field(default_factory=SiteConfig)
    """The site that receives the traffic; fills the ``Colo*`` fields."""

    customer_prefixes: list[CustomerPrefix] = Field(default_factory=list)
    """IPv4/IPv6 prefixes of the protected (customer) network, in CIDR notation. A packet whose
    destination is inside one is ``ingress``; else one whose source is inside is ``egress``;
    anything else is ``ingress``. Empty: every packet is ``ingress``."""

    databases: list[Path] = Field(default_factory=list)
    """IP databases for the ``Source*``/``Destination*`` ASN, country and geohash fields, in
    priority order (for each field, the first database with a value wins). Each file's kind is
    detected from its content: MaxMind DB (``.mmdb``: GeoLite2/GeoIP2, DB-IP, IPinfo,
    ip-location-db), iptoasn.com TSV, or ip-location-db CSV; ``.gz`` text files are accepted.
    See docs/enrichment.md."""

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(p) for p in self.customer_prefixes]
