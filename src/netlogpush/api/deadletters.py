"""netlogpush extensions on a job: its dead letters and its health metrics.

``GET  /accounts/{account_id}/logpush/jobs/{job_id}/deadletters``         list entries
``POST /accounts/{account_id}/logpush/jobs/{job_id}/deadletters/replay``  send them again
``GET  /accounts/{account_id}/logpush/jobs/{job_id}/metrics``             delivery counters

Cloudflare has no such routes; they keep its envelope, its token rules (Logs Write, like every
Logpush route, since dead letters hold records) and account scoping: a job of another account
is "not found". The logic is deadletter_ops.py's, shared with ``netlogpush deadletters``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from netlogpush.api.envelope import FAILURES, Envelope, invalid, ok
from netlogpush.api.jobs import AccountId, JobId, _auth, _not_found, _store
from netlogpush.logpush.delivery import deadletter_ops

#: Given by the service: a running job's counters (JobMetrics.snapshot), None if not running.
MetricsProvider = Callable[[str], dict[str, int] | None]


class DeadLetterEntry(BaseModel):
    id: str
    time: str = Field(description="When the batch was dead-lettered (UTC, RFC 3339).")
    records: int
    bytes: int = Field(description="Size of the stored gzip body.")
    reason: str = Field(description='"rejected" (a final answer) or "exhausted" (retries).')
    status: int | None = Field(description="The destination's HTTP status, if it answered.")
    message: str
    attempts: int
    first_seq: int
    last_seq: int


class ReplayedEntry(DeadLetterEntry):
    location: str | None = None
    error: str | None = None


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entries: list[Annotated[str, Field(max_length=128)]] | None = Field(
        default=None, max_length=10_000, description="Entry ids to replay; omitted means all."
    )


class ReplayOutcome(BaseModel):
    delivered: list[ReplayedEntry]
    delivered_records: int
    failed: list[ReplayedEntry]
    missing: list[str] = Field(description="Requested entry ids the store does not hold.")


class HeldDeadLetters(BaseModel):
    batches: int
    records: int


class JobHealth(BaseModel):
    job_id: int
    running: bool = Field(description="Whether the job has a runner in this server now.")
    counters: dict[str, int] = Field(
        description="uploads, upload_attempts, retries, records_read, records_filtered, "
        "records_delivered, bytes_uncompressed, bytes_compressed, deadlettered_batches, "
        "deadlettered_records, skipped_records (counters since start) and lag (gauge)."
    )
    deadletter: HeldDeadLetters


def _job(request: Request, account_id: str, job_id: int) -> dict[str, Any]:
    job = _store(request).get(account_id, job_id)
    if job is None:
        raise _not_found(job_id)
    return job


def build_deadletters_router() -> APIRouter:
    router = APIRouter(
        prefix="/accounts/{account_id}/logpush/jobs/{job_id}",
        responses=FAILURES,
        dependencies=[Depends(_auth)],
    )

    @router.get(
        "/deadletters",
        response_model=Envelope[list[DeadLetterEntry]],
        summary="List a job's dead letters (netlogpush extension)",
    )
    def list_deadletters(request: Request, account_id: AccountId, job_id: JobId) -> Any:
        _job(request, account_id, job_id)
        return ok(deadletter_ops.list_entries(request.app.state.api.data_dir, job_id))

    @router.post(
        "/deadletters/replay",
        response_model=Envelope[ReplayOutcome],
        summary="Replay a job's dead letters to its destination (netlogpush extension)",
    )
    def replay_deadletters(
        request: Request,
        account_id: AccountId,
        job_id: JobId,
        body: Annotated[ReplayRequest | None, Body()] = None,
    ) -> Any:
        # A plain (sync) route: FastAPI runs it in a worker thread, so the uploads it makes
        # do not hold up the event loop.
        job = _job(request, account_id, job_id)
        entries = body.entries if body is not None else None
        try:
            report = deadletter_ops.replay(
                request.app.state.api.data_dir, job_id, job["destination_conf"], entries
            )
        except deadletter_ops.ReplayError as exc:
            raise invalid([("destination_conf", str(exc))]) from None
        return ok(report.as_dict())

    @router.get(
        "/metrics",
        response_model=Envelope[JobHealth],
        summary="A job's delivery health metrics (netlogpush extension)",
    )
    def job_metrics(request: Request, account_id: AccountId, job_id: JobId) -> Any:
        _job(request, account_id, job_id)
        provider: MetricsProvider | None = request.app.state.api.metrics_provider
        counters = provider(str(job_id)) if provider is not None else None
        return ok(deadletter_ops.job_metrics(request.app.state.api.data_dir, job_id, counters))

    return router
