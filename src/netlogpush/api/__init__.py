"""The Cloudflare v4 compatible API: tokens, Logpush jobs, envelope. See docs/api.md."""

from __future__ import annotations

from netlogpush.api.app import BASE, ApiState, create_app
from netlogpush.api.tokens_cli import create_token

__all__ = ["BASE", "ApiState", "create_app", "create_token"]
