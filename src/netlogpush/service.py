"""``netlogpush serve``: sources -> pipeline -> record stream -> Logpush jobs, plus the API.

The service wires what the other packages provide; it holds no logic of its own beyond
keeping one ``JobRunner`` per enabled job in step with the job store:

- an ingest thread per source (capture files, an sFlow collector, a live interface) runs the
  pipeline and appends its records to the durable stream;
- the ``JobSupervisor`` starts, restarts (when a job's settings change) and stops runners,
  each a durable consumer of the stream with its own sender and dead-letter store, and writes
  their ``last_complete``/``last_error``/``error_message`` back to the job store;
- the API (``/client/v4``) and ``/metrics`` are served by uvicorn in the main thread, which
  also handles SIGTERM and SIGINT; on the way out the sources stop first, then every runner
  flushes what it holds, and what could not be sent stays un-acked for the next start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from netlogpush.config import Settings
from netlogpush.decode.frames import FrameBatch
from netlogpush.logpush.live import LiveFeed
from netlogpush.mitigation.reload import Reloader, SettingsStore
from netlogpush.pipeline import Pipeline
from netlogpush.stream.interface import RecordStream

log = logging.getLogger(__name__)

DATASET = "network_analytics_logs"
#: How often the supervisor looks for created, changed or deleted jobs.
SYNC_SECONDS = 1.0
#: The job settings that shape delivery: a change to any of them restarts the job's runner.
DELIVERY_KEYS = (
    "destination_conf", "output_options", "logpull_options", "filter", "frequency",
    "max_upload_bytes", "max_upload_records", "max_upload_interval_seconds",
)  # fmt: skip


@dataclass(slots=True)
class Ingest:
    """Feeds every source's batches through one pipeline into the stream."""

    pipeline: Pipeline
    stream: RecordStream
    #: Settings changed through the API reach the pipeline here, between two batches.
    reloader: Reloader | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)
    stoppers: list[Callable[[], None]] = field(default_factory=list)
    appended: int = 0
    #: Live subscribers (the WebSocket stream) get each table once it is in the stream.
    live: LiveFeed | None = None

    def add(
        self, name: str, batches: Iterable[FrameBatch], stop: Callable[[], None] | None = None
    ) -> None:
        def run() -> None:
            try:
                for frames in batches:
                    with self._lock:  # one pipeline: its systems keep state across batches
                        if self.reloader is not None:
                            self.reloader.apply_pending()
                        table = self.pipeline.process(frames)
                        if table.num_rows:
                            self.stream.append(table)
                            self.appended += table.num_rows
                            if self.live is not None:
                                self.live.publish(table)  # never blocks (drops for slow readers)
            except Exception:
                log.exception("source %s stopped", name)

        thread = threading.Thread(target=run, name=f"source-{name}", daemon=True)
        self.threads.append(thread)
        if stop is not None:
            self.stoppers.append(stop)
        thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        for stop in self.stoppers:
            stop()
        for thread in self.threads:
            thread.join(timeout)


def _fingerprint(job: dict[str, Any]) -> str:
    return json.dumps({k: job.get(k) for k in DELIVERY_KEYS}, sort_keys=True, default=str)


