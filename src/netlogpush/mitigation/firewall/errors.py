"""Errors a rule expression can raise, each pointing at where in the text it went wrong.

Every message starts with ``line:column`` (both counted from 1, as editors show them) and
says what was expected there, so a user can fix the rule without reading the grammar.
"""

from __future__ import annotations

from typing import NamedTuple


class Position(NamedTuple):
    """A place in the expression text: 1-based line and column, 0-based character offset."""

    line: int
    column: int
    offset: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"

    @classmethod
    def at(cls, text: str, offset: int) -> Position:
        """The position of ``text[offset]`` (an offset at the end points just past the text)."""
        offset = max(0, min(offset, len(text)))
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        return cls(line, column, offset)


class RuleError(ValueError):
    """A rule expression that cannot be compiled.

    ``position`` is where the problem is, ``expected`` what would have been valid there
    (empty when nothing in particular was), ``reason`` the message without the position.
    """

    def __init__(self, position: Position, reason: str, expected: str = "") -> None:
        super().__init__(f"{position}: {reason}")
        self.position = position
        self.reason = reason
        self.expected = expected


class RuleSyntaxError(RuleError):
    """The text does not follow the grammar (an unexpected character, token or end)."""


class RuleTypeError(RuleError):
    """The text parses, but a field, operator, value, list or function does not fit."""


class RuleListError(ValueError):
    """A named IP list given at compile time holds an entry that is not an IP, CIDR or range."""
