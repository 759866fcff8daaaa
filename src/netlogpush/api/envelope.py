"""The Cloudflare v4 response envelope ``{success, errors, messages, result}`` and error codes.

Shapes follow OAS-2024 ``logpush_api-response-common`` (reference spec §2.3): ``errors`` and
``messages`` are lists of ``{"code": int >= 1000, "message": str}``; ``result`` is ``null`` on
failure. Codes Cloudflare documents are used as documented; where Cloudflare's code is not
documented we chose one and say so in docs/api.md ("Error codes").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

T = TypeVar("T")

# --- codes -----------------------------------------------------------------------------------
#: Body or parameter validation failed; each error names the field and the rule (our choice).
INVALID_INPUT = 1001
#: Job not found in this account (our choice: Cloudflare's code is undocumented).
JOB_NOT_FOUND = 1003
#: "creating a new job is not allowed: …" / "… is not allowed" (spec §2.9).
NOT_ALLOWED = 1004
#: The request body is not JSON at all.
MALFORMED_JSON = 1005
#: "Invalid API Token" as /user/tokens/verify answers it.
INVALID_TOKEN_VERIFY = 1000
#: Unknown route / bad identifier (spec §2.9, OAS example "No route for the URI").
NO_ROUTE = 7003
METHOD_NOT_ALLOWED = 7001
#: Missing credentials, invalid token, legacy key headers we do not serve.
MISSING_AUTH = 9106
UNKNOWN_AUTH_KEY = 9103
INVALID_ACCESS_TOKEN = 9109
#: A valid token without the permission or the account.
AUTHENTICATION_ERROR = 10000
#: The success message of /user/tokens/verify.
TOKEN_VALID = 10000


class Message(BaseModel):
    code: int = Field(ge=1000)
    message: str


class Envelope(BaseModel, Generic[T]):
    """A successful answer."""

    errors: list[Message] = []
    messages: list[Message] = []
    result: T
    success: bool = True


class FailureEnvelope(BaseModel):
    """Any 4xx answer: ``success`` false, ``result`` null, at least one error."""

    errors: list[Message]
    messages: list[Message] = []
    result: None = None
    success: bool = False


class ApiError(Exception):
    """Raised by handlers; becomes a failure envelope with ``status``."""

    def __init__(self, status: int, errors: Sequence[tuple[int, str]]) -> None:
        super().__init__("; ".join(m for _, m in errors))
        self.status = status
        self.errors = list(errors)


def ok(result: Any, messages: Sequence[tuple[int, str]] = ()) -> dict[str, Any]:
    return {
        "errors": [],
        "messages": [{"code": c, "message": m} for c, m in messages],
        "result": result,
        "success": True,
    }


def failure(
    status: int, errors: Sequence[tuple[int, str]], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {
        "errors": [{"code": c, "message": m} for c, m in errors],
        "messages": [],
        "result": None,
        "success": False,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def invalid(problems: Sequence[tuple[str, str]]) -> ApiError:
    """HTTP 400 naming each field and the rule it broke: ``"<field>: <rule>"``."""
    return ApiError(400, [(INVALID_INPUT, f"{field}: {rule}") for field, rule in problems])


#: Documented failure answers, for the OpenAPI document (schemathesis checks them).
FAILURES: dict[int | str, dict[str, Any]] = {
    400: {"model": FailureEnvelope, "description": "Invalid input"},
    401: {"model": FailureEnvelope, "description": "Missing or invalid token"},
    403: {"model": FailureEnvelope, "description": "Token lacks the permission or the account"},
    404: {"model": FailureEnvelope, "description": "Not found"},
}


def _location(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "path", "query", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def _rule(err: dict[str, Any]) -> str:
    kind = str(err.get("type", ""))
    if kind == "missing":
        return "is required"
    if kind == "json_invalid":
        return "is not valid JSON"
    if kind == "model_attributes_type" or kind == "dict_type":
        return "must be a JSON object"
    msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(tuple(e.get("loc", ()))[:1] == ("path",) for e in exc.errors()):
        # Cloudflare's answer to a malformed account or job identifier.
        message = (
            f"Could not route to {request.url.path}, perhaps your object identifier is invalid?"
        )
        return failure(400, [(NO_ROUTE, message)])
    errors: list[tuple[int, str]] = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            errors.append((MALFORMED_JSON, "body: is not valid JSON"))
            continue
        errors.append((INVALID_INPUT, f"{_location(err.get('loc', ()))}: {_rule(dict(err))}"))
    return failure(400, errors or [(INVALID_INPUT, "body: is invalid")])


async def _api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return failure(exc.status, exc.errors)


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return failure(404, [(NO_ROUTE, "No route for the URI")])
    if exc.status_code == 405:
        # RFC 9110 requires Allow on a 405. Starlette lists only the first matching route's
        # methods, but GET and POST /jobs are two routes, so collect them from every route.
        allow = _allowed_methods(request)
        headers = {"Allow": ", ".join(allow)} if allow else exc.headers
        return failure(405, [(METHOD_NOT_ALLOWED, "Method not allowed")], headers)
    return failure(exc.status_code, [(INVALID_INPUT, str(exc.detail))])


def _allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document lists for this path (it is generated from the routes,
    and FastAPI's nested routers are not public API to walk)."""
    methods: set[str] = set()
    path = request.url.path
    for template, item in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)), path):
            methods |= {m.upper() for m in item}
    return sorted(methods)


HANDLERS: dict[Any, Any] = {
    RequestValidationError: _validation_handler,
    ApiError: _api_error_handler,
    StarletteHTTPException: _http_handler,
}
