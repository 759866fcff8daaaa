"""The Grafana dashboard over the ClickHouse schema (``dashboards/grafana/network-analytics.json``).

Every query is raw SQL for the official ClickHouse data source plugin
(``grafana-clickhouse-datasource``), using its macros: ``$__fromTime``/``$__toTime`` (the range
as ``toDateTime``; ``Datetime >= from AND Datetime < to``, the half-open range of our own
dashboard), ``$__timeInterval(col)`` and ``$__interval_s`` (the bucket and its length, for
rates), ``$__conditionalAll`` (a quick filter set to All is dropped) and ``$__adHocFilters``
(Grafana's ad hoc filters, include or exclude on any column, sent as ClickHouse's
``additional_table_filters`` setting, which also reaches the table inside CTEs).

Counting (docs/analytics.md): packets = Σ SampleInterval, bytes = Σ IPTotalLength ×
SampleInterval, bits = 8 × bytes; the "All traffic" tab counts a sample when Outcome = 'drop'
or when it comes from the last system (``$last_system``, magic-firewall), a system's tab counts
all of that system's samples. "Action" is ``Outcome`` (pass or drop).
"""

from __future__ import annotations

from typing import Any

from netlogpush.analytics.clickhouse_schema import TABLE
from netlogpush.analytics.labels import DIMENSION_LABELS
from netlogpush.analytics.queries import DIMENSIONS
from netlogpush.analytics.samples import LOG_COLUMNS

Json = dict[str, Any]

DS_TYPE = "grafana-clickhouse-datasource"
DS: Json = {"type": DS_TYPE, "uid": "${datasource}"}
ROLLUP = f"{TABLE}_1m"
UID = "netlogpush-network-analytics"

# Dashboard dimension -> column; "action" is Outcome itself (its values are pass and drop).
DIMENSION_COLUMNS: dict[str, str] = {
    k: ("Outcome" if k == "action" else v) for k, v in DIMENSIONS.items()
}

# Quick filters: (variable, column, numeric). Any other column: the ad hoc filter bar.
QUICK_FILTERS: tuple[tuple[str, str, bool], ...] = (
    ("source_country", "SourceCountry", False),
    ("source_asn", "SourceASN", True),
    ("destination_port", "DestinationPort", True),
    ("protocol", "IPProtocolName", False),
    ("colo", "ColoCode", False),
)  # each variable is named after its key in DIMENSIONS

TIME = "Datetime >= $__fromTime AND Datetime < $__toTime"
# The no-double-counting rule for the tab in $system ('all' or one MitigationSystem).
COUNTED = (
    "(('${system}' = 'all' AND (Outcome = 'drop' OR MitigationSystem = '${last_system}'))"
    " OR MitigationSystem = '${system}')"
)
PACKETS = "sum(SampleInterval)"
BYTES = "sum(IPTotalLength * SampleInterval)"
# The metric toggle: packets, or bits = 8 × bytes.
METRIC = f"if('${{metric}}' = 'bits', 8 * {BYTES}, {PACKETS})"


def quick_filters() -> str:
    parts = []
    for var, col, numeric in QUICK_FILTERS:
        values = f"${{{var}:csv}}" if numeric else f"${{{var}:singlequote}}"
        parts.append(f"$__conditionalAll({col} IN ({values}), ${var})")
    return " AND ".join(parts)


def where(*extra: str, counted: bool = True) -> str:
    """The WHERE clause every panel shares: time range, counting rule, quick filters."""
    conds = [TIME, *([COUNTED] if counted else []), *extra, quick_filters()]
    return "WHERE " + "\n  AND ".join(conds)


def adhoc(table: str = TABLE) -> str:
    return f"SETTINGS $__adHocFilters('{table}')"


def _ts_by(column: str, alias: str) -> str:
    return (
        f"SELECT $__timeInterval(Datetime) AS time, toString({column}) AS {alias},\n"
        f"  {METRIC} / $__interval_s AS rate\n"
        f"FROM {TABLE}\n{where()}\n"
        f"GROUP BY time, {alias}\nORDER BY time, {alias}\n{adhoc()}"
    )


