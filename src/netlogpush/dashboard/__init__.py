"""The analytics dashboard: a static page and its JSON routes under ``/dashboard``
(docs/dashboard.md)."""

from __future__ import annotations

from netlogpush.dashboard.routes import create_dashboard_app, create_dashboard_router

__all__ = ["create_dashboard_app", "create_dashboard_router"]
