"""The function behind ``netlogpush tokens create --account ID --permission logs:write``."""

from __future__ import annotations

from pathlib import Path

from netlogpush.api.auth import TokenStore


def create_token(data_dir: str | Path, account_id: str, permissions: list[str]) -> str:
    """Create a token for ``account_id`` with ``permissions`` and return its secret.

    Raises ``netlogpush.api.auth.TokenError`` (message names the bad argument).
    """
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return TokenStore(Path(data_dir)).create(account_id, list(permissions))
