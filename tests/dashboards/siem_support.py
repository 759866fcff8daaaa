"""Records from the real pipeline, loaded into DuckDB (our store) and chDB (ClickHouse), and the
Grafana ClickHouse plugin's query expansion, re-implemented step by step from its source.

The plugin (github.com/grafana/clickhouse-datasource, v4.20) expands a panel query in this
order, and so does ``expand``:

1. frontend ``applyConditionalAll``: ``$__conditionalAll(cond, $var)`` becomes ``1=1`` when the
   variable's value (``current.value.toString()``) is empty or ``$__all``, else ``cond``;
2. Grafana's ``templateSrv.replace`` with the plugin's format function: ``${v:singlequote}``
   quotes and escapes, ``${v:csv}`` joins with commas, a bare ``$v``/``${v}`` is the raw value
   (a list becomes ``'a','b'``); unknown names stay as they are;
3. frontend ``applyAdHocFiltersMacro``: ``$__adHocFilters('t')`` becomes
   ``additional_table_filters={'t': ' k = \\'v\\' AND …'}`` (or ``{}`` without filters);
4. backend ``macros.Interpolate``: ``$__fromTime``/``$__toTime`` -> ``toDateTime(<unix s>)``,
   ``$__timeInterval(c)`` -> ``toStartOfInterval(toDateTime(c), INTERVAL <n> second)``,
   ``$__interval_s`` -> n, ``$__timeFilter(c)`` -> ``c >= toDateTime(f) AND c <= toDateTime(t)``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from chdb import session

from netlogpush.analytics.clickhouse_schema import TABLE, statements
from netlogpush.analytics.store import NS_PER_S, AnalyticsStore
from netlogpush.config import Settings
from netlogpush.dataset.formats import encode_ndjson
from netlogpush.pipeline import pipeline_from_settings
from netlogpush.scenarios.catalog import write_scenario
from netlogpush.scenarios.mixed import CUSTOMER_PREFIXES
from netlogpush.sources.pcap import iter_batches

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "dashboards"
COUNTRIES = ("CN", "US", "BR", "DE", "RU", "IN", "NL", "FR")

Value = str | list[str]

# --- records -----------------------------------------------------------------------------------


def write_ip_database(path: Path) -> Path:
    """An ip2asn-style TSV giving every /4 of IPv4 its own ASN and country (and IPv6 one)."""
    lines = [
        f"{16 * i}.0.0.0\t{16 * i + 15}.255.255.255\t{64500 + i}\t{COUNTRIES[i % 8]}\tAS-TEST-{i}"
        for i in range(16)
    ]
    lines.append("::\tffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\t64999\tJP\tAS-TEST-V6")
    path.write_text("\n".join(lines) + "\n")
    return path


def pipeline_records(tmp: Path, start_ns: int) -> pa.Table:
    """A SYN flood among benign traffic, through dosd (blocking), flowtrackd (SYN protection
    monitoring, out-of-state protection enforced) and magic-firewall (blocking NTP and ICMP),
    inline, with dynamic sample intervals: drops of every system, log-only verdicts, passes."""
    capture = tmp / "syn.pcap"
    write_scenario(
        "syn-flood",
        capture,
        seed=3,
        duration_s=30,
        attack_start_s=8,
        attack_duration_s=14,
        benign_pps=1500,
        attack_pps=10_000,
        start_ns=start_ns,
    )
    settings = Settings.model_validate(
        {
            "site": {"name": "ams01", "code": "AMS", "city": "Amsterdam", "country": "NL",
                     "latitude": 52.31, "longitude": 4.77},
            "customer_prefixes": [str(p) for p in CUSTOMER_PREFIXES],
            "databases": [str(write_ip_database(tmp / "ip2asn-combined.tsv"))],
            "sampling": {"seed": 5},
            "mitigation": {
                "mode": "inline",
                "dosd": {
                    "overrides": [
                        {"expression": "true",
                         "action_parameters": {"overrides": {"action": "block"}}}
                    ]
                },
                "flowtrackd": {"tcp_flow_protection": {"rules": [{"mode": "enabled"}]}},
                "firewall": {
                    "ruleset": {
                        "rules": [
                            {"expression": "udp.dstport eq 123", "action": "block"},
                            {"expression": 'ip.proto eq "icmp"', "action": "block"},
                        ]
                    }
                },
                "sampling": {
                    "dosd": {"min_interval": 2, "max_interval": 40,
                             "target_samples_per_second": 200},
                    "flowtrackd": {"interval": 7},
                    "magic-firewall": {"min_interval": 1, "max_interval": 30,
                                       "target_samples_per_second": 200},
                },
            },
        }
    )  # fmt: skip
    pipeline = pipeline_from_settings(settings)
    return pa.concat_tables(list(pipeline.run(iter_batches(capture))))


@dataclass
class Loaded:
    records: pa.Table
    store: AnalyticsStore
    ch: Any  # chdb session.Session
    start_ns: int  # minute-aligned, at or before the first record
    end_ns: int  # minute-aligned, after the last record
    ndjson: Path = field(default_factory=Path)

    def query(self, sql: str) -> pa.Table:
        return self.ch.query(sql, "ArrowTable")  # type: ignore[no-any-return]


def ingest_structure(ch: Any, database: str = "") -> str:
    """The ``file()`` structure of the ingest table, so the NDJSON parses as it would on insert."""
    db = f"'{database}'" if database else "currentDatabase()"
    rows = ch.query(
        f"SELECT name, type FROM system.columns WHERE database = {db} "
        f"AND table = '{TABLE}_ingest' ORDER BY position",
        "ArrowTable",
    ).to_pylist()
    return ", ".join(f"`{r['name']}` {r['type']}" for r in rows)


def load_clickhouse(
    ch: Any, records: pa.Table, path: Path, timestamp_format: str, database: str = ""
) -> None:
    """Insert records as a Logpush job delivers them: NDJSON, into the ``_ingest`` table."""
    path.write_bytes(bytes(encode_ndjson(records, timestamp_format=timestamp_format)))
    prefix = f"{database}." if database else ""
    ch.query(
        f"INSERT INTO {prefix}{TABLE}_ingest SELECT * FROM file('{path}', 'JSONEachRow', "
        f"'{ingest_structure(ch, database)}')"
    )


def new_clickhouse(directory: Path) -> Any:
    ch = session.Session(str(directory))
    for stmt in statements((DASHBOARDS / "clickhouse" / "schema.sql").read_text()):
        ch.query(stmt)
    return ch


def build(tmp: Path) -> Loaded:
    # Two hours ago (recent enough for the schema's TTL), 40 s after an instant aligned to
    # 120 s, so that every bucket size the tests use (10 to 120 s) starts at the view's start,
    # as DuckDB's buckets do; the attack (8 s to 22 s in) crosses a minute boundary, so attack
    # peaks and the roll-up see two minutes.
    step = 120 * NS_PER_S
    start = time.time_ns() // step * step - 2 * 3600 * NS_PER_S + 40 * NS_PER_S
    minute = 60 * NS_PER_S
    records = pipeline_records(tmp, start)
    first = pc.min(records["Datetime"]).as_py()
    last = pc.max(records["Datetime"]).as_py()
    store = AnalyticsStore()
    store.ingest(records)
    ch = new_clickhouse(tmp / "ch")
    ndjson = tmp / "records.ndjson"
    load_clickhouse(ch, records, ndjson, "unixnano")
    view_start = first // minute * minute
    assert view_start % step == 0 and last - first < 60 * NS_PER_S
    return Loaded(records, store, ch, view_start, (last // minute + 1) * minute, ndjson)


# --- the Grafana ClickHouse plugin's expansion -----------------------------------------------


def macro_args(query: str, args_index: int) -> list[str]:
    """``getMacroArgs`` of CHDatasource.ts: arguments split at top-level commas."""
    args: list[str] = []
    depth = 0
    last_end = 1
    sub = query[args_index:]
    for m in re.finditer(r"\(|\)|,", sub):
        tok = m.group(0)
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        if tok == "," and depth == 1:
            args.append(sub[last_end : m.end() - 1])
            last_end = m.end()
        if depth == 0:
            args.append(sub[last_end : m.end() - 1])
            return args
    return []


def _js_string(value: Value) -> str:
    return ",".join(value) if isinstance(value, list) else value


def conditional_all(sql: str, variables: dict[str, Value]) -> str:
    macro = "$__conditionalAll("
    idx = sql.rfind(macro)
    while idx != -1:
        params = macro_args(sql, idx + len(macro) - 1)
        if len(params) != 2:
            return sql
        found = re.search(r"(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+", params[1].strip())
        phrase = params[0]
        if found and _js_string(variables[found.group(0)]) in ("", "$__all"):
            phrase = "1=1"
        sql = sql.replace(f"{macro}{params[0]},{params[1]})", phrase, 1)
        idx = sql.rfind(macro)
    return sql


_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)


def _format(value: Value, fmt: str | None) -> str:
    values = value if isinstance(value, list) else [value]
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "csv":
        return ",".join(values)
    if fmt is not None:
        raise ValueError(f"format {fmt} is not emulated")
    # The plugin's own format function: a list is quoted, a single value is raw.
    return "'" + "','".join(value) + "'" if isinstance(value, list) else value


def template_replace(sql: str, variables: dict[str, Value]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        fmt = m.group(3) or m.group(6)
        if name not in variables:
            return m.group(0)
        return _format(variables[name], fmt)

    return _VARIABLE.sub(sub, sql)


@dataclass(frozen=True)
class AdHoc:
    key: str
    operator: str
    value: str


def adhoc_filters(sql: str, filters: list[AdHoc]) -> str:
    def build() -> str:
        parts = []
        for i, f in enumerate(filters):
            key = f.key.split(".", 1)[1] if "." in f.key else f.key
            value = f"\\'{f.value}\\'"
            cond = "AND" if i != len(filters) - 1 else ""
            parts.append(f" {key} {f.operator} {value} {cond}")
        return "".join(parts)

    def sub(m: re.Match[str]) -> str:
        tables = re.findall(r"['\"]([^'\"]+)['\"]", m.group(1))
        text = build()
        if not text:
            return "additional_table_filters={}"
        return "additional_table_filters={" + ", ".join(f"'{t}': '{text}'" for t in tables) + "}"

    return re.sub(r"\$__adHocFilters\s*\(([^)]+)\)", sub, sql)


def backend_macros(sql: str, from_s: int, to_s: int, interval_s: int) -> str:
    def sub(m: re.Match[str]) -> str:
        name, arg = m.group(1), m.group(3)
        if name == "fromTime":
            return f"toDateTime({from_s})"
        if name == "toTime":
            return f"toDateTime({to_s})"
        if name == "interval_s":
            return str(max(interval_s, 1))
        if name == "timeInterval" and arg is not None:
            return f"toStartOfInterval(toDateTime({arg}), INTERVAL {max(interval_s, 1)} second)"
        if name == "timeFilter" and arg is not None:
            return f"{arg} >= toDateTime({from_s}) AND {arg} <= toDateTime({to_s})"
        return m.group(0)

    return re.sub(r"\$__(\w+)(\(([^()]*)\))?", sub, sql)


def expand(
    sql: str,
    variables: dict[str, Value],
    from_s: int,
    to_s: int,
    interval_s: int,
    filters: list[AdHoc] | None = None,
) -> str:
    sql = conditional_all(sql, variables)
    sql = template_replace(sql, variables)
    sql = adhoc_filters(sql, filters or [])
    return backend_macros(sql, from_s, to_s, interval_s)


DEFAULTS: dict[str, Value] = {
    "system": "all",
    "metric": "packets",
    "dimension": "Outcome",
    "last_system": "magic-firewall",
    "peak_bucket_s": "60",
    "source_country": ["$__all"],
    "source_asn": ["$__all"],
    "destination_port": ["$__all"],
    "protocol": ["$__all"],
    "colo": ["$__all"],
    "attack_id": "",
}
