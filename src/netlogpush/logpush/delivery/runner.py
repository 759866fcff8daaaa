"""One Logpush job's delivery loop, in its own thread:

stream fetch → filter → sample → encode and batch → gzip → send (with retries) → ack.

The stream cursor moves only after a batch is delivered or durably dead-lettered, so a
crash, a kill -9 or a stop during retries loses nothing: the un-acked records are handed
out again (at-least-once; a retried object lands under the same name). Each job has its own
thread, consumer, sender and connection pool; a slow or hanging destination stalls only its
own job (issue 4, "Isolation").

``last_complete`` / ``last_error`` / ``error_message`` follow Cloudflare's job object: a
failure sets ``last_error`` and ``error_message``, the next success sets ``last_complete``
and clears ``error_message``. A job that has been failing with no successful push for
``disable_after_seconds`` (Cloudflare: 24 hours) is disabled and says why; its cursor stays
where it is, so re-enabling it resumes without loss.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from netlogpush.logpush.batch import Batch, Batcher, BatchLimits, batch_limits
from netlogpush.logpush.compress import gzip_bytes
from netlogpush.logpush.delivery.deadletter import DeadLetterStore
from netlogpush.logpush.delivery.metrics import JobMetrics
from netlogpush.logpush.delivery.retry import Outcome, RetryPolicy, deliver
from netlogpush.logpush.delivery.sender import BatchMeta, Sender, SendResult
from netlogpush.logpush.filter import Filter
from netlogpush.logpush.output_options import (
    OutputOptions,
    Sampler,
    compile_options,
    parse_output_options,
)
from netlogpush.stream.interface import DeliverPolicy, Fetched, RecordStream

log = logging.getLogger(__name__)

DAY_SECONDS = 24 * 3600
_EMPTY = np.empty(0, dtype=np.int64)


def _api_time(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class JobState:
    enabled: bool = True
    last_complete: datetime | None = None
    last_error: datetime | None = None
    error_message: str | None = None
    disabled_reason: str | None = None

    def to_api(self) -> dict[str, Any]:
        """The job-object fields, in Cloudflare's shapes."""
        return {
            "enabled": self.enabled,
            "last_complete": _api_time(self.last_complete),
            "last_error": _api_time(self.last_error),
            "error_message": self.error_message,
        }


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    fetch_max_records: int = 65_536
    idle_wait_seconds: float = 0.5  # longest fetch wait, so stop() is noticed quickly
    disable_after_seconds: float = DAY_SECONDS
    #: On stop, how long the last (flushed) batch may keep retrying before it is left
    #: un-acked for the next start to send.
    shutdown_grace_seconds: float = 5.0
    sample_seed: int = 0


