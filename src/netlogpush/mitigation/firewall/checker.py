"""Type checking: parse tree -> typed tree, or a ``RuleTypeError`` that says what would fit.

Which operator goes with which type follows Cloudflare's operator table: ordering
comparisons for Number and String but not IP address, ``contains``/``matches``/``wildcard``
for String only, ``bitwise_and`` for Number only, ``in`` for all three; Boolean fields stand
alone (``tcp.flags.syn``, ``not tcp.flags.syn``), as in wirefilter. Named lists hold IP
addresses and work with ``ip.src`` / ``ip.dst`` (Magic Firewall's "Use IP lists").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from netlogpush.mitigation.firewall import literals as lit
from netlogpush.mitigation.firewall import syntax as syn
from netlogpush.mitigation.firewall import typed as t
from netlogpush.mitigation.firewall.errors import Position, RuleListError, RuleTypeError
from netlogpush.mitigation.firewall.fields import (
    BIT_SLICE_MAX_OFFSET,
    BIT_SLICE_MAX_WIDTH,
    FIELDS,
    FUNCTIONS,
    PROTOCOL_NAME_HINTS,
    PROTOCOL_NAMES,
    RAW_FIELDS,
    FieldType,
    Source,
)

#: Cloudflare: "List names can only include lowercase letters, numbers, and the underscore";
#: managed lists add a ``cf.`` prefix (``$cf.anonymizer``).
LIST_NAME = re.compile(r"(?:cf\.)?[a-z0-9_]+")

_COMPARE = {
    "eq": t.Op.EQ, "==": t.Op.EQ, "ne": t.Op.NE, "!=": t.Op.NE, "lt": t.Op.LT, "<": t.Op.LT,
    "le": t.Op.LE, "<=": t.Op.LE, "gt": t.Op.GT, ">": t.Op.GT, "ge": t.Op.GE, ">=": t.Op.GE,
}  # fmt: skip
_OPS_FOR = {
    FieldType.INT: "eq, ne, lt, le, gt, ge, in or bitwise_and",
    FieldType.IP: "eq, ne or in",
    FieldType.BYTES: "eq, ne, lt, le, gt, ge, in, contains, matches or wildcard",
}
_RAW_OPS = "contains or matches, or read its bits with bit_slice(...)"
_KNOWN_PROTOCOLS = frozenset(PROTOCOL_NAMES.values())


class IpLists:
    """Named IP lists (``$name``): each entry an address, a CIDR network or a range ``a..b``.

    Entries are read once, here, so a bad entry is reported when the configuration loads,
    naming the list and the entry.
    """

    def __init__(self, lists: Mapping[str, Iterable[str]] | None = None) -> None:
        self._items: dict[str, tuple[lit.IpItem, ...]] = {}
        for name, entries in (lists or {}).items():
            if not LIST_NAME.fullmatch(name):
                raise RuleListError(
                    f"list name {name!r}: use only lower-case letters, digits and '_'"
                )
            items = []
            for k, entry in enumerate(entries):
                tok = syn.Token("VALUE", str(entry).strip(), Position(1, 1, 0))
                try:
                    items.append(lit.parse_ip_item(tok, f"in list ${name}"))
                except RuleTypeError as err:
                    raise RuleListError(f"list ${name}, entry {k + 1}: {err.reason}") from None
            self._items[name] = tuple(items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __getitem__(self, name: str) -> tuple[lit.IpItem, ...]:
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)


def check(node: syn.Node, lists: IpLists) -> t.Expr:
    """The typed tree for ``node``; lists referenced as ``$name`` must be in ``lists``."""
    if isinstance(node, syn.Group):
        return check(node.expr, lists)
    if isinstance(node, syn.Negation):
        return t.Not(check(node.arg, lists))
    if isinstance(node, syn.Logical):
        return t.Logical(t.Logic(node.op), tuple(check(item, lists) for item in node.items))
    return _comparison(node, lists)


def _operand(op: syn.Operand) -> t.Operand:
    if isinstance(op, syn.Call):
        return _call(op)
    name = op.name.text
    spec = FIELDS.get(name)
    if spec is None:
        if name.lower() in FIELDS:
            raise RuleTypeError(
                op.name.pos,
                f'unknown field "{name}"; field names are lower case: {name.lower()}',
                "a field name",
            )
        guess = difflib.get_close_matches(name, list(FIELDS), n=1)
        hint = (
            f"; did you mean {guess[0]}?"
            if guess
            else "; see docs/firewall-rules.md for the fields"
        )
        raise RuleTypeError(op.name.pos, f'unknown field "{name}"{hint}', "a field name")
    return t.FieldOperand(spec)


def _call(call: syn.Call) -> t.BitSlice:
    name = call.name.text
    if name not in FUNCTIONS:
        raise RuleTypeError(
            call.name.pos,
            f'unknown function "{name}"; Magic Firewall rules have one function, bit_slice(protocol, start, end)',
            "bit_slice",
        )
    if len(call.args) != 3:
        pos = call.args[3].pos if len(call.args) > 3 else call.close
        raise RuleTypeError(
            pos,
            f"bit_slice takes 3 arguments (protocol, offset_start, offset_end), got {len(call.args)}",
            "3 arguments",
        )
    proto_tok, start_tok, end_tok = call.args
    protocol = proto_tok.text
    if proto_tok.kind in ("STRING", "RAW_STRING"):
        protocol = lit.parse_bytes(proto_tok, "").decode("utf-8", "replace")
    spec = RAW_FIELDS.get(protocol)
    if spec is None or proto_tok.kind == "VALUE":
        raise lit.expected_error(
            proto_tok, 'a protocol, "ip", "tcp", "udp" or "icmp",', "as bit_slice's first argument"
        )
    start = lit.parse_int(start_tok, "as bit_slice's offset_start")
    end = lit.parse_int(end_tok, "as bit_slice's offset_end")
    if start < 0:
        raise RuleTypeError(
            start_tok.pos, "bit_slice's offset_start cannot be negative", "an offset >= 0"
        )
    if end > BIT_SLICE_MAX_OFFSET:
        raise RuleTypeError(
            end_tok.pos,
            f"bit_slice's offsets cannot exceed {BIT_SLICE_MAX_OFFSET} bits, got {end}",
            f"an offset <= {BIT_SLICE_MAX_OFFSET}",
        )
    if not 0 < end - start <= BIT_SLICE_MAX_WIDTH:
        raise RuleTypeError(
            end_tok.pos,
            f"bit_slice's offset_end must be 1 to {BIT_SLICE_MAX_WIDTH} bits after offset_start "
            f"(a slice is at most {BIT_SLICE_MAX_WIDTH} bits), got {start} and {end}",
            f"an offset_end in {start + 1}..{start + BIT_SLICE_MAX_WIDTH}",
        )
    return t.BitSlice(spec, start, end)


def _describe(operand: t.Operand) -> str:
    kind = operand.type.value
    article = "an" if kind[0] in "AEIOU" else "a"
    return f"{operand} ({article} {kind} field)"


def _comparison(node: syn.Comparison, lists: IpLists) -> t.Expr:
    operand = _operand(node.operand)
    pos = syn.operand_pos(node.operand)
    raw = isinstance(operand, t.FieldOperand) and operand.spec.source is Source.RAW
    if node.op is None:
        if operand.type is FieldType.BOOL:
            assert isinstance(operand, t.FieldOperand)
            return t.IsTrue(operand, pos)
        end = Position(pos.line, pos.column + len(node.operand.name.text), pos.offset)
        raise RuleTypeError(
            end if isinstance(node.operand, syn.FieldRef) else pos,
            f"expected an operator after {_describe(operand)}, for example {operand} eq …",
            "an operator",
        )
    op_tok = node.op
    if operand.type is FieldType.BOOL:
        raise RuleTypeError(
            op_tok.pos,
            f"{operand} is a Boolean field and takes no operator: write {operand} or not {operand}",
            "'and', 'or', 'xor' or the end of the expression",
        )
    context = f"after '{op_tok.text}' for {operand}"
    kind = node.kind
    allowed = _RAW_OPS if raw else _OPS_FOR[operand.type]
    misuse = RuleTypeError(
        op_tok.pos,
        f"'{op_tok.text}' cannot be used with {_describe(operand)}; use {allowed}",
        allowed,
    )
    if raw and kind not in ("contains", "contains_any", "matches"):
        raise misuse

    if kind == "ordering":
        assert isinstance(node.rhs, syn.Token)
        op = _COMPARE[op_tok.text]
        if operand.type is FieldType.IP:
            if op not in (t.Op.EQ, t.Op.NE):
                raise misuse
            return t.Compare(operand, op, lit.parse_ip(node.rhs, context), pos)
        if operand.type is FieldType.INT:
            return t.Compare(operand, op, lit.parse_int(node.rhs, context), pos)
        value = lit.parse_bytes(node.rhs, context)
        if op in (t.Op.EQ, t.Op.NE):
            _check_protocol(operand, node.rhs, value)
        return t.Compare(operand, op, value, pos)

    if kind == "in_set":
        assert isinstance(node.rhs, tuple)
        context = f"after '{op_tok.text} {{' for {operand}"
        if operand.type is FieldType.INT:
            ranges = tuple(lit.parse_int_range(item, context) for item in node.rhs)
            return t.Compare(operand, t.Op.IN, t.IntSet(ranges), pos)
        if operand.type is FieldType.IP:
            items = tuple(lit.parse_ip_item(item, context) for item in node.rhs)
            return t.Compare(operand, t.Op.IN, t.IpSet(items), pos)
        values = []
        for item in node.rhs:
            value = lit.parse_bytes(item, context)
            _check_protocol(operand, item, value)
            values.append(value)
        return t.Compare(operand, t.Op.IN, t.BytesSet(tuple(values)), pos)

    if kind == "in_list":
        assert isinstance(node.rhs, syn.Token)
        name_tok = node.rhs
        name = name_tok.text[1:]
        if operand.type is not FieldType.IP:
            raise RuleTypeError(
                name_tok.pos,
                f"lists hold IP addresses; {_describe(operand)} cannot be tested against ${name}",
                "ip.src or ip.dst on the left",
            )
        if not LIST_NAME.fullmatch(name):
            raise RuleTypeError(
                name_tok.pos,
                f'invalid list name "${name}": list names use only lower-case letters, digits and "_"',
                "a list name such as $my_list",
            )
        if name not in lists:
            known = ", ".join(f"${n}" for n in lists.names()) or "none"
            raise RuleTypeError(
                name_tok.pos, f"unknown list ${name} (lists defined: {known})", "a defined list"
            )
        return t.Compare(operand, t.Op.IN_LIST, t.ListRef(name), pos)

    if kind == "bitwise_and":
        assert isinstance(node.rhs, syn.Token)
        if operand.type is not FieldType.INT:
            raise misuse
        return t.Compare(operand, t.Op.BITWISE_AND, lit.parse_int(node.rhs, context), pos)

    if operand.type is not FieldType.BYTES:
        raise misuse
    if kind == "contains_any":
        assert isinstance(node.rhs, tuple)
        context = f"after '{op_tok.text} {{' for {operand}"
        values = [lit.parse_bytes(item, context) for item in node.rhs]
        return t.Compare(operand, t.Op.CONTAINS_ANY, t.BytesSet(tuple(values)), pos)
    assert isinstance(node.rhs, syn.Token)
    if kind == "contains":
        return t.Compare(operand, t.Op.CONTAINS, lit.parse_bytes(node.rhs, context), pos)
    if kind == "matches":
        source = lit.regex_source(node.rhs, context)
        _check_regex(node.rhs, source)
        return t.Compare(operand, t.Op.MATCHES, t.Pattern(source), pos)
    op = t.Op.WILDCARD if kind == "wildcard" else t.Op.STRICT_WILDCARD
    return t.Compare(operand, op, t.Pattern(lit.wildcard_source(node.rhs, context)), pos)


def _check_protocol(operand: t.Operand, tok: syn.Token, value: bytes) -> None:
    """``ip.proto`` values are lower-case keywords; catch ``"TCP"`` before it silently never matches."""
    if not (isinstance(operand, t.FieldOperand) and operand.spec.source is Source.PROTOCOL_NAME):
        return
    name = value.decode("utf-8", "replace")
    number = int(name) if name.isdigit() and str(int(name)) == name else None
    if name in _KNOWN_PROTOCOLS or (
        number is not None and number < 256 and number not in PROTOCOL_NAMES
    ):
        return
    suggestion = PROTOCOL_NAME_HINTS.get(name.lower()) or (
        name.lower() if name.lower() in _KNOWN_PROTOCOLS else None
    )
    if number is not None and number in PROTOCOL_NAMES:
        suggestion = PROTOCOL_NAMES[number]
    hint = (
        f'; did you mean "{suggestion}"?'
        if suggestion
        else ' (IANA keywords in lower case, e.g. "tcp")'
    )
    raise RuleTypeError(tok.pos, f'unknown protocol "{name}" for ip.proto{hint}', "a protocol name")


def _check_regex(tok: syn.Token, source: bytes) -> None:
    try:
        re.compile(source)
    except re.error as err:
        raise RuleTypeError(
            tok.pos, f"invalid regular expression: {err}", "a regular expression"
        ) from None
