"""``netlogpush serve``: sources -> pipeline -> record stream -> Logpush jobs, plus the API.

The service wires what the other packages provide; it holds no logic of its own beyond
keeping one ``JobRunner`` per enabled job in step with the job store:

- an ingest thread per source (capture files, an sFlow collector, a live interface) runs the
  pipeline and appends its records to the durable stream;
- the ``JobSupervisor`` starts, restarts (when a job's settings change) and stops runners,
  each a durable consumer of the stream with its own sender and dead-letter store, and writes
  their ``last_complete``/``last_error``/``error_message`` back to the job store;
- the analytics store (``SiemSide``) is fed from the stream and from the built-in receiver
  (Splunk HEC at ``/services/collector``, HTTP Logpush at ``/logpush``) and answers the
  dashboard at ``/dashboard``;
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
from fastapi import FastAPI

from netlogpush.config import Settings
from netlogpush.decode.frames import FrameBatch
from netlogpush.logpush.live import LiveFeed
from netlogpush.mitigation.reload import Reloader, SettingsStore
from netlogpush.pipeline import Pipeline
from netlogpush.receiver.tokens import HecTokenStore
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

    def finished(self) -> bool:
        """Whether every source has ended (capture files replayed to the end)."""
        return not any(thread.is_alive() for thread in self.threads)

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


DAY_NS = 86_400 * 1_000_000_000
#: How long a stopping server waits for open connections (a sender's idle keep-alive TLS
#: connection otherwise held the HTTPS listener open for ~10 s); jobs have flushed by then.
GRACE_SECONDS = 2


@dataclass(frozen=True, slots=True)
class TlsListen:
    """Where to serve the API, receiver and dashboard over HTTPS too."""

    host: str
    port: int
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class Running:
    """What ``serve`` hands its caller once everything is started (the demo drives it)."""

    url: str  # http://HOST:PORT
    tls_url: str | None  # https://HOST:PORT when serving HTTPS too
    ingest: Ingest
    supervisor: JobSupervisor
    siem: SiemSide | None
    shutdown: Callable[[], None]  # as SIGTERM: drain the sources and jobs, then stop


class SiemSide:
    """The analytics store, its feeds (the stream, the receiver) and the dashboard's routes."""

    def __init__(self, settings: Settings, stream: RecordStream, data_dir: Path) -> None:
        from netlogpush.analytics import AnalyticsStore, Queries, Retention
        from netlogpush.analytics.feed import StreamFeed
        from netlogpush.analytics.sink import StoreSink

        a = settings.analytics
        retention = Retention(
            int(a.raw_days * DAY_NS), int(a.minute_days * DAY_NS), int(a.hour_days * DAY_NS)
        )
        self.store = AnalyticsStore(data_dir / "analytics.duckdb", retention)
        self.queries = Queries(self.store)
        self.sink = StoreSink(self.store)
        self.feed = StreamFeed(stream, self.store) if a.from_stream else None
        self.receivers: dict[str, Any] = {}
        self.receive = settings.receiver.enabled

    def mount(self, app: FastAPI, hec_tokens: HecTokenStore, rules_api: bool) -> None:
        from fastapi.responses import RedirectResponse

        from netlogpush.dashboard import create_dashboard_router

        if self.receive:
            from netlogpush.receiver import HecReceiver, HttpLogpushReceiver

            self.receivers = {
                "hec": HecReceiver(hec_tokens, self.sink),
                "http_logpush": HttpLogpushReceiver(hec_tokens, self.sink),
            }
            for receiver in self.receivers.values():
                app.router.routes.extend(receiver.routes())
        app.include_router(create_dashboard_router(self.queries, rules_api=rules_api))

        @app.get("/", include_in_schema=False)
        def home() -> RedirectResponse:
            return RedirectResponse("/dashboard")

    def start(self) -> None:
        if self.feed is not None:
            self.feed.start()

    def stop(self) -> None:
        if self.feed is not None:
            self.feed.stop(timeout=15.0)
        self.store.close()

    def prometheus(self) -> str:
        """The receiver's and the store's counters, in Prometheus text format."""
        lines = [
            "# HELP netlogpush_receiver_requests_total Receiver requests by endpoint and outcome.",
            "# TYPE netlogpush_receiver_requests_total counter",
        ]
        for kind, receiver in self.receivers.items():
            for outcome, n in sorted(receiver.stats.as_dict()["requests"].items()):
                lines.append(
                    f'netlogpush_receiver_requests_total{{endpoint="{kind}",outcome="{outcome}"}} {n}'
                )
        lines += [
            "# HELP netlogpush_analytics_records_total Records offered to the analytics store.",
            "# TYPE netlogpush_analytics_records_total counter",
        ]
        feeds = {"receiver": self.sink.stats()}
        if self.feed is not None:
            fed = self.feed.stats()
            feeds["stream"] = {"inserted": fed["ingested"], "duplicates": fed["duplicates"],
                               "late": fed["late"]}  # fmt: skip
        for source, stats in feeds.items():
            for result in ("inserted", "duplicates", "late"):
                lines.append(
                    f'netlogpush_analytics_records_total{{source="{source}",result="{result}"}} '
                    f"{int(stats.get(result, 0))}"
                )
        return "\n".join(lines) + "\n"


