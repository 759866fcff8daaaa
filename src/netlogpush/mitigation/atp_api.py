"""Advanced TCP Protection's REST shapes over flowtrackd's configuration, for the API to mount.

Cloudflare's endpoints, under ``/accounts/{account_id}/magic/advanced_tcp_protection/configs/``
(developers.cloudflare.com/ddos-protection/advanced-ddos-systems/api/tcp-protection/, the
"Endpoints" tables, and the API reference .../api/resources/ddos_protection/subresources/
advanced_tcp_protection/):

=========================================  ==============================================
``tcp_protection_status``                  GET, PATCH ``{"enabled": bool}``
``prefixes``                               GET (list), POST (one), DELETE (all)
``prefixes/bulk``                          POST a list (at most 300 per request)
``prefixes/{id}``                          GET, PATCH, DELETE
``allowlist`` and ``allowlist/{id}``       as ``prefixes`` (no bulk)
``syn_protection/rules[/{id}]``            as ``allowlist``
``syn_protection/filters[/{id}]``          as ``allowlist``; GET takes ``?mode=``
``tcp_flow_protection/rules[/{id}]``       as ``syn_protection``
``tcp_flow_protection/filters[/{id}]``     as ``syn_protection``
=========================================  ==============================================

The objects (…/tcp-protection/json-objects/): a prefix ``{id, prefix, comment, excluded,
created_on, modified_on}``; an allowlist entry ``{id, prefix, comment, enabled, created_on,
modified_on}`` (``enabled`` defaults to false, as the API reference says; netlogpush adds an
optional ``expression``); a rule ``{id, scope, name, rate_sensitivity, burst_sensitivity,
mode, created_on, modified_on}`` (``name`` is ``global`` for the global scope, as the API
reference says); a filter ``{id, expression, mode, created_on, modified_on}``.

``AdvancedTcpProtection`` keeps no configuration of its own: every call reads the running
settings from a ``SettingsStore``, and every change validates a whole new ``FlowtrackdConfig``
(so a second global rule or a filter on ``ip.proto`` is refused with the model's message and a
JSON pointer) and hands the new settings to the store, which tells the running pipeline.
Items the settings file gave without an ``id`` get a stable one derived from their content.
Timestamps are kept in memory (the settings file has none).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from netlogpush.mitigation.flowtrackd.config import (
    AtpAllowlistEntry,
    AtpFilter,
    AtpPrefix,
    AtpRule,
    FlowtrackdConfig,
)

if TYPE_CHECKING:
    from netlogpush.config import Settings
    from netlogpush.mitigation.reload import SettingsStore

Json = dict[str, Any]

#: Our error codes (Cloudflare does not document its own for these cases).
INVALID = 10001
NOT_FOUND = 10006
#: Cloudflare: "Adds prefixes in bulk to the account (up to 300 prefixes per request)."
MAX_BULK = 300
#: What the server sets; a client that sends back what it got from GET sends these too.
SERVER_FIELDS = frozenset({"id", "created_on", "modified_on"})
_ID_NAMESPACE = uuid.UUID("6f1d7e0a-5c1b-4a43-9d0f-2f6b1f8f0a7e")


class AtpError(ValueError):
    """A request the API refuses: Cloudflare-style ``errors`` and the HTTP ``status``."""

    def __init__(self, errors: list[Json], status: int = 400) -> None:
        super().__init__("; ".join(e["message"] for e in errors))
        self.errors = errors
        self.status = status


def _error(pointer: str, message: str, code: int = INVALID) -> Json:
    return {"code": code, "message": f"{pointer}: {message}", "source": {"pointer": pointer}}


def _validation_errors(
    exc: ValidationError, prefix: str = "", strip: tuple[str, ...] = ()
) -> list[Json]:
    """Pydantic's errors with JSON pointers into the request body: ``prefix`` (the item's
    place in a bulk request) plus the error's location, less the leading ``strip`` (where
    the collection sits in the whole configuration, which the request does not show)."""
    out = []
    for e in exc.errors():
        loc = [str(p) for p in e["loc"]]
        for part in strip:
            if loc and loc[0] == part:
                loc.pop(0)
        pointer = prefix + "/" + "/".join(loc) if loc else prefix or "/"
        out.append(_error(pointer, e["msg"].removeprefix("Value error, ")))
    return out


@dataclass(frozen=True, slots=True)
class Collection:
    """One list of ATP objects: where it lives in ``FlowtrackdConfig`` and its model."""

    path: str  # the URL part after configs/
    attrs: tuple[str, ...]  # the attribute path in FlowtrackdConfig
    model: type[BaseModel]
    bulk: bool = False

    def items(self, config: FlowtrackdConfig) -> list[BaseModel]:
        node: Any = config
        for attr in self.attrs:
            node = getattr(node, attr)
        return list(node)

    def replace(self, config: FlowtrackdConfig, items: Sequence[Json]) -> FlowtrackdConfig:
        """A new, validated config with this collection set to ``items``."""
        data = config.model_dump(mode="python")
        node = data
        for attr in self.attrs[:-1]:
            node = node[attr]
        node[self.attrs[-1]] = list(items)
        return FlowtrackdConfig.model_validate(data)


COLLECTIONS: dict[str, Collection] = {
    c.path: c
    for c in (
        Collection("prefixes", ("prefixes",), AtpPrefix, bulk=True),
        Collection("allowlist", ("allowlist",), AtpAllowlistEntry),
        Collection("syn_protection/rules", ("syn_protection", "rules"), AtpRule),
        Collection("syn_protection/filters", ("syn_protection", "filters"), AtpFilter),
        Collection("tcp_flow_protection/rules", ("tcp_flow_protection", "rules"), AtpRule),
        Collection("tcp_flow_protection/filters", ("tcp_flow_protection", "filters"), AtpFilter),
    )
}


def _to_api(collection: Collection, item: BaseModel) -> Json:
    """An item as Cloudflare's JSON shows it (without the timestamps)."""
    body = item.model_dump(mode="json")
    if isinstance(item, AtpRule) and item.scope == "global":
        body["name"] = "global"
    if isinstance(item, AtpAllowlistEntry) and not item.expression:
        del body["expression"]  # netlogpush's extension; absent unless used
    return body


