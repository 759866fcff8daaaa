"""The Grafana dashboard: well-formed, and every panel's query, expanded as the ClickHouse
plugin expands it, runs in real ClickHouse (chDB) over the shipped schema and returns exactly
what our DuckDB queries (analytics/queries.py) return on the same pipeline records."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from siem_support import DASHBOARDS, DEFAULTS, AdHoc, Loaded, Value, expand

from netlogpush.analytics.clickhouse_schema import TABLE
from netlogpush.analytics.queries import DIMENSIONS, Filter, Queries, View
from netlogpush.analytics.samples import LOG_COLUMNS
from netlogpush.analytics.store import NS_PER_S
from netlogpush.dataset.fields import FIELD_NAMES
from netlogpush.siem import grafana
from netlogpush.siem.files import expected_files

PATH = DASHBOARDS / "grafana" / "network-analytics.json"


@pytest.fixture(scope="module")
def dash() -> dict[str, Any]:
    return json.loads(PATH.read_text())  # type: ignore[no-any-return]


def all_panels(dash: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for p in dash["panels"]:
        yield p
        yield from p.get("panels", [])


def panel(dash: dict[str, Any], pid: int) -> dict[str, Any]:
    [found] = [p for p in all_panels(dash) if p["id"] == pid]
    return found


# --- structure ---------------------------------------------------------------------------------


def test_file_is_the_generated_one() -> None:
    assert PATH.read_text() == expected_files()["grafana/network-analytics.json"]


def test_structure(dash: dict[str, Any]) -> None:
    assert dash["schemaVersion"] >= 39
    assert dash["uid"] and dash["title"]
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    ds = variables["datasource"]
    assert (ds["type"], ds["query"]) == ("datasource", "grafana-clickhouse-datasource")
    ids = [p["id"] for p in all_panels(dash)]
    assert len(ids) == len(set(ids))
    queries = 0
    for p in all_panels(dash):
        g = p["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and g["x"] >= 0 and g["y"] >= 0, p["title"]
        assert g["x"] + g["w"] <= 24, p["title"]
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"}
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"] == p["datasource"]
            assert t["editorType"] == "sql" and t["rawSql"].strip()
            assert t["format"] == (0 if p["type"] == "timeseries" else 1)
            queries += 1
    assert queries >= 18


def test_panels_do_not_overlap(dash: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for p in dash["panels"]:  # a collapsed row's panels are laid out when it opens
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, (p["title"], cells.get((x, y)))
                cells[(x, y)] = p["title"]


def test_every_variable_and_macro_is_known(dash: dict[str, Any]) -> None:
    names = {v["name"] for v in dash["templating"]["list"]}
    macros = {"fromTime", "toTime", "timeInterval", "interval_s", "conditionalAll",
              "adHocFilters", "timeFilter", "adhoc_column"}  # fmt: skip
    texts = [t["rawSql"] for p in all_panels(dash) for t in p.get("targets", [])]
    texts += [v.get("query", "") for v in dash["templating"]["list"] if v["type"] == "query"]
    texts += [p["title"] for p in all_panels(dash)]
    for text in texts:
        for m in re.finditer(r"\$__(\w+)", text):
            assert m.group(1) in macros, m.group(0)
        for m in re.finditer(r"\$\{(\w+)(?::\w+)?\}|\$(?!__)(\w+)", text):
            assert (m.group(1) or m.group(2)) in names, m.group(0)


def test_dimension_options_are_columns(dash: dict[str, Any]) -> None:
    [dim] = [v for v in dash["templating"]["list"] if v["name"] == "dimension"]
    values = [o["value"] for o in dim["options"]]
    assert set(values) <= set(FIELD_NAMES)
    assert len(values) == len(DIMENSIONS)
    assert dim["current"]["value"] == "Outcome"  # action, the default split


def test_filters_come_from_the_table(dash: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["filters"]["type"] == "adhoc"
    assert f"FROM {TABLE} " in variables["clickhouse_adhoc_query"]["query"]
    for p in all_panels(dash):
        for t in p.get("targets", []):
            assert "$__adHocFilters('" in t["rawSql"], p["title"]


# --- the queries in ClickHouse, against DuckDB ----------------------------------------------


def run(loaded: Loaded, sql: str, variables: dict[str, Value], start_ns: int, end_ns: int,
        interval_s: int, filters: list[AdHoc] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    text = expand(sql, variables, start_ns // NS_PER_S, end_ns // NS_PER_S, interval_s, filters)
    assert "$" not in text.replace("$__all", ""), text
    return loaded.query(text).to_pylist()  # type: ignore[no-any-return]


def ns(value: Any) -> int:
    """A DateTime (seconds) or DateTime64 value from chDB's Arrow output, in nanoseconds."""
    if isinstance(value, int):
        return value * NS_PER_S
    return int(pa.scalar(value, pa.timestamp("ns", "UTC")).cast(pa.int64()).as_py())


