"""Settings: a YAML file, NETLOGPUSH_* environment overrides, and error messages naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlogpush.config import Settings, SettingsError, load_settings

FILE = """\
site:
  name: ams01
  code: ams
  city: Amsterdam
  country: nl
customer_prefixes:
  - 192.0.2.0/24
  - 2001:DB8::/32
databases:
  - geo/asn.mmdb
  - /opt/ip/country.csv
sampling:
  interval: 10
  seed: 7
"""


def write(tmp_path: Path, text: str, name: str = "netlogpush.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_without_a_file() -> None:
    s = load_settings(None, {})
    assert s == Settings()
    assert (s.sampling.interval, s.sampling.seed) == (None, None)
    assert not s.sampling_configured()
    assert (s.site.name, s.customer_prefixes, s.databases) == ("", [], [])


def test_file(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    path = write(tmp_path / "etc", FILE)
    s = load_settings(path, {})
    assert (s.site.name, s.site.code, s.site.city, s.site.country) == (
        "ams01",
        "AMS",
        "Amsterdam",
        "NL",
    )
    assert s.customer_prefixes == ["192.0.2.0/24", "2001:db8::/32"]
    # Relative database paths are relative to the settings file; absolute ones stay.
    assert s.databases == [tmp_path / "etc" / "geo" / "asn.mmdb", Path("/opt/ip/country.csv")]
    assert (s.sampling.interval, s.sampling.seed) == (10, 7)


def test_config_path_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "sampling: {interval: 25}\n")
    assert load_settings(None, {"NETLOGPUSH_CONFIG": str(path)}).sampling.interval == 25


def test_environment_overrides_nested_keys(tmp_path: Path) -> None:
    path = write(tmp_path, FILE)
    env = {
        "NETLOGPUSH_SAMPLING__INTERVAL": "100",
        "NETLOGPUSH_SITE__NAME": "lhr01",
        "NETLOGPUSH_CUSTOMER_PREFIXES": "[198.51.100.0/24]",
        "OTHER_VARIABLE": "ignored",
    }
    s = load_settings(path, env)
    assert (s.sampling.interval, s.sampling.seed) == (100, 7)  # the file's seed stays
    assert (s.site.name, s.site.city) == ("lhr01", "Amsterdam")  # the rest of site stays
    assert s.customer_prefixes == ["198.51.100.0/24"]


def test_environment_alone() -> None:
    s = load_settings(None, {"NETLOGPUSH_SITE__LAT": "52.3676", "NETLOGPUSH_SITE__LON": "4.9041"})
    assert s.site.geohash == "u173zt5p3u1v"


@pytest.mark.parametrize(
    ("variable", "value", "attribute", "expected"),
    [
        # YAML would read these as false, true and 123; they are text for text settings.
        ("NETLOGPUSH_SITE__COUNTRY", "NO", "country", "NO"),
        ("NETLOGPUSH_SITE__CODE", "YES", "code", "YES"),
        ("NETLOGPUSH_SITE__NAME", "0123", "name", "0123"),
    ],
)
def test_environment_scalars_are_text(
    variable: str, value: str, attribute: str, expected: str
) -> None:
    site = load_settings(None, {variable: value}).site
    assert getattr(site, attribute) == expected


def test_null_from_the_environment_clears_a_setting(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, FILE), {"NETLOGPUSH_SAMPLING__SEED": "null"})
    assert (s.sampling.interval, s.sampling.seed) == (10, None)


@pytest.mark.parametrize(
    ("text", "env", "messages"),
    [
        (
            "sampling: {interval: 0}\n",
            {},
            ["sampling.interval: Input should be greater than or equal to 1"],
        ),
        (
            "sampling: {interval: 2000000}\n",
            {},
            ["sampling.interval: Input should be less than or equal to 1000000"],
        ),
        ("", {"NETLOGPUSH_SAMPLING__INTERVAL": "0"}, ["+ environment", "sampling.interval"]),
        ("sampling: {interval: ten}\n", {}, ["sampling.interval: Input should be a valid integer"]),
        (
            "customer_prefixes: [192.0.2.0/33]\n",
            {},
            ["customer_prefixes.0", "'192.0.2.0/33' is not an IPv4 or IPv6 prefix"],
        ),
        (
            "customer_prefixes: [192.0.2.1/24]\n",
            {},
            ["customer_prefixes.0", "did you mean '192.0.2.0/24'?"],
        ),
        ("bogus: 1\n", {}, ["bogus: Extra inputs are not permitted"]),
        ("sampling: {rate: 5}\n", {}, ["sampling.rate: Extra inputs are not permitted"]),
        ("", {"NETLOGPUSH_BOGUS__KEY": "1"}, ["bogus: Extra inputs are not permitted"]),
        ("site: {country: NLD}\n", {}, ["site.country", "ISO 3166-1 alpha-2", "'NLD'"]),
        ("site: {code: AM}\n", {}, ["site.code", "IATA"]),
        ("site: {lat: 52.0}\n", {}, ["latitude and longitude must be given together"]),
    ],
)
def test_errors_name_the_key(
    tmp_path: Path, text: str, env: dict[str, str], messages: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as info:
        load_settings(path, env)
    message = str(info.value)
    assert message.startswith(f"invalid settings ({path}")
    for part in messages:
        assert part in message


def test_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(
        SettingsError, match=f"cannot read settings file {missing}: No such file or directory"
    ):
        load_settings(missing, {})
    with pytest.raises(SettingsError, match="is not valid YAML"):
        load_settings(write(tmp_path, "site: [unclosed\n"), {})
    with pytest.raises(SettingsError, match="must hold a mapping at the top level"):
        load_settings(write(tmp_path, "- a\n- b\n"), {})
    with pytest.raises(SettingsError, match="NETLOGPUSH_SITE__NAME: not a valid YAML value"):
        load_settings(None, {"NETLOGPUSH_SITE__NAME": "[unclosed"})


def test_empty_file_is_the_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, ""), {}) == Settings()