def ts_dimension_sql(top: int = 10) -> str:
    col = "toString(${dimension})"
    return (
        f"WITH ranked AS (\n  SELECT {col} AS k FROM {TABLE}\n  {where()}\n"
        f"  GROUP BY k ORDER BY {METRIC} DESC, k LIMIT {int(top)}\n)\n"
        f"SELECT $__timeInterval(Datetime) AS time,\n"
        f"  if({col} IN (SELECT k FROM ranked), {col}, 'Other') AS key,\n"
        f"  {METRIC} / $__interval_s AS rate\n"
        f"FROM {TABLE}\n{where()}\n"
        f"GROUP BY time, key\nORDER BY time, key\n{adhoc()}"
    )


def rollup_ts_sql() -> str:
    # A roll-up row holds one minute, so buckets are at least 60 s.
    step = "greatest($__interval_s, 60)"
    rollup_metric = "if('${metric}' = 'bits', 8 * sum(bytes), sum(packets))"
    return (
        f"SELECT toStartOfInterval(Datetime, toIntervalSecond({step})) AS time,\n"
        f"  toString(Outcome) AS action, {rollup_metric} / {step} AS rate\n"
        f"FROM {ROLLUP}\n{where()}\n"
        f"GROUP BY time, action\nORDER BY time, action\n{adhoc(ROLLUP)}"
    )


ATTACK_ROWS = "MitigationSystem = 'dosd' AND AttackID != ''"
DROPPED = "Outcome = 'drop'"
HAS_SOURCE = "IPSourceAddress != ''"
HAS_RULE = "RuleID != ''"
PEAK_BUCKET = "toStartOfInterval(toDateTime(Datetime), INTERVAL ${peak_bucket_s} second)"


def attacks_count_sql() -> str:
    # Distinct AttackIDs among dosd's samples, enforced or log-only, as Cloudflare counts.
    return (
        f"SELECT uniqExact(AttackID) AS attacks\nFROM {TABLE}\n"
        f"{where(ATTACK_ROWS, counted=False)}\n{adhoc()}"
    )


def mitigated_sql() -> str:
    return (
        f"SELECT if({PACKETS} = 0, 0, sumIf(SampleInterval, Outcome = 'drop') * 100 / {PACKETS})"
        f" AS mitigated_pct\nFROM {TABLE}\n{where()}\n{adhoc()}"
    )


def total_sql() -> str:
    return f"SELECT {METRIC} AS total\nFROM {TABLE}\n{where()}\n{adhoc()}"


def dropped_sql() -> str:
    dropped = (
        "if('${metric}' = 'bits', 8 * sumIf(IPTotalLength * SampleInterval, Outcome = 'drop'), "
        "sumIf(SampleInterval, Outcome = 'drop'))"
    )
    return f"SELECT {dropped} AS dropped\nFROM {TABLE}\n{where()}\n{adhoc()}"


def change_sql() -> str:
    """Change against the period of the same length just before the range, in %."""
    weight = "if('${metric}' = 'bits', 8 * IPTotalLength, 1) * SampleInterval"
    before = "$__fromTime - toIntervalSecond(dateDiff('second', $__fromTime, $__toTime))"
    cond = where().replace(TIME, f"Datetime >= {before} AND Datetime < $__toTime", 1)
    return (
        "SELECT if(prev = 0, NULL, (toInt64(cur) - toInt64(prev)) * 100 / prev) AS change_pct\n"
        f"FROM (\n  SELECT sumIf({weight}, Datetime >= $__fromTime) AS cur,\n"
        f"    sumIf({weight}, Datetime < $__fromTime) AS prev\n"
        f"  FROM {TABLE}\n  {cond}\n)\n{adhoc()}"
    )


