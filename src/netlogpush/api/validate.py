"""``POST …/logpush/validate/destination``, ``…/validate/destination/exists`` and
``…/validate/origin`` (reference spec §2.2), and the destination gate of job create/update:
the ownership challenge for AWS S3 without keys (§2.7) and the gzipped ``test.txt.gz``
upload that an HTTPS or Splunk endpoint must accept (§3.2).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from netlogpush.api.envelope import FAILURES, ApiError, Envelope, ok
from netlogpush.api.jobs import DATASET, AccountId, JobStore, _auth
from netlogpush.api.ownership import (
    ChallengeSigner,
    DestinationIO,
    ownership_problem,
    parse_or_400,
)
from netlogpush.api.schemas import Conf
from netlogpush.logpush.destinations import (
    Destination,
    DestinationConfError,
    HttpsDestination,
    SplunkDestination,
    parse_destination_conf,
)
from netlogpush.logpush.output_options import OutputOptionsError, from_logpull_options

#: Cloudflare's code for ownership and destination-validation failures is 1002 in the one
#: log we have (spec §2.9, terraform-provider #1019); the message texts are Cloudflare's
#: where documented (§3.2), ours otherwise.
DESTINATION_INVALID = 1002
UPLOAD_ERROR = "error validating destination: error writing object: error uploading"


def needs_test_upload(destination: Destination) -> bool:
    """HTTPS and Splunk endpoints get the test upload (http.mdx, issue 4). Datadog's intake
    would index the test record as a log line, so it is not probed; storage is proved by
    the ownership challenge or by its keys."""
    return isinstance(destination, (HttpsDestination, SplunkDestination))


def upload_problem(io: DestinationIO | None, destination: Destination) -> str | None:
    """Cloudflare's error text when the test upload fails (None: accepted or not needed).
    Without a ``DestinationIO`` the server contacts no destination and nothing is tested."""
    if io is None or not needs_test_upload(destination):
        return None
    result = io.test_upload(destination)
    if result.ok:
        return None
    return f"{UPLOAD_ERROR}: {result.message or 'no answer'}"


def admit_destination(
    signer: ChallengeSigner,
    io: DestinationIO | None,
    account_id: str,
    conf: str,
    challenge: str | None,
) -> None:
    """Raise the 400 that Cloudflare answers when a job may not use ``conf``: a missing or
    wrong ownership challenge, or a refused test upload. ``conf`` is already valid."""
    destination = parse_destination_conf(conf)
    problem = ownership_problem(signer, account_id, destination, challenge)
    if problem is None:
        problem = upload_problem(io, destination)
    if problem is not None:
        raise ApiError(400, [(DESTINATION_INVALID, problem)])


# ---- routes ----------------------------------------------------------------------------------


class DestinationRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    destination_conf: Conf


class OriginRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    logpull_options: Annotated[str, Field(max_length=4096)]
    #: The docs' example sends it; the OAS body has only ``logpull_options``.
    dataset: Annotated[str | None, Field(max_length=256)] = None


class ValidationResult(BaseModel):
    message: str
    valid: bool


class ExistsResult(BaseModel):
    exists: bool


def build_router() -> APIRouter:
    router = APIRouter(
        prefix="/accounts/{account_id}/logpush",
        responses=FAILURES,
        dependencies=[Depends(_auth)],
    )

    @router.post(
        "/validate/destination",
        response_model=Envelope[ValidationResult],
        summary="Validate a destination_conf (and test-upload to HTTPS/Splunk endpoints)",
    )
    def validate_destination(
        request: Request, account_id: AccountId, body: Annotated[DestinationRequest, Body()]
    ) -> dict[str, Any]:
        try:
            destination = parse_destination_conf(body.destination_conf)
        except DestinationConfError as exc:
            return ok({"message": str(exc), "valid": False})
        problem = upload_problem(request.app.state.api.destination_io, destination)
        if problem is not None:
            return ok({"message": problem, "valid": False})
        message = ""
        if destination.requires_ownership_challenge:
            message = "creating a job with this destination requires an ownership_challenge"
        return ok({"message": message, "valid": True})

    @router.post(
        "/validate/destination/exists",
        response_model=Envelope[ExistsResult],
        summary="Whether a job of this account already uses the destination",
    )
    def destination_exists(
        request: Request, account_id: AccountId, body: Annotated[DestinationRequest, Body()]
    ) -> dict[str, Any]:
        destination = parse_or_400(body.destination_conf)
        store: JobStore = request.app.state.api.jobs
        # Parsed destinations compare equal when the strings are equivalent spellings.
        exists = any(
            _same(job["destination_conf"], destination) for job in store.for_account(account_id)
        )
        return ok({"exists": exists})

    @router.post(
        "/validate/origin",
        response_model=Envelope[ValidationResult],
        summary="Validate logpull_options",
    )
    def validate_origin(
        request: Request, account_id: AccountId, body: Annotated[OriginRequest, Body()]
    ) -> dict[str, Any]:
        if body.dataset is not None and body.dataset != DATASET:
            message = f"dataset: must be {DATASET} (the only dataset this server has)"
            return ok({"message": message, "valid": False})
        try:
            from_logpull_options(body.logpull_options)
        except OutputOptionsError as exc:
            message = "; ".join(f"logpull_options.{k}: {m}" for k, m in exc.problems)
            return ok({"message": message, "valid": False})
        return ok({"message": "", "valid": True})

    return router


def _same(conf: str, destination: Destination) -> bool:
    try:
        return parse_destination_conf(conf) == destination
    except DestinationConfError:  # a job stored before a parser change; not a match
        return False
