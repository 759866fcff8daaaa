"""The Splunk app: its XML views parse, its .conf files parse with Splunk's own parser, the
Dashboard Studio definition passes Splunk's own validator (npm @splunk/dashboard-validation),
every data source a visualization uses exists, and every SPL search parses (spl_check.py, our
grammar for the subset used) and reads only dataset fields or fields it made itself, with the
volume formulas and the counting rule of docs/analytics.md."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from addonfactory_splunk_conf_parser_lib import TABConfigParser
from siem_support import DASHBOARDS, REPO
from spl_check import SplError, check

from netlogpush.dataset.fields import FIELDS_BY_NAME
from netlogpush.siem import splunk
from netlogpush.siem.files import expected_files

APP = DASHBOARDS / "splunk" / splunk.APP
VIEWS = APP / "default" / "data" / "ui" / "views"
STUDIO = DASHBOARDS / "splunk" / "network_analytics_studio.json"
INPUT_TOKENS = {i.token for i in splunk.INPUTS}


def test_files_are_the_generated_ones() -> None:
    for rel, text in expected_files().items():
        if rel.startswith("splunk/"):
            assert (DASHBOARDS / rel).read_text() == text, rel


# --- the app -------------------------------------------------------------------------------------


def conf(path: Path) -> dict[str, dict[str, str]]:
    parser = TABConfigParser()
    parser.read(str(path))
    return parser.item_dict()  # type: ignore[no-any-return]


def test_conf_files_parse() -> None:
    app = conf(APP / "default" / "app.conf")
    assert app["package"]["id"] == splunk.APP
    assert app["ui"]["is_visible"] == "1"
    props = conf(APP / "default" / "props.conf")["cloudflare:json"]
    assert props["KV_MODE"] == "json"
    assert props["SHOULD_LINEMERGE"] == "false"
    # Datetime arrives as "Datetime":<unixnano>: nineteen digits of epoch nanoseconds.
    assert (props["TIME_PREFIX"], props["TIME_FORMAT"]) == ('"Datetime":', "%s%9N")
    assert props["MAX_TIMESTAMP_LOOKAHEAD"] == "19"
    meta = conf(APP / "metadata" / "default.meta")
    assert meta["props"]["export"] == "system"


def test_logpush_records_match_the_timestamp_settings() -> None:
    """What our Logpush encoder writes (the job default, unixnano) is what props.conf reads:
    TIME_PREFIX, then exactly 19 digits (%s = 10, %9N = 9) and no more."""
    import pyarrow as pa

    from netlogpush.dataset.formats import encode_ndjson
    from netlogpush.dataset.records import make_table

    line = bytes(encode_ndjson(make_table({"Datetime": pa.array([1_795_774_920_123_456_789])},
                                          1))).decode()  # fmt: skip
    m = re.search(r'"Datetime":(\d+)[,}]', line)
    assert m and len(m.group(1)) == 19


def test_views_parse() -> None:
    for path in [*sorted(VIEWS.glob("*.xml")), APP / "default/data/ui/nav/default.xml"]:
        ET.parse(path)  # raises on malformed XML
    nav = ET.parse(APP / "default/data/ui/nav/default.xml").getroot()
    names = {v.get("name") for v in nav.iter("view")} - {"search"}
    assert names == {p.stem for p in VIEWS.glob("*.xml")}


def simple_xml_searches() -> list[tuple[str, str]]:
    root = ET.parse(VIEWS / "network_analytics.xml").getroot()
    out = []
    for panel in root.iter("panel"):
        title = panel.findtext("title") or ""
        search = panel.find(".//search")
        assert search is not None, title
        assert search.findtext("earliest") == "$time.earliest$"
        assert search.findtext("latest") == "$time.latest$"
        out.append((title, search.findtext("query") or ""))
    return out


def test_simple_xml() -> None:
    root = ET.parse(VIEWS / "network_analytics.xml").getroot()
    assert root.tag == "form"
    inputs = {i.get("token") for i in root.iter("input")}
    assert inputs == INPUT_TOKENS | {"time"}
    searches = simple_xml_searches()
    assert [q for _, q in searches] == [p.spl for p in splunk_panels_in_rows()]
    for title, query in searches:
        for tok in re.findall(r"\$([\w.]+)\$", query + title):
            assert tok in INPUT_TOKENS or tok.startswith("time."), tok
    drill = root.find(".//drilldown/set")
    assert drill is not None and drill.get("token") == "attack_id"
    assert drill.text == "$row.AttackID$"
    assert root.find(".//event/search") is not None  # the sample log expands every field


def splunk_panels_in_rows() -> list[splunk.Panel]:
    by_key = {p.key: p for p in splunk.PANELS}
    return [by_key[k] for row in splunk.ROWS for k in row]


def test_every_panel_is_in_a_row() -> None:
    keys = [k for row in splunk.ROWS for k in row]
    assert sorted(keys) == sorted(p.key for p in splunk.PANELS)


# --- Dashboard Studio ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def studio() -> dict[str, Any]:
    return json.loads(STUDIO.read_text())  # type: ignore[no-any-return]


def test_studio_view_embeds_the_definition(studio: dict[str, Any]) -> None:
    root = ET.parse(VIEWS / "network_analytics_studio.xml").getroot()
    assert (root.tag, root.get("version")) == ("dashboard", "2")
    assert json.loads(root.findtext("definition") or "") == studio


def test_studio_references(studio: dict[str, Any]) -> None:
    sources = studio["dataSources"]
    for ds in sources.values():
        assert ds["type"] == "ds.search" and ds["options"]["query"].strip()
    used = set()
    for vid, viz in studio["visualizations"].items():
        primary = viz["dataSources"]["primary"]
        assert primary in sources, vid
        used.add(primary)
    assert used == set(sources)  # no orphan search
    layouts = studio["layout"]["layoutDefinitions"]
    tabs = [t["layoutId"] for t in studio["layout"]["tabs"]["items"]]
    assert sorted(tabs) == sorted(layouts)
    placed = [b["item"] for lay in layouts.values() for b in lay["structure"]]
    assert sorted(placed) == sorted(studio["visualizations"])
    for lay in layouts.values():
        for b in lay["structure"]:
            pos = b["position"]
            assert pos["x"] + pos["w"] <= lay["options"]["width"]
    assert set(studio["layout"]["globalInputs"]) == set(studio["inputs"])
    tokens = {i["options"]["token"] for i in studio["inputs"].values()}
    assert tokens == INPUT_TOKENS | {"global_time"}
    for ds in sources.values():
        for tok in re.findall(r"\$([\w.]+)\$", ds["options"]["query"]):
            assert tok in tokens, tok
    handler = studio["visualizations"]["viz_attack_list"]["eventHandlers"][0]
    assert handler["options"]["tokens"][0]["token"] == "attack_id"


def test_studio_and_simple_xml_run_the_same_searches(studio: dict[str, Any]) -> None:
    for p in splunk.PANELS:
        query = studio["dataSources"][f"ds_{p.key}"]["options"]["query"]
        assert query.startswith(p.spl), p.key
        assert query == p.spl or p.kind == "events"


def _npm_validator() -> Path:
    """Splunk's own validator for Dashboard Studio definitions, from the npm registry."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("npm/node not installed: Splunk's dashboard validator cannot run")
    prefix = REPO / ".cache" / "splunk-dashboard-npm"
    if not (prefix / "node_modules" / "@splunk" / "dashboard-validation").is_dir():
        proc = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(prefix),
             "@splunk/dashboard-validation@29.6.0", "@splunk/dashboard-definition@29.6.0",
             "react@18"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            pytest.skip(f"npm install of @splunk/dashboard-validation failed: {proc.stderr[-300:]}")
    return prefix