class JobSupervisor:
    """One running ``JobRunner`` per enabled ``network_analytics_logs`` job."""

    def __init__(self, jobs: Any, stream: RecordStream, data_dir: Path) -> None:
        from netlogpush.logpush.delivery import JobMetrics

        self.jobs = jobs
        self.stream = stream
        self.deadletter_dir = data_dir / "deadletter"
        self.runners: dict[int, tuple[str, Any]] = {}
        self.metrics: dict[str, JobMetrics] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def metrics_snapshot(self, job_id: str) -> dict[str, int] | None:
        """A job's counters for the API, None when it has had no runner since start."""
        metrics = self.metrics.get(job_id)
        return None if metrics is None else metrics.snapshot()

    def _runner(self, job: dict[str, Any]) -> Any:
        from netlogpush.logpush.batch import batch_limits
        from netlogpush.logpush.delivery import (
            DeadLetterStore,
            JobMetrics,
            JobRunner,
            JobState,
            make_sender,
        )
        from netlogpush.logpush.destinations import parse_destination_conf
        from netlogpush.logpush.filter import parse_filter
        from netlogpush.logpush.output_options import job_output_options

        job_id = int(job["id"])
        sender = make_sender(parse_destination_conf(job["destination_conf"]))
        metrics = self.metrics.setdefault(str(job_id), JobMetrics())

        def on_state(state: JobState) -> None:
            now = datetime.now(UTC)
            if not state.enabled and state.disabled_reason:
                self.jobs.disable(job_id, state.disabled_reason)
            elif state.error_message and state.last_error is not None:
                self.jobs.record_failure(job_id, state.last_error or now, state.error_message)
            elif state.last_complete is not None:
                self.jobs.record_success(job_id, state.last_complete)

        return JobRunner(
            str(job_id),
            self.stream,
            sender,
            DeadLetterStore(self.deadletter_dir, str(job_id)),
            options=job_output_options(job.get("output_options"), job.get("logpull_options")),
            where=parse_filter(job.get("filter")),
            limits=batch_limits(
                job.get("max_upload_records"),
                job.get("max_upload_bytes"),
                job.get("max_upload_interval_seconds"),
                job.get("frequency"),
            ),
            metrics=metrics,
            on_state=on_state,
        )

    def sync(self) -> None:
        wanted = {
            int(job["id"]): job
            for job in self.jobs.all()
            if job.get("enabled") and job.get("dataset") == DATASET
        }
        for job_id in list(self.runners):
            fingerprint, runner = self.runners[job_id]
            job = wanted.get(job_id)
            if job is None or _fingerprint(job) != fingerprint or not runner.running:
                runner.stop(timeout=10.0)
                del self.runners[job_id]
        for job_id, job in wanted.items():
            if job_id in self.runners:
                continue
            try:
                runner = self._runner(job)
            except (ValueError, OSError) as exc:  # e.g. a destination with no sender (websocket)
                log.warning("logpush job %s not started: %s", job_id, exc)
                continue
            runner.start()
            self.runners[job_id] = (_fingerprint(job), runner)

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.sync()
                except Exception:
                    log.exception("job supervisor")
                self._stop.wait(SYNC_SECONDS)

        self._thread = threading.Thread(target=loop, name="job-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(SYNC_SECONDS * 5)
        for _, runner in self.runners.values():
            runner.stop(timeout=15.0)
        self.runners.clear()


def serve(
    pipeline: Pipeline,
    data_dir: Path,
    host: str,
    port: int,
    sources: Iterable[tuple[str, Iterator[FrameBatch], Callable[[], None] | None]],
    on_ready: Callable[[str], None] | None = None,
    settings: Settings | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then shut down cleanly.

    With ``settings`` (what ``pipeline`` was built from), the mitigation rules are served on
    the API too, and a change there reaches the running systems between two batches.
    """
    from fastapi.responses import PlainTextResponse

    from netlogpush.api.app import ApiState, create_app
    from netlogpush.api.ownership import NetworkDestinationIO
    from netlogpush.logpush.delivery import render_prometheus
    from netlogpush.stream import open_stream

    data_dir.mkdir(parents=True, exist_ok=True)
    stream = open_stream(data_dir / "stream")
    state = ApiState(data_dir, destination_io=NetworkDestinationIO())
    reloader = None
    if settings is not None:
        from netlogpush.mitigation.atp_api import AdvancedTcpProtection
        from netlogpush.mitigation.rulesets import PhaseEntrypoints

        reloader = Reloader(pipeline, settings)
        store = SettingsStore(settings, reloader.request)
        state.rules, state.atp = PhaseEntrypoints(store), AdvancedTcpProtection(store)
    supervisor = JobSupervisor(state.jobs, stream, data_dir)
    state.metrics_provider = supervisor.metrics_snapshot
    app = create_app(state)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(render_prometheus(supervisor.metrics))

    ingest = Ingest(pipeline, stream, reloader=reloader, live=state.live)
    supervisor.start()
    for name, batches, stop in sources:
        ingest.add(name, batches, stop)
    server = _Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", ws="websockets-sansio")
    )

    def on_signal(signum: int, frame: object) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    if on_ready is not None:
        on_ready(f"http://{host}:{port}/client/v4")
    try:
        server.run()  # returns once a signal asked it to
    finally:
        ingest.stop()
        supervisor.stop()
        stream.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling.

    uvicorn re-raises SIGTERM after it has shut down, which would end the process before the
    runners flush; the service handles the signals itself and shuts uvicorn down first.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
