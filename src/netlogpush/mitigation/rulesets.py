"""Phase entry points as Cloudflare's Rulesets API shows them, for the API layer to serve.

``GET``/``PUT /accounts/{account_id}/rulesets/phases/{phase}/entrypoint`` for two phases:

- ``magic_transit``: the firewall's custom rules (``mitigation.firewall.ruleset``). Actions
  ``block``, ``skip`` (``action_parameters: {"ruleset": "current"}``) and ``log``; expressions
  may name the configured lists (``$name``). Shape: developers.cloudflare.com/magic-firewall/
  how-to/add-rules/ (``{"name", "kind": "root", "phase": "magic_transit", "rules": [...]}``).
- ``ddos_l4``: the DDoS managed ruleset's overrides (``mitigation.dosd.overrides``), each rule
  ``{"action": "execute", "expression", "action_parameters": {"id": <managed ruleset id>,
  "overrides": {"sensitivity_level", "action", "categories": [...], "rules": [...]}}}``. Shape:
  developers.cloudflare.com/ddos-protection/managed-rulesets/network/network-overrides/
  configure-api/ (request and response).

This module validates what is PUT into a new ``Settings`` (through a ``SettingsStore``, which
tells the running pipeline), and answers GET with the entry point as Cloudflare returns it:
``version`` (a string, one higher after every change), ``last_updated``, and per rule
``version``, ``last_updated`` and ``ref`` (the rule's id by default, as Cloudflare's
``ref``). The HTTP layer only maps it to URLs and the ``{success, errors, messages,
result}`` envelope, using ``RulesetError.errors`` and ``.status`` for failures.

Versions follow the settings, whatever changed them: a reload of the settings file that
edits a rule shows up as a new version at the next GET.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from netlogpush.mitigation.ruleset_ids import derived_id

if TYPE_CHECKING:
    from netlogpush.config import Settings
    from netlogpush.mitigation.reload import SettingsStore

#: Error codes in our answers. Cloudflare does not document its own codes for these cases,
#: so the numbers are ours; the ``source.pointer`` (RFC 6901) says where the problem is.
INVALID_RULESET = 20021
UNKNOWN_PHASE = 10003

#: What the server sets on a ruleset or rule; a client that PUTs back what it got from GET
#: sends them, and they are ignored (Cloudflare does the same with ``version``).
SERVER_FIELDS = ("version", "last_updated", "ref")

Json = dict[str, Any]


class RulesetError(ValueError):
    """An invalid request; ``errors`` are Cloudflare-style ``{code, message, source}`` items."""

    def __init__(self, errors: list[Json], status: int = 400) -> None:
        super().__init__("; ".join(e["message"] for e in errors))
        self.errors = errors
        self.status = status


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "/" + "/".join(str(p) for p in loc)


def error(pointer: str, message: str, code: int = INVALID_RULESET) -> Json:
    return {"code": code, "message": f"{pointer}: {message}", "source": {"pointer": pointer}}


def validation_errors(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[Json]:
    """Pydantic's errors as Cloudflare's, each with a JSON pointer into the request body."""
    out = []
    for e in exc.errors():
        loc = prefix + tuple(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        out.append(error(_pointer(loc), msg))
    return out


@dataclass(frozen=True, slots=True)
class Phase:
    """How one phase's entry point maps to the settings.

    ``read`` gives the ruleset body (without versions) from the settings; ``write`` validates
    a PUT body against the current settings (the firewall's lists, …) and returns the new
    settings, or raises ``RulesetError`` naming every problem.
    """

    name: str
    read: Callable[[Settings], Json]
    write: Callable[[Settings, Json], Settings]
    #: Top-level keys the settings keep; the others a PUT sets (a ``description``) are kept
    #: in memory only, for GET to return.
    stored: frozenset[str] = frozenset()


def _strip_server_fields(rules: Any) -> Any:
    if not isinstance(rules, list):
        return rules
    return [
        {k: v for k, v in rule.items() if k not in SERVER_FIELDS} if isinstance(rule, dict) else rule
        for rule in rules
    ]


def _check_envelope(body: Mapping[str, Any], phase: str) -> list[Json]:
    problems = []
    if body.get("phase", phase) != phase:
        problems.append(error("/phase", f"must be {phase!r} at this URL, got {body.get('phase')!r}"))
    if body.get("kind", "root") != "root":
        problems.append(error("/kind", f"an entry point ruleset is of kind 'root', got {body.get('kind')!r}"))
    if not isinstance(body.get("rules", []), list):
        problems.append(error("/rules", "must be a list of rules"))
    return problems


def _duplicate_ids(rules: list[Any]) -> list[Json]:
    seen: dict[str, int] = {}
    problems = []
    for index, rule in enumerate(rules):
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        if not rule_id:
            continue
        key = str(rule_id).lower().replace("-", "")
        if key in seen:
            problems.append(error(f"/rules/{index}/id", f"the id {rule_id} is also rule {seen[key]}'s"))
        seen.setdefault(key, index)
    return problems


# --- magic_transit: the firewall's custom rules ------------------------------------------------


def _read_magic_transit(settings: Settings) -> Json:
    body = settings.mitigation.firewall.ruleset.model_dump(mode="json")
    for rule in body["rules"]:
        if not rule["action_parameters"]:
            del rule["action_parameters"]  # Cloudflare leaves out what a rule does not have
    return body


def _write_magic_transit(settings: Settings, body: Json) -> Settings:
    from netlogpush.mitigation.firewall import RuleError, RuleListError, check_expression
    from netlogpush.mitigation.firewall.config import FirewallConfig, FirewallRuleset

    firewall = settings.mitigation.firewall
    problems = _check_envelope(body, "magic_transit")
    rules = _strip_server_fields(body.get("rules", []))
    if isinstance(rules, list):
        problems += _duplicate_ids(rules)
        for index, rule in enumerate(rules):
            expression = rule.get("expression") if isinstance(rule, dict) else None
            if not isinstance(expression, str):
                continue  # the model reports a missing or non-text expression
            try:
                check_expression(expression, firewall.lists)
            except RuleError as exc:
                problems.append(error(f"/rules/{index}/expression", f"{exc} (in {expression!r})"))
            except RuleListError as exc:  # a configured list is broken, not the request
                problems.append(error(f"/rules/{index}/expression", str(exc)))
    data = {k: v for k, v in body.items() if k not in SERVER_FIELDS and k != "id"}
    data |= {"rules": rules, "phase": "magic_transit", "kind": "root", "id": firewall.ruleset.id}
    try:
        ruleset = FirewallRuleset.model_validate(data)
    except ValidationError as exc:
        problems += validation_errors(exc)
    if problems:
        raise RulesetError(problems)
    new_firewall = FirewallConfig.model_validate(
        firewall.model_dump(mode="python") | {"ruleset": ruleset.model_dump(mode="python")}
    )
    mitigation = settings.mitigation.model_copy(update={"firewall": new_firewall})
    return settings.model_copy(update={"mitigation": mitigation})


# --- ddos_l4: the DDoS managed ruleset's overrides ------------------------------------------------

DDOS_L4_RULESET_ID = derived_id("ruleset", "ddos_l4", "default")


def _read_ddos_l4(settings: Settings) -> Json:
    return {
        "id": DDOS_L4_RULESET_ID,
        "name": "default",
        "description": "",
        "kind": "root",
        "phase": "ddos_l4",
        "rules": [
            rule.model_dump(mode="json", exclude_none=True, exclude=set(SERVER_FIELDS))
            for rule in settings.mitigation.dosd.overrides
        ],
    }


def _write_ddos_l4(settings: Settings, body: Json) -> Settings:
    from netlogpush.mitigation.dosd.config import DosdConfig, OverrideRule

    problems = _check_envelope(body, "ddos_l4")
    rules = _strip_server_fields(body.get("rules", []))
    parsed: list[OverrideRule] = []
    if isinstance(rules, list):
        problems += _duplicate_ids(rules)
        for index, rule in enumerate(rules):
            try:
                parsed.append(OverrideRule.model_validate(rule))
            except ValidationError as exc:
                problems += validation_errors(exc, ("rules", index))
    if problems:
        raise RulesetError(problems)
    dosd = settings.mitigation.dosd
    try:
        new_dosd = DosdConfig.model_validate(
            dosd.model_dump(mode="python") | {"overrides": [r.model_dump(mode="python") for r in parsed]}
        )
    except ValidationError as exc:  # e.g. two rules whose content derives the same id
        raise RulesetError(validation_errors(exc)) from None
    mitigation = settings.mitigation.model_copy(update={"dosd": new_dosd})
    return settings.model_copy(update={"mitigation": mitigation})


PHASES: dict[str, Phase] = {
    "magic_transit": Phase(
        "magic_transit", _read_magic_transit, _write_magic_transit, frozenset({"name", "description"})
    ),
    "ddos_l4": Phase("ddos_l4", _read_ddos_l4, _write_ddos_l4),
}


# --- versions ---------------------------------------------------------------------------


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _timestamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class _Versions:
    """Version and last update of a ruleset and of each of its rules (by rule id)."""

    version: int = 0
    updated: datetime = datetime.min
    digest: str = ""
    rules: dict[str, tuple[int, datetime, str]] = field(default_factory=dict)
    extra: Json = field(default_factory=dict)  # name/description the settings do not keep

    def sync(self, body: Json, clock: Callable[[], datetime]) -> None:
        digest = _digest(body)
        if digest == self.digest:
            return
        now = clock()
        self.version += 1
        self.updated = now
        self.digest = digest
        rules: dict[str, tuple[int, datetime, str]] = {}
        for rule in body["rules"]:
            rule_digest = _digest(rule)
            old = self.rules.get(rule["id"])
            if old is None:
                rules[rule["id"]] = (1, now, rule_digest)
            elif old[2] != rule_digest:
                rules[rule["id"]] = (old[0] + 1, now, rule_digest)
            else:
                rules[rule["id"]] = old
        self.rules = rules


class PhaseEntrypoints:
    """The account's phase entry points, read from and written to the running settings."""

    def __init__(
        self,
        store: SettingsStore,
        phases: Mapping[str, Phase] = PHASES,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._phases = dict(phases)
        self._clock = clock
        self._versions = {name: _Versions() for name in self._phases}
        self._lock = threading.Lock()
        start = clock()
        with self._lock:
            for name in self._phases:
                self._sync(name, lambda: start)

    @property
    def phases(self) -> tuple[str, ...]:
        return tuple(self._phases)

    def get(self, phase: str) -> Json:
        """The entry point ruleset as Cloudflare's API returns it (the ``result``)."""
        self._check_phase(phase)
        with self._lock:
            return self._sync(phase)

    def put(self, phase: str, body: Mapping[str, Any]) -> Json:
        """Replace the entry point's rules; invalid input raises ``RulesetError`` and changes nothing."""
        self._check_phase(phase)
        if not isinstance(body, Mapping):
            raise RulesetError([error("/", "the body must be a JSON object (a ruleset)")])
        spec = self._phases[phase]
        data = dict(body)
        with self._lock:
            self._store.update(lambda settings: spec.write(settings, data))
            extra = self._versions[phase].extra
            for key in ("name", "description"):
                if key not in spec.stored and isinstance(data.get(key), str):
                    extra[key] = data[key]
            return self._sync(phase)

    def _sync(self, phase: str, clock: Callable[[], datetime] | None = None) -> Json:
        """The phase's answer; first a new version if the settings changed since last time."""
        body = self._phases[phase].read(self._store.current)
        versions = self._versions[phase]
        body |= versions.extra
        versions.sync(body, clock or self._clock)
        out = dict(body)
        out["version"] = str(versions.version)
        out["last_updated"] = _timestamp(versions.updated)
        out["rules"] = []
        for rule in body["rules"]:
            version, updated, _ = versions.rules[rule["id"]]
            out["rules"].append(
                rule | {"version": str(version), "last_updated": _timestamp(updated), "ref": rule["id"]}
            )
        return out

    def _check_phase(self, phase: str) -> None:
        if phase not in self._phases:
            raise RulesetError(
                [error("/phase", f"unknown phase {phase!r}; known: {', '.join(self._phases)}", UNKNOWN_PHASE)],
                status=404,
            )


__all__ = ["PHASES", "Phase", "PhaseEntrypoints", "RulesetError", "validation_errors"]
