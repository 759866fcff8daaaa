"""find_ip_location_db: where npm puts the @ip-location-db files."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlogpush.enrich import find_ip_location_db


def install(root: Path, package: str, *names: str) -> list[Path]:
    d = root / "@ip-location-db" / package
    d.mkdir(parents=True)
    out = []
    for n in names:
        (d / n).write_text("x")
        out.append(d / n)
    return out


def test_nothing_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NPM_CONFIG_PREFIX", raising=False)
    assert find_ip_location_db([tmp_path / "nowhere"]) == []


def test_search_order_and_layouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("NPM_CONFIG_PREFIX", raising=False)
    # ./node_modules has only the IPv4 CSV; a --prefix install has the rest; a global
    # (lib/node_modules) install has everything but comes later.
    local = install(work / "node_modules", "asn", "asn-ipv4-num.csv")
    prefixed = install(tmp_path / "p" / "node_modules", "asn", "asn-ipv4-num.csv", "asn-ipv6.csv")
    glob = install(tmp_path / "g" / "lib" / "node_modules", "geo-whois-asn-country-mmdb",
                   "geo-whois-asn-country.mmdb")
    install(tmp_path / "g" / "lib" / "node_modules", "asn", "asn-ipv4-num.csv", "asn-ipv6.csv")
    found = find_ip_location_db([tmp_path / "p", tmp_path / "g"])
    assert found == [Path.cwd() / "node_modules" / local[0].relative_to(work / "node_modules"),
                     prefixed[1], glob[0]]


def test_env_prefix_and_node_modules_given_directly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = install(tmp_path / "npmglobal" / "lib" / "node_modules", "asn", "asn-ipv4-num.csv")
    direct = install(tmp_path / "nm", "geo-whois-asn-country-mmdb", "geo-whois-asn-country.mmdb")
    monkeypatch.setenv("NPM_CONFIG_PREFIX", str(tmp_path / "npmglobal"))
    assert find_ip_location_db([tmp_path / "nm"]) == [env[0], direct[0]]
