"""Accounts and API tokens: creation, hashed storage, verification, permission checks.

Model (reference spec §2.1): a token is scoped to accounts and holds permissions
``logs:read`` ("Logs Read") and/or ``logs:write`` ("Logs Write", formerly "Logs Edit").
"All Logpush API operations require Logs: Write … because Logpush jobs contain sensitive
information", so every Logpush route needs ``logs:write``; ``logs:read`` only verifies.

Tokens are 40 random URL-safe characters, like Cloudflare's. Only their SHA-256 is stored: a
slow password hash buys nothing for 240-bit random secrets and would cost every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from netlogpush._jsonfile import locked, read_json, write_json
from netlogpush.api.envelope import (
    AUTHENTICATION_ERROR,
    INVALID_ACCESS_TOKEN,
    INVALID_TOKEN_VERIFY,
    MISSING_AUTH,
    UNKNOWN_AUTH_KEY,
    ApiError,
)

LOGS_READ = "logs:read"
LOGS_WRITE = "logs:write"
#: The mitigation rules (firewall rulesets, ddos_l4 overrides, Advanced TCP Protection).
RULESETS_WRITE = "rulesets:write"
#: Spellings accepted from the CLI; "Logs Edit" and "Logs Write" are the same permission.
PERMISSION_ALIASES = {
    "logs:read": LOGS_READ, "logs read": LOGS_READ, "#logs:read": LOGS_READ,
    "logs:write": LOGS_WRITE, "logs write": LOGS_WRITE, "logs:edit": LOGS_WRITE,
    "logs edit": LOGS_WRITE, "#logs:edit": LOGS_WRITE,
    "rulesets:write": RULESETS_WRITE, "account rulesets write": RULESETS_WRITE,
    "magic firewall write": RULESETS_WRITE,
}  # fmt: skip
ACCOUNT_ID = re.compile(r"[0-9a-f]{32}\Z")
TOKENS_FILE = "tokens.json"


class TokenError(ValueError):
    """Bad input to token creation; names the argument."""


def normalise_permission(name: str) -> str:
    try:
        return PERMISSION_ALIASES[name.strip().lower()]
    except KeyError:
        raise TokenError(
            f"permission: {name!r} is not one of logs:read, logs:write (Logs Edit), rulesets:write"
        ) from None


def check_account_id(account_id: str) -> str:
    if not ACCOUNT_ID.match(account_id):
        raise TokenError(f"account: {account_id!r} is not 32 lower-case hex characters")
    return account_id


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    accounts: frozenset[str]
    permissions: frozenset[str]
    status: str

    def allows(self, account_id: str, permission: str) -> bool:
        # Logs Write "grants read and write access" (permissions.mdx), so it implies read.
        held = self.permissions | ({LOGS_READ} if LOGS_WRITE in self.permissions else set())
        return self.status == "active" and account_id in self.accounts and permission in held


class TokenStore:
    """``tokens.json`` under the data dir; re-read when another process (the CLI) changed it."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / TOKENS_FILE
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._by_hash: dict[str, Token] = {}

    def create(self, account_id: str, permissions: list[str], name: str = "") -> str:
        """A new token for one account; returns the secret (shown once, stored hashed)."""
        check_account_id(account_id)
        perms = sorted({normalise_permission(p) for p in permissions})
        if not perms:
            raise TokenError("permission: give at least one (logs:read or logs:write)")
        secret = secrets.token_urlsafe(30)
        with locked(self.path):
            doc = read_json(self.path, {"accounts": {}, "tokens": []})
            doc.setdefault("accounts", {}).setdefault(account_id, {"id": account_id})
            doc.setdefault("tokens", []).append(
                {
                    "id": secrets.token_hex(16),
                    "name": name,
                    "sha256": _digest(secret),
                    "accounts": [account_id],
                    "permissions": perms,
                    "status": "active",
                    "issued_on": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
            write_json(self.path, doc)
        return secret

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            stamp = (0, 0)
        if stamp == self._stamp:
            return
        doc: dict[str, Any] = read_json(self.path, {"tokens": []})
        self._by_hash = {
            t["sha256"]: Token(
                id=t["id"],
                accounts=frozenset(t["accounts"]),
                permissions=frozenset(t["permissions"]),
                status=t.get("status", "active"),
            )
            for t in doc.get("tokens", [])
        }
        self._stamp = stamp

    def lookup(self, secret: str) -> Token | None:
        with self._lock:
            self._refresh()
            digest = _digest(secret)
            for known, token in self._by_hash.items():
                # Constant-time compare; the dict is small, so a scan costs nothing.
                if hmac.compare_digest(known, digest):
                    return token
        return None


_BEARER = re.compile(r"Bearer[ \t]+([A-Za-z0-9_\-]{1,256})[ \t]*\Z", re.IGNORECASE)


def authenticate(
    store: TokenStore,
    authorization: str | None,
    x_auth_key: str | None = None,
    *,
    verify_route: bool = False,
) -> Token:
    """The token behind ``Authorization: Bearer …``, or the 401 envelope Cloudflare sends."""
    if not authorization:
        if x_auth_key:
            raise ApiError(401, [(UNKNOWN_AUTH_KEY, "Unknown X-Auth-Key or X-Auth-Email")])
        raise ApiError(
            401, [(MISSING_AUTH, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")]
        )
    m = _BEARER.match(authorization.strip())
    token = store.lookup(m.group(1)) if m else None
    if token is None or token.status != "active":
        if verify_route:
            raise ApiError(401, [(INVALID_TOKEN_VERIFY, "Invalid API Token")])
        raise ApiError(401, [(INVALID_ACCESS_TOKEN, "Invalid access token")])
    return token


def require(token: Token, account_id: str, permission: str) -> None:
    """403 "Authentication error" when the token lacks the account or the permission.

    The same answer for both, so a token cannot probe which accounts exist.
    """
    if not token.allows(account_id, permission):
        raise ApiError(403, [(AUTHENTICATION_ERROR, "Authentication error")])


def authorize(
    store: TokenStore, headers: Mapping[str, str], account_id: str, permission: str
) -> Token:
    """``authenticate`` then ``require``, from a request's or a WebSocket's headers: what every
    account-scoped route checks first."""
    token = authenticate(store, headers.get("authorization"), headers.get("x-auth-key"))
    require(token, account_id, permission)
    return token
