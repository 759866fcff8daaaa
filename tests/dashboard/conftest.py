"""Fixtures shared by the dashboard's HTTP tests (test_routes, test_samples)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pyarrow as pa
import pytest
from dashboard_support import NOW, load, make_records

from netlogpush.analytics.queries import Queries
from netlogpush.dashboard import create_dashboard_app
from netlogpush.testing.server import serve_in_thread


@pytest.fixture(scope="package")
def records(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    """The real pipeline's records (dashboard_support.make_records): deterministic and
    immutable, so one run serves every module."""
    return make_records(tmp_path_factory.mktemp("dashboard"))


@pytest.fixture(scope="module")
def client(records: pa.Table) -> Iterator[httpx.Client]:
    """The dashboard app over an in-memory store of ``records`` (ids 1..n), under a real
    uvicorn, with "now" fixed at NOW."""
    app = create_dashboard_app(Queries(load(records)), clock=lambda: NOW)
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=30) as c:
        yield c
