"""Stable 32-hex identifiers, as Cloudflare's rulesets and rules carry them.

A rule written without an ``id`` gets one derived from where it stands and what it says, so
the same configuration always yields the same ``RuleID`` in the logs.
"""

from __future__ import annotations

import hashlib
import re

ID_PATTERN = re.compile(r"[0-9a-f]{32}")


def derived_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def check_id(value: str) -> str:
    value = value.strip().lower()
    if not ID_PATTERN.fullmatch(value):
        raise ValueError(f"an id is 32 hexadecimal characters, got {value!r}")
    return value
