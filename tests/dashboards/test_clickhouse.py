"""The ClickHouse schema in real ClickHouse (chDB): generated from the field list, every record
survives the trip exactly, every timestamp_format lands on the same nanosecond, the per-minute
roll-up adds up, and our own DuckDB queries, transpiled to ClickHouse, give DuckDB's answers."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from siem_support import DASHBOARDS, Loaded, load_clickhouse

from netlogpush.analytics import store as store_module
from netlogpush.analytics.clickhouse_schema import (
    INT_TYPES,
    TABLE,
    column_type,
    schema_sql,
    statements,
)
from netlogpush.analytics.queries import Filter, View, all_queries, render
from netlogpush.analytics.store import NS_PER_S, ROLLUP_DIMENSIONS
from netlogpush.dataset.fields import FIELDS, FIELDS_BY_NAME
from netlogpush.dataset.records import SCHEMA
from netlogpush.dataset.timestamps import TIMESTAMP_FORMATS

MINUTE = 60 * NS_PER_S


def _py(value: Any) -> Any:
    # chDB hands Int128/UInt128 to Arrow as 16 little-endian bytes.
    if isinstance(value, bytes) and len(value) == 16:
        return int.from_bytes(value, "little", signed=True)
    return value


def test_schema_file_is_the_generated_one() -> None:
    assert (DASHBOARDS / "clickhouse" / "schema.sql").read_text() == schema_sql()


def test_every_field_is_a_column_in_dataset_order(loaded: Loaded) -> None:
    got = loaded.query(
        f"SELECT name, type FROM system.columns WHERE database = currentDatabase() "
        f"AND table = '{TABLE}' ORDER BY position"
    ).to_pylist()
    assert [(r["name"], r["type"]) for r in got] == [(f.name, column_type(f)) for f in FIELDS]
    assert len(got) == 84
    # Every integer field has a width chosen for it, or stays Int64; no stray names.
    assert set(INT_TYPES) <= {f.name for f in FIELDS if f.is_int}


def test_every_record_reads_back_exactly(loaded: Loaded) -> None:
    back = loaded.query(
        f"SELECT * EXCEPT Datetime, toUnixTimestamp64Nano(Datetime) AS Datetime FROM {TABLE}"
    )
    back = back.select(SCHEMA.names).cast(SCHEMA)
    assert back.num_rows == loaded.records.num_rows
    assert Counter(tuple(r.values()) for r in back.to_pylist()) == Counter(
        tuple(r.values()) for r in loaded.records.to_pylist()
    )


def test_every_timestamp_format_lands_on_its_instant(loaded: Loaded, tmp_path: Any) -> None:
    """A Logpush job may send unixnano (default), unix, or RFC 3339 at s/ms/ns precision: the
    ingest view turns each into the same DateTime64(9), truncated to what the format keeps."""
    sample = loaded.records.slice(0, 5)
    ns = sample["Datetime"].to_pylist()
    keep = {"unixnano": 1, "unix": NS_PER_S, "rfc3339": NS_PER_S, "rfc3339ms": 1_000_000,
            "rfc3339ns": 1}  # fmt: skip
    assert set(keep) == set(TIMESTAMP_FORMATS)
    ch = loaded.ch
    for fmt in TIMESTAMP_FORMATS:
        ch.query("DROP DATABASE IF EXISTS formats")
        ch.query("CREATE DATABASE formats")
        for stmt in _statements_in("formats"):
            ch.query(stmt)
        load_clickhouse(ch, sample, tmp_path / f"{fmt}.ndjson", fmt, database="formats")
        got = ch.query(
            f"SELECT toUnixTimestamp64Nano(Datetime) AS t FROM formats.{TABLE} ORDER BY t",
            "ArrowTable",
        )["t"].to_pylist()
        assert got == sorted(t // keep[fmt] * keep[fmt] for t in ns), fmt


def _statements_in(database: str) -> list[str]:
    text = schema_sql().replace(f" {TABLE}", f" {database}.{TABLE}")
    return statements(text)


def test_minute_rollup_adds_up(loaded: Loaded) -> None:
    r = loaded.records
    minute = pc.multiply(pc.divide(r["Datetime"], MINUTE), MINUTE)
    t = pa.table(
        {
            "m": minute,
            "MitigationSystem": r["MitigationSystem"],
            "Outcome": r["Outcome"],
            "SourceCountry": r["SourceCountry"],
            "p": r["SampleInterval"],
            "b": pc.multiply(r["IPTotalLength"], r["SampleInterval"]),
        }
    )
    keys = ["m", "MitigationSystem", "Outcome", "SourceCountry"]
    want = {
        (row["m"], row["MitigationSystem"], row["Outcome"], row["SourceCountry"]): (
            row["p_sum"], row["b_sum"], row["p_count"])
        for row in t.group_by(keys).aggregate([("p", "sum"), ("b", "sum"), ("p", "count")])
        .to_pylist()
    }  # fmt: skip
    got = loaded.query(
        f"SELECT toUnixTimestamp(Datetime) * 1000000000 AS m, MitigationSystem, Outcome, "
        f"SourceCountry, sum(packets) AS p, sum(bytes) AS b, sum(samples) AS s "
        f"FROM {TABLE}_1m GROUP BY m, MitigationSystem, Outcome, SourceCountry"
    ).to_pylist()
    assert {
        (g["m"], g["MitigationSystem"], g["Outcome"], g["SourceCountry"]): (g["p"], g["b"], g["s"])
        for g in got
    } == want
    assert len(want) > 10
    dims = loaded.query(f"SELECT * FROM {TABLE}_1m LIMIT 0").column_names
    assert dims == ["Datetime", *ROLLUP_DIMENSIONS, "packets", "bytes", "samples"]


# --- our own queries, transpiled by queries.render(sql, "clickhouse") -------------------------


@pytest.fixture(scope="module")
def duck_layout(loaded: Loaded) -> Loaded:
    """The DuckDB store's table names over the ClickHouse schema: ``records`` with Datetime as
    integer nanoseconds, its pre-aggregated tables (``store.AGGREGATES``) as views computing
    the same sums from it, and empty roll-up tiers (all data is recent, so in the raw tier)
    and ``attack_sources`` (empty: the attack list then groups the samples)."""
    ch = loaded.ch
    ch.query(
        "CREATE VIEW IF NOT EXISTS records AS SELECT * EXCEPT Datetime, "
        f"toUnixTimestamp64Nano(Datetime) AS Datetime FROM {TABLE}"
    )
    dims = ", ".join(f"`{d}` {column_type(FIELDS_BY_NAME[d])}" for d in ROLLUP_DIMENSIONS)
    for tier in ("rollup_minute", "rollup_hour"):
        ch.query(
            f"CREATE TABLE IF NOT EXISTS {tier} (Datetime Int64, {dims}, packets Int128, "
            "bytes Int128, samples Int64) ENGINE = Memory"
        )
    ch.query(
        "CREATE TABLE IF NOT EXISTS attack_sources (AttackID String, samples Int64, "
        "first_ns Int64, last_ns Int64, sources Array(String), packets Array(Int128), "
        "complete Bool) ENGINE = Memory"
    )
    for agg in getattr(store_module, "AGGREGATES", ()):
        cols = ", ".join(agg.dims)
        spans = ", min(ns) AS first_ns, max(ns) AS last_ns" if agg.spans else ""
        where = f" WHERE {agg.rows}" if agg.rows else ""
        ch.query(
            f"CREATE VIEW IF NOT EXISTS {agg.table} AS SELECT b AS Datetime, {cols}, "
            "sum(SampleInterval) AS packets, sum(IPTotalLength * SampleInterval) AS bytes, "
            f"count() AS samples{spans} FROM (SELECT Datetime - (Datetime % {agg.step_ns}) AS b, "
            f"Datetime AS ns, {cols}, SampleInterval, IPTotalLength FROM records{where}) "
            f"GROUP BY b, {cols}"
        )
    return loaded


def _views(loaded: Loaded) -> list[View]:
    s, e = loaded.start_ns, loaded.end_ns
    return [
        View(s, e),
        View(s, e, filters=(Filter("source_country", ("CN",), exclude=True),)),
        View(s, e, "dosd"),
        View(s + MINUTE, e, "flowtrackd", counting="verdict"),
    ]


@pytest.mark.parametrize("name", sorted(all_queries(View(0, 1))))
def test_transpiled_query_runs_in_clickhouse_with_duckdbs_answer(
    duck_layout: Loaded, name: str
) -> None:
    nonempty = 0
    for view in _views(duck_layout):
        sql = all_queries(view)[name]
        want = [tuple(r) for r in duck_layout.store.con.execute(sql).fetchall()]
        got = duck_layout.query(render(sql, "clickhouse"))
        rows = [tuple(_py(v) for v in r.values()) for r in got.to_pylist()]
        assert rows == want, (name, view)
        nonempty += bool(want and want != [(0, 0, 0, 0)])
    assert nonempty, name
