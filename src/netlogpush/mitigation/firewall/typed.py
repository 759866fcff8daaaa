"""The checked tree: fields resolved, operators typed, literals read into Python values.

Both evaluators run this tree: the vectorised compiler (``compiler.py``) and the per-packet
reference interpreter (``reference.py``). Nodes are frozen and compare by structure; the
source position is kept for messages but left out of equality, so the same sub-expression
in two rules is one key for the per-batch cache.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Enum

from netlogpush.mitigation.firewall.errors import Position
from netlogpush.mitigation.firewall.fields import FieldSpec, FieldType
from netlogpush.mitigation.firewall.literals import IpItem

_NOWHERE = Position(1, 1, 0)


class Op(Enum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    IN = "in"
    IN_LIST = "in $list"
    BITWISE_AND = "bitwise_and"
    CONTAINS = "contains"
    CONTAINS_ANY = "contains {…}"
    MATCHES = "matches"
    WILDCARD = "wildcard"
    STRICT_WILDCARD = "strict wildcard"


ORDERING = (Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE)


@dataclass(frozen=True, slots=True)
class FieldOperand:
    spec: FieldSpec

    @property
    def type(self) -> FieldType:
        return self.spec.type

    def __str__(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class BitSlice:
    """``bit_slice(protocol, start, end)``: bits ``[start, end)`` of ``protocol``'s raw bytes.

    Bit 0 is the most significant bit of the header's first byte (network order), so
    ``bit_slice("udp", 64, 72)`` is the first payload byte of a UDP packet.
    """

    spec: FieldSpec  # the raw field: ip, tcp, udp or icmp
    start: int
    end: int

    @property
    def type(self) -> FieldType:
        return FieldType.INT

    def __str__(self) -> str:
        return f'bit_slice("{self.spec.name}", {self.start}, {self.end})'


Operand = FieldOperand | BitSlice


@dataclass(frozen=True, slots=True)
class IntSet:
    """Inclusive ranges, as written (a single value is ``(v, v)``)."""

    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class IpSet:
    items: tuple[IpItem, ...]


@dataclass(frozen=True, slots=True)
class ListRef:
    """A named IP list, resolved at evaluation time from the compiled rules' lists."""

    name: str


@dataclass(frozen=True, slots=True)
class BytesSet:
    values: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Pattern:
    """A ``matches`` regex or a ``wildcard`` pattern, as bytes."""

    source: bytes


Value = (
    int
    | bytes
    | ipaddress.IPv4Address
    | ipaddress.IPv6Address
    | IntSet
    | IpSet
    | ListRef
    | BytesSet
    | Pattern
)


@dataclass(frozen=True, slots=True)
class Compare:
    operand: Operand
    op: Op
    value: Value
    pos: Position = field(default=_NOWHERE, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class IsTrue:
    """A Boolean field on its own (``tcp.flags.syn``)."""

    operand: FieldOperand
    pos: Position = field(default=_NOWHERE, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Not:
    arg: Expr


class Logic(Enum):
    AND = "and"
    XOR = "xor"
    OR = "or"


@dataclass(frozen=True, slots=True)
class Logical:
    op: Logic
    items: tuple[Expr, ...]


Expr = Compare | IsTrue | Not | Logical


def fields_used(expr: Expr) -> frozenset[str]:
    """Names of the fields (and raw fields under ``bit_slice``) an expression reads."""
    if isinstance(expr, (Compare, IsTrue)):
        return frozenset({expr.operand.spec.name})
    if isinstance(expr, Not):
        return fields_used(expr.arg)
    return frozenset().union(*(fields_used(item) for item in expr.items))


def lists_used(expr: Expr) -> frozenset[str]:
    if isinstance(expr, Compare):
        return frozenset({expr.value.name}) if isinstance(expr.value, ListRef) else frozenset()
    if isinstance(expr, IsTrue):
        return frozenset()
    if isinstance(expr, Not):
        return lists_used(expr.arg)
    return frozenset().union(*(lists_used(item) for item in expr.items))