def _peaks(unit: str) -> str:
    value = "max(p)" if unit == "pps" else "max(b) * 8"
    return (
        f"SELECT {value} / ${{peak_bucket_s}} AS largest_attack_{unit}\nFROM (\n"
        f"  SELECT AttackID, {PEAK_BUCKET} AS bucket,\n"
        f"    {PACKETS} AS p, {BYTES} AS b\n"
        f"  FROM {TABLE}\n  {where(ATTACK_ROWS, counted=False)}\n"
        "  GROUP BY AttackID, bucket\n)\n"
        f"{adhoc()}"
    )


def top_source_sql() -> str:
    return (
        f"SELECT IPSourceAddress AS top_source, {PACKETS} AS packets\nFROM {TABLE}\n"
        f"{where(DROPPED, HAS_SOURCE)}\n"
        f"GROUP BY top_source\nORDER BY packets DESC, top_source\nLIMIT 1\n{adhoc()}"
    )


def attacks_sql(limit: int = 100, top_sources: int = 3) -> str:
    """One row per AttackID: the same columns as ``Queries.attacks``."""
    return (
        "WITH att AS (\n"
        "  SELECT Datetime, AttackID, AttackVector, IPDestinationAddress, IPSourceAddress,\n"
        "    SampleInterval, IPTotalLength\n"
        f"  FROM {TABLE}\n  {where(ATTACK_ROWS, counted=False)}\n),\n"
        "totals AS (\n"
        "  SELECT AttackID, min(Datetime) AS start, max(Datetime) AS end,\n"
        "    argMax(AttackVector, SampleInterval) AS vector,\n"
        f"    {PACKETS} AS packets, {BYTES} AS bytes\n"
        "  FROM att GROUP BY AttackID\n),\n"
        "peaks AS (\n"
        "  SELECT AttackID, max(p) / ${peak_bucket_s} AS peak_pps,\n"
        "    max(b) * 8 / ${peak_bucket_s} AS peak_bps\n"
        f"  FROM (SELECT AttackID, {PEAK_BUCKET} AS bucket, {PACKETS} AS p, {BYTES} AS b\n"
        "    FROM att GROUP BY AttackID, bucket)\n"
        "  GROUP BY AttackID\n),\n"
        "targets AS (\n"
        "  SELECT AttackID, argMax(IPDestinationAddress, p) AS target\n"
        f"  FROM (SELECT AttackID, IPDestinationAddress, {PACKETS} AS p\n"
        "    FROM att GROUP BY AttackID, IPDestinationAddress)\n"
        "  GROUP BY AttackID\n),\n"
        "sources AS (\n"
        "  SELECT AttackID, arrayStringConcat(arraySlice(arrayMap(x -> x.2,\n"
        "    arraySort(x -> (-toInt64(x.1), x.2), groupArray((p, IPSourceAddress)))),"
        f" 1, {int(top_sources)}), ',') AS top_sources\n"
        f"  FROM (SELECT AttackID, IPSourceAddress, {PACKETS} AS p\n"
        "    FROM att WHERE IPSourceAddress != '' GROUP BY AttackID, IPSourceAddress)\n"
        "  GROUP BY AttackID\n)\n"
        "SELECT t.AttackID AS AttackID, t.start AS start, t.end AS end, t.vector AS vector,\n"
        "  g.target AS target, t.packets AS packets, t.bytes AS bytes,\n"
        "  p.peak_pps AS peak_pps, p.peak_bps AS peak_bps, s.top_sources AS top_sources\n"
        "FROM totals AS t\n"
        "INNER JOIN peaks AS p ON p.AttackID = t.AttackID\n"
        "INNER JOIN targets AS g ON g.AttackID = t.AttackID\n"
        "LEFT JOIN sources AS s ON s.AttackID = t.AttackID\n"
        f"ORDER BY packets DESC, AttackID\nLIMIT {int(limit)}\n{adhoc()}"
    )


def top_sql(column: str, alias: str, name_column: str | None = None, n: int = 10) -> str:
    name = f", max({name_column}) AS name" if name_column else ""
    return (
        f"SELECT toString({column}) AS {alias}{name}, {METRIC} AS value\nFROM {TABLE}\n"
        f"{where()}\nGROUP BY {alias}\nORDER BY value DESC, {alias}\nLIMIT {int(n)}\n{adhoc()}"
    )


