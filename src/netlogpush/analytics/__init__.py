"""The analytics store (DuckDB) and the dashboard's queries over it (docs/analytics.md)."""

from __future__ import annotations

from netlogpush.analytics.feed import StreamFeed
from netlogpush.analytics.queries import Filter, Queries, View, render
from netlogpush.analytics.store import AnalyticsStore, IngestResult, Retention

__all__ = [
    "AnalyticsStore",
    "Filter",
    "IngestResult",
    "Queries",
    "Retention",
    "StreamFeed",
    "View",
    "render",
]