Case = tuple[dict[str, Value], list[AdHoc], str | None, tuple[Filter, ...]]


def cases() -> list[tuple[str, Case]]:
    """(variables, ad hoc filters) and the equivalent View (system, filters)."""
    return [
        ("defaults", ({}, [], None, ())),
        ("bits", ({"metric": "bits"}, [], None, ())),
        ("dosd tab", ({"system": "dosd"}, [], "dosd", ())),
        ("flowtrackd tab", ({"system": "flowtrackd"}, [], "flowtrackd", ())),
        ("firewall tab bits", ({"system": "magic-firewall", "metric": "bits"}, [],
                               "magic-firewall", ())),
        ("countries", ({"source_country": ["RU", "US"]}, [], None,
                       (Filter("source_country", ("RU", "US")),))),
        ("asn and port", ({"source_asn": ["64512", "64505"], "destination_port": ["443"]}, [],
                          None, (Filter("source_asn", (64512, 64505)),
                                 Filter("destination_port", (443,))))),
        ("adhoc exclude", ({}, [AdHoc(f"{TABLE}.IPProtocolName", "!=", "UDP")], None,
                           (Filter("protocol", ("UDP",), exclude=True),))),
        ("adhoc include", ({"system": "dosd"}, [AdHoc("SourceCountry", "=", "RU")], "dosd",
                           (Filter("source_country", ("RU",)),))),
    ]  # fmt: skip


@pytest.fixture(scope="module", params=cases(), ids=[c[0] for c in cases()])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param[1]  # type: ignore[no-any-return]


RANGES = ("whole", "second minute")


def _range(loaded: Loaded, which: str) -> tuple[int, int]:
    if which == "whole":
        return loaded.start_ns, loaded.end_ns
    return loaded.start_ns + 60 * NS_PER_S, loaded.end_ns


@pytest.mark.parametrize("which", RANGES)
def test_summary_panels(loaded: Loaded, dash: dict[str, Any], case: Case, which: str) -> None:
    overrides, adhoc, system, filters = case
    variables = DEFAULTS | overrides
    start, end = _range(loaded, which)
    view = View(start, end, system, filters)
    s = Queries(loaded.store).summary(view, bucket_s=60)
    bits = variables["metric"] == "bits"

    def one(pid: int) -> Any:
        sql = panel(dash, pid)["targets"][0]["rawSql"]
        rows = run(loaded, sql, variables, start, end, 10, adhoc)
        assert len(rows) <= 1
        return next(iter(rows[0].values())) if rows else None

    assert one(1) == s.attacks
    assert one(2) == s.mitigated_pct
    assert one(3) == s.largest_attack_pps
    assert one(4) == s.largest_attack_bps
    assert (one(5) or "") == s.top_source
    assert one(6) == (8 * s.bytes if bits else s.packets)
    assert one(7) == (8 * s.dropped_bytes if bits else s.dropped_packets)
    assert one(8) == s.change_pct["bytes" if bits else "packets"]


