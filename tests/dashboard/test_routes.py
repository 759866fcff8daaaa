"""Every dashboard route through a real uvicorn on 127.0.0.1, against values computed again
with numpy from the records the real pipeline produced (dashboard_support)."""

from __future__ import annotations

import gzip
from collections import defaultdict
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pytest
from dashboard_support import (
    MINUTE,
    NOW,
    filter_mask,
    load,
    nbytes,
    packets,
    rfc3339_ns,
    view_mask,
    window,
)

from netlogpush.analytics.queries import DIMENSIONS, Filter, Queries, View
from netlogpush.analytics.store import NS_PER_S
from netlogpush.dashboard import create_dashboard_app
from netlogpush.dashboard.routes import STATIC_DIR, plotly_path
from netlogpush.mitigation.firewall import compile_expression
from netlogpush.testing.server import serve_in_thread


def get(client: httpx.Client, path: str, params: Any = None) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    return r.json()


def col(records: pa.Table, name: str) -> np.ndarray[Any, Any]:
    return np.asarray(records.column(name).to_numpy(zero_copy_only=False))


def expected_series(
    records: pa.Table, v: View, bucket_s: int, dim: str, metric: str, top: int = 10
) -> list[dict[str, Any]]:
    mask = view_mask(records, v)
    keys = col(records, DIMENSIONS[dim]) if dim != "action" else None
    if keys is None:
        dropped = col(records, "Outcome" if v.counting == "outcome" else "Verdict") == "drop"
        keys = np.where(dropped, "drop", "pass")
    weight = col(records, "SampleInterval").astype(object)
    if metric == "bits":
        weight = weight * col(records, "IPTotalLength").astype(object) * 8
    t = col(records, "Datetime")
    step = bucket_s * NS_PER_S
    totals: dict[str, int] = defaultdict(int)
    for i in np.flatnonzero(mask):
        totals[str(keys[i])] += int(weight[i])
    ranked = sorted(totals, key=lambda k: (-totals[k], k))[:top]
    buckets = list(range(v.start_ns, v.end_ns, step))
    values: dict[str, list[int]] = {}
    for i in np.flatnonzero(mask):
        key = str(keys[i]) if str(keys[i]) in ranked else "Other"
        b = (int(t[i]) - v.start_ns) // step
        values.setdefault(key, [0] * len(buckets))[b] += int(weight[i])
    order = sorted(values, key=lambda k: (k == "Other", -sum(values[k]), k))
    ms = [b // 1_000_000 for b in buckets]
    return [
        {"key": k, "t": ms, "value": values[k], "rate": [x / bucket_s for x in values[k]]}
        for k in order
    ]


# --- meta and static files -------------------------------------------------------------------


def test_meta(client: httpx.Client) -> None:
    meta = get(client, "/dashboard/api/meta")
    assert [d["key"] for d in meta["dimensions"]] == list(DIMENSIONS)
    assert meta["dimensions"][2] == {"key": "source_asn", "label": "Source ASN"}
    assert meta["tabs"] == [
        {"key": "all", "label": "All traffic"},
        {"key": "dosd", "label": "DDoS managed rules"},
        {"key": "flowtrackd", "label": "TCP protection"},
        {"key": "magic-firewall", "label": "Network firewall"},
    ]
    assert [r["key"] for r in meta["ranges"]] == ["15m", "1h", "6h", "24h", "7d", "30d"]
    assert [r["bucket_s"] for r in meta["ranges"]] == [10, 30, 120, 600, 3600, 14400]
    assert (meta["now_ns"], meta["rules_api"], meta["api_base"]) == (NOW, False, "/client/v4")


def test_meta_reports_the_rules_api(records: pa.Table) -> None:
    app = create_dashboard_app(
        Queries(load(records.slice(0, 10))), api_base="/v4", rules_api=True, clock=lambda: 42
    )
    with serve_in_thread(app) as base:
        meta = httpx.get(base + "/dashboard/api/meta", timeout=30).json()
        assert (meta["now_ns"], meta["rules_api"], meta["api_base"]) == (42, True, "/v4")


def test_plotly_is_served_from_the_package(client: httpx.Client) -> None:
    path = plotly_path()
    assert path is not None
    want = path.read_bytes()
    r = client.get("/dashboard/static/plotly.min.js")  # httpx accepts gzip by default
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.content == want
    plain = client.get("/dashboard/static/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
    assert plain.content == want
    raw = client.build_request("GET", "/dashboard/static/plotly.min.js")
    streamed = client.send(raw, stream=True)
    try:
        body = b"".join(streamed.iter_raw())
    finally:
        streamed.close()
    assert len(body) < len(want) / 2 and gzip.decompress(body) == want


def test_page_and_static_files(client: httpx.Client) -> None:
    for name, kind in (("index.html", "text/html"), ("app.js", "text/javascript"), ("app.css", "text/css")):  # fmt: skip
        if not (STATIC_DIR / name).is_file():
            continue  # the frontend's files; absent in a checkout without them
        r = client.get("/dashboard" if name == "index.html" else f"/dashboard/static/{name}")
        assert r.status_code == 200
        assert r.headers["content-type"] == f"{kind}; charset=utf-8"
        assert r.headers["cache-control"] == "no-cache"
        assert r.content == (STATIC_DIR / name).read_bytes()
    for bad in ("nope.js", "..%2Fparams.py", ".hidden", "%2E%2E"):
        r = client.get(f"/dashboard/static/{bad}")
        assert r.status_code == 404, bad
    assert client.get("/dashboard/static/../params.py").status_code == 404


# --- time series -----------------------------------------------------------------------------


def test_timeseries_default_view(client: httpx.Client, records: pa.Table) -> None:
    start, end = window(86400, 600)
    got = get(client, "/dashboard/api/timeseries")
    assert (got["bucket_s"], got["metric"], got["dim"]) == (600, "packets", "action")
    assert (got["start_ns"], got["end_ns"]) == (start, end)
    want = expected_series(records, View(start, end), 600, "action", "packets")
    assert got["series"] == want
    assert {s["key"] for s in want} == {"drop", "pass"} and len(want[0]["t"]) == 144


@pytest.mark.parametrize(
    ("params", "dim", "metric", "system", "counting"),
    [
        ({"range": "1h", "dim": "source_ip", "metric": "bits"}, "source_ip", "bits", None, "outcome"),
        ({"range": "1h", "tab": "dosd", "dim": "rule"}, "rule", "packets", "dosd", "outcome"),
        ({"range": "15m", "counting": "verdict"}, "action", "packets", None, "verdict"),
        ({"range": "6h", "tab": "flowtrackd", "dim": "mitigation_reason"}, "mitigation_reason", "packets", "flowtrackd", "outcome"),
        ({"range": "7d", "dim": "source_country", "tab": "magic-firewall"}, "source_country", "packets", "magic-firewall", "outcome"),
    ],
)  # fmt: skip
def test_timeseries_views(
    client: httpx.Client,
    records: pa.Table,
    params: dict[str, str],
    dim: str,
    metric: str,
    system: str | None,
    counting: str,
) -> None:
    seconds, bucket = {"15m": (900, 10), "1h": (3600, 30), "6h": (21600, 120), "7d": (604800, 3600)}[params["range"]]  # fmt: skip
    start, end = window(seconds, bucket)
    got = get(client, "/dashboard/api/timeseries", params)
    assert got["bucket_s"] == bucket
    v = View(start, end, system, (), "verdict" if counting == "verdict" else "outcome")
    want = expected_series(records, v, bucket, dim, metric)
    assert got["series"] == want
    assert sum(sum(s["value"]) for s in want) > 0


def test_timeseries_absolute_range_and_filters(client: httpx.Client, records: pa.Table) -> None:
    start = NOW - 11 * MINUTE
    end = NOW - 5 * MINUTE
    params = [
        ("start", str(start)),
        ("end", "2026-01-01T01:55:07.123456789+01:00"),  # = NOW - 5 minutes
        ("f", "source_asn:64500"),
        ("f", "source_asn:64502"),
        ("f", "!destination_port:443"),
        ("dim", "source_asn"),
    ]
    got = get(client, "/dashboard/api/timeseries", params)
    assert got["bucket_s"] == 5  # 360 s / 150 buckets -> 2.4 s -> the next round step
    assert (got["start_ns"], got["end_ns"]) == (start, end)
    filters = (Filter("source_asn", (64500, 64502)), Filter("destination_port", (443,), True))
    want = expected_series(records, View(start, end, None, filters), 5, "source_asn", "packets")
    assert got["series"] == want
    assert [s["key"] for s in want] == ["64500", "64502"] or [s["key"] for s in want] == ["64502", "64500"]  # fmt: skip


# --- summary, top, attacks, rules, ATP -------------------------------------------------------


def attacks_expected(records: pa.Table, v: View, bucket_s: int = 60) -> list[dict[str, Any]]:
    dosd = View(v.start_ns, v.end_ns, "dosd", v.filters, v.counting)
    mask = view_mask(records, dosd) & (col(records, "AttackID") != "")
    t, ids = col(records, "Datetime"), col(records, "AttackID")
    si, ln = col(records, "SampleInterval"), col(records, "IPTotalLength")
    src, dst = col(records, "IPSourceAddress"), col(records, "IPDestinationAddress")
    out = []
    for attack in sorted(set(ids[mask].tolist())):
        rows = np.flatnonzero(mask & (ids == attack))
        per_bucket: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        by_src: dict[str, int] = defaultdict(int)
        by_dst: dict[str, int] = defaultdict(int)
        for i in rows:
            b = per_bucket[(int(t[i]) - v.start_ns) // (bucket_s * NS_PER_S)]
            b[0] += int(si[i])
            b[1] += int(si[i]) * int(ln[i])
            if src[i]:
                by_src[str(src[i])] += int(si[i])
            by_dst[str(dst[i])] += int(si[i])
        vectors = set(col(records, "AttackVector")[rows].tolist())
        assert len(vectors) == 1
        top_dst = max(by_dst.values())
        out.append(
            {
                "attack_id": attack,
                "start_ns": int(t[rows].min()),
                "end_ns": int(t[rows].max()),
                "start": rfc3339_ns(int(t[rows].min())),
                "end": rfc3339_ns(int(t[rows].max())),
                "vector": vectors.pop(),
                "targets": {d for d, p in by_dst.items() if p == top_dst},
                "packets": int(si[rows].sum()),
                "bytes": sum(int(si[i]) * int(ln[i]) for i in rows),
                "peak_pps": max(p for p, _ in per_bucket.values()) / bucket_s,
                "peak_bps": max(b for _, b in per_bucket.values()) * 8 / bucket_s,
                "top_sources": sorted(by_src, key=lambda s: (-by_src[s], s))[:3],
            }
        )
    return sorted(out, key=lambda a: (-a["packets"], a["attack_id"]))


def test_attacks(client: httpx.Client, records: pa.Table) -> None:
    start, end = window(3600, 30)
    got = get(client, "/dashboard/api/attacks", {"range": "1h"})
    want = attacks_expected(records, View(start, end))
    assert len(want) == 2  # the SYN flood and the UDP flood
    assert got["peak_bucket_s"] == 60
    for g, w in zip(got["attacks"], want, strict=True):
        assert g.pop("target") in w.pop("targets")
        assert g == w
    # A filter narrows the attack list as it narrows everything else.
    only = get(client, "/dashboard/api/attacks", {"range": "1h", "f": "protocol:UDP"})
    udp = attacks_expected(records, View(start, end, filters=(Filter("protocol", ("UDP",)),)))
    assert [a["attack_id"] for a in only["attacks"]] == [a["attack_id"] for a in udp]
    assert len(udp) == 1


def summary_expected(records: pa.Table, v: View) -> dict[str, Any]:
    def totals(w: View) -> dict[str, int]:
        m = view_mask(records, w)
        dropped = m & (col(records, "Outcome" if w.counting == "outcome" else "Verdict") == "drop")
        dosd = View(w.start_ns, w.end_ns, "dosd", w.filters, w.counting)
        att = view_mask(records, dosd) & (col(records, "AttackID") != "")
        return {
            "packets": packets(records, m),
            "bytes": nbytes(records, m),
            "dropped_packets": packets(records, dropped),
            "dropped_bytes": nbytes(records, dropped),
            "attacks": len(set(col(records, "AttackID")[att].tolist())),
        }

    now, before = totals(v), totals(v.previous())
    m = view_mask(records, v) & (col(records, "Outcome") == "drop")
    by_src: dict[str, int] = defaultdict(int)
    for s, si in zip(col(records, "IPSourceAddress")[m], col(records, "SampleInterval")[m], strict=True):  # fmt: skip
        if s:
            by_src[str(s)] += int(si)
    attacks = attacks_expected(records, v)
    return {
        **{k: now[k] for k in ("attacks", "packets", "bytes", "dropped_packets", "dropped_bytes")},
        "bits": now["bytes"] * 8,
        "mitigated_pct": now["dropped_packets"] * 100.0 / now["packets"] if now["packets"] else 0.0,
        "largest_attack_pps": max((a["peak_pps"] for a in attacks), default=0.0),
        "largest_attack_bps": max((a["peak_bps"] for a in attacks), default=0.0),
        "top_source": min(by_src, key=lambda s: (-by_src[s], s)) if by_src else "",
        "previous": before,
        "change_pct": {
            k: None if before[k] == 0 else (now[k] - before[k]) * 100.0 / before[k] for k in now
        },
        "peak_bucket_s": 60,
        "start_ns": v.start_ns,
        "end_ns": v.end_ns,
    }


def test_summary_relative(client: httpx.Client, records: pa.Table) -> None:
    start, end = window(3600, 30)
    got = get(client, "/dashboard/api/summary", {"range": "1h"})
    want = summary_expected(records, View(start, end))
    assert got == want
    assert got["attacks"] == 2 and got["dropped_packets"] > 0 and got["previous"]["packets"] == 0


def test_summary_period_over_period(client: httpx.Client, records: pa.Table) -> None:
    """30 minutes holding the UDP flood; the 30 before hold the SYN flood."""
    start, end = NOW - 30 * MINUTE, NOW
    params = {"start": str(start), "end": str(end)}
    got = get(client, "/dashboard/api/summary", params)
    want = summary_expected(records, View(start, end))
    assert got == want
    assert got["previous"]["packets"] > 0 and got["change_pct"]["packets"] is not None
    # The time series adds up to the summary: no sample counted twice or left out.
    series = get(client, "/dashboard/api/timeseries", params)["series"]
    assert sum(sum(s["value"]) for s in series) == got["packets"]


def test_top(client: httpx.Client, records: pa.Table) -> None:
    start, end = window(3600, 30)
    got = get(client, "/dashboard/api/top", {"range": "1h", "by": "source_asn", "n": "3", "metric": "bits"})  # fmt: skip
    mask = view_mask(records, View(start, end))
    asn = col(records, "SourceASN")
    bits: dict[str, int] = defaultdict(int)
    for i in np.flatnonzero(mask):
        bits[str(asn[i])] += 8 * int(col(records, "SampleInterval")[i]) * int(col(records, "IPTotalLength")[i])  # fmt: skip
    want = sorted(bits.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    assert got == {"by": "source_asn", "metric": "bits", "rows": [{"key": k, "value": v} for k, v in want]}  # fmt: skip
    # Excluding the top value removes exactly it.
    params = [("range", "1h"), ("by", "source_asn"), ("f", f"!source_asn:{want[0][0]}")]
    rows = get(client, "/dashboard/api/top", params)["rows"]
    assert want[0][0] not in [r["key"] for r in rows]
    without = (Filter("source_asn", (int(want[0][0]),), True),)
    assert sum(r["value"] for r in rows) == packets(
        records, mask & filter_mask(records, without, "outcome")
    )


def test_rules_and_atp(client: httpx.Client, records: pa.Table) -> None:
    start, end = window(3600, 30)
    mask = view_mask(records, View(start, end))
    rid, name = col(records, "RuleID"), col(records, "RuleName")
    sysm, si = col(records, "MitigationSystem"), col(records, "SampleInterval")
    hits: dict[tuple[str, str], int] = defaultdict(int)
    for i in np.flatnonzero(mask & (rid != "")):
        hits[(str(sysm[i]), str(rid[i]))] += int(si[i])
    names = {(str(sysm[i]), str(rid[i])): str(name[i]) for i in np.flatnonzero(rid != "")}
    want = sorted(hits.items(), key=lambda kv: (-kv[1], kv[0][1]))[:10]
    got = get(client, "/dashboard/api/rules", {"range": "1h"})
    assert got == {
        "rows": [
            {"system": s, "rule_id": r, "rule_name": names[(s, r)], "packets": p}
            for (s, r), p in want
        ]
    }
    assert {r["system"] for r in got["rows"]} == {"dosd", "magic-firewall"}

    ft = view_mask(records, View(start, end, "flowtrackd"))
    reason, state = col(records, "MitigationReason"), col(records, "ProtocolState")
    atp: dict[tuple[str, str], int] = defaultdict(int)
    for i in np.flatnonzero(ft & (reason != "")):
        atp[(str(reason[i]), str(state[i]))] += int(si[i])
    got_atp = get(client, "/dashboard/api/atp", {"range": "1h"})
    assert got_atp == {
        "rows": [
            {"reason": r, "state": s, "packets": p}
            for (r, s), p in sorted(atp.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
    }
    assert got_atp["rows"]


# --- the rule from filters -------------------------------------------------------------------


def test_rule_from_the_view_filters(client: httpx.Client) -> None:
    params = [
        ("f", "source_asn:64500"),
        ("f", "source_asn:64501"),
        ("f", "!destination_port:80"),
        ("f", "protocol:UDP"),
        ("range", "1h"),
    ]
    got = get(client, "/dashboard/api/rule", params)
    assert got == {
        "expression": "ip.src.asnum in {64500 64501} and not (tcp.dstport eq 80 or udp.dstport eq 80)"
        ' and ip.proto eq "udp"',
        "description": "Dashboard filters: source_asn in 64500, 64501; destination_port not in 80; "
        "protocol in UDP",
        "action": "block",
    }
    compile_expression(got["expression"])


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ([("f", "colo:AMS")], "colo cannot become a firewall rule"),
        ([("f", "action:drop"), ("f", "source_asn:1")], "action cannot become a firewall rule"),
        ([], "no filters"),
        ([("f", "source_ip:010.0.0.1")], "not an IP address"),
        ([("f", "packet_size:150")], "multiples of 100"),
    ],
)
def test_rule_refused(client: httpx.Client, params: Any, needle: str) -> None:
    r = client.get("/dashboard/api/rule", params=params)
    assert r.status_code == 400
    assert needle in r.json()["error"]


# --- bad parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("timeseries", {"range": "2h"}, "range: '2h' is not one of 15m, 1h, 6h, 24h, 7d, 30d"),
        ("summary", {"tab": "waf"}, "tab: 'waf' is not one of all, dosd, flowtrackd, magic-firewall"),
        ("timeseries", {"metric": "bytes"}, "metric: 'bytes' is not one of packets, bits"),
        ("summary", {"counting": "x"}, "counting: 'x' is not one of outcome, verdict"),
        ("timeseries", {"dim": "ttl"}, "dim: 'ttl' is not one of " + ", ".join(DIMENSIONS)),
        ("top", {"by": "nope"}, "by: 'nope' is not one of " + ", ".join(DIMENSIONS)),
        ("top", {}, "by: missing; one of " + ", ".join(DIMENSIONS)),
        ("top", {"by": "colo", "n": "0"}, "n: '0' is not an integer from 1 to 100"),
        ("samples", {"limit": "5000"}, "limit: '5000' is not an integer from 1 to 1000"),
        ("samples", {"offset": "-1"}, "offset: '-1' is not an integer from 0 to 1000000"),
        ("summary", {"f": "nope:1"}, "f: unknown dimension 'nope'; one of " + ", ".join(DIMENSIONS)),
        ("summary", {"f": "source_asn:AS13335"}, "f: source_asn takes an integer, got 'AS13335' in 'source_asn:AS13335'"),
        ("summary", {"f": "source_asn"}, "f: 'source_asn' is not dimension:value or !dimension:value"),
        ("summary", {"start": "1"}, "end: missing; start and end go together (or use range)"),
        ("attacks", {"start": "yesterday", "end": "1"}, "start: 'yesterday' is not an RFC 3339 time (e.g. 2026-01-01T00:00:00Z) or integer nanoseconds since the epoch"),
        ("rules", {"start": "2026-02-30T00:00:00Z", "end": "1"}, "start: '2026-02-30T00:00:00Z' is not an RFC 3339 time"),
        ("atp", {"start": "5", "end": "5"}, "end: must be after start"),
        ("timeseries", [("range", "1h"), ("range", "6h")], "range: given 2 times; give it once"),
    ],
)  # fmt: skip
def test_bad_parameters(client: httpx.Client, path: str, params: Any, message: str) -> None:
    r = client.get(f"/dashboard/api/{path}", params=params)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"].startswith(message)
