"""The mitigation rules over HTTP, in Cloudflare's shapes.

``GET``/``PUT /accounts/{account_id}/rulesets/phases/{phase}/entrypoint`` (``magic_transit``:
the firewall's custom rules; ``ddos_l4``: the DDoS managed ruleset's overrides) and the
Advanced TCP Protection endpoints under
``/accounts/{account_id}/magic/advanced_tcp_protection/configs/``. The logic is in
``mitigation/rulesets.py`` and ``mitigation/atp_api.py``; a change reaches the running
systems through the service's settings store, without losing their state. They need a token
with ``rulesets:write`` (Cloudflare's "Account Rulesets Write" / "Magic Firewall Write").
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from netlogpush.api.auth import RULESETS_WRITE, authorize
from netlogpush.api.envelope import FAILURES, ApiError, ok
from netlogpush.mitigation.atp_api import AtpError
from netlogpush.mitigation.rulesets import RulesetError

#: Cloudflare's code for a resource that does not exist here.
NOT_AVAILABLE = 10006
#: Cloudflare's code for a body that cannot be read.
INVALID_BODY = 10026


def _auth(request: Request, account_id: str) -> None:
    authorize(request.app.state.api.tokens, request.headers, account_id, RULESETS_WRITE)


def _refused(exc: RulesetError | AtpError) -> JSONResponse:
    body = {"errors": exc.errors, "messages": [], "result": None, "success": False}
    return JSONResponse(body, status_code=exc.status)


def _service(request: Request, name: str) -> Any:
    found = getattr(request.app.state.api, name)
    if found is None:
        raise ApiError(
            404, [(NOT_AVAILABLE, "mitigation rules are served by `netlogpush serve` only")]
        )
    return found


def build_rules_router() -> APIRouter:
    router = APIRouter(
        prefix="/accounts/{account_id}", responses=FAILURES, dependencies=[Depends(_auth)]
    )

    @router.get("/rulesets/phases/{phase}/entrypoint", summary="Get a phase's entry point ruleset")
    def get_entrypoint(request: Request, account_id: str, phase: str) -> Any:
        try:
            return ok(_service(request, "rules").get(phase))
        except RulesetError as exc:
            return _refused(exc)

    @router.put(
        "/rulesets/phases/{phase}/entrypoint", summary="Replace a phase's entry point ruleset"
    )
    def put_entrypoint(
        request: Request, account_id: str, phase: str, body: Annotated[dict[str, Any], Body()]
    ) -> Any:
        try:
            return ok(_service(request, "rules").put(phase, body))
        except RulesetError as exc:
            return _refused(exc)

    async def atp(request: Request, account_id: str, path: str) -> Any:
        raw = await request.body()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, [(INVALID_BODY, f"request body is not JSON: {exc}")]) from None
        try:
            result = _service(request, "atp").handle(
                request.method, path, body, dict(request.query_params)
            )
        except AtpError as exc:
            return _refused(exc)
        return ok(result)

    for method in ("GET", "POST", "PATCH", "DELETE"):  # one operation (and id) per method
        router.add_api_route(
            "/magic/advanced_tcp_protection/configs/{path:path}",
            atp,
            methods=[method],
            operation_id=f"advanced_tcp_protection_{method.lower()}",
            summary="Advanced TCP Protection settings (status, prefixes, allowlist, rules, filters)",
        )
    return router
