"""The Splunk app ``netlogpush_network_analytics``: one dashboard in two forms, the same SPL.

* ``default/data/ui/views/network_analytics.xml``: Simple XML (every Splunk version);
* ``default/data/ui/views/network_analytics_studio.xml``: Dashboard Studio (version 2), whose
  definition is also written alone as ``network_analytics_studio.json`` for pasting into the
  source editor of a new Studio dashboard;
* ``default/props.conf``: the ``cloudflare:json`` sourcetype (one JSON record per line, JSON
  field extraction, ``Datetime`` as the event time: Logpush's default ``unixnano``).

Every search starts from ``sourcetype="cloudflare:json"`` events that carry ``MitigationSystem``
(other Cloudflare datasets share the sourcetype) and counts as docs/analytics.md says:
packets = SampleInterval, bytes = IPTotalLength × SampleInterval per sample; "All traffic"
keeps a sample when ``Outcome="drop"`` or when it comes from the last system (magic-firewall).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from netlogpush.analytics.labels import DIMENSION_LABELS
from netlogpush.analytics.samples import LOG_COLUMNS
from netlogpush.siem.grafana import DIMENSION_COLUMNS

APP = "netlogpush_network_analytics"
SOURCETYPE = "cloudflare:json"
VERSION = "0.1.0"

BASE = f'index=$index$ sourcetype="{SOURCETYPE}" MitigationSystem=*'
FILTER = "| where $filter$"
COUNTED = (
    '| where ("$system$"="all" AND (Outcome="drop" OR MitigationSystem="$last_system$"))'
    ' OR MitigationSystem="$system$"'
)
VOLUME = "| eval packets=SampleInterval, bytes=IPTotalLength*SampleInterval"
VALUE = '| eval value=if("$metric$"="bits", 8*bytes, packets)'
ATTACK_ROWS = '| where MitigationSystem="dosd" AND AttackID!=""'

COUNTED_HEAD = f"{BASE} {FILTER} {COUNTED} {VOLUME} {VALUE}"
ATTACK_HEAD = f"{BASE} {FILTER} {ATTACK_ROWS} {VOLUME}"

# The previous period for the change panel: a subsearch widens the time range to twice its
# length backwards (Splunk reads earliest/latest returned by a subsearch as the range).
WIDEN = (
    "[| makeresults | addinfo "
    "| eval earliest=info_min_time-(info_max_time-info_min_time), latest=info_max_time "
    "| return earliest latest]"
)

# The sample log's columns; Splunk's event time stands for Datetime.
SAMPLE_COLUMNS = " ".join("_time" if c == "Datetime" else c for c in LOG_COLUMNS)


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    kind: str  # single, line, table, events
    spl: str
    tab: str  # Dashboard Studio tab
    unit: str = ""


def _top(field: str, name_field: str | None = None) -> str:
    name = f" values({name_field}) AS name" if name_field else ""
    return f"{COUNTED_HEAD} | stats sum(value) AS value{name} by {field} | sort 10 -value, +{field}"


PANELS: tuple[Panel, ...] = (
    Panel("attacks", "Attacks", "single",
          f"{BASE} {FILTER} {ATTACK_ROWS} | stats dc(AttackID) AS attacks", "overview"),
    Panel("mitigated", "Mitigated (% of packets)", "single",
          f"{COUNTED_HEAD} | stats sum(packets) AS packets "
          'sum(eval(if(Outcome="drop", packets, 0))) AS dropped '
          "| eval mitigated_pct=if(packets=0, 0, dropped*100/packets) | fields mitigated_pct",
          "overview", "%"),
    Panel("largest_pps", "Largest attack (pps)", "single",
          f"{ATTACK_HEAD} | bin span=$peak_bucket$s _time "
          "| stats sum(packets) AS p by AttackID _time | stats max(p) AS p "
          "| eval largest_attack_pps=coalesce(p, 0)/$peak_bucket$ | fields largest_attack_pps",
          "overview", "pps"),
    Panel("largest_bps", "Largest attack (bps)", "single",
          f"{ATTACK_HEAD} | bin span=$peak_bucket$s _time "
          "| stats sum(bytes) AS b by AttackID _time | stats max(b) AS b "
          "| eval largest_attack_bps=coalesce(b, 0)*8/$peak_bucket$ | fields largest_attack_bps",
          "overview", "bps"),
    Panel("top_source", "Top source (dropped packets)", "single",
          f'{COUNTED_HEAD} | where Outcome="drop" AND IPSourceAddress!="" '
          "| stats sum(packets) AS packets by IPSourceAddress "
          "| sort 1 -packets, +IPSourceAddress | fields IPSourceAddress", "overview"),
    Panel("total", "Total ($metric$)", "single",
          f"{COUNTED_HEAD} | stats sum(value) AS total", "overview"),
    Panel("dropped", "Dropped ($metric$)", "single",
          f'{COUNTED_HEAD} | stats sum(eval(if(Outcome="drop", value, 0))) AS dropped',
          "overview"),
    Panel("change", "vs previous period (%)", "single",
          f"{BASE} {WIDEN} {FILTER} {COUNTED} {VOLUME} {VALUE} | addinfo "
          '| eval period=if(_time>=(info_min_time+info_max_time)/2, "current", "previous") '
          '| stats sum(eval(if(period="current", value, 0))) AS current '
          'sum(eval(if(period="previous", value, 0))) AS previous '
          "| eval change_pct=if(previous=0, null(), (current-previous)*100/previous) "
          "| fields change_pct", "overview", "%"),
    Panel("by_action", "Traffic by action ($metric$/s)", "line",
          f"{COUNTED_HEAD} | timechart per_second(value) by Outcome", "overview"),
    Panel("by_system", "Traffic by mitigation system ($metric$/s)", "line",
          f"{COUNTED_HEAD} | timechart per_second(value) by MitigationSystem", "overview"),
    Panel("by_dimension", "Traffic by $dimension$ ($metric$/s, top 10)", "line",
          f"{COUNTED_HEAD} | timechart limit=10 useother=true per_second(value) by $dimension$",
          "overview"),
    Panel("attack_list", "Attacks (click one for its samples)", "table",
          f"{ATTACK_HEAD} | bin span=$peak_bucket$s _time AS bucket "
          "| stats min(_time) AS start max(_time) AS end values(AttackVector) AS vector "
          "sum(packets) AS packets sum(bytes) AS bytes by AttackID bucket "
          "| stats min(start) AS start max(end) AS end values(vector) AS vector "
          "sum(packets) AS packets sum(bytes) AS bytes max(packets) AS peak_p "
          "max(bytes) AS peak_b by AttackID "
          "| eval peak_pps=peak_p/$peak_bucket$, peak_bps=peak_b*8/$peak_bucket$ "
          "| join type=left AttackID "
          f"[search {ATTACK_HEAD} | stats sum(packets) AS p by AttackID IPDestinationAddress "
          "| sort 0 AttackID, -p, +IPDestinationAddress | dedup AttackID "
          "| rename IPDestinationAddress AS target | fields AttackID target] "
          "| join type=left AttackID "
          f'[search {ATTACK_HEAD} | where IPSourceAddress!="" '
          "| stats sum(packets) AS p by AttackID IPSourceAddress "
          "| sort 0 AttackID, -p, +IPSourceAddress | streamstats count AS rank by AttackID "
          "| where rank<=3 | stats list(IPSourceAddress) AS top_sources by AttackID "
          '| eval top_sources=mvjoin(top_sources, ",")] '
          "| sort 100 -packets, +AttackID "
          '| eval start=strftime(start, "%Y-%m-%dT%H:%M:%S.%9QZ"), '
          'end=strftime(end, "%Y-%m-%dT%H:%M:%S.%9QZ") '
          "| table AttackID start end vector target packets bytes peak_pps peak_bps top_sources",
          "attacks"),
    Panel("top_asn", "Top source ASNs ($metric$)", "table",
          _top("SourceASN", "SourceASNName"), "insights"),
    Panel("top_country", "Top source countries ($metric$)", "table",
          _top("SourceCountry"), "insights"),
    Panel("top_port", "Top destination ports ($metric$)", "table",
          _top("DestinationPort"), "insights"),
    Panel("rules", "Rules hit (packets)", "table",
          f'{COUNTED_HEAD} | where RuleID!="" '
          "| stats max(RuleName) AS RuleName sum(packets) AS packets by MitigationSystem RuleID "
          "| sort 10 -packets, +RuleID | table MitigationSystem RuleID RuleName packets",
          "insights"),
    Panel("atp", "TCP protection: mitigation reasons by protocol state (packets)", "table",
          f'{BASE} {FILTER} | where MitigationSystem="flowtrackd" AND MitigationReason!="" '
          f"{VOLUME} | stats sum(packets) AS packets by MitigationReason ProtocolState "
          "| sort 0 -packets, +MitigationReason, +ProtocolState", "insights"),
    Panel("samples", "Packet samples (newest 100; expand a row for every field)", "events",
          f'{BASE} {FILTER} {COUNTED} | where "$attack_id$"="all" OR AttackID="$attack_id$" '
          "| sort 100 -_time", "samples"),
)  # fmt: skip


# Simple XML rows, by panel key.
ROWS: tuple[tuple[str, ...], ...] = (
    ("attacks", "mitigated", "largest_pps", "largest_bps"),
    ("top_source", "total", "dropped", "change"),
    ("by_action", "by_system"),
    ("by_dimension",),
    ("attack_list",),
    ("top_asn", "top_country", "top_port"),
    ("rules", "atp"),
    ("samples",),
)

# --- inputs -----------------------------------------------------------------------------------

TABS = (
    ("All traffic", "all"),
    ("DDoS managed rules", "dosd"),
    ("TCP protection", "flowtrackd"),
    ("Network firewall", "magic-firewall"),
)


@dataclass(frozen=True)
class Input:
    token: str
    label: str
    kind: str  # dropdown or text
    default: str
    choices: tuple[tuple[str, str], ...] = ()


INPUTS: tuple[Input, ...] = (
    Input("system", "Tab", "dropdown", "all", TABS),
    Input("metric", "Metric", "dropdown", "packets", (("Packets", "packets"), ("Bits", "bits"))),
    Input("dimension", "Split by", "dropdown", "Outcome",
          tuple((DIMENSION_LABELS[k], c) for k, c in DIMENSION_COLUMNS.items())),
    Input("filter", "Filter (SPL where expression)", "text", "true()"),
    Input("index", "Index", "text", "*"),
    Input("last_system", "Last system", "dropdown", "magic-firewall",
          (("magic-firewall", "magic-firewall"), ("flowtrackd", "flowtrackd"), ("dosd", "dosd"))),
    Input("peak_bucket", "Attack peak resolution (s)", "dropdown", "60",
          (("10", "10"), ("60", "60"), ("300", "300"))),
    Input("attack_id", "Attack ID (sample log)", "text", "all"),
)  # fmt: skip


# --- Simple XML ---------------------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def simple_xml() -> str:
    form = ET.Element("form", {"version": "1.1", "theme": "dark"})
    _sub(form, "label", "Network Analytics (netlogpush)")
    _sub(form, "description", "Cloudflare network_analytics_logs (sourcetype cloudflare:json): "
         "traffic, attacks and mitigations, each packet counted once.")  # fmt: skip
    fs = _sub(form, "fieldset", submitButton="false", autoRun="true")
    time_input = _sub(fs, "input", type="time", token="time", searchWhenChanged="true")
    _sub(time_input, "label", "Time range")
    default = _sub(time_input, "default")
    _sub(default, "earliest", "-24h@h")
    _sub(default, "latest", "now")
    for inp in INPUTS:
        el = _sub(fs, "input", type=inp.kind, token=inp.token, searchWhenChanged="true")
        _sub(el, "label", inp.label)
        for label, value in inp.choices:
            _sub(el, "choice", label, value=value)
        _sub(el, "default", inp.default)
    by_key = {p.key: p for p in PANELS}
    for keys in ROWS:
        row = _sub(form, "row")
        for key in keys:
            _panel(row, by_key[key])
    ET.indent(form)
    return ET.tostring(form, encoding="unicode") + "\n"


def _panel(row: ET.Element, p: Panel) -> None:
    panel = _sub(row, "panel")
    _sub(panel, "title", p.title)
    viz = _sub(panel, {"line": "chart", "events": "event"}.get(p.kind, p.kind))
    search = _sub(viz, "search")
    _sub(search, "query", p.spl)
    _sub(search, "earliest", "$time.earliest$")
    _sub(search, "latest", "$time.latest$")
    if p.kind == "line":
        _sub(viz, "option", "line", name="charting.chart")
        _sub(viz, "option", "stacked", name="charting.chart.stackMode")
    if p.kind == "single" and p.unit:
        _sub(viz, "option", p.unit, name="unit")
        _sub(viz, "option", "after", name="unitPosition")
    if p.kind == "events":
        _sub(viz, "option", "list", name="type")
        _sub(viz, "option", "20", name="count")
    if p.key == "attack_list":
        drill = _sub(viz, "drilldown")
        _sub(drill, "set", "$row.AttackID$", token="attack_id")


# --- Dashboard Studio ------------------------------------------------------------------------

STUDIO_TYPES = {
    "single": "splunk.singlevalue",
    "line": "splunk.line",
    "table": "splunk.table",
    "events": "splunk.table",
}
STUDIO_TABS = (
    ("overview", "Overview"),
    ("attacks", "Attacks"),
    ("insights", "Top insights"),
    ("samples", "Packet sample log"),
)


def _layout(tab: str) -> list[dict[str, Any]]:
    """Grid positions: single values four to a row, then full-width charts and tables."""
    items: list[dict[str, Any]] = []
    y = 0
    singles = [p for p in PANELS if p.tab == tab and p.kind == "single"]
    for i, p in enumerate(singles):
        items.append(_block(p.key, 360 * (i % 4), 130 * (i // 4), 360, 130))
    y = 130 * ((len(singles) + 3) // 4)
    others = [p for p in PANELS if p.tab == tab and p.kind != "single"]
    half = tab == "insights"
    for i, p in enumerate(others):
        if half:
            items.append(_block(p.key, 720 * (i % 2), y + 300 * (i // 2), 720, 300))
        else:
            items.append(_block(p.key, 0, y, 1440, 400))
            y += 400
    return items


def _block(key: str, x: int, y: int, w: int, h: int) -> dict[str, Any]:
    return {"item": f"viz_{key}", "type": "block", "position": {"x": x, "y": y, "w": w, "h": h}}


def studio_spl(p: Panel) -> str:
    """The panel's search in Studio: a table stands in for the events viewer, main columns
    first and then every other field."""
    return f"{p.spl} | table {SAMPLE_COLUMNS} *" if p.kind == "events" else p.spl


def studio_definition() -> dict[str, Any]:
    data_sources = {
        f"ds_{p.key}": {"type": "ds.search", "name": p.title, "options": {"query": studio_spl(p)}}
        for p in PANELS
    }
    visualizations: dict[str, Any] = {}
    for p in PANELS:
        viz: dict[str, Any] = {
            "type": STUDIO_TYPES[p.kind],
            "title": p.title,
            "dataSources": {"primary": f"ds_{p.key}"},
        }
        if p.kind == "single" and p.unit:
            viz["options"] = {"unit": p.unit, "unitPosition": "after"}
        if p.kind == "line":
            viz["options"] = {"stackMode": "stacked"}
        if p.key == "attack_list":
            viz["eventHandlers"] = [
                {
                    "type": "drilldown.setToken",
                    "options": {"tokens": [{"token": "attack_id", "key": "row.AttackID.value"}]},
                }
            ]
        visualizations[f"viz_{p.key}"] = viz
    inputs: dict[str, Any] = {
        "input_time": {
            "type": "input.timerange",
            "title": "Time range",
            "options": {"token": "global_time", "defaultValue": "-24h@h,now"},
        }
    }
    for inp in INPUTS:
        options: dict[str, Any] = {"token": inp.token, "defaultValue": inp.default}
        if inp.choices:
            options["items"] = [{"label": label, "value": value} for label, value in inp.choices]
        inputs[f"input_{inp.token}"] = {
            "type": "input.dropdown" if inp.kind == "dropdown" else "input.text",
            "title": inp.label,
            "options": options,
        }
    return {
        "title": "Network Analytics (netlogpush)",
        "description": "Cloudflare network_analytics_logs (sourcetype cloudflare:json): traffic, "
        "attacks and mitigations, each packet counted once.",
        "dataSources": data_sources,
        "visualizations": visualizations,
        "inputs": inputs,
        "defaults": {
            "dataSources": {
                "ds.search": {
                    "options": {
                        "queryParameters": {
                            "earliest": "$global_time.earliest$",
                            "latest": "$global_time.latest$",
                        }
                    }
                }
            }
        },
        "layout": {
            "globalInputs": list(inputs),
            "tabs": {
                "items": [
                    {"layoutId": f"layout_{key}", "label": label} for key, label in STUDIO_TABS
                ]
            },
            "layoutDefinitions": {
                f"layout_{key}": {
                    "type": "grid",
                    "options": {"width": 1440, "height": 960},
                    "structure": _layout(key),
                }
                for key, _ in STUDIO_TABS
            },
        },
    }


def studio_json() -> str:
    return json.dumps(studio_definition(), indent=2, ensure_ascii=False) + "\n"


def studio_view_xml() -> str:
    """The Studio dashboard as Splunk stores it in an app: JSON inside ``<definition>``."""
    return (
        '<dashboard version="2" theme="dark">\n'
        "  <label>Network Analytics (netlogpush, Dashboard Studio)</label>\n"
        "  <description>Cloudflare network_analytics_logs, each packet counted once.</description>\n"
        f"  <definition><![CDATA[\n{studio_json()}]]></definition>\n"
        "</dashboard>\n"
    )


# --- app files ------------------------------------------------------------------------------------

APP_CONF = f"""# netlogpush: Network Analytics dashboards over Cloudflare's network_analytics_logs.
[install]
is_configured = 0
build = 1