VALIDATE_JS = """
const { DashboardValidator, checkVisualizationsInStructure, checkInputsInStructure,
        checkDuplicateTokens } = require('@splunk/dashboard-validation');
const { defaultSchema } = require('@splunk/dashboard-definition');
const d = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));
const v = new DashboardValidator();
v.setSchema(defaultSchema);
console.log(JSON.stringify({schema: v.validate(d) || [], structure: checkVisualizationsInStructure(d),
  inputs: checkInputsInStructure(d), tokens: checkDuplicateTokens(d)}));
"""


def _validate(prefix: Path, path: Path) -> dict[str, list[Any]]:
    proc = subprocess.run(
        ["node", "-e", VALIDATE_JS, str(path)],
        cwd=prefix, capture_output=True, text=True, timeout=60, check=True,
        env={"NODE_PATH": str(prefix / "node_modules"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_splunk_validator_accepts_the_definition(tmp_path: Path, studio: dict[str, Any]) -> None:
    prefix = _npm_validator()
    assert _validate(prefix, STUDIO) == {"schema": [], "structure": [], "inputs": [], "tokens": []}
    # The validator can fail: a layout naming a missing visualization is reported.
    broken = json.loads(json.dumps(studio))
    broken["layout"]["layoutDefinitions"]["layout_overview"]["structure"][0]["item"] = "viz_nope"
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    assert _validate(prefix, tmp_path / "broken.json")["structure"]


# --- SPL ---------------------------------------------------------------------------------------

DEFAULTS = {i.token: i.default for i in splunk.INPUTS}


def resolved(spl: str, **tokens: str) -> str:
    values = DEFAULTS | tokens
    return re.sub(r"\$(\w+)\$", lambda m: values[m.group(1)], spl)


def all_searches() -> list[tuple[str, str]]:
    """Every panel's search (both dashboards) with tokens at their defaults, plus the split
    panel once per choice of dimension and the panels once per metric and tab."""
    out = []
    for p in splunk.PANELS:
        for spl in {p.spl, splunk.studio_spl(p)}:
            out.append((p.key, resolved(spl)))
            out.append((p.key, resolved(spl, metric="bits", system="dosd")))
    [dim] = [i for i in splunk.INPUTS if i.token == "dimension"]
    split = next(p for p in splunk.PANELS if p.key == "by_dimension")
    out += [(f"by_dimension:{v}", resolved(split.spl, dimension=v)) for _, v in dim.choices]
    return out


@pytest.mark.parametrize(("key", "spl"), all_searches(), ids=[k for k, _ in all_searches()])
def test_spl_parses_and_reads_known_fields(key: str, spl: str) -> None:
    report = check(spl)
    assert report.unknown == [], (key, report.unknown)
    assert report.reads


def test_checker_can_fail() -> None:
    base = resolved(splunk.PANELS[0].spl)
    with pytest.raises(SplError, match="unknown command"):
        check(base + " | frobnicate x")
    with pytest.raises(SplError, match="unbalanced"):
        check(base + " | join AttackID [search x")
    with pytest.raises(SplError, match="unknown function"):
        check(base + " | eval y=nosuchfn(AttackID)")
    assert check(base + " | eval y=SampleIntervl*2").unknown == ["SampleIntervl"]
    # stats keeps only its outputs: the raw fields are gone after it.
    assert check(base + " | eval z=IPTotalLength").unknown == ["IPTotalLength"]


COUNTED_RULE = (
    '("all"="all"AND(Outcome="drop"OR MitigationSystem="magic-firewall"))OR MitigationSystem="all"'
)


@pytest.mark.parametrize("panel", splunk.PANELS, ids=[p.key for p in splunk.PANELS])
def test_volumes_and_counting_rule(panel: splunk.Panel) -> None:
    report = check(resolved(panel.spl))
    ints = {n for n, f in FIELDS_BY_NAME.items() if f.is_int}
    # The estimates: packets = SampleInterval, bytes = IPTotalLength × SampleInterval.
    if "packets" in report.assigns or "bytes" in report.assigns:
        assert report.assigns.get("packets") == "SampleInterval"
        assert report.assigns.get("bytes") == "IPTotalLength*SampleInterval"
        assert {"SampleInterval", "IPTotalLength"} <= ints
    if "value" in report.assigns:
        assert report.assigns["value"] == 'if("packets"="bits",8*bytes,packets)'
    # Anything that adds up traffic either applies the all-traffic rule or is one system's.
    wheres = [w.replace(" ", "") for w in report.wheres]
    if report.assigns:
        counted = COUNTED_RULE.replace(" ", "") in wheres
        one_system = any(w.startswith(('MitigationSystem="dosd"', 'MitigationSystem="flowtrackd"'))
                         for w in wheres)  # fmt: skip
        assert counted or one_system, panel.key
    # Every search starts from the sourcetype, and only network_analytics_logs events.
    assert panel.spl.startswith('index=$index$ sourcetype="cloudflare:json" MitigationSystem=*')