def _from_api(collection: Collection, body: Mapping[str, Any]) -> Json:
    """A request body as our model takes it (server fields dropped, ``name: global`` mapped)."""
    data = {k: v for k, v in body.items() if k not in SERVER_FIELDS}
    if (
        collection.model is AtpRule
        and data.get("scope", "global") == "global"
        and str(data.get("name", "")).strip().lower() in ("", "global")
    ):
        data["name"] = ""
    return data


def _derived_id(collection: Collection, index: int, item: BaseModel) -> str:
    content = item.model_dump_json(exclude={"id"})
    return str(uuid.uuid5(_ID_NAMESPACE, f"{collection.path}/{index}/{content}"))


class AdvancedTcpProtection:
    """The ATP configuration endpoints, as functions over the running settings."""

    def __init__(
        self,
        store: SettingsStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._store = store
        self._clock = clock
        self._new_id = new_id
        self._times: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        self._lock = threading.RLock()

    # --- status ---------------------------------------------------------------------

    def status(self) -> Json:
        """``GET tcp_protection_status``: whether flowtrackd runs."""
        return {"enabled": "flowtrackd" in self._store.current.mitigation.enabled_systems()}

    def set_status(self, body: Mapping[str, Any]) -> Json:
        """``PATCH tcp_protection_status`` with ``{"enabled": true|false}``."""
        enabled = body.get("enabled") if isinstance(body, Mapping) else None
        if not isinstance(enabled, bool):
            raise AtpError([_error("/enabled", "must be true or false")])

        def change(settings: Settings) -> Settings:
            m = settings.mitigation
            chosen = m.systems if m.systems is not None else _profile_systems(m.profile)
            if enabled and "flowtrackd" not in chosen:
                where = (
                    "mitigation.systems does not list flowtrackd"
                    if m.systems is not None
                    else f"flowtrackd is not part of the {m.profile!r} profile"
                )
                raise AtpError([_error(
                    "/enabled",
                    f"{where}; set mitigation.profile to magic_transit or list flowtrackd in "
                    "mitigation.systems",
                )])
            config = FlowtrackdConfig.model_validate(m.flowtrackd.model_dump() | {"enabled": enabled})
            return _with_flowtrackd(settings, config)

        with self._lock:
            self._store.update(change)
        return self.status()

    # --- collections ----------------------------------------------------------------------

    def list_items(self, path: str, mode: str | None = None) -> list[Json]:
        """``GET <collection>``, optionally only the rules or filters in ``mode``."""
        collection = self._collection(path)
        with self._lock:
            items = self._items(collection)
        if mode is not None:
            if mode not in ("enabled", "disabled", "monitoring"):
                raise AtpError([_error("/mode", "must be one of enabled, disabled, monitoring")])
            items = [item for item in items if item.get("mode") == mode]
        return items

    def get_item(self, path: str, item_id: str) -> Json:
        collection = self._collection(path)
        with self._lock:
            items = self._items(collection)
        return items[self._index(collection, items, item_id)]

    def create_item(self, path: str, body: Mapping[str, Any]) -> Json:
        """``POST <collection>``: add one item; returns it with its new id."""
        return self._create(self._collection(path), [body], single=True)[0]

    def bulk_create(self, path: str, bodies: Sequence[Mapping[str, Any]]) -> list[Json]:
        """``POST prefixes/bulk``: add up to 300 items at once, all or none."""
        collection = self._collection(path)
        if not collection.bulk:
            raise AtpError([_error("/", f"{path} has no bulk endpoint")], status=404)
        if not isinstance(bodies, Sequence) or isinstance(bodies, str | bytes):
            raise AtpError([_error("/", "the body must be a list of objects")])
        if len(bodies) > MAX_BULK:
            raise AtpError([_error("/", f"{len(bodies)} items; at most {MAX_BULK} per request")])
        return self._create(collection, bodies, single=False)

    def update_item(self, path: str, item_id: str, body: Mapping[str, Any]) -> Json:
        """``PATCH <collection>/{id}``: change the fields given, keep the others."""
        collection = self._collection(path)
        if not isinstance(body, Mapping):
            raise AtpError([_error("/", "the body must be a JSON object")])

        def edit(items: list[Json]) -> list[Json]:
            index = self._index(collection, items, item_id)
            merged = _from_api(collection, items[index] | dict(body))
            self._check_item(collection, merged, "")
            items[index] = merged | {"id": item_id}
            return items

        with self._lock:
            self._mutate(collection, edit)
            created, _ = self._times[(collection.path, item_id)]
            self._times[(collection.path, item_id)] = (created, self._clock())
            return self.get_item(path, item_id)

    def delete_item(self, path: str, item_id: str) -> None:
        """``DELETE <collection>/{id}``."""
        collection = self._collection(path)

        def edit(items: list[Json]) -> list[Json]:
            del items[self._index(collection, items, item_id)]
            return items

        with self._lock:
            self._mutate(collection, edit)
            self._times.pop((collection.path, item_id), None)

    def delete_all(self, path: str) -> None:
        """``DELETE <collection>``: remove every item."""
        collection = self._collection(path)
        with self._lock:
            self._mutate(collection, lambda items: [])
            self._times = {k: v for k, v in self._times.items() if k[0] != collection.path}

    # --- dispatch ---------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, body: Any = None, query: Mapping[str, str] | None = None
    ) -> Any:
        """Route ``method`` on ``path`` (the part after ``configs/``) to the function above;
        returns the ``result`` of Cloudflare's envelope (``None`` for deletes)."""
        method = method.upper()
        path = path.strip("/")
        query = query or {}
        if path == "tcp_protection_status":
            if method == "GET":
                return self.status()
            if method == "PATCH":
                return self.set_status(body if isinstance(body, Mapping) else {})
        elif path in COLLECTIONS:
            if method == "GET":
                return self.list_items(path, query.get("mode"))
            if method == "POST":
                return self.create_item(path, body if isinstance(body, Mapping) else {})
            if method == "DELETE":
                return self.delete_all(path)
        elif path.endswith("/bulk") and path.removesuffix("/bulk") in COLLECTIONS:
            if method == "POST":
                return self.bulk_create(path.removesuffix("/bulk"), body)
        else:
            base, _, item_id = path.rpartition("/")
            if base in COLLECTIONS and item_id:
                if method == "GET":
                    return self.get_item(base, item_id)
                if method == "PATCH":
                    return self.update_item(base, item_id, body if isinstance(body, Mapping) else {})
                if method == "DELETE":
                    return self.delete_item(base, item_id)
            else:
                raise AtpError([_error("/", f"no such endpoint: {path}", NOT_FOUND)], status=404)
        raise AtpError([_error("/", f"{method} is not allowed on {path}", NOT_FOUND)], status=405)

    # --- internals ------------------------------------------------------------------------

    def _collection(self, path: str) -> Collection:
        collection = COLLECTIONS.get(path.strip("/"))
        if collection is None:
            raise AtpError(
                [_error("/", f"no such collection {path!r}; known: {', '.join(COLLECTIONS)}", NOT_FOUND)],
                status=404,
            )
        return collection

    def _items(self, collection: Collection, settings: Settings | None = None) -> list[Json]:
        """The collection as the API shows it, ids and timestamps filled in."""
        config = (settings or self._store.current).mitigation.flowtrackd
        out = []
        for index, item in enumerate(collection.items(config)):
            body = _to_api(collection, item)
            if not body.get("id"):
                body["id"] = _derived_id(collection, index, item)
            key = (collection.path, body["id"])
            if key not in self._times:  # first seen: came with the settings, or a reload
                now = self._clock()
                self._times[key] = (now, now)
            created, modified = self._times[key]
            out.append(body | {"created_on": _timestamp(created), "modified_on": _timestamp(modified)})
        return out

    def _index(self, collection: Collection, items: list[Json], item_id: str) -> int:
        for index, item in enumerate(items):
            if item["id"] == item_id:
                return index
        raise AtpError(
            [_error("/id", f"no {collection.path} item with id {item_id!r}", NOT_FOUND)], status=404
        )

    def _check_item(self, collection: Collection, data: Json, pointer: str) -> None:
        try:
            collection.model.model_validate(data)
        except ValidationError as exc:
            raise AtpError(_validation_errors(exc, pointer)) from None

    def _create(
        self, collection: Collection, bodies: Sequence[Mapping[str, Any]], single: bool
    ) -> list[Json]:
        problems: list[Json] = []
        new: list[Json] = []
        for index, body in enumerate(bodies):
            pointer = "" if single else f"/{index}"
            if not isinstance(body, Mapping):
                problems.append(_error(pointer or "/", "must be a JSON object"))
                continue
            data = _from_api(collection, body)
            if collection.model is AtpAllowlistEntry:
                data.setdefault("enabled", False)  # the API reference: "Defaults to false."
            try:
                self._check_item(collection, data, pointer)
            except AtpError as exc:
                problems += exc.errors
                continue
            new.append(data | {"id": self._new_id()})
        if problems:
            raise AtpError(problems)
        with self._lock:
            self._mutate(collection, lambda items: [*items, *new])
            now = self._clock()
            for item in new:
                self._times[(collection.path, item["id"])] = (now, now)
            by_id = {item["id"]: item for item in self._items(collection)}
            return [by_id[item["id"]] for item in new]

    def _mutate(self, collection: Collection, edit: Callable[[list[Json]], list[Json]]) -> None:
        """Replace the collection with ``edit(items)``, computed from the settings current at
        the moment of the change (so a concurrent reload is not overwritten); the ids of all
        its items are written into the settings."""

        def change(settings: Settings) -> Settings:
            items = edit(self._items(collection, settings))
            plain = [_from_api(collection, item) | {"id": item["id"]} for item in items]
            try:
                config = collection.replace(settings.mitigation.flowtrackd, plain)
            except ValidationError as exc:
                raise AtpError(_validation_errors(exc, "", collection.attrs)) from None
            return _with_flowtrackd(settings, config)

        self._store.update(change)


def _profile_systems(profile: str) -> tuple[str, ...]:
    from netlogpush.mitigation.config import PROFILES

    return PROFILES[profile]


def _with_flowtrackd(settings: Settings, config: FlowtrackdConfig) -> Settings:
    mitigation = settings.mitigation.model_copy(update={"flowtrackd": config})
    return settings.model_copy(update={"mitigation": mitigation})


def _timestamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


__all__ = ["COLLECTIONS", "MAX_BULK", "AdvancedTcpProtection", "AtpError", "Collection"]
