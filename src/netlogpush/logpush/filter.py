"""A Logpush job's ``filter``: parse, validate, and compile to a vectorised record mask.

Semantics follow Cloudflare's "Filters" page (cloudflare-docs
``src/content/docs/logs/logpush/logpush-job/filters.mdx``; reference spec §2.6):

- the job's ``filter`` is a string of JSON that "must contain the ``where`` key";
- a condition is ``{"key": <field>, "operator": <op>, "value": <value>}``; ``{"and": [...]}``
  and ``{"or": [...]}`` combine conditions and nest;
- the filter is a pass-through gate: only records for which it is true are pushed;
- "limits of approximately 30 operators and 1000 bytes": at most ``MAX_CONDITIONS``
  comparison operators and ``MAX_BYTES`` bytes of filter JSON.

Operators and the field types they take (docs table; S string, I int, B bool):
``eq``/``!eq`` S I B; ``lt``/``leq``/``gt``/``geq`` I; ``startsWith``/``endsWith``/
``!startsWith``/``!endsWith`` S; ``contains``/``!contains`` S (and arrays, which this dataset
does not have); ``in``/``!in`` S I with a JSON array value. ``neq`` (Instant Logs and OAS
examples) is accepted as ``!eq``, and ``in`` also takes the ``"200,201"`` string form those
examples use. Int values may be JSON numbers or decimal strings (the docs write ``"30"``);
``true``/``false`` compare as 1/0 against this dataset's 0/1 flag fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Any, Literal, TypeAlias

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from netlogpush.dataset.fields import FIELDS_BY_NAME, canonical_name

#: "approximately 30 operators" (docs): comparison operators; ``and``/``or`` are not counted.
#: The shortest condition is 41 bytes of JSON (42 with its comma), so with the documented byte limit at most 23
#: fit and ``MAX_BYTES`` always bites first; the count is still checked (and both are
#: parameters) in case the byte limit is raised.
MAX_CONDITIONS = 30
#: "approximately … 1000 bytes" (docs): the filter string as the job holds it, UTF-8.
MAX_BYTES = 1000

Operator = Literal[
    "eq", "!eq", "lt", "leq", "gt", "geq",
    "startsWith", "endsWith", "!startsWith", "!endsWith",
    "contains", "!contains", "in", "!in",
]  # fmt: skip
OPERATORS: tuple[str, ...] = Operator.__args__  # type: ignore[attr-defined]
_ALIASES = {"neq": "!eq"}
_INT_OPS = frozenset({"eq", "!eq", "lt", "leq", "gt", "geq", "in", "!in"})
_STRING_OPS = frozenset(OPERATORS) - {"lt", "leq", "gt", "geq"}
_INT_TEXT = re.compile(r"-?[0-9]+")


class FilterError(ValueError):
    """An invalid filter. ``path`` locates the node (``where.and[1].operator``), ``rule`` names
    the broken rule (``json``, ``where``, ``shape``, ``operator``, ``key``, ``value``,
    ``max_conditions``, ``max_bytes``)."""

    def __init__(self, path: str, rule: str, message: str) -> None:
        self.path, self.rule, self.message = path, rule, message
        super().__init__(f"filter {path}: {message} [{rule}]")


@dataclass(frozen=True, slots=True)
class Condition:
    field: str  # current field name
    operator: Operator
    value: int | str | tuple[int, ...] | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Group:
    op: Literal["and", "or"]
    children: tuple[Node, ...]


Node: TypeAlias = "Condition | Group"


@dataclass(frozen=True, slots=True)
class Filter:
    """A validated filter; ``mask`` evaluates it over a record table, column-wise."""

    where: Node
    conditions: int

    def mask(self, table: pa.Table) -> pa.BooleanArray:
        return _eval(self.where, table, {})

    def apply(self, table: pa.Table) -> pa.Table:
        return table.filter(self.mask(table))


def parse_filter(
    source: str | Mapping[str, Any] | None,
    *,
    max_conditions: int = MAX_CONDITIONS,
    max_bytes: int = MAX_BYTES,
) -> Filter | None:
    """Validate a job's ``filter``; ``None``/empty means no filter. Raises ``FilterError``.

    A mapping (already-parsed JSON) is measured as compact JSON for the byte limit.
    """
    if source is None:
        return None
    if isinstance(source, str):
        if not source.strip():
            return None
        size = len(source.encode())
        if size > max_bytes:
            raise FilterError("filter", "max_bytes", f"{size} bytes, the limit is {max_bytes}")
        try:
            doc = orjson.loads(source)
        except orjson.JSONDecodeError as exc:
            raise FilterError("filter", "json", f"not JSON: {exc}") from None
    else:
        doc = source
        size = len(orjson.dumps(doc))
        if size > max_bytes:
            raise FilterError("filter", "max_bytes", f"{size} bytes, the limit is {max_bytes}")
    if not isinstance(doc, Mapping) or "where" not in doc:
        raise FilterError("filter", "where", 'must be an object with the "where" key')
    extra = sorted(set(doc) - {"where"})
    if extra:
        raise FilterError("filter", "shape", f"unknown key(s) {', '.join(extra)}")
    counter = [0, max_conditions]
    where = _node(doc["where"], "where", counter)
    return Filter(where, counter[0])


def _node(raw: Any, path: str, counter: list[int]) -> Node:
    if not isinstance(raw, Mapping):
        raise FilterError(path, "shape", "must be an object")
    groups = [k for k in ("and", "or") if k in raw]
    if groups:
        if len(raw) != 1:
            raise FilterError(path, "shape", f'"{groups[0]}" must be the only key of its object')
        op: Literal["and", "or"] = "and" if groups[0] == "and" else "or"
        items = raw[op]
        if not isinstance(items, list) or not items:
            raise FilterError(f"{path}.{op}", "shape", "must be a non-empty array")
        kids = tuple(_node(item, f"{path}.{op}[{i}]", counter) for i, item in enumerate(items))
        return Group(op, kids)
    keys = set(raw)
    if keys != {"key", "operator", "value"}:
        missing = sorted({"key", "operator", "value"} - keys)
        extra = sorted(keys - {"key", "operator", "value"})
        what = [f"missing {', '.join(missing)}"] if missing else []
        what += [f"unknown {', '.join(extra)}"] if extra else []
        raise FilterError(
            path, "shape", "; ".join(what) + ' (need "key", "operator", "value" or "and"/"or")'
        )
    counter[0] += 1
    if counter[0] > counter[1]:
        raise FilterError(path, "max_conditions", f"more than {counter[1]} conditions")
    return _condition(raw, path)


def _condition(raw: Mapping[str, Any], path: str) -> Condition:
    key, op, value = raw["key"], raw["operator"], raw["value"]
    if not isinstance(key, str):
        raise FilterError(f"{path}.key", "key", "must be a string")
    try:
        name = canonical_name(key)
    except KeyError:
        raise FilterError(
            f"{path}.key", "key", f"{key!r} is not a field of network_analytics_logs"
        ) from None
    if name is None:
        raise FilterError(f"{path}.key", "key", f"{key!r} has no current field to filter on")
    if not isinstance(op, str) or _ALIASES.get(op, op) not in OPERATORS:
        raise FilterError(
            f"{path}.operator",
            "operator",
            f"unknown operator {op!r}; one of {', '.join(OPERATORS)}",
        )
    op = _ALIASES.get(op, op)
    is_int = _is_int_field(name)
    if op not in (_INT_OPS if is_int else _STRING_OPS):
        kind = "an int" if is_int else "a string"
        raise FilterError(
            f"{path}.operator", "operator", f"{op} does not apply to {name}, {kind} field"
        )
    vpath = f"{path}.value"
    if op in ("in", "!in"):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise FilterError(vpath, "value", f"{op} needs a non-empty array")
        conv = [_scalar(v, is_int, f"{vpath}[{i}]") for i, v in enumerate(items)]
        return Condition(name, op, tuple(conv))  # type: ignore[arg-type]
    return Condition(name, op, _scalar(value, is_int, vpath))  # type: ignore[arg-type]


def _is_int_field(name: str) -> bool:
    # Datetime is "int or string" in the docs; records keep it as integer nanoseconds.
    return FIELDS_BY_NAME[name].is_int or name == "Datetime"


def _scalar(value: Any, is_int: bool, path: str) -> int | str:
    if is_int:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
            return int(value.strip())
        raise FilterError(path, "value", f"{value!r} is not an integer")
    if isinstance(value, str):
        return value
    raise FilterError(path, "value", f"{value!r} is not a string")


# --------------------------------------------------------------------------------------------
# Vectorised evaluation
# --------------------------------------------------------------------------------------------

_INT64 = (-(2**63), 2**63 - 1)


def _column(table: pa.Table, name: str, cache: dict[str, pa.Array]) -> pa.Array:
    col = cache.get(name)
    if col is None:
        col = cache[name] = table.column(name).combine_chunks()
    return col


def _const(n: int, value: bool) -> pa.BooleanArray:
    return pa.array(np.full(n, value, dtype=bool))


def _leaf(c: Condition, table: pa.Table, cache: dict[str, pa.Array]) -> pa.BooleanArray:
    col = _column(table, c.field, cache)
    n = len(col)
    op, v = c.operator, c.value
    negate = op.startswith("!")
    base = op[1:] if negate else op
    if isinstance(v, tuple):
        # Values beyond int64 can never match an int64 column (and would overflow the cast).
        vals = [x for x in v if not isinstance(x, int) or _INT64[0] <= x <= _INT64[1]]
        out = pc.is_in(col, value_set=pa.array(vals, col.type)) if vals else _const(n, False)
    elif isinstance(v, int):
        if not _INT64[0] <= v <= _INT64[1]:  # compare as Python would: beyond every int64
            big = v > 0
            res = {"eq": False, "lt": big, "leq": big, "gt": not big, "geq": not big}[base]
            out = _const(n, res)
        else:
            fn = {"eq": pc.equal, "lt": pc.less, "leq": pc.less_equal,
                  "gt": pc.greater, "geq": pc.greater_equal}[base]  # fmt: skip
            out = fn(col, pa.scalar(v, col.type))
    else:
        if base == "eq":
            out = pc.equal(col, pa.scalar(v, pa.string()))
        elif base == "startsWith":
            out = pc.starts_with(col, v)
        elif base == "endsWith":
            out = pc.ends_with(col, v)
        else:  # contains: substring of a string (this dataset has no array fields)
            out = pc.match_substring(col, v)
    return pc.invert(out) if negate else out


def _eval(node: Node, table: pa.Table, cache: dict[str, pa.Array]) -> pa.BooleanArray:
    if isinstance(node, Condition):
        return _leaf(node, table, cache)
    masks = [_eval(child, table, cache) for child in node.children]
    combine = pc.and_ if node.op == "and" else pc.or_
    return reduce(combine, masks)