def test_summary_is_not_trivial(loaded: Loaded) -> None:
    """The records exercise every rule: attacks, enforced drops, monitoring verdicts, passes."""
    s = Queries(loaded.store).summary(View(loaded.start_ns, loaded.end_ns), bucket_s=60)
    assert s.attacks >= 1 and 0 < s.dropped_packets < s.packets
    assert s.largest_attack_pps > 0 and s.top_source
    later = View(loaded.start_ns + 60 * NS_PER_S, loaded.end_ns)
    assert Queries(loaded.store).summary(later).change_pct["packets"] is not None


@pytest.mark.parametrize("interval_s", [10, 60])
def test_time_series_panels(loaded: Loaded, dash: dict[str, Any], case: Case,
                            interval_s: int) -> None:  # fmt: skip
    overrides, adhoc, system, filters = case
    variables = DEFAULTS | overrides
    metric = "bits" if variables["metric"] == "bits" else "packets"
    view = View(loaded.start_ns, loaded.end_ns, system, filters)
    q = Queries(loaded.store)
    for pid, dim, key in ((10, "action", "action"), (11, "mitigation_system", "system")):
        rows = run(loaded, panel(dash, pid)["targets"][0]["rawSql"], variables,
                   view.start_ns, view.end_ns, interval_s, adhoc)  # fmt: skip
        want = [(p.bucket_ns, p.key, p.rate) for p in q.timeseries(view, interval_s, dim, metric)]
        assert [(ns(r["time"]), r[key], r["rate"]) for r in rows] == want, (pid, interval_s)
        assert want or filters


@pytest.mark.parametrize("dimension", sorted(DIMENSIONS))
def test_split_by_dimension_panel(loaded: Loaded, dash: dict[str, Any], dimension: str) -> None:
    view = View(loaded.start_ns, loaded.end_ns)
    q = Queries(loaded.store)
    for metric in ("packets", "bits"):
        variables = DEFAULTS | {"dimension": grafana.DIMENSION_COLUMNS[dimension],
                                "metric": metric}  # fmt: skip
        rows = run(loaded, panel(dash, 12)["targets"][0]["rawSql"], variables,
                   view.start_ns, view.end_ns, 30)  # fmt: skip
        want = [(p.bucket_ns, p.key, p.rate) for p in q.timeseries(view, 30, dimension, metric)]
        assert [(ns(r["time"]), r["key"], r["rate"]) for r in rows] == want
        assert want


def test_attack_list_panel(loaded: Loaded, dash: dict[str, Any], case: Case) -> None:
    overrides, adhoc, system, filters = case
    variables = DEFAULTS | overrides
    view = View(loaded.start_ns, loaded.end_ns, system, filters)
    rows = run(loaded, panel(dash, 20)["targets"][0]["rawSql"], variables,
               view.start_ns, view.end_ns, 10, adhoc)  # fmt: skip
    got = [
        (r["AttackID"], ns(r["start"]), ns(r["end"]), r["vector"], r["target"], r["packets"],
         r["bytes"], r["peak_pps"], r["peak_bps"], tuple(s for s in r["top_sources"].split(",") if s))
        for r in rows
    ]  # fmt: skip
    want = [
        (
            a.attack_id,
            a.start_ns,
            a.end_ns,
            a.vector,
            a.target,
            a.packets,
            a.bytes,
            a.peak_pps,
            a.peak_bps,
            a.top_sources,
        )
        for a in Queries(loaded.store).attacks(view, 60)
    ]
    assert got == want


