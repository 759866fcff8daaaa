"""Every generated dashboard file, by its path under ``dashboards/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from netlogpush.analytics.clickhouse_schema import schema_sql
from netlogpush.siem import grafana, splunk


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def expected_files() -> dict[str, str]:
    """Relative path -> content, for everything ``python -m netlogpush.siem`` writes."""
    files = {
        "clickhouse/schema.sql": schema_sql(),
        "grafana/network-analytics.json": _json(grafana.dashboard()),
    }
    files.update(splunk.files())
    return files


def write_all(directory: Path) -> list[Path]:
    written = []
    for rel, text in expected_files().items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