def rules_hit_sql(n: int = 10) -> str:
    return (
        f"SELECT MitigationSystem, RuleID, max(RuleName) AS RuleName, {PACKETS} AS packets\n"
        f"FROM {TABLE}\n{where(HAS_RULE)}\n"
        f"GROUP BY MitigationSystem, RuleID\nORDER BY packets DESC, RuleID\nLIMIT {int(n)}\n"
        f"{adhoc()}"
    )


def atp_reasons_sql() -> str:
    rows = "MitigationSystem = 'flowtrackd' AND MitigationReason != ''"
    return (
        f"SELECT MitigationReason, ProtocolState, {PACKETS} AS packets\nFROM {TABLE}\n"
        f"{where(rows, counted=False)}\n"
        "GROUP BY MitigationReason, ProtocolState\n"
        f"ORDER BY packets DESC, MitigationReason, ProtocolState\n{adhoc()}"
    )


def samples_sql(limit: int = 100) -> str:
    """The newest samples, main columns first and then every other field of the dataset."""
    first = ", ".join(LOG_COLUMNS)
    return (
        f"SELECT {first}, * EXCEPT ({first})\nFROM {TABLE}\n"
        f"{where('$__conditionalAll(AttackID = ${attack_id:singlequote}, $attack_id)')}\n"
        f"ORDER BY Datetime DESC\nLIMIT {int(limit)}\n{adhoc()}"
    )


# --- panels -----------------------------------------------------------------------------------


def _target(sql: str, fmt: int) -> Json:
    # format: 0 time series (long rows become one series per key), 1 table (sqlds' numbering).
    return {
        "refId": "A",
        "datasource": DS,
        "editorType": "sql",
        "format": fmt,
        "queryType": "timeseries" if fmt == 0 else "table",
        "rawSql": sql,
        "pluginVersion": "4.20.0",
    }


def _stat(pid: int, title: str, sql: str, unit: str, pos: tuple[int, int, int, int],
          field: str, description: str = "") -> Json:  # fmt: skip
    x, y, w, h = pos
    return {
        "id": pid,
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [_target(sql, 1)],
        "fieldConfig": {"defaults": {"unit": unit, "decimals": 2}, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": f"/^{field}$/", "values": False},
            "colorMode": "none",
            "graphMode": "none",
            "textMode": "value",
            "justifyMode": "auto",
            "orientation": "auto",
        },
    }


