"""Text -> parse tree, with lark (LALR), and lark's errors turned into messages users can act on.

lark rather than a hand-written parser: the grammar (``grammar.lark``) stays one readable page,
LALR parses in linear time without recursion (deeply nested input cannot blow the stack),
and lark's interactive parser tells exactly which tokens would have been accepted where an
error occurred, which is what the error messages list.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Transformer
from lark import Token as LarkToken
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from netlogpush.mitigation.firewall.errors import Position, RuleSyntaxError
from netlogpush.mitigation.firewall.syntax import (
    Call,
    Comparison,
    FieldRef,
    Group,
    Logical,
    Negation,
    Node,
    Token,
)

#: Deepest nesting of parentheses and ``not`` accepted. wirefilter limits nesting too; the
#: checker and both evaluators recurse over the tree, so this also bounds their stack use.
MAX_DEPTH = 100

_KEYWORDS = {
    "not", "and", "or", "xor", "eq", "ne", "lt", "le", "gt", "ge", "in", "contains",
    "matches", "bitwise_and", "wildcard", "strict",
}  # fmt: skip

_OPERATORS = {"COMPARE", "IN", "BITAND", "CONTAINS", "MATCHES", "WILDCARD", "STRICT"}
_DESCRIPTIONS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"IDENT", "NOT", "LPAR"}), "a field such as ip.src, 'not' or '('"),
    (
        frozenset(_OPERATORS),
        "an operator (eq, ne, lt, le, gt, ge, in, contains, matches, bitwise_and, wildcard)",
    ),
    (frozenset({"VALUE", "STRING", "RAW_STRING"}), "a value"),
    (frozenset({"LBRACE", "LIST"}), "'{' or a list name such as $my_list"),
    (frozenset({"AND", "XOR", "OR"}), "a logical operator (and, xor, or)"),
    (frozenset({"COMMA"}), "','"),
    (frozenset({"RPAR"}), "')'"),
    (frozenset({"RBRACE"}), "'}'"),
    (frozenset({"$END"}), "the end of the expression"),
)


class _Builder(Transformer[LarkToken, Node]):
    """Builds ``syntax`` nodes as lark reduces (inline, so no recursion over the tree)."""

    def _tok(self, t: LarkToken) -> Token:
        return Token(t.type, str(t), Position(t.line or 1, t.column or 1, t.start_pos or 0))

    def _deep(self, depth: int, pos: Position) -> int:
        if depth > MAX_DEPTH:
            raise RuleSyntaxError(
                pos,
                f"the expression nests deeper than {MAX_DEPTH} levels of '(' and 'not'",
                f"at most {MAX_DEPTH} levels of nesting",
            )
        return depth

    def start(self, c: list[Any]) -> Node:
        node: Node = c[0]
        return node

    def logical(self, c: list[Any]) -> Node:
        left, op, right = c
        word = {"&&": "and", "||": "or", "^^": "xor"}.get(str(op), str(op))
        items = (
            (*left.items, right) if isinstance(left, Logical) and left.op == word else (left, right)
        )
        return Logical(word, items, max(left.depth, right.depth))

    def negation(self, c: list[Any]) -> Node:
        op, arg = c
        pos = self._tok(op).pos
        return Negation(arg, pos, self._deep(arg.depth + 1, pos))

    def group(self, c: list[Any]) -> Node:
        lpar, expr, _ = c
        pos = self._tok(lpar).pos
        return Group(expr, pos, self._deep(expr.depth + 1, pos))

    # -- comparisons --------------------------------------------------------------------

    def field(self, c: list[Any]) -> FieldRef:
        return FieldRef(self._tok(c[0]))

    def call(self, c: list[Any]) -> Call:
        name, _lpar, *rest = c
        args = tuple(self._tok(a) for a in rest[:-1] if a is not None and a.type != "COMMA")
        return Call(self._tok(name), args, self._tok(rest[-1]).pos)

    def argument(self, c: list[Any]) -> LarkToken:
        tok: LarkToken = c[0]
        return tok

    scalar = argument
    set_item = argument

    def is_true(self, c: list[Any]) -> Node:
        return Comparison("is_true", c[0], None, None)

    def _binary(self, kind: str, c: list[Any]) -> Node:
        operand, *ops, rhs = c
        op = self._tok(ops[0])
        if len(ops) == 2:  # "strict wildcard": one operator written as two words
            op = Token(op.kind, f"{ops[0]} {ops[1]}", op.pos)
        return Comparison(kind, operand, op, self._tok(rhs))

    def _set(self, kind: str, c: list[Any]) -> Node:
        operand, op, _lbrace, *items, _rbrace = c
        return Comparison(kind, operand, self._tok(op), tuple(self._tok(t) for t in items))

    def ordering(self, c: list[Any]) -> Node:
        return self._binary("ordering", c)

    def in_list(self, c: list[Any]) -> Node:
        return self._binary("in_list", c)

    def bitwise_and(self, c: list[Any]) -> Node:
        return self._binary("bitwise_and", c)

    def contains(self, c: list[Any]) -> Node:
        return self._binary("contains", c)

    def matches(self, c: list[Any]) -> Node:
        return self._binary("matches", c)

    def wildcard(self, c: list[Any]) -> Node:
        return self._binary("wildcard", c)

    def strict_wildcard(self, c: list[Any]) -> Node:
        return self._binary("strict_wildcard", c)

    def in_set(self, c: list[Any]) -> Node:
        return self._set("in_set", c)

    def contains_any(self, c: list[Any]) -> Node:
        return self._set("contains_any", c)


@cache
def _grammar() -> str:
    return resources.files(__package__).joinpath("grammar.lark").read_text("utf-8")


@cache
def _lark() -> Lark:
    # The builder is stateless, so one parser with the builder inlined serves every call.
    return Lark(
        _grammar(),
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=True,
        transformer=_Builder(),
    )


def parse(text: str) -> Node:
    """Parse ``text`` into a syntax tree; raise ``RuleSyntaxError`` naming what was expected."""
    try:
        tree: Node = _lark().parse(text)  # type: ignore[assignment]  # the builder's output
        return tree
    except UnexpectedInput as err:
        raise _syntax_error(text, err) from None
    except VisitError as err:  # lark may wrap what a builder callback raised
        if isinstance(err.orig_exc, RuleSyntaxError):
            raise err.orig_exc from None
        raise


def _printable(text: str) -> str:
    """Text for a message: control and other invisible characters as escapes."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _describe(expected: set[str]) -> str:
    if expected & _OPERATORS:
        expected = expected - {"LPAR"}  # '(' there only means "a function call", noise here
    parts = [text for group, text in _DESCRIPTIONS if expected & group]
    if not parts:
        return "something else"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _syntax_error(text: str, err: UnexpectedInput) -> RuleSyntaxError:
    if isinstance(err, UnexpectedCharacters):
        at = err.pos_in_stream or 0
        pos = Position.at(text, at)
        expected = _describe(set(err.allowed or ()))
        char = text[at]
        if char == '"':
            return RuleSyntaxError(pos, "this string has no closing quote '\"'", expected)
        word = re.match(r"[^ \t\r\n]*", text[at:])
        got = _printable((word.group() if word else "") or char)[:20]
        hint = ""
        if char == "=":
            hint = "; write '==' or 'eq' to test equality"
        elif got.lower() in _KEYWORDS or got.lower().startswith(tuple(_KEYWORDS)):
            hint = "; operators are written in lower case"
        return RuleSyntaxError(pos, f'expected {expected}, got "{got}"{hint}', expected)

    assert isinstance(err, UnexpectedToken)
    token = err.token
    try:
        accepts = set(err.interactive_parser.accepts())  # type: ignore[no-untyped-call]
    except Exception:  # accepts() replays the parser; if that fails, lark's own set will do
        accepts = set(err.expected)
    expected = _describe(accepts)
    if token.type == "$END":
        pos = Position.at(text, len(text.rstrip()))
        return RuleSyntaxError(pos, f"expected {expected}, got the end of the expression", expected)
    pos = Position.at(text, token.start_pos or 0)
    got = _printable(str(token))[:40]
    hint = ""
    if token.type == "RPAR" and "RPAR" not in accepts:
        hint = "; this ')' has no matching '('"
    elif token.type == "COMMA" and "RBRACE" in accepts:
        hint = "; items of a set are separated by spaces, not commas"
    elif token.type == "IDENT" and got.lower() in _KEYWORDS:
        hint = f"; operators are written in lower case: '{got.lower()}'"
    elif accepts == {"LBRACE", "LIST"}:
        hint = f"; put the values in braces: in {{{got}}}"
    elif token.type in ("IDENT", "VALUE", "STRING") and "AND" in accepts:
        hint = "; join comparisons with 'and' or 'or'"
    return RuleSyntaxError(pos, f'expected {expected}, got "{got}"{hint}', expected)