def test_top_panels(loaded: Loaded, dash: dict[str, Any], case: Case) -> None:
    overrides, adhoc, system, filters = case
    variables = DEFAULTS | overrides
    metric = "bits" if variables["metric"] == "bits" else "packets"
    view = View(loaded.start_ns, loaded.end_ns, system, filters)
    q = Queries(loaded.store)
    for pid, dim in ((30, "source_asn"), (31, "source_country"), (32, "destination_port")):
        rows = run(loaded, panel(dash, pid)["targets"][0]["rawSql"], variables,
                   view.start_ns, view.end_ns, 10, adhoc)  # fmt: skip
        assert [(r[dim], r["value"]) for r in rows] == q.top(view, dim, metric, 10), pid
    rows = run(loaded, panel(dash, 33)["targets"][0]["rawSql"], variables,
               view.start_ns, view.end_ns, 10, adhoc)  # fmt: skip
    assert [tuple(r.values()) for r in rows] == q.rules_hit(view)
    rows = run(loaded, panel(dash, 34)["targets"][0]["rawSql"], variables,
               view.start_ns, view.end_ns, 10, adhoc)  # fmt: skip
    assert [tuple(r.values()) for r in rows] == q.atp_reasons(view)


def _counted(records: pa.Table, start: int, end: int) -> pa.Table:
    r = records.filter(pc.and_(pc.greater_equal(records["Datetime"], start),
                               pc.less(records["Datetime"], end)))  # fmt: skip
    keep = pc.or_(pc.equal(r["Outcome"], "drop"), pc.equal(r["MitigationSystem"], "magic-firewall"))
    return r.filter(keep)


def test_sample_log_panel(loaded: Loaded, dash: dict[str, Any]) -> None:
    sql = panel(dash, 40)["targets"][0]["rawSql"]
    start, end = loaded.start_ns, loaded.end_ns
    counted = _counted(loaded.records, start, end)
    newest = sorted(counted["Datetime"].to_pylist(), reverse=True)[:100]
    rows = run(loaded, sql, DEFAULTS, start, end, 10)
    assert [ns(r["Datetime"]) for r in rows] == newest
    assert list(rows[0])[: len(LOG_COLUMNS)] == list(LOG_COLUMNS)
    assert set(rows[0]) == set(FIELD_NAMES)  # every field of the dataset
    # Drill-down: one attack's samples only.
    attack = pc.max(loaded.records["AttackID"]).as_py()
    rows = run(loaded, sql, DEFAULTS | {"attack_id": attack}, start, end, 10)
    mine = counted.filter(pc.equal(counted["AttackID"], attack))
    assert [ns(r["Datetime"]) for r in rows] == sorted(mine["Datetime"].to_pylist(),
                                                       reverse=True)[:100]  # fmt: skip
    assert rows and {r["AttackID"] for r in rows} == {attack}


def test_rollup_panel(loaded: Loaded, dash: dict[str, Any]) -> None:
    sql = panel(dash, 50)["targets"][0]["rawSql"]
    view = View(loaded.start_ns, loaded.end_ns)
    q = Queries(loaded.store)
    for metric in ("packets", "bits"):
        for interval_s in (10, 60, 120):
            step = max(interval_s, 60)
            rows = run(loaded, sql, DEFAULTS | {"metric": metric}, view.start_ns, view.end_ns,
                       interval_s)  # fmt: skip
            want = [(p.bucket_ns, p.key, p.rate) for p in q.timeseries(view, step, "action",
                                                                        metric)]  # fmt: skip
            assert [(ns(r["time"]), r["action"], r["rate"]) for r in rows] == want


def test_quick_filter_variables_list_the_values_in_range(loaded: Loaded,
                                                         dash: dict[str, Any]) -> None:  # fmt: skip
    for v in dash["templating"]["list"]:
        if v["type"] != "query":
            continue
        column = dict((var, col) for var, col, _ in grafana.QUICK_FILTERS)[v["name"]]
        rows = run(loaded, v["query"], DEFAULTS, loaded.start_ns, loaded.end_ns, 10)
        got = [next(iter(r.values())) for r in rows]
        want = sorted({str(x) for x in loaded.records[column].to_pylist()})[:1000]  # LIMIT
        assert got == want, v["name"]