def _timeseries(pid: int, title: str, sql: str, pos: tuple[int, int, int, int],
                description: str = "") -> Json:  # fmt: skip
    x, y, w, h = pos
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [_target(sql, 0)],
        "fieldConfig": {
            "defaults": {
                "unit": "short",
                "custom": {"drawStyle": "line", "fillOpacity": 20, "stacking": {"mode": "normal"}},
            },
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["max", "mean"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def _table(pid: int, title: str, sql: str, pos: tuple[int, int, int, int],
           description: str = "", links: list[Json] | None = None) -> Json:  # fmt: skip
    x, y, w, h = pos
    overrides: list[Json] = []
    if links:
        overrides.append(
            {
                "matcher": {"id": "byName", "options": "AttackID"},
                "properties": [{"id": "links", "value": links}],
            }
        )
    return {
        "id": pid,
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [_target(sql, 1)],
        "fieldConfig": {"defaults": {}, "overrides": overrides},
        "options": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
    }


def _row(pid: int, title: str, y: int, collapsed: bool = False,
         panels: list[Json] | None = None) -> Json:  # fmt: skip
    return {
        "id": pid,
        "type": "row",
        "title": title,
        "collapsed": collapsed,
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
        "panels": panels or [],
    }


DRILLDOWN: list[Json] = [
    {
        "title": "Samples of this attack",
        "url": "/d/" + UID + "?${__url_time_range}&${__all_variables}&var-attack_id=${__value.raw}",
    }
]


def panels() -> list[Json]:
    m = "${metric}"
    per_s = f"{m}/s"
    out: list[Json] = [_row(100, "Executive summary", 0)]
    stats = [
        ("Attacks", attacks_count_sql(), "none", "attacks",
         "Distinct AttackIDs of the DDoS managed rules (dosd), enforced or log-only."),
        ("Mitigated", mitigated_sql(), "percent", "mitigated_pct",
         "Dropped packets (Outcome = drop) in % of the counted packets."),
        ("Largest attack (pps)", _peaks("pps"), "pps", "largest_attack_pps",
         "Highest packet rate of one attack over ${peak_bucket_s} s buckets."),
        ("Largest attack (bps)", _peaks("bps"), "bps", "largest_attack_bps",
         "Highest bit rate of one attack over ${peak_bucket_s} s buckets."),
        ("Top source", top_source_sql(), "none", "top_source",
         "Source IP with the most dropped packets."),
        (f"Total {m}", total_sql(), "short", "total", "Counted once (docs/analytics.md)."),
        (f"Dropped {m}", dropped_sql(), "short", "dropped", "Outcome = drop."),
        ("vs previous period", change_sql(), "percent", "change_pct",
         "Change of the total against the period of the same length just before."),
    ]  # fmt: skip
    for i, (title, sql, unit, field, desc) in enumerate(stats):
        out.append(_stat(1 + i, title, sql, unit, (3 * i, 1, 3, 4), field, desc))
    out.append(_row(101, "Traffic", 5))
    out.append(
        _timeseries(
            10, f"Traffic by action ({per_s})", _ts_by("Outcome", "action"), (0, 6, 12, 9),
            "Passed and dropped traffic; each packet counted once.",
        )
    )  # fmt: skip
    out.append(
        _timeseries(
            11, f"Traffic by mitigation system ({per_s})",
            _ts_by("MitigationSystem", "system"), (12, 6, 12, 9),
        )
    )  # fmt: skip
    out.append(
        _timeseries(
            12, f"Traffic by ${{dimension}} ({per_s}, top 10)", ts_dimension_sql(), (0, 15, 24, 9),
            "Split by the dimension chosen above; values beyond the top 10 are Other.",
        )
    )  # fmt: skip
    out.append(_row(102, "Attacks", 24))
    out.append(
        _table(
            20, "Attacks (DDoS managed rules)", attacks_sql(), (0, 25, 24, 8),
            "Click an AttackID to see its samples in the packet sample log.", DRILLDOWN,
        )
    )  # fmt: skip
    out.append(_row(103, "Top insights", 33))
    out.append(
        _table(
            30, f"Top source ASNs ({m})", top_sql("SourceASN", "source_asn", "SourceASNName"),
            (0, 34, 8, 8),
        )
    )  # fmt: skip
    out.append(
        _table(31, f"Top source countries ({m})", top_sql("SourceCountry", "source_country"),
               (8, 34, 8, 8))
    )  # fmt: skip
    out.append(
        _table(32, f"Top destination ports ({m})",
               top_sql("DestinationPort", "destination_port"), (16, 34, 8, 8))
    )  # fmt: skip
    out.append(_table(33, "Rules hit (packets)", rules_hit_sql(), (0, 42, 12, 8)))
    out.append(
        _table(34, "TCP protection: mitigation reasons by protocol state (packets)",
               atp_reasons_sql(), (12, 42, 12, 8))
    )  # fmt: skip
    out.append(_row(104, "Packet sample log", 50))
    out.append(
        _table(
            40, "Packet samples (newest 100; every field, scroll right)", samples_sql(),
            (0, 51, 24, 10), "Narrowed to one attack when attack_id is set.",
        )
    )  # fmt: skip
    rollup = _timeseries(
        50, f"Traffic by action, 1-minute roll-up ({per_s})", rollup_ts_sql(), (0, 62, 24, 9),
        "Reads network_analytics_logs_1m: fast over long ranges and kept longer than the raw "
        "samples. Ad hoc filters must name roll-up columns here.",
    )  # fmt: skip
    out.append(_row(105, "Long-term (1-minute roll-up)", 61, collapsed=True, panels=[rollup]))
    return out


def _custom(name: str, label: str, options: list[tuple[str, str]], default: str) -> Json:
    chosen = next(t for t, v in options if v == default)
    return {
        "type": "custom",
        "name": name,
        "label": label,
        "query": ", ".join(f"{t} : {v}" for t, v in options),
        "current": {"text": chosen, "value": default},
        "options": [{"text": t, "value": v, "selected": v == default} for t, v in options],
        "multi": False,
        "includeAll": False,
        "hide": 0,
    }


def _quick_variable(var: str, column: str) -> Json:
    return {
        "type": "query",
        "name": var,
        "label": DIMENSION_LABELS[var],
        "datasource": DS,
        # The roll-up is small: listing values does not scan the raw samples.
        "query": f"SELECT DISTINCT toString({column}) FROM {ROLLUP} WHERE $__timeFilter(Datetime) "
        f"ORDER BY 1 LIMIT 1000",
        "definition": f"SELECT DISTINCT toString({column}) FROM {ROLLUP}",
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "current": {"text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
        "sort": 0,
    }


def variables() -> list[Json]:
    dims = [(DIMENSION_LABELS[k], DIMENSION_COLUMNS[k]) for k in DIMENSIONS]
    out: list[Json] = [
        {
            "type": "datasource",
            "name": "datasource",
            "label": "ClickHouse",
            "query": DS_TYPE,
            "current": {},
            "hide": 0,
        },
        _custom(
            "system",
            "Tab",
            [
                ("All traffic", "all"),
                ("DDoS managed rules", "dosd"),
                ("TCP protection", "flowtrackd"),
                ("Network firewall", "magic-firewall"),
            ],
            "all",
        ),
        _custom("metric", "Metric", [("Packets", "packets"), ("Bits", "bits")], "packets"),
        _custom("dimension", "Split by", dims, "Outcome"),
        _custom(
            "last_system",
            "Last system (passed traffic is counted there)",
            [("magic-firewall", "magic-firewall"), ("flowtrackd", "flowtrackd"), ("dosd", "dosd")],
            "magic-firewall",
        ),
        _custom(
            "peak_bucket_s",
            "Attack peak resolution (s)",
            [("10", "10"), ("60", "60"), ("300", "300")],
            "60",
        ),
    ]
    out += [_quick_variable(var, col) for var, col, _ in QUICK_FILTERS]
    out += [
        {
            "type": "textbox",
            "name": "attack_id",
            "label": "Attack ID (sample log)",
            "query": "",
            "current": {"text": "", "value": ""},
            "hide": 0,
        },
        {"type": "adhoc", "name": "filters", "label": "Filters", "datasource": DS, "hide": 0},
        {
            # Scopes the ad hoc filter keys to this table's columns (plugin convention).
            "type": "constant",
            "name": "clickhouse_adhoc_query",
            "query": f"SELECT DISTINCT $__adhoc_column FROM {TABLE} "
            "WHERE Datetime >= now() - INTERVAL 1 HOUR LIMIT 1000",
            "hide": 2,
        },
    ]
    return out


def dashboard() -> Json:
    return {
        "uid": UID,
        "title": "Network Analytics (netlogpush, ClickHouse)",
        "description": "Cloudflare network_analytics_logs on ClickHouse: traffic, attacks and "
        "mitigations, each packet counted once (docs/siem-dashboards.md).",
        "tags": ["netlogpush", "cloudflare", "network_analytics_logs", "ddos"],
        "schemaVersion": 41,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "timezone": "utc",
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {"refresh_intervals": ["10s", "30s", "1m", "5m", "15m"]},
        "refresh": "30s",
        "templating": {"list": variables()},
        "annotations": {"list": []},
        "links": [],
        "panels": panels(),
    }