def serve(
    pipeline: Pipeline,
    data_dir: Path,
    host: str,
    port: int,
    sources: Iterable[tuple[str, Iterator[FrameBatch], Callable[[], None] | None]],
    on_ready: Callable[[Running], None] | None = None,
    settings: Settings | None = None,
    tls: TlsListen | None = None,
) -> None:
    """Run until SIGTERM or SIGINT (or ``Running.shutdown``), then shut down cleanly.

    Shutting down stops the sources and flushes every job while the server still answers,
    so a job whose destination is this service's own receiver delivers its last batch; a
    second signal skips the wait.

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
    effective = settings or Settings()
    siem = SiemSide(effective, stream, data_dir) if effective.analytics.enabled else None
    if siem is not None:
        siem.mount(app, state.hec_tokens, rules_api=state.rules is not None)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> PlainTextResponse:
        text = render_prometheus(supervisor.metrics)
        return PlainTextResponse(text + (siem.prometheus() if siem is not None else ""))

    ingest = Ingest(pipeline, stream, reloader=reloader, live=state.live)
    supervisor.start()
    if siem is not None:
        siem.start()
    for name, batches, stop in sources:
        ingest.add(name, batches, stop)
    server = _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            ws="websockets-sansio",
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
    )
    # The same app on HTTPS as well: Logpush only sends to HTTPS endpoints.
    tls_server = None
    if tls is not None:
        tls_server = _Server(
            uvicorn.Config(
                app, host=tls.host, port=tls.port, log_level="warning", ws="websockets-sansio",
                timeout_graceful_shutdown=GRACE_SECONDS,
                ssl_certfile=str(tls.cert), ssl_keyfile=str(tls.key),
            )
        )  # fmt: skip
        tls_thread = threading.Thread(target=tls_server.run, name="https", daemon=True)
        tls_thread.start()

    stopping = threading.Event()

    def exit_servers() -> None:
        for srv in (server, tls_server):
            if srv is not None:
                srv.should_exit = True

    def drain() -> None:
        try:
            ingest.stop()
            supervisor.stop()
        finally:
            exit_servers()

    def shutdown() -> None:
        if stopping.is_set():
            exit_servers()
            return
        stopping.set()
        threading.Thread(target=drain, name="shutdown", daemon=True).start()

    def on_signal(signum: int, frame: object) -> None:
        shutdown()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    if on_ready is not None:
        tls_url = None if tls is None else f"https://{tls.host}:{tls.port}"
        on_ready(Running(f"http://{host}:{port}", tls_url, ingest, supervisor, siem, shutdown))
    try:
        server.run()  # returns once a signal asked it to
    finally:
        exit_servers()
        if tls_server is not None:
            tls_thread.join(10.0)
        ingest.stop()
        supervisor.stop()
        if siem is not None:
            siem.stop()
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
