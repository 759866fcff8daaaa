"""The FastAPI application serving the Cloudflare v4 API under ``/client/v4``.

A user's ``https://api.cloudflare.com/client/v4`` becomes ``http://HOST:PORT/client/v4``;
the OpenAPI document is ``/client/v4/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Security
from fastapi.security import HTTPBearer

from netlogpush.api.auth import TokenStore, authenticate
from netlogpush.api.deadletters import build_deadletters_router
from netlogpush.api.envelope import FAILURES, HANDLERS, TOKEN_VALID, Envelope, ok
from netlogpush.api.hec_tokens import build_hec_tokens_router
from netlogpush.api.jobs import JobStore, build_router
from netlogpush.api.live import build_live_router
from netlogpush.api.ownership import ChallengeSigner, DestinationIO
from netlogpush.api.ownership import build_router as ownership_router
from netlogpush.api.rules import build_rules_router
from netlogpush.api.schemas import TokenStatus
from netlogpush.api.validate import admit_destination
from netlogpush.api.validate import build_router as validate_router
from netlogpush.logpush.live import LiveFeed
from netlogpush.mitigation.atp_api import AdvancedTcpProtection
from netlogpush.mitigation.rulesets import PhaseEntrypoints
from netlogpush.receiver.tokens import HecTokenStore

BASE = "/client/v4"


@dataclass
class ApiState:
    """What the routes use; the delivery service shares ``jobs`` to record outcomes."""

    data_dir: Path
    tokens: TokenStore = field(init=False)
    jobs: JobStore = field(init=False)
    #: The built-in receiver's HEC tokens (``/services/collector``, ``/logpush``).
    hec_tokens: HecTokenStore = field(init=False)
    #: No per-account limit is documented (spec §2.1); None means none.
    max_jobs_per_dataset: int | None = None
    #: Set by the service: a running job's delivery counters by job id (None: not running).
    metrics_provider: Callable[[str], dict[str, int] | None] | None = None
    #: Freshly ingested records for the live WebSocket stream; the service publishes to it.
    live: LiveFeed = field(default_factory=LiveFeed)
    #: How the API reaches destinations (ownership file, HTTPS test upload); None: it does
    #: not (no test upload; the ownership endpoint answers valid=false). ``netlogpush serve``
    #: passes ``ownership.NetworkDestinationIO()``.
    destination_io: DestinationIO | None = None
    ownership: ChallengeSigner = field(init=False)
    #: The mitigation rules' endpoints; set by ``netlogpush serve`` (None: not served).
    rules: PhaseEntrypoints | None = None
    atp: AdvancedTcpProtection | None = None

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.tokens = TokenStore(self.data_dir)
        self.jobs = JobStore(self.data_dir)
        self.hec_tokens = HecTokenStore(self.data_dir)
        self.ownership = ChallengeSigner(self.data_dir)

    def admit_destination(self, account_id: str, conf: str, challenge: str | None) -> None:
        """Called by job create/update: raises ``ApiError`` (400) when the ownership
        challenge is missing or wrong, or an HTTPS/Splunk endpoint refuses the test upload."""
        admit_destination(self.ownership, self.destination_io, account_id, conf, challenge)


def create_app(state: ApiState | str | Path) -> FastAPI:
    api = state if isinstance(state, ApiState) else ApiState(Path(state))
    app = FastAPI(
        title="netlogpush Logpush API (Cloudflare v4 compatible)",
        version="4",
        openapi_url=f"{BASE}/openapi.json",
        docs_url=f"{BASE}/docs",
        redoc_url=None,
        exception_handlers=HANDLERS,
    )
    app.state.api = api
    # Declares the bearer scheme in the OpenAPI document; the check itself is auth.authenticate,
    # which answers with Cloudflare's envelopes rather than FastAPI's.
    bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API token>")

    root = APIRouter(prefix=BASE, dependencies=[], responses=FAILURES)

    @root.get(
        "/user/tokens/verify",
        response_model=Envelope[TokenStatus],
        summary="Verify the API token",
    )
    def verify(request: Request) -> dict[str, Any]:
        token = authenticate(
            api.tokens,
            request.headers.get("authorization"),
            request.headers.get("x-auth-key"),
            verify_route=True,
        )
        return ok(
            {"id": token.id, "status": token.status},
            [(TOKEN_VALID, "This API Token is valid and active")],
        )

    root.include_router(build_router())
    root.include_router(ownership_router())
    root.include_router(validate_router())
    root.include_router(build_deadletters_router())
    root.include_router(build_rules_router())
    root.include_router(build_hec_tokens_router())
    app.include_router(root, dependencies=[Security(bearer)])
    app.include_router(build_live_router(), prefix=BASE)  # authenticates in the handshake
    _tidy_openapi(app)
    return app


def _tidy_openapi(app: FastAPI) -> None:
    """Drop FastAPI's 422 answers: validation errors are Cloudflare-style 400 envelopes."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = original()
            for item in doc.get("paths", {}).values():
                for op in item.values():
                    op.get("responses", {}).pop("422", None)
            schemas = doc.get("components", {}).get("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
