"""Phase entry points as Cloudflare's Rulesets API shows them, for the API layer to serve.

``GET``/``PUT /accounts/{account_id}/rulesets/phases/{phase}/entrypoint`` for the
``magic_transit`` phase (the firewall's custom rules) and the ``ddos_l4`` phase (the DDoS
managed ruleset's overrides). This module holds the rulesets, validates what is PUT, keeps
the version and last-updated time, and tells the running systems (``on_change``); the HTTP
layer only maps it to URLs and the ``{success, errors, messages, result}`` envelope.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from netlogpush.mitigation.firewall.config import FirewallRuleset

#: Cloudflare's ruleset API answers invalid rulesets with code 20021 and a JSON pointer.
INVALID_RULESET = 20021
UNKNOWN_PHASE = 10003


class RulesetError(ValueError):
    """An invalid ruleset; ``errors`` are Cloudflare-style ``{code, message, source}`` items."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(e["message"] for e in errors))
        self.errors = errors


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "/" + "/".join(str(p) for p in loc)


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "code": INVALID_RULESET,
            "message": f"{_pointer(e['loc'])}: {e['msg']}",
            "source": {"pointer": _pointer(e["loc"])},
        }
        for e in exc.errors()
    ]


class PhaseEntrypoints:
    """The account's phase entry points, each a validated ruleset model."""

    def __init__(
        self,
        models: Mapping[str, type[BaseModel]],
        initial: Mapping[str, BaseModel],
        on_change: Callable[[str, BaseModel], None] | None = None,
    ) -> None:
        self._models = dict(models)
        self._current = dict(initial)
        self._version = dict.fromkeys(self._models, 1)
        self._updated = dict.fromkeys(self._models, datetime.now(UTC))
        self._on_change = on_change
        self._lock = threading.Lock()

    @property
    def phases(self) -> tuple[str, ...]:
        return tuple(self._models)

    def get(self, phase: str) -> dict[str, Any]:
        """The entry point ruleset as Cloudflare's API returns it."""
        self._check_phase(phase)
        with self._lock:
            body = self._current[phase].model_dump(mode="json")
            body["version"] = str(self._version[phase])
            body["last_updated"] = self._updated[phase].isoformat().replace("+00:00", "Z")
        body.setdefault("phase", phase)
        return body

    def put(self, phase: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the entry point; invalid input raises ``RulesetError`` and changes nothing."""
        self._check_phase(phase)
        data = {k: v for k, v in body.items() if k not in ("version", "last_updated")}
        if data.setdefault("phase", phase) != phase:
            raise RulesetError(
                [{"code": INVALID_RULESET, "message": f"/phase: must be {phase!r} at this URL",
                  "source": {"pointer": "/phase"}}]
            )
        try:
            model = self._models[phase].model_validate(data)
        except ValidationError as exc:
            raise RulesetError(validation_errors(exc)) from None
        except ValueError as exc:
            raise RulesetError([{"code": INVALID_RULESET, "message": str(exc), "source": {"pointer": "/"}}]) from None
        with self._lock:
            self._current[phase] = model
            self._version[phase] += 1
            self._updated[phase] = datetime.now(UTC)
        if self._on_change is not None:
            self._on_change(phase, model)
        return self.get(phase)

    def _check_phase(self, phase: str) -> None:
        if phase not in self._models:
            raise RulesetError(
                [{"code": UNKNOWN_PHASE, "message": f"unknown phase {phase!r}; known: {', '.join(self._models)}",
                  "source": {"pointer": "/phase"}}]
            )


__all__ = ["FirewallRuleset", "PhaseEntrypoints", "RulesetError"]