class JobRunner:
    def __init__(
        self,
        job_id: str,
        stream: RecordStream,
        sender: Sender,
        deadletters: DeadLetterStore,
        *,
        options: OutputOptions | None = None,
        where: Filter | None = None,
        limits: BatchLimits | None = None,
        retry: RetryPolicy | None = None,
        config: RunnerConfig | None = None,
        consumer: str | None = None,
        deliver_policy: DeliverPolicy = "all",
        metrics: JobMetrics | None = None,
        state: JobState | None = None,
        on_state: Callable[[JobState], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], int] = time.time_ns,
        rng: random.Random | None = None,
    ) -> None:
        self.job_id = job_id
        self.stream = stream
        self.sender = sender
        self.deadletters = deadletters
        self.options = options or parse_output_options(None)
        self.where = where
        self.retry = retry or RetryPolicy()
        self.config = config or RunnerConfig()
        self.consumer = consumer or f"logpush-{job_id}"
        self.metrics = metrics or JobMetrics()
        self.on_state = on_state
        self.clock = clock
        self.wall_clock = wall_clock
        self.rng = rng or random.Random()
        self._state = state or JobState()
        self._state_lock = threading.Lock()
        self._encoder = compile_options(self.options)
        self._batcher = Batcher(self._encoder, limits or batch_limits(), clock)
        self._sampler = Sampler(self.options.sample_rate, self.config.sample_seed)
        self._content_type = (
            "text/csv" if self.options.output_type == "csv" else "application/x-ndjson"
        )
        self._halt = threading.Event()  # set by stop() and by disabling
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._blocked = False  # a batch was left un-acked: nothing after it may be acked
        self._pending_seqs = _EMPTY  # stream sequence of each record held by the batcher
        self._pending_ns = _EMPTY  # its Datetime, for {DATE}
        self._started = clock()
        self._last_success = self._started
        stream.add_consumer(self.consumer, deliver_policy)
        # Records fetched by an earlier runner in this process but never acked come again.
        stream.rewind(self.consumer)
        info = stream.consumer_info(self.consumer)
        self._acked = info.cursor
        self._fetched_to = info.cursor
        self._refresh_lag()

    # ---- control ---------------------------------------------------------------------------

    @property
    def state(self) -> JobState:
        with self._state_lock:
            return self._state

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("runner already started")
        self._thread = threading.Thread(target=self.run, name=f"logpush-{self.job_id}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop fetching, flush the pending batch (within the grace period) and return."""
        self._stopping.set()
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                self.step()
            if self._stopping.is_set() and self.state.enabled and not self._blocked:
                self._flush()
        except Exception as exc:  # the stream or the dead-letter disk failed: stop, keep cursor
            log.exception("logpush job %s stopped", self.job_id)
            self._failed(f"delivery stopped: {type(exc).__name__}: {exc}")
            self._halt.set()

    # ---- one iteration ---------------------------------------------------------------------

    def step(self) -> None:
        wait = self.config.idle_wait_seconds
        deadline = self._batcher.deadline()
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - self.clock()))
        fetched = self.stream.fetch(self.consumer, self.config.fetch_max_records, wait)
        batches = self._ingest(fetched) if fetched is not None else self._batcher.poll()
        for batch in batches:
            if not self._send(batch, self.retry, self._halt, final=False):
                return
        if self._batcher.pending_records == 0:
            self._ack(self._fetched_to)  # everything fetched was filtered out or delivered
        self._refresh_lag()

    def _refresh_lag(self) -> None:
        info = self.stream.consumer_info(self.consumer)
        self.metrics.set(lag=info.lag, skipped_records=info.skipped)

    def _ingest(self, fetched: Fetched) -> list[Batch]:
        table = fetched.table
        n = table.num_rows
        seqs = fetched.seqs()
        if len(seqs) != n:  # defensive: the records are the last n sequence numbers
            seqs = np.arange(fetched.last_seq - n + 1, fetched.last_seq + 1, dtype=np.int64)
        if self.where is not None and n:
            mask = pc.fill_null(self.where.mask(table), False)
            table = table.filter(mask)
            seqs = seqs[mask.to_numpy(zero_copy_only=False)]
        keep = self._sampler.mask(table.num_rows)
        if keep is not None:
            table = table.filter(pa.array(keep))
            seqs = seqs[keep]
        self.metrics.add(records_read=n, records_filtered=n - table.num_rows)
        self._fetched_to = fetched.last_seq
        if not table.num_rows:
            return self._batcher.poll()
        stamps = table.column("Datetime").to_numpy().astype(np.int64, copy=False)
        self._pending_seqs = np.concatenate([self._pending_seqs, seqs])
        self._pending_ns = np.concatenate([self._pending_ns, stamps])
        return self._batcher.add_table(table)

    # ---- delivery --------------------------------------------------------------------------

    def _walls(self, *monos: float) -> list[int]:
        """Wall-clock ns of monotonic instants, all from ONE reading of both clocks: reading
        them afresh per instant lets the offset jitter, so a batch opened and closed at
        nearly the same moment could end before it starts (and ``paths.object_name``
        refuses that, which stopped the job)."""
        wall, mono_now = self.wall_clock(), self.clock()
        return [wall - int((mono_now - m) * 1e9) for m in monos]

    def _send(self, batch: Batch, policy: RetryPolicy, stop: threading.Event, *,
              final: bool) -> bool:
        """Deliver or dead-letter ``batch`` and ack; ``False`` if it was left un-acked."""
        n = batch.records
        seqs, stamps = self._pending_seqs[:n], self._pending_ns[:n]
        body = gzip_bytes(batch.data)
        start_ns, end_ns = self._walls(batch.opened_at, batch.closed_at)
        meta = BatchMeta(
            job_id=self.job_id,
            raw=batch.data,
            records=n,
            first_seq=int(seqs[0]),
            last_seq=int(seqs[-1]),
            first_record_ns=int(stamps[0]),
            start_ns=start_ns,
            end_ns=end_ns,
            content_type=self._content_type,
        )
        outcome = deliver(self.sender, body, meta, policy, stop, rng=self.rng, clock=self.clock,
                          on_retry=self._on_retry)
        self.metrics.add(upload_attempts=outcome.attempts)
        if outcome.delivered:
            self.metrics.add(uploads=1, records_delivered=n, bytes_uncompressed=len(batch.data),
                             bytes_compressed=len(body))
            self._succeeded()
        elif outcome.verdict == "aborted" or (final and outcome.verdict == "exhausted"):
            self._blocked = True
            return False
        else:
            self._dead_letter(body, meta, outcome)
        self._pending_seqs, self._pending_ns = self._pending_seqs[n:], self._pending_ns[n:]
        self._ack(int(self._pending_seqs[0]) - 1 if len(self._pending_seqs) else self._fetched_to)
        return True

    def _dead_letter(self, body: bytes, meta: BatchMeta, outcome: Outcome) -> None:
        last = outcome.last
        self.deadletters.put(body, meta, reason=outcome.verdict, result=last,
                             attempts=outcome.attempts, now_ns=self.wall_clock())
        self.metrics.add(deadlettered_batches=1, deadlettered_records=meta.records)
        what = "refused" if outcome.verdict == "rejected" else "gave up after retries"
        self._failed(f"{what}: {last.message}; {meta.records} records dead-lettered")

    def _on_retry(self, result: SendResult, wait: float) -> None:
        self.metrics.add(retries=1)
        self._refresh_lag()  # a stuck job's lag grows while it retries
        self._failed(result.message)

    def _flush(self) -> None:
        grace = replace(self.retry, window_seconds=self.config.shutdown_grace_seconds)
        for batch in self._batcher.flush():
            if not self._send(batch, grace, threading.Event(), final=True):
                return

    def _ack(self, up_to: int) -> None:
        if up_to > self._acked:
            self.stream.ack(self.consumer, up_to)
            self._acked = up_to

    # ---- job state -------------------------------------------------------------------------

    def _set_state(self, state: JobState) -> None:
        with self._state_lock:
            self._state = state
        if self.on_state is not None:
            self.on_state(state)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.wall_clock() / 1e9, tz=UTC)

    def _succeeded(self) -> None:
        self._last_success = self.clock()
        self._set_state(replace(self.state, last_complete=self._now(), error_message=None))

    def _failed(self, message: str) -> None:
        state = replace(self.state, last_error=self._now(), error_message=message)
        idle = self.clock() - self._last_success
        if state.enabled and idle >= self.config.disable_after_seconds:
            hours = self.config.disable_after_seconds / 3600
            reason = f"disabled: no successful push for {hours:g} hours"
            state = replace(state, enabled=False, disabled_reason=reason,
                            error_message=f"{reason}; last error: {message}")
            self._halt.set()
        self._set_state(state)
