"""The dashboard in a real browser: Debian's chromium driven by Playwright, against a real
uvicorn serving the dashboard and the rules API over an AnalyticsStore filled by the real
pipeline (browser_support.py). Every number checked on the page is computed here again from
the records that were ingested, with plain Python, following docs/analytics.md.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from browser_support import (
    ACCOUNT,
    NS,
    NTP_RULE,
    VICTIM,
    Expected,
    build_records,
    expected_summary,
    parse_rfc3339_ns,
    rfc3339_ns,
)
from playwright.sync_api import Browser, ElementHandle, Page, sync_playwright

from netlogpush.analytics import AnalyticsStore, Queries
from netlogpush.api.app import ApiState, create_app
from netlogpush.api.tokens_cli import create_token
from netlogpush.dataset.fields import FIELD_NAMES
from netlogpush.mitigation.reload import SettingsStore
from netlogpush.mitigation.rulesets import PhaseEntrypoints
from netlogpush.testing.server import serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium); "
    "Playwright cannot download its own browser here",
)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
Row = dict[str, Any]


@dataclass
class Site:
    base: str
    rows: list[Row]  # every ingested record; sample id = index + 1
    now_ns: int
    api_dir: Path
    start_ns: int = field(init=False)
    end_ns: int = field(init=False)

    def __post_init__(self) -> None:
        # An absolute window, so that attack-peak buckets (aligned on the start) are known here.
        self.start_ns = self.now_ns - 15 * 60 * NS
        self.end_ns = self.now_ns + 60 * NS

    def url(self, *filters: str, **params: str) -> str:
        query: list[tuple[str, str]] = [
            ("start", rfc3339_ns(self.start_ns)),
            ("end", rfc3339_ns(self.end_ns)),
        ]
        query += [(k, v) for k, v in params.items()] + [("f", f) for f in filters]
        return f"{self.base}/dashboard?{urlencode(query)}"

    def expect(self, keep: Callable[[Row], bool] = lambda r: True) -> Expected:
        rows = [r for r in self.rows if keep(r)]
        return expected_summary(rows, self.start_ns, self.end_ns, bucket_s=60)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("dashboard")
    now_ns = time.time_ns()
    records, settings = build_records(tmp, now_ns)
    store = AnalyticsStore(tmp / "analytics.duckdb")
    # Our own ids (row index + 1), so a sample shown by id maps back to the record we sent.
    store.ingest(records, ids=range(1, records.num_rows + 1))
    from netlogpush.dashboard import create_dashboard_router

    api_dir = tmp / "api"
    state = ApiState(api_dir)
    state.rules = PhaseEntrypoints(SettingsStore(settings))
    app = create_app(state)
    app.include_router(create_dashboard_router(Queries(store), rules_api=True))
    with serve_in_thread(app) as base:
        yield Site(base, records.to_pylist(), now_ns, api_dir)
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Watch:
    """What the page did that it must not: console errors, requests off 127.0.0.1."""

    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def clean(self, allow: str | None = None) -> None:
        errors = [e for e in self.errors if allow is None or not re.search(allow, e)]
        assert errors == [], errors
        assert self.outside == [], self.outside


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, Watch]]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    watch = Watch()
    pg.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: watch.errors.append(f"page error: {e}"))

    def request(r: Any) -> None:
        if urlparse(r.url).hostname != "127.0.0.1" and not r.url.startswith(("data:", "blob:")):
            watch.outside.append(r.url)

    pg.on("request", request)
    yield pg, watch
    context.close()


# --- helpers -----------------------------------------------------------------------------------


def ready(pg: Page) -> None:
    """Wait until the refresh the last action started has finished without an error."""
    pg.wait_for_function("document.body.dataset.state !== 'loading'", timeout=15_000)
    state = pg.get_attribute("body", "data-state")
    assert state == "ready", pg.text_content("#error-banner")


def value(pg: Page, selector: str) -> str:
    got = pg.get_attribute(selector, "data-value")
    assert got is not None, selector
    return got


def attr(handle: ElementHandle | None, name: str, selector: str | None = None) -> str:
    """An attribute of ``handle`` (or of its first ``selector`` descendant); must exist."""
    if handle is not None and selector is not None:
        handle = handle.query_selector(selector)
    assert handle is not None, selector
    got = handle.get_attribute(name)
    assert got is not None, name
    return got


def chips(pg: Page) -> list[tuple[str, str, str]]:
    return [
        (attr(c, "data-dim"), attr(c, "data-value"), attr(c, "data-exclude"))
        for c in pg.query_selector_all(".filter-chip")
    ]


def query(pg: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(pg.url).query)


def parse_si(text: str, unit: str) -> float:
    m = re.fullmatch(rf"(-?[0-9.]+) ([kMGTPE]?){unit}", text)
    assert m, (text, unit)
    return float(m.group(1)) * 1000.0 ** " kMGTPE".index(m.group(2) or " ")


def check_summary(pg: Page, exp: Expected) -> None:
    """Exact values in data-value; the text shows them for people."""
    assert int(value(pg, "#sum-packets")) == exp.packets
    assert pg.text_content("#sum-packets") == f"{exp.packets:,}"
    assert int(value(pg, "#sum-dropped")) == exp.dropped_packets
    assert pg.text_content("#sum-dropped") == f"{exp.dropped_packets:,}"
    assert int(value(pg, "#sum-attacks")) == exp.attacks
    assert float(value(pg, "#sum-peak-pps")) == exp.largest_attack_pps
    assert float(value(pg, "#sum-peak-bps")) == exp.largest_attack_bps
    for sel, unit, want in (
        ("#sum-peak-pps", "pps", exp.largest_attack_pps),
        ("#sum-peak-bps", "bps", exp.largest_attack_bps),
    ):
        shown = parse_si(pg.text_content(sel) or "", unit)
        assert shown == pytest.approx(want, rel=0.005, abs=0.005)  # 3 significant digits
    pct = exp.dropped_packets * 100.0 / exp.packets if exp.packets else 0.0
    assert float(value(pg, "#sum-mitigated")) == pytest.approx(pct, rel=1e-12)
    assert pg.text_content("#sum-mitigated") == f"{pct:.1f} %"
    assert value(pg, "#sum-top-source") == exp.top_source


def attack_ids(site: Site, protocol: str | None = None) -> set[str]:
    return {
        r["AttackID"]
        for r in site.rows
        if r["AttackID"]
        and r["MitigationSystem"] == "dosd"
        and (protocol is None or r["IPProtocolName"] == protocol)
    }


# --- tests -------------------------------------------------------------------------------------


def test_loads_offline_and_summary_equals_the_records(
    site: Site, page: tuple[Page, Watch], tmp_path: Path
) -> None:
    pg, watch = page
    pg.goto(site.url(tab="all"))
    ready(pg)
    exp = site.expect()
    assert exp.attacks == 2 and exp.dropped_packets > 0  # the scenario did what it should
    check_summary(pg, exp)

    # Attack list: one row per AttackID, exact packets per attack.
    shown = {
        attr(tr, "data-attack-id"): int(attr(tr, "data-value", "td:nth-child(8)"))
        for tr in pg.query_selector_all("#attacks tr.attack")
    }
    want: dict[str, int] = {}
    for r in site.rows:
        if r["MitigationSystem"] == "dosd" and r["AttackID"]:
            want[r["AttackID"]] = want.get(r["AttackID"], 0) + r["SampleInterval"]
    assert shown == want

    # Top source ASNs: the no-double-counting packets per ASN, in order.
    per_asn: dict[str, int] = {}
    for r in site.rows:
        counted = r["Outcome"] == "drop" or r["MitigationSystem"] == "magic-firewall"
        if counted and site.start_ns <= r["Datetime"] < site.end_ns:
            per_asn[str(r["SourceASN"])] = per_asn.get(str(r["SourceASN"]), 0) + r["SampleInterval"]
    top = sorted(per_asn.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    rows = pg.query_selector_all("#top-source_asn tr.top-row")
    got = [(attr(tr, "data-key"), int(attr(tr, "data-value", ".num"))) for tr in rows]
    assert got == top

    # The chart: one trace per action, drop and pass, from our local Plotly.
    names = pg.evaluate("[...document.getElementById('timeseries').data].map(t => t.name).sort()")
    assert names == ["drop", "pass"]
    pg.screenshot(path=str(tmp_path / "absolute.png"), full_page=True)
    watch.clean()


def test_filters_include_exclude_click_and_reload(
    site: Site, page: tuple[Page, Watch], tmp_path: Path
) -> None:
    pg, watch = page
    pg.goto(site.url())
    ready(pg)

    # The filter builder: include UDP.
    pg.select_option("#filter-dim", "protocol")
    pg.fill("#filter-value", "UDP")
    pg.click("#filter-add")
    ready(pg)
    assert query(pg)["f"] == ["protocol:UDP"]
    udp = site.expect(lambda r: r["IPProtocolName"] == "UDP")
    check_summary(pg, udp)
    shown = {attr(tr, "data-attack-id") for tr in pg.query_selector_all("#attacks tr.attack")}
    assert udp.attacks == 1 and shown == attack_ids(site, "UDP")

    # Remove it, then exclude UDP instead.
    pg.click(".filter-chip button")
    ready(pg)
    assert "f" not in query(pg)
    check_summary(pg, site.expect())
    pg.select_option("#filter-dim", "protocol")
    pg.fill("#filter-value", "UDP")
    pg.check("#filter-exclude")
    pg.click("#filter-add")
    ready(pg)
    assert query(pg)["f"] == ["!protocol:UDP"]
    not_udp = site.expect(lambda r: r["IPProtocolName"] != "UDP")
    check_summary(pg, not_udp)

    # Click-to-filter: a top country (include), then Shift-click a top port (exclude).
    country = pg.get_attribute("#top-source_country tr.top-row", "data-key")
    pg.click("#top-source_country tr.top-row td.label")
    ready(pg)
    port = pg.get_attribute("#top-destination_port tr.top-row", "data-key")
    assert country and port
    pg.click("#top-destination_port tr.top-row td.label", modifiers=["Shift"])
    ready(pg)
    want = ["!protocol:UDP", f"source_country:{country}", f"!destination_port:{port}"]
    assert query(pg)["f"] == want

    def keep(r: Row) -> bool:
        return (
            r["IPProtocolName"] != "UDP"
            and r["SourceCountry"] == country
            and str(r["DestinationPort"]) != port
        )

    combined = site.expect(keep)
    assert 0 < combined.packets < not_udp.packets
    check_summary(pg, combined)
    assert chips(pg) == [
        ("protocol", "UDP", "1"),
        ("source_country", country, "0"),
        ("destination_port", port, "1"),
    ]
    pg.screenshot(path=str(tmp_path / "filtered.png"), full_page=True)

    # The URL is the view: a reload shows the same.
    url = pg.url
    pg.reload()
    ready(pg)
    assert pg.url == url
    assert query(pg)["f"] == want
    assert len(chips(pg)) == 3
    check_summary(pg, combined)

    # A legend entry filters too: Alt-click "drop" excludes dropped traffic.
    for _ in range(3):
        pg.click(".filter-chip button")
        ready(pg)
    pg.click("#timeseries .legend .traces:has-text('drop') .legendtoggle", modifiers=["Alt"])
    ready(pg)
    assert query(pg)["f"] == ["!action:drop"]
    passed = site.expect(lambda r: r["Outcome"] != "drop")
    assert int(value(pg, "#sum-packets")) == passed.packets and passed.dropped_packets == 0
    watch.clean()


def test_tabs_count_each_systems_samples(site: Site, page: tuple[Page, Watch]) -> None:
    pg, watch = page
    pg.goto(site.url())
    ready(pg)
    in_range = [r for r in site.rows if site.start_ns <= r["Datetime"] < site.end_ns]
    for tab in ("dosd", "flowtrackd", "magic-firewall"):
        pg.click(f"#tab-{tab}")
        ready(pg)
        assert query(pg)["tab"] == [tab]
        assert "active" in (pg.get_attribute(f"#tab-{tab}", "class") or "")
        mine = [r for r in in_range if r["MitigationSystem"] == tab]
        assert int(value(pg, "#sum-packets")) == sum(r["SampleInterval"] for r in mine)
        dropped = sum(r["SampleInterval"] for r in mine if r["Outcome"] == "drop")
        assert int(value(pg, "#sum-dropped")) == dropped
    # The network firewall's NTP rule is in "Rules hit", by its RuleID, with its packets.
    ntp = [r for r in in_range if r["MitigationSystem"] == "magic-firewall" and r["RuleID"]]
    assert ntp, f"no sample matched {NTP_RULE!r}"
    cell = pg.query_selector(f"#rules td[data-rule-id='{ntp[0]['RuleID']}']")
    assert cell is not None
    row = cell.evaluate_handle("td => td.parentElement").as_element()
    assert int(attr(row, "data-value", ".num")) == sum(r["SampleInterval"] for r in ntp)
    pg.click("#tab-all")
    ready(pg)
    check_summary(pg, site.expect())

    # Split by mitigation system: one trace per system that has counted samples.
    pg.select_option("#dim", "mitigation_system")
    ready(pg)
    assert query(pg)["dim"] == ["mitigation_system"]
    systems = sorted(
        {
            r["MitigationSystem"]
            for r in in_range
            if r["Outcome"] == "drop" or r["MitigationSystem"] == "magic-firewall"
        }
    )
    traces = pg.evaluate("[...document.getElementById('timeseries').data].map(t => t.meta).sort()")
    assert traces == systems

    # Bits instead of packets: the chart and the top-N panels switch unit.
    pg.select_option("#metric", "bits")
    ready(pg)
    assert query(pg)["metric"] == ["bits"]
    assert (pg.text_content("#chart-title") or "").startswith("Bits summary")
    bits: dict[str, int] = {}
    for r in in_range:
        if r["Outcome"] == "drop" or r["MitigationSystem"] == "magic-firewall":
            key = r["SourceCountry"]
            bits[key] = bits.get(key, 0) + 8 * r["IPTotalLength"] * r["SampleInterval"]
    top = sorted(bits.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    shown = [
        (attr(tr, "data-key"), int(attr(tr, "data-value", ".num")))
        for tr in pg.query_selector_all("#top-source_country tr.top-row")
    ]
    assert shown == top
    watch.clean()


def test_attack_drill_down_and_sample_fields(
    site: Site, page: tuple[Page, Watch], tmp_path: Path
) -> None:
    pg, watch = page
    pg.goto(site.url())
    ready(pg)
    (attack,) = attack_ids(site, "UDP")
    pg.click(f"#attacks tr.attack[data-attack-id='{attack}']")
    ready(pg)
    assert query(pg)["attack_id"] == [attack]
    assert pg.get_attribute("#attack-chip", "data-attack-id") == attack
    mine = [
        i + 1
        for i, r in enumerate(site.rows)
        if r["MitigationSystem"] == "dosd"
        and r["AttackID"] == attack
        and site.start_ns <= r["Datetime"] < site.end_ns
    ]
    assert int(pg.get_attribute("#samples", "data-total") or -1) == len(mine)
    ids = [int(attr(tr, "data-id")) for tr in pg.query_selector_all("#samples tr.sample")]
    assert ids and set(ids) <= set(mine)
    assert all(site.rows[i - 1]["AttackID"] == attack for i in ids)
    # Newest first.
    times = [site.rows[i - 1]["Datetime"] for i in ids]
    assert times == sorted(times, reverse=True)
    # The chart marks the attack's time span.
    assert pg.evaluate("document.getElementById('timeseries').layout.shapes.length") == 1

    # Expand the first sample: all 84 fields, in dataset order, with the values we sent.
    first = ids[0]
    pg.click(f"#samples tr.sample[data-id='{first}']")
    pg.wait_for_selector(f"#samples tr.sample-detail[data-id='{first}']")
    detail = f"#samples tr.sample-detail[data-id='{first}']"
    names = [dt.text_content() for dt in pg.query_selector_all(f"{detail} dt")]
    assert names == list(FIELD_NAMES) and len(names) == 84
    fields = {
        attr(dd, "data-field"): attr(dd, "data-value")
        for dd in pg.query_selector_all(f"{detail} dd")
    }
    record = site.rows[first - 1]
    assert parse_rfc3339_ns(fields.pop("Datetime")) == record["Datetime"]
    assert fields == {k: str(v) for k, v in record.items() if k != "Datetime"}
    pg.evaluate("window.scrollTo(0, 0)")  # the sticky top bar then stays at the top
    pg.screenshot(path=str(tmp_path / "drilldown.png"), full_page=True)

    # Removing the attack chip shows the view's samples again.
    pg.click("#attack-chip button")
    ready(pg)
    assert "attack_id" not in query(pg)
    counted = [
        r
        for r in site.rows
        if site.start_ns <= r["Datetime"] < site.end_ns
        and (r["Outcome"] == "drop" or r["MitigationSystem"] == "magic-firewall")
    ]
    assert int(pg.get_attribute("#samples", "data-total") or -1) == len(counted)
    watch.clean()


def test_create_firewall_rule_through_the_rules_api(
    site: Site, page: tuple[Page, Watch], tmp_path: Path
) -> None:
    pg, watch = page
    token = create_token(site.api_dir, ACCOUNT, ["rulesets:write"])
    pg.goto(site.url(f"destination_ip:{VICTIM}", "protocol:UDP"))
    ready(pg)
    pg.click("#create-rule")
    pg.wait_for_selector("#rule-dialog[data-state='ready']")
    expression = pg.text_content("#rule-expression") or ""
    assert VICTIM in expression and "udp" in expression.lower()
    pg.fill("#rule-account", ACCOUNT)
    pg.fill("#rule-token", token)
    pg.click("#rule-submit")
    pg.wait_for_selector("#rule-dialog[data-state='created']", timeout=15_000)
    pg.screenshot(path=str(tmp_path / "rule.png"))
    rule_id = pg.get_attribute("#rule-result", "data-rule-id")

    # The rule landed: the real API returns it, last, as the dialog sent it.
    answer = httpx.get(
        f"{site.base}/client/v4/accounts/{ACCOUNT}/rulesets/phases/magic_transit/entrypoint",
        headers={"Authorization": f"Bearer {token}"},
    )
    rules = answer.json()["result"]["rules"]
    assert [r["expression"] for r in rules] == [NTP_RULE, expression]
    assert rules[-1]["id"] == rule_id and rules[-1]["action"] == "block"
    assert rules[-1]["enabled"] is True
    # The token stays in the tab's sessionStorage, never in localStorage.
    assert pg.evaluate("sessionStorage.getItem('netlogpush.token')") == token
    assert pg.evaluate("Object.keys(localStorage).length") == 0

    # A wrong token: the API's refusal is shown, nothing changes.
    pg.fill("#rule-token", "not-a-token")
    pg.click("#rule-submit")
    pg.wait_for_selector("#rule-dialog[data-state='failed']")
    assert "refused" in (pg.text_content("#rule-result") or "")
    watch.clean(allow="Failed to load resource")


def test_bad_filter_shows_the_servers_message(site: Site, page: tuple[Page, Watch]) -> None:
    pg, watch = page
    pg.goto(site.url("source_asn:AS-one"))
    pg.wait_for_function("document.body.dataset.state === 'error'")
    banner = pg.text_content("#error-text") or ""
    assert "400" in banner and "source_asn" in banner
    assert pg.is_visible("#error-banner")
    pg.click(".filter-chip button")  # removing the bad filter recovers
    ready(pg)
    assert not pg.is_visible("#error-banner")
    watch.clean(allow="status of 400")


def test_live_relative_view_and_docs_screenshot(
    site: Site, page: tuple[Page, Watch], tmp_path: Path
) -> None:
    pg, watch = page
    pg.clock.install()  # the 5 s live timer runs on a clock the test moves, not on a sleep
    pg.goto(f"{site.base}/dashboard?range=15m")
    ready(pg)
    assert pg.is_checked("#live")
    assert query(pg)["range"] == ["15m"]
    # With the UDP flood 13 minutes ago and the ACK flood 7, a 15-minute view holds both.
    assert int(value(pg, "#sum-attacks")) == 2
    # The previous 15 minutes held the benign minute: the change is computed and shown.
    assert value(pg, "#chg-packets") != ""
    refreshes = int(pg.get_attribute("body", "data-refreshes") or 0)
    pg.clock.run_for(5_100)
    pg.wait_for_function(f"Number(document.body.dataset.refreshes) > {refreshes}", timeout=8_000)
    # Switching live off is part of the view too.
    pg.click("#live")
    assert query(pg)["live"] == ["0"] and not pg.is_checked("#live")
    pg.click("#live")
    assert "live" not in query(pg)
    ready(pg)
    # Every run takes the screenshot; NETLOGPUSH_UPDATE_SCREENSHOT=1 makes it docs' current one.
    shot = (
        DOCS_SCREENSHOT
        if os.environ.get("NETLOGPUSH_UPDATE_SCREENSHOT")
        else tmp_path / "dashboard.png"
    )
    pg.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000  # a page with charts and tables, not a blank one

    # Zooming the chart picks an absolute range: it goes in the URL and live updates stop.
    start, end = site.now_ns - 12 * 60 * NS, site.now_ns - 10 * 60 * NS
    pg.evaluate(
        "([a, b]) => Plotly.relayout('timeseries', {'xaxis.range': [a, b]})",
        [start // 1_000_000, end // 1_000_000],
    )
    ready(pg)
    got = query(pg)
    assert "range" not in got
    assert abs(parse_rfc3339_ns(got["start"][0]) - start) < 1_000_000  # ms, as Plotly has it
    assert abs(parse_rfc3339_ns(got["end"][0]) - end) < 1_000_000
    assert pg.is_disabled("#live") and not pg.is_checked("#live")
    watch.clean()