[ui]
is_visible = 1
label = Network Analytics (netlogpush)

[launcher]
author = netlogpush
description = Traffic, attacks and mitigations from Cloudflare Network Analytics Logs (sourcetype {SOURCETYPE}), each packet counted once.
version = {VERSION}

[package]
id = {APP}
check_for_updates = 0
"""

# Logpush sends one JSON record per line; Datetime is unixnano by default
# ("Datetime":1652295571783000000), i.e. epoch seconds followed by nine digits of nanoseconds.
PROPS_CONF = f"""# The sourcetype Cloudflare suggests for Logpush to Splunk HEC.
[{SOURCETYPE}]
category = Structured
description = Cloudflare Logpush NDJSON (network_analytics_logs and other datasets)
SHOULD_LINEMERGE = false
LINE_BREAKER = ([\\r\\n]+)
TRUNCATE = 100000
KV_MODE = json
TIME_PREFIX = "Datetime":
TIME_FORMAT = %s%9N
MAX_TIMESTAMP_LOOKAHEAD = 19
TZ = UTC
# A job with "timestamp_format": "rfc3339" (or rfc3339ms/rfc3339ns) sends "Datetime":"…Z":
# use these two lines instead of the TIME_* lines above.
# TIME_PREFIX = "Datetime":"
# TIME_FORMAT = %Y-%m-%dT%H:%M:%S%Z
"""

DEFAULT_META = """# The sourcetype applies to every app's searches; everyone may read the dashboards.
[props]
export = system

[views]
access = read : [ * ], write : [ admin, power ]
export = system

[nav]
access = read : [ * ], write : [ admin ]
"""

NAV_XML = """<nav search_view="search" color="#F38020">
  <view name="network_analytics" default="true" />
  <view name="network_analytics_studio" />
  <view name="search" />
</nav>
"""


def files() -> dict[str, str]:
    root = f"splunk/{APP}"
    return {
        f"{root}/default/app.conf": APP_CONF,
        f"{root}/default/props.conf": PROPS_CONF,
        f"{root}/metadata/default.meta": DEFAULT_META,
        f"{root}/default/data/ui/nav/default.xml": NAV_XML,
        f"{root}/default/data/ui/views/network_analytics.xml": simple_xml(),
        f"{root}/default/data/ui/views/network_analytics_studio.xml": studio_view_xml(),
        "splunk/network_analytics_studio.json": studio_json(),
    }
