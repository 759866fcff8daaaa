"""HEC tokens: a small JSON store under the data directory, shared by the CLI, the API and the receiver.

Splunk hands out HEC tokens as GUIDs and so do we, because Logpush and HEC clients expect that
shape. Only the SHA-256 of a token is stored (like ``netlogpush.api.auth``): a slow password hash
buys nothing for 122 random bits and would cost every request. The receiver re-reads the file
only when its mtime changes, so ``netlogpush hec-tokens revoke`` takes effect without a restart.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from netlogpush._jsonfile import locked, read_json, write_json

HEC_TOKENS_FILE = "hec_tokens.json"


@dataclass(frozen=True, slots=True)
class HecToken:
    """A token's public description; the secret itself is only returned by :func:`create_token`."""

    id: str
    name: str
    created: str
    enabled: bool
    #: Indexes a sender may name; empty means any (Splunk's "allowed indexes").
    indexes: tuple[str, ...]
    #: The API account that manages it ("" for tokens made with the CLI without --account):
    #: another account's API token can neither list nor revoke it.
    account: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "created": self.created,
            "enabled": self.enabled, "indexes": list(self.indexes), "account": self.account,
        }  # fmt: skip


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _from_entry(entry: dict[str, Any]) -> HecToken:
    return HecToken(
        id=str(entry["id"]),
        name=str(entry.get("name", "")),
        created=str(entry.get("created", "")),
        enabled=bool(entry.get("enabled", True)),
        indexes=tuple(str(i) for i in entry.get("indexes", ())),
        account=str(entry.get("account", "")),
    )


class HecTokenStore:
    """``<data_dir>/hec_tokens.json``: ``{"tokens": {<sha256>: {id, name, created, enabled, indexes}}}``."""

    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / HEC_TOKENS_FILE
        self._lock = threading.Lock()
        self._cache: dict[str, HecToken] = {}
        self._cache_key: tuple[int, int, int] | None = None

    def _load(self) -> dict[str, Any]:
        data = read_json(self.path, {"tokens": {}})
        tokens = data.setdefault("tokens", {})
        if not isinstance(tokens, dict):
            raise ValueError(f"{self.path}: 'tokens' is not an object")
        return data

    def create(
        self,
        name: str = "",
        indexes: list[str] | None = None,
        token: str | None = None,
        account: str = "",
    ) -> tuple[str, HecToken]:
        """Make a token; returns ``(secret, description)``. ``token`` lets tests and imports pick it."""
        secret = token if token is not None else str(uuid.uuid4())
        if not secret or any(c.isspace() for c in secret):
            raise ValueError("a HEC token must be non-empty and contain no whitespace")
        entry = {
            "id": uuid.uuid4().hex[:12],
            "name": name,
            "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "enabled": True,
            "indexes": list(indexes or []),
            "account": account,
        }
        with locked(self.path):
            data = self._load()
            if _digest(secret) in data["tokens"]:
                raise ValueError("that token already exists")
            data["tokens"][_digest(secret)] = entry
            write_json(self.path, data)
        return secret, _from_entry(entry)

    def list_tokens(self, account: str | None = None) -> list[HecToken]:
        """Every token, or only ``account``'s."""
        tokens = (_from_entry(e) for e in self._load()["tokens"].values())
        return sorted(
            (t for t in tokens if account is None or t.account == account),
            key=lambda t: (t.created, t.id),
        )

    def _update(self, token_id: str, enabled: bool | None, account: str | None) -> bool:
        with locked(self.path):
            data = self._load()
            for digest, entry in list(data["tokens"].items()):
                if entry.get("id") == token_id and (
                    account is None or entry.get("account", "") == account
                ):
                    if enabled is None:
                        del data["tokens"][digest]
                    else:
                        entry["enabled"] = enabled
                    write_json(self.path, data)
                    return True
        return False

    def revoke(self, token_id: str, account: str | None = None) -> bool:
        """Delete a token by id (of ``account``, when given); False if there was none."""
        return self._update(token_id, None, account)

    def set_enabled(self, token_id: str, enabled: bool, account: str | None = None) -> bool:
        """Disable (Splunk code 1, "Token disabled") or re-enable a token by id."""
        return self._update(token_id, enabled, account)

    def lookup(self, secret: str) -> HecToken | None:
        """The token for a presented secret, or None. Cheap: a stat and a dict lookup."""
        # The inode is part of the key because writes replace the file (rename) and two writes
        # can share an mtime on coarse-clock filesystems.
        try:
            st = os.stat(self.path)
            key = (st.st_mtime_ns, st.st_ino, st.st_size)
        except FileNotFoundError:
            key = (0, 0, 0)
        with self._lock:
            if key != self._cache_key:
                self._cache = {d: _from_entry(e) for d, e in self._load()["tokens"].items()}
                self._cache_key = key
            return self._cache.get(_digest(secret))
