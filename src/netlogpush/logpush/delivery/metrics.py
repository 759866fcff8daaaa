"""Per-job delivery counters, readable as a dict (API) or Prometheus text (``/metrics``).

Hand-written rather than ``prometheus_client``: the counters are a handful of integers
per job, read by the API as JSON too, and a registry of collectors would add a dependency
and a global for no gain. Counters only grow; ``lag`` is a gauge.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

_HELP: dict[str, tuple[str, str]] = {
    "uploads": ("counter", "Batches delivered to the destination."),
    "upload_attempts": ("counter", "Upload attempts, successful or not."),
    "retries": ("counter", "Upload attempts that failed and were retried."),
    "records_read": ("counter", "Records read from the stream."),
    "records_filtered": ("counter", "Records dropped by the job's filter or sample_rate."),
    "records_delivered": ("counter", "Records in delivered batches."),
    "bytes_uncompressed": ("counter", "Delivered bytes before gzip."),
    "bytes_compressed": ("counter", "Delivered bytes after gzip."),
    "deadlettered_batches": ("counter", "Batches put in the dead-letter store."),
    "deadlettered_records": ("counter", "Records put in the dead-letter store."),
    "skipped_records": ("counter", "Records the job never got (passed by stream retention)."),
    "lag": ("gauge", "Records behind the stream head (not yet acknowledged)."),
}


@dataclass
class JobMetrics:
    uploads: int = 0
    upload_attempts: int = 0
    retries: int = 0
    records_read: int = 0
    records_filtered: int = 0
    records_delivered: int = 0
    bytes_uncompressed: int = 0
    bytes_compressed: int = 0
    deadlettered_batches: int = 0
    deadlettered_records: int = 0
    skipped_records: int = 0
    lag: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, value in deltas.items():
                setattr(self, name, getattr(self, name) + value)

    def set(self, **values: int) -> None:
        with self._lock:
            for name, value in values.items():
                setattr(self, name, value)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if f.name in _HELP}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_prometheus(jobs: Mapping[str, JobMetrics], prefix: str = "netlogpush_logpush") -> str:
    """Prometheus text exposition (format 0.0.4) of every job's counters."""
    snaps = {job: m.snapshot() for job, m in sorted(jobs.items())}
    lines: list[str] = []
    for name, (kind, text) in _HELP.items():
        metric = f"{prefix}_{name}" + ("_total" if kind == "counter" else "")
        lines.append(f"# HELP {metric} {text}")
        lines.append(f"# TYPE {metric} {kind}")
        for job, snap in snaps.items():
            lines.append(f'{metric}{{job_id="{_label(job)}"}} {snap[name]}')
    return "\n".join(lines) + "\n"
