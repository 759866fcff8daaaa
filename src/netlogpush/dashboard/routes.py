"""The dashboard's HTTP routes: the page, its static files and its JSON (docs/dashboard.md).

Everything here reads analytics only; jobs, tokens and destinations are never reachable from
it. Rules are written by the page through the v4 rules API with a token the user gives, not
through these routes.

The handlers are plain ``def``: every query is a blocking DuckDB call, and FastAPI runs plain
functions in its threadpool, so a slow query does not stall the event loop.
"""

from __future__ import annotations

import gzip
import importlib.resources
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from netlogpush.analytics.labels import DIMENSION_LABELS
from netlogpush.analytics.queries import DIMENSIONS, Point, Queries
from netlogpush.analytics.samples import MAX_ID, Samples
from netlogpush.analytics.store import NS_PER_S
from netlogpush.dashboard.params import (
    COUNTINGS,
    DEFAULT_RANGE,
    METRICS,
    RANGES,
    TABS,
    DashboardView,
    ParamError,
    Params,
    int_dimensions,
    parse_view,
)
from netlogpush.dashboard.rule_from_filters import RULE_FIELDS, rule_from_filters
from netlogpush.dataset.timestamps import format_datetime

STATIC_DIR = Path(__file__).with_name("static")
PLOTLY = "plotly.min.js"
TOP_SERIES = 10
MAX_TOP = 100
MAX_SAMPLES_PAGE = 1000
MAX_SAMPLES_OFFSET = 1_000_000

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_STATIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DECIMAL = re.compile(r"[0-9]{1,39}")
# The page and its files change with the package: revalidate. The JSON is live data.
_REVALIDATE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# plotly.min.js changes only with the installed plotly package.
_LONG_CACHE = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}


def plotly_path() -> Path | None:
    """plotly.min.js as the installed ``plotly`` package ships it."""
    try:
        found = importlib.resources.files("plotly") / "package_data" / PLOTLY
    except ModuleNotFoundError:
        return None
    path = Path(str(found))
    return path if path.is_file() else None


