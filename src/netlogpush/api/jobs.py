"""Logpush jobs: the persisted store, validation against the logpush libraries, and the routes
``/accounts/{account_id}/logpush/jobs[/{job_id}]`` and ``…/logpush/datasets/{dataset}/…``.

The job's ``destination_conf`` holds secrets (``header_Authorization=Splunk%20…``, keys). The
API returns it as given, as Cloudflare does, but logs only ``redact_destination_conf`` of it,
and ``jobs.json`` is mode 0600.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi import Path as PathParam

from netlogpush._jsonfile import locked, read_json, write_json
from netlogpush.api.auth import LOGS_WRITE, authorize
from netlogpush.api.envelope import (
    FAILURES,
    JOB_NOT_FOUND,
    NOT_ALLOWED,
    ApiError,
    Envelope,
    invalid,
    ok,
)
from netlogpush.api.schemas import DATASET_PATTERN, DeletedJob, JobCreate, JobUpdate, LogpushJob
from netlogpush.dataset.fields import fields_api_result
from netlogpush.logpush.batch import BatchLimitError, batch_limits
from netlogpush.logpush.destinations import (
    DestinationConfError,
    parse_destination_conf,
    redact_destination_conf,
)
from netlogpush.logpush.filter import FilterError, parse_filter
from netlogpush.logpush.output_options import OutputOptionsError, from_logpull_options

log = logging.getLogger(__name__)

DATASET = "network_analytics_logs"
JOBS_FILE = "jobs.json"
#: Response key order: the seed article's, then the rest of the job object.
JOB_KEYS = (
    "id", "dataset", "frequency", "kind", "enabled", "name", "logpull_options",
    "output_options", "filter", "destination_conf", "max_upload_bytes", "max_upload_records",
    "max_upload_interval_seconds", "filter_attack_traffic", "last_complete", "last_error",
    "error_message",
)  # fmt: skip
WRITABLE = (
    "name", "enabled", "frequency", "logpull_options", "output_options", "filter",
    "destination_conf", "max_upload_bytes", "max_upload_records", "max_upload_interval_seconds",
    "filter_attack_traffic",
)  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_job(job: dict[str, Any]) -> list[tuple[str, str]]:
    """Every rule the job breaks, as ``(field, rule)``; empty when the job is valid."""
    problems: list[tuple[str, str]] = []
    if job["dataset"] != DATASET:
        problems.append(("dataset", f"must be {DATASET} (the only dataset this server has)"))
    if job.get("kind") == "edge":
        problems.append(("kind", '"edge" is only available for the http_requests dataset'))
    try:
        parse_destination_conf(job["destination_conf"])
    except DestinationConfError as exc:
        problems.append(("destination_conf", f"{exc.parameter}: {exc.rule}"))
    try:
        parse_filter(job.get("filter"))
    except FilterError as exc:
        problems.append((f"filter.{exc.path}" if exc.path != "filter" else "filter",
                         f"{exc.message} [{exc.rule}]"))  # fmt: skip
    if job.get("output_options") is None and job.get("logpull_options"):
        try:
            from_logpull_options(job["logpull_options"])
        except OutputOptionsError as exc:
            problems += [(f"logpull_options.{k}", m) for k, m in exc.problems]
    for key in ("max_upload_bytes", "max_upload_records", "max_upload_interval_seconds"):
        try:
            batch_limits(**{key: job.get(key)})
        except BatchLimitError as exc:
            problems.append((exc.key, str(exc).removeprefix(f"{exc.key}: ")))
    return problems


class JobStore:
    """All accounts' jobs in ``jobs.json``. Job ids are global and never reused, as
    Cloudflare's are; every lookup also checks the account, so a job is invisible elsewhere."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / JOBS_FILE
        self._lock = threading.Lock()
        doc = read_json(self.path, {"next_id": 1, "jobs": []})
        self._next_id: int = int(doc["next_id"])
        self._jobs: dict[int, dict[str, Any]] = {int(j["id"]): j for j in doc["jobs"]}

    def _save(self) -> None:
        jobs = [self._jobs[i] for i in sorted(self._jobs)]
        with locked(self.path):
            write_json(self.path, {"next_id": self._next_id, "jobs": jobs})

    def for_account(self, account_id: str, dataset: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                public(j)
                for _, j in sorted(self._jobs.items())
                if j["account_id"] == account_id and (dataset is None or j["dataset"] == dataset)
            ]

    def all(self) -> list[dict[str, Any]]:
        """Every job with its ``account_id`` (for the delivery service)."""
        with self._lock:
            return [dict(j) for _, j in sorted(self._jobs.items())]

    def get(self, account_id: str, job_id: int) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return public(job) if job and job["account_id"] == account_id else None

    def count(self, account_id: str, dataset: str) -> int:
        with self._lock:
            return sum(
                1 for j in self._jobs.values()
                if j["account_id"] == account_id and j["dataset"] == dataset
            )  # fmt: skip

    def create(self, account_id: str, job: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            job = {**job, "id": self._next_id, "account_id": account_id}
            job.update(last_complete=None, last_error=None, error_message=None)
            self._jobs[self._next_id] = job
            self._next_id += 1
            self._save()
            return public(job)

    def replace(self, account_id: str, job_id: int, job: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            old = self._jobs[job_id]
            assert old["account_id"] == account_id
            new = {**old, **{k: job[k] for k in WRITABLE}}
            if new["enabled"] and not old["enabled"]:
                # docs: last_complete is empty when the job "has just been enabled"
                new["last_complete"] = None
            self._jobs[job_id] = new
            self._save()
            return public(new)

    def delete(self, account_id: str, job_id: int) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job["account_id"] != account_id:
                return False
            del self._jobs[job_id]
            self._save()
            return True

    def record_success(self, job_id: int, last_complete: datetime) -> None:
        """A push succeeded up to ``last_complete``: the failure fields are cleared (docs)."""
        self._set(job_id, last_complete=_iso(last_complete), last_error=None, error_message=None)

    def record_failure(self, job_id: int, when: datetime, message: str) -> None:
        """Only the last failure is kept (docs). ``message`` must not contain secrets."""
        self._set(job_id, last_error=_iso(when), error_message=message)

    def disable(self, job_id: int, message: str) -> None:
        self._set(job_id, enabled=False, error_message=message)

    def _set(self, job_id: int, **values: Any) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id].update(values)
                self._save()


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def public(job: dict[str, Any]) -> dict[str, Any]:
    """The job object as the API shows it (no ``account_id``), keys in a fixed order."""
    return {k: job.get(k) for k in JOB_KEYS}


# ------------------------------------------------------------------------------------------
# Routes

AccountId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$", max_length=32)]
JobId = Annotated[int, PathParam(ge=1, le=2**53)]
DatasetId = Annotated[str, PathParam(pattern=DATASET_PATTERN, max_length=256)]


def _auth(request: Request, account_id: AccountId) -> None:
    """A router dependency, so it runs before the body is validated: an anonymous caller
    learns nothing about the body rules, and gets 401 whatever it sent (as Cloudflare)."""
    authorize(request.app.state.api.tokens, request.headers, account_id, LOGS_WRITE)


def _store(request: Request) -> JobStore:
    store: JobStore = request.app.state.api.jobs
    return store


def _not_found(job_id: int) -> ApiError:
    return ApiError(404, [(JOB_NOT_FOUND, f"job not found: no job {job_id} in this account")])


def build_router() -> APIRouter:
    router = APIRouter(
        prefix="/accounts/{account_id}/logpush",
        responses=FAILURES,
        dependencies=[Depends(_auth)],
    )

    @router.get("/jobs", response_model=Envelope[list[LogpushJob]], summary="List Logpush jobs")
    def list_jobs(request: Request, account_id: AccountId) -> dict[str, Any]:
        return ok(_store(request).for_account(account_id))

    @router.post("/jobs", response_model=Envelope[LogpushJob], summary="Create a Logpush job")
    def create_job(
        request: Request, account_id: AccountId, body: Annotated[JobCreate, Body()]
    ) -> dict[str, Any]:
        job = body.model_dump(exclude={"ownership_challenge"})
        job["kind"] = job["kind"] or ""
        job["frequency"] = job["frequency"] or "high"
        job["output_options"] = body.output_options.to_api() if body.output_options else None
        problems = validate_job(job)
        if problems:
            raise invalid(problems)
        limit: int | None = request.app.state.api.max_jobs_per_dataset
        if limit is not None and _store(request).count(account_id, job["dataset"]) >= limit:
            raise ApiError(
                400, [(NOT_ALLOWED, "creating a new job is not allowed: exceeded max jobs allowed")]
            )
        request.app.state.api.admit_destination(
            account_id, job["destination_conf"], body.ownership_challenge
        )
        created = _store(request).create(account_id, job)
        log.info(
            "logpush job %d created in account %s: %s",
            created["id"], account_id, redact_destination_conf(job["destination_conf"]),
        )  # fmt: skip
        return ok(created)

    @router.get("/jobs/{job_id}", response_model=Envelope[LogpushJob], summary="Get a job")
    def get_job(request: Request, account_id: AccountId, job_id: JobId) -> dict[str, Any]:
        job = _store(request).get(account_id, job_id)
        if job is None:
            raise _not_found(job_id)
        return ok(job)

    @router.put("/jobs/{job_id}", response_model=Envelope[LogpushJob], summary="Update a job")
    def update_job(
        request: Request,
        account_id: AccountId,
        job_id: JobId,
        body: Annotated[JobUpdate, Body()],
    ) -> dict[str, Any]:
        old = _store(request).get(account_id, job_id)
        if old is None:
            raise _not_found(job_id)
        given = body.model_fields_set
        problems: list[tuple[str, str]] = []
        # Create-only fields (docs): the same value is accepted, a different one is not.
        if "dataset" in given and body.dataset != old["dataset"]:
            problems.append(("dataset", "cannot be changed after the job is created"))
        if "kind" in given and (body.kind or "") != old["kind"]:
            problems.append(("kind", "cannot be changed after the job is created"))
        if "destination_conf" in given and body.destination_conf is None:
            problems.append(("destination_conf", "cannot be null"))
        if "enabled" in given and body.enabled is None:
            problems.append(("enabled", "cannot be null"))
        new = dict(old)
        for key in WRITABLE:
            if key in given:
                new[key] = getattr(body, key)
        if "output_options" in given:
            new["output_options"] = body.output_options.to_api() if body.output_options else None
        new["frequency"] = new["frequency"] or "high"
        if not problems:
            problems = validate_job(new)
        if problems:
            raise invalid(problems)
        if new["destination_conf"] != old["destination_conf"]:
            # A new destination needs a new challenge and test upload (example-logpush-curl).
            request.app.state.api.admit_destination(
                account_id, new["destination_conf"], body.ownership_challenge
            )
        updated = _store(request).replace(account_id, job_id, new)
        log.info(
            "logpush job %d updated in account %s: %s",
            job_id, account_id, redact_destination_conf(new["destination_conf"]),
        )  # fmt: skip
        return ok(updated)

    @router.delete("/jobs/{job_id}", response_model=Envelope[DeletedJob], summary="Delete a job")
    def delete_job(request: Request, account_id: AccountId, job_id: JobId) -> dict[str, Any]:
        if not _store(request).delete(account_id, job_id):
            raise _not_found(job_id)
        log.info("logpush job %d deleted in account %s", job_id, account_id)
        # OAS-2024 answers {"id": …}; the docs example shows {} (spec §2.2). The SDK reads id.
        return ok({"id": job_id})

    @router.get(
        "/datasets/{dataset_id}/fields",
        response_model=Envelope[dict[str, str]],
        summary="List the fields of a dataset",
    )
    def dataset_fields(request: Request, account_id: AccountId, dataset_id: DatasetId) -> Any:
        _check_dataset(dataset_id)
        return ok(fields_api_result())

    @router.get(
        "/datasets/{dataset_id}/jobs",
        response_model=Envelope[list[LogpushJob]],
        summary="List the jobs of a dataset",
    )
    def dataset_jobs(request: Request, account_id: AccountId, dataset_id: DatasetId) -> Any:
        _check_dataset(dataset_id)
        return ok(_store(request).for_account(account_id, dataset_id))

    return router


def _check_dataset(dataset: str) -> None:
    if dataset != DATASET:
        raise invalid([("dataset_id", f"must be {DATASET} (the only dataset this server has)")])
