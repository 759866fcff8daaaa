"""The built-in receiver's HEC tokens, managed per account (a netlogpush extension).

``GET    /accounts/{account_id}/receiver/hec_tokens``             list (Logs Read)
``POST   /accounts/{account_id}/receiver/hec_tokens``             create; the secret is in the
                                                                  answer, once (Logs Write)
``PATCH  /accounts/{account_id}/receiver/hec_tokens/{token_id}``  enable or disable (Logs Write)
``DELETE /accounts/{account_id}/receiver/hec_tokens/{token_id}``  revoke (Logs Write)

Cloudflare has no receiver, so there is no route of its to copy; these keep its envelope,
token rules and account scoping (another account's token is "not found"). The store is the
one ``netlogpush hec-tokens`` edits, and the receiver sees a change at its next request.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from netlogpush.api.auth import LOGS_READ, LOGS_WRITE, authorize
from netlogpush.api.envelope import FAILURES, ApiError, Envelope, ok
from netlogpush.api.jobs import AccountId
from netlogpush.receiver.tokens import HecTokenStore

TOKEN_NOT_FOUND = 1004
TokenId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]


class HecTokenOut(BaseModel):
    id: str
    name: str
    created: str
    enabled: bool
    indexes: list[str]


class HecTokenCreated(HecTokenOut):
    token: str = Field(description="The secret, shown only in this answer (stored hashed).")


class HecTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=256)
    indexes: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=100, description="Indexes senders may name; [] = any."
    )


class HecTokenPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


def _auth(request: Request, account_id: AccountId) -> None:
    """A router dependency, so it runs before the body is validated (as the jobs routes):
    a caller without the right token gets 401/403 whatever it sent, and learns no body rules.
    Reading needs Logs Read (or Write); creating, patching and revoking need Logs Write."""
    permission = LOGS_READ if request.method in ("GET", "HEAD") else LOGS_WRITE
    authorize(request.app.state.api.tokens, request.headers, account_id, permission)


def _store(request: Request) -> HecTokenStore:
    store: HecTokenStore = request.app.state.api.hec_tokens
    return store


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "account"}


def _not_found(token_id: str) -> ApiError:
    return ApiError(404, [(TOKEN_NOT_FOUND, f"no HEC token {token_id} in this account")])


def build_hec_tokens_router() -> APIRouter:
    router = APIRouter(
        prefix="/accounts/{account_id}/receiver/hec_tokens",
        responses=FAILURES,
        dependencies=[Depends(_auth)],
    )

    @router.get("", response_model=Envelope[list[HecTokenOut]], summary="List HEC tokens")
    def list_tokens(request: Request, account_id: AccountId) -> dict[str, Any]:
        store = _store(request)
        return ok([_public(t.as_dict()) for t in store.list_tokens(account_id)])

    @router.post("", response_model=Envelope[HecTokenCreated], summary="Create a HEC token")
    def create(
        request: Request, account_id: AccountId, body: Annotated[HecTokenCreate, Body()]
    ) -> dict[str, Any]:
        store = _store(request)
        secret, token = store.create(body.name, body.indexes, account=account_id)
        return ok({**_public(token.as_dict()), "token": secret})

    @router.patch("/{token_id}", response_model=Envelope[HecTokenOut], summary="Enable or disable")
    def patch(
        request: Request,
        account_id: AccountId,
        token_id: TokenId,
        body: Annotated[HecTokenPatch, Body()],
    ) -> dict[str, Any]:
        store = _store(request)
        if not store.set_enabled(token_id, body.enabled, account=account_id):
            raise _not_found(token_id)
        (token,) = (t for t in store.list_tokens(account_id) if t.id == token_id)
        return ok(_public(token.as_dict()))

    @router.delete("/{token_id}", response_model=Envelope[dict[str, str]], summary="Revoke")
    def revoke(request: Request, account_id: AccountId, token_id: TokenId) -> dict[str, Any]:
        store = _store(request)
        if not store.revoke(token_id, account=account_id):
            raise _not_found(token_id)
        return ok({"id": token_id})

    return router
