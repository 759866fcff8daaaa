"""The parse tree: what the text says, with positions, before any field or value is checked.

``parser.py`` builds it; ``checker.py`` turns it into the typed tree (``typed.py``) that the
compiler and the reference evaluator run.
"""

from __future__ import annotations

from dataclasses import dataclass

from netlogpush.mitigation.firewall.errors import Position


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of the source: ``kind`` is the grammar terminal (VALUE, STRING, IDENT, …)."""

    kind: str
    text: str
    pos: Position


@dataclass(frozen=True, slots=True)
class FieldRef:
    name: Token


@dataclass(frozen=True, slots=True)
class Call:
    name: Token
    args: tuple[Token, ...]
    close: Position  # the closing parenthesis, for "missing argument" errors


Operand = FieldRef | Call


@dataclass(frozen=True, slots=True)
class Comparison:
    """``operand op rhs``. ``kind`` is the grammar alternative (``ordering``, ``in_set``, …).

    ``op`` is the operator as written (``None`` for a Boolean field on its own); ``rhs`` is
    one token, a tuple of set items, or ``None``.
    """

    kind: str
    operand: Operand
    op: Token | None
    rhs: Token | tuple[Token, ...] | None
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Negation:
    arg: Node
    pos: Position
    depth: int


@dataclass(frozen=True, slots=True)
class Group:
    expr: Node
    pos: Position
    depth: int


@dataclass(frozen=True, slots=True)
class Logical:
    """``and`` / ``or`` / ``xor`` over two or more items (chains of one operator are flat)."""

    op: str
    items: tuple[Node, ...]
    depth: int


Node = Comparison | Negation | Group | Logical


def operand_pos(operand: Operand) -> Position:
    return operand.name.pos


def node_pos(node: Node) -> Position:
    if isinstance(node, Comparison):
        return operand_pos(node.operand)
    if isinstance(node, Logical):
        return node_pos(node.items[0])
    return node.pos
