"""The packet sample log: the SQL of analytics/samples.py and its two routes, against the
records the real pipeline produced, selected and ordered again with numpy."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import sqlglot
from dashboard_support import (
    MINUTE,
    NOW,
    load,
    rfc3339_ns,
    view_mask,
    window,
)

from netlogpush.analytics.queries import Filter, View, render
from netlogpush.analytics.samples import LOG_COLUMNS, MAX_ID, Samples, all_sample_queries
from netlogpush.analytics.store import NS_PER_S, Retention
from netlogpush.dataset.records import SCHEMA


def expected_rows(records: pa.Table, mask: np.ndarray[Any, Any]) -> list[dict[str, Any]]:
    """Rows of the log for ``mask``, newest first, ties by id (ids are row numbers + 1)."""
    rows = np.flatnonzero(mask)
    t = np.asarray(records.column("Datetime").to_numpy())
    order = sorted(rows.tolist(), key=lambda i: (-int(t[i]), -(i + 1)))
    cols = {c: records.column(c).to_pylist() for c in LOG_COLUMNS}
    return [
        {
            "id": str(i + 1),
            **{c: rfc3339_ns(cols[c][i]) if c == "Datetime" else cols[c][i] for c in LOG_COLUMNS},
        }
        for i in order
    ]


def page_all(
    client: httpx.Client, params: list[tuple[str, str]], limit: int
) -> tuple[int, list[Any]]:
    """Every page of the log (bounded: at most 200 requests)."""
    rows: list[Any] = []
    total = -1
    for page in range(200):
        r = client.get("/dashboard/api/samples", params=[*params, ("limit", str(limit)), ("offset", str(page * limit))])  # fmt: skip
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["limit"], body["offset"]) == (limit, page * limit)
        total = body["total"]
        rows += body["rows"]
        if len(body["rows"]) < limit:
            return total, rows
    raise AssertionError("more pages than expected")


def test_first_page_default_view(client: httpx.Client, records: pa.Table) -> None:
    start, end = window(86400, 600)
    want = expected_rows(records, view_mask(records, View(start, end)))
    body = client.get("/dashboard/api/samples").json()
    assert body["total"] == len(want) > 50
    assert body["rows"] == want[:50]


def test_paging_with_filters_and_tab(client: httpx.Client, records: pa.Table) -> None:
    start, end = window(3600, 30)
    params = [("range", "1h"), ("tab", "dosd"), ("f", "!source_country:US"), ("f", "protocol:UDP")]  # fmt: skip
    filters = (Filter("source_country", ("US",), True), Filter("protocol", ("UDP",)))
    want = expected_rows(records, view_mask(records, View(start, end, "dosd", filters)))
    total, rows = page_all(client, params, 97)
    assert total == len(want) > 97
    assert rows == want


def test_drill_down_by_attack(client: httpx.Client, records: pa.Table) -> None:
    attacks = client.get("/dashboard/api/attacks", params={"range": "1h"}).json()["attacks"]
    assert len(attacks) == 2
    for attack in attacks:
        params = [("range", "1h"), ("attack_id", attack["attack_id"])]
        total, rows = page_all(client, params, 500)
        start, end = window(3600, 30)
        mask = view_mask(records, View(start, end), attack["attack_id"])
        assert rows == expected_rows(records, mask)
        assert total == len(rows) > 0
        # The attack's samples add up to the packets the attack list shows.
        assert sum(r["SampleInterval"] for r in rows) == attack["packets"]
        assert {r["MitigationSystem"] for r in rows} == {"dosd"}


def test_sample_detail(client: httpx.Client, records: pa.Table) -> None:
    first = client.get("/dashboard/api/samples", params={"limit": "3"}).json()["rows"]
    for row in first:
        got = client.get(f"/dashboard/api/samples/{row['id']}")
        assert got.status_code == 200
        body = got.json()
        i = int(row["id"]) - 1
        want = records.slice(i, 1).to_pylist()[0]
        want["Datetime"] = rfc3339_ns(want["Datetime"])
        assert body["id"] == row["id"]
        assert list(body["fields"]) == SCHEMA.names and len(SCHEMA.names) == 84
        assert body["fields"] == want


def test_sample_detail_not_found(client: httpx.Client, records: pa.Table) -> None:
    r = client.get(f"/dashboard/api/samples/{records.num_rows + 1}")
    assert r.status_code == 404
    assert r.json()["error"].startswith(f"no sample {records.num_rows + 1}")
    assert client.get(f"/dashboard/api/samples/{MAX_ID}").status_code == 404
    for bad in ("abc", "-1", str(MAX_ID + 1), "1e3"):
        r = client.get(f"/dashboard/api/samples/{bad}")
        assert r.status_code == 400, bad
        assert "is not a decimal sample id" in r.json()["error"]


def test_md5_keys_reach_the_detail(records: pa.Table) -> None:
    """With the store's default keys (128-bit md5), ids past 2**64 and 2**127 still work."""
    part = records.slice(0, 300)
    samples = Samples(load(part, with_ids=False))
    page = samples.page(View(0, 1 << 62, "dosd"), limit=300)
    want_rows = [r for r in part.to_pylist() if r["MitigationSystem"] == "dosd"]
    assert page.total == len(want_rows) > 0
    assert any(int(r["id"]) >= 1 << 127 for r in page.rows)
    for row in page.rows[:20]:
        detail = samples.get(int(row["id"]))
        assert detail is not None and detail["id"] == row["id"]
        assert detail["fields"]["Datetime"] == row["Datetime"]
        assert {k: detail["fields"][k] for k in LOG_COLUMNS if k != "Datetime"} == {
            k: row[k] for k in LOG_COLUMNS if k != "Datetime"
        }


def test_rolled_up_ranges_have_no_samples(records: pa.Table) -> None:
    store = load(records)
    store.retention = Retention(raw_ns=MINUTE, minute_ns=3600 * NS_PER_S, hour_ns=86400 * NS_PER_S)
    store.compact(NOW)
    samples = Samples(store)
    rolled = samples.page(View(NOW - 3600 * NS_PER_S, NOW))
    assert (rolled.total, rolled.rows) == (0, [])


def test_queries_transpile_to_clickhouse() -> None:
    v = View(0, 10, "dosd", (Filter("action", ("drop",)), Filter("source_ip", ("x'y",), True)))
    for name, sql in all_sample_queries(v).items():
        out = render(sql, "clickhouse")
        assert "records" in out, name
        sqlglot.parse_one(out, read="clickhouse")


def test_ties_in_time_are_ordered_by_id(records: pa.Table) -> None:
    """Samples of one packet by several systems share a Datetime: the newest-first order
    breaks the tie by id, so consecutive pages neither repeat nor skip a sample."""
    part = records.slice(0, 40)
    same = pa.array([NOW - MINUTE] * 40, pa.int64())
    part = part.set_column(SCHEMA.get_field_index("Datetime"), "Datetime", same)
    samples = Samples(load(part))
    v = View(NOW - 2 * MINUTE, NOW, "dosd")
    want = [str(i + 1) for i, r in enumerate(part.to_pylist()) if r["MitigationSystem"] == "dosd"]
    got = [r["id"] for off in range(0, 40, 3) for r in samples.page(v, limit=3, offset=off).rows]
    assert got == want[::-1] and len(want) > 3