class _Gzipped:
    """plotly.min.js compressed once (4.6 MB -> ~1.4 MB) for clients that accept gzip."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[Path, bytes] = {}

    def get(self, path: Path) -> bytes:
        with self._lock:
            data = self._cache.get(path)
            if data is None:
                data = self._cache[path] = gzip.compress(path.read_bytes(), 6, mtime=0)
            return data


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_NO_STORE)


def _answer(build: Callable[[], Mapping[str, Any]]) -> Response:
    """``build()`` as JSON; a ``ParamError`` from it as a 400 naming the parameter."""
    try:
        return JSONResponse(dict(build()), headers=_NO_STORE)
    except ParamError as exc:
        return _error(400, str(exc))


def _rfc3339(ns: int) -> str:
    return str(format_datetime(pa.array([ns], pa.int64()), "rfc3339ns")[0].as_py())


def _series(points: list[Point], dv: DashboardView) -> list[dict[str, Any]]:
    """One series per key over every bucket of the window (0 where nothing was counted),
    largest first and "Other" last."""
    v, step = dv.view, dv.bucket_s * NS_PER_S
    buckets = list(range(v.start_ns, v.end_ns, step))
    index = {b: i for i, b in enumerate(buckets)}
    values: dict[str, list[int]] = {}
    for p in points:
        values.setdefault(p.key, [0] * len(buckets))[index[p.bucket_ns]] += p.value
    order = sorted(values, key=lambda k: (k == "Other", -sum(values[k]), k))
    times = [b // 1_000_000 for b in buckets]
    return [
        {
            "key": key,
            "t": times,
            "value": values[key],
            "rate": [x / dv.bucket_s for x in values[key]],
        }
        for key in order
    ]


def _file(path: Path, headers: Mapping[str, str]) -> Response:
    media = _MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media, headers=dict(headers))


def create_dashboard_router(
    queries: Queries,
    *,
    api_base: str = "/client/v4",
    rules_api: bool = False,
    clock: Callable[[], int] = time.time_ns,
) -> APIRouter:
    """The dashboard's routes, all under ``/dashboard``. ``clock`` gives "now" in ns (tests
    inject one); ``rules_api`` tells the page whether it can write rules at ``api_base``."""
    router = APIRouter(include_in_schema=False)
    samples = Samples(queries.store)
    retention = queries.store.retention
    gzipped = _Gzipped()

    def view_of(request: Request) -> DashboardView:
        return parse_view(request.query_params.multi_items(), clock(), retention)

    def page() -> Response:
        index = STATIC_DIR / "index.html"
        if not index.is_file():
            return _error(404, "the dashboard page is not installed (static/index.html)")
        return _file(index, _REVALIDATE)

    router.add_api_route("/dashboard", page, methods=["GET"])
    router.add_api_route("/dashboard/", page, methods=["GET"])

    @router.get("/dashboard/static/{name}")
    def static(request: Request, name: str) -> Response:
        if name == PLOTLY:
            path = plotly_path()
            if path is None:
                return _error(404, "plotly is not installed (pip install plotly)")
            if "gzip" in request.headers.get("accept-encoding", "").lower():
                return Response(
                    gzipped.get(path),
                    media_type=_MEDIA_TYPES[".js"],
                    headers={**_LONG_CACHE, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
                )
            return _file(path, {**_LONG_CACHE, "Vary": "Accept-Encoding"})
        path = STATIC_DIR / name
        # One plain file name of static/ (the pattern rules out separators and "..").
        if not _STATIC_NAME.fullmatch(name) or ".." in name or not path.is_file():
            return _error(404, f"no static file {name!r}")
        return _file(path, _REVALIDATE)

    @router.get("/dashboard/api/meta")
    def meta() -> Response:
        return _answer(
            lambda: {
                "dimensions": [{"key": k, "label": DIMENSION_LABELS[k]} for k in DIMENSIONS],
                "ranges": [
                    {"key": k, "label": label, "seconds": seconds, "bucket_s": bucket}
                    for k, (seconds, bucket, label) in RANGES.items()
                ],
                "default_range": DEFAULT_RANGE,
                "tabs": [{"key": k, "label": label} for k, (_, label) in TABS.items()],
                "metrics": list(METRICS),
                "countings": list(COUNTINGS),
                "int_dimensions": list(int_dimensions()),
                "rule_dimensions": list(RULE_FIELDS),
                "now_ns": clock(),
                "rules_api": rules_api,
                "api_base": api_base,
            }
        )

    @router.get("/dashboard/api/timeseries")
    def timeseries(request: Request) -> Response:
        def build() -> dict[str, Any]:
            dv = view_of(request)
            points = queries.timeseries(dv.view, dv.bucket_s, dv.dim, dv.metric, TOP_SERIES)
            return {
                "bucket_s": dv.bucket_s,
                "metric": dv.metric,
                "dim": dv.dim,
                "start_ns": dv.view.start_ns,
                "end_ns": dv.view.end_ns,
                "series": _series(points, dv),
            }

        return _answer(build)

    @router.get("/dashboard/api/summary")
    def summary(request: Request) -> Response:
        def build() -> dict[str, Any]:
            dv = view_of(request)
            s = queries.summary(dv.view, dv.peak_bucket_s)
            return {
                "attacks": s.attacks,
                "packets": s.packets,
                "bytes": s.bytes,
                "bits": s.bytes * 8,
                "dropped_packets": s.dropped_packets,
                "dropped_bytes": s.dropped_bytes,
                "mitigated_pct": s.mitigated_pct,
                "largest_attack_pps": s.largest_attack_pps,
                "largest_attack_bps": s.largest_attack_bps,
                "top_source": s.top_source,
                "previous": s.previous,
                "change_pct": s.change_pct,
                "peak_bucket_s": dv.peak_bucket_s,
                "start_ns": dv.view.start_ns,
                "end_ns": dv.view.end_ns,
            }

        return _answer(build)

    @router.get("/dashboard/api/top")
    def top(request: Request) -> Response:
        def build() -> dict[str, Any]:
            params = Params(request.query_params.multi_items())
            dv = parse_view(params, clock(), retention)
            by = params.dimension("by", None)
            n = params.integer("n", 10, 1, MAX_TOP)
            rows = queries.top(dv.view, by, dv.metric, n)
            return {
                "by": by,
                "metric": dv.metric,
                "rows": [{"key": k, "value": v} for k, v in rows],
            }

        return _answer(build)

    @router.get("/dashboard/api/attacks")
    def attacks(request: Request) -> Response:
        def build() -> dict[str, Any]:
            dv = view_of(request)
            found = queries.attacks(dv.view, dv.peak_bucket_s)
            return {
                "peak_bucket_s": dv.peak_bucket_s,
                "attacks": [
                    {
                        "attack_id": a.attack_id,
                        "start_ns": a.start_ns,
                        "end_ns": a.end_ns,
                        "start": _rfc3339(a.start_ns),
                        "end": _rfc3339(a.end_ns),
                        "vector": a.vector,
                        "target": a.target,
                        "packets": a.packets,
                        "bytes": a.bytes,
                        "peak_pps": a.peak_pps,
                        "peak_bps": a.peak_bps,
                        "top_sources": list(a.top_sources),
                    }
                    for a in found
                ],
            }

        return _answer(build)

    @router.get("/dashboard/api/rules")
    def rules(request: Request) -> Response:
        def build() -> dict[str, Any]:
            dv = view_of(request)
            return {
                "rows": [
                    {"system": s, "rule_id": rid, "rule_name": name, "packets": p}
                    for s, rid, name, p in queries.rules_hit(dv.view)
                ]
            }

        return _answer(build)

    @router.get("/dashboard/api/atp")
    def atp(request: Request) -> Response:
        def build() -> dict[str, Any]:
            dv = view_of(request)
            return {
                "rows": [
                    {"reason": r, "state": s, "packets": p}
                    for r, s, p in queries.atp_reasons(dv.view)
                ]
            }

        return _answer(build)

    @router.get("/dashboard/api/samples")
    def sample_log(request: Request) -> Response:
        def build() -> dict[str, Any]:
            params = Params(request.query_params.multi_items())
            dv = parse_view(params, clock(), retention)
            limit = params.integer("limit", 50, 1, MAX_SAMPLES_PAGE)
            offset = params.integer("offset", 0, 0, MAX_SAMPLES_OFFSET)
            found = samples.page(dv.view, dv.attack_id, limit, offset)
            return {"total": found.total, "limit": limit, "offset": offset, "rows": found.rows}

        return _answer(build)

    @router.get("/dashboard/api/samples/{sample_id}")
    def sample(sample_id: str) -> Response:
        if not _DECIMAL.fullmatch(sample_id) or int(sample_id) > MAX_ID:
            return _error(400, f"sample id: {sample_id!r} is not a decimal sample id")
        found = samples.get(int(sample_id))
        if found is None:
            return _error(404, f"no sample {sample_id} (gone with retention, or never stored)")
        return JSONResponse(found, headers=_NO_STORE)

    @router.get("/dashboard/api/rule")
    def rule(request: Request) -> Response:
        def build() -> dict[str, Any]:
            filters = view_of(request).view.filters
            try:
                made = rule_from_filters(filters)
            except ValueError as exc:  # a filter with no firewall equivalent
                raise ParamError(f"f: {exc}") from None
            return {
                "expression": made.expression,
                "description": made.description,
                "action": made.action,
            }

        return _answer(build)

    return router


def create_dashboard_app(
    queries: Queries,
    *,
    api_base: str = "/client/v4",
    rules_api: bool = False,
    clock: Callable[[], int] = time.time_ns,
) -> FastAPI:
    """The dashboard alone in a bare app (tests; the browser tests run it under uvicorn)."""
    app = FastAPI(title="netlogpush dashboard", openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(
        create_dashboard_router(queries, api_base=api_base, rules_api=rules_api, clock=clock)
    )
    return app
