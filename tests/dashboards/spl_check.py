"""A parser for the subset of SPL the Splunk dashboards use, and a field check over it.

No SPL parser runs on Python 3 from PyPI (``splparser`` 0.2.0 is Python 2 only: it does not
import on 3.11, and after 2to3 its eval grammar crashes on the first comparison; ``splint-spl``
only splits at pipes). This one tokenizes the search (quotes, ``$token$``, subsearches), splits
it into commands, parses each command's arguments and ``eval``/``where`` expressions by a
grammar (precedence climbing), and fails on anything it does not know: an unknown command, an
unknown function, an unbalanced bracket or a token left over. It tracks the fields each
command creates and keeps (``stats`` keeps only its outputs and ``by`` fields), so every field
read must be one of the 84 dataset fields or one the search made before reading it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

INTERNAL = frozenset({"_time", "_raw", "index", "sourcetype", "source", "host"})
EVAL_FUNCTIONS = frozenset(
    {"if", "coalesce", "null", "true", "false", "strftime", "mvjoin", "round", "isnull",
     "isnotnull", "len", "tostring", "tonumber", "case", "floor", "eval"}
)  # fmt: skip
AGGREGATES = frozenset(
    {"sum", "dc", "max", "min", "values", "list", "count", "per_second", "avg", "latest",
     "earliest", "first", "last"}
)  # fmt: skip
KEYWORDS = frozenset({"AND", "OR", "NOT", "AS", "as", "by", "BY", "LIKE", "IN"})

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<tok>\$[A-Za-z_][\w.]*\$)
    | (?P<op>!=|==|<=|>=|[=<>+\-/%.,()\[\]|])
    | (?P<word>[A-Za-z_@][\w:@]*|\*|\d+(?:\.\d+)?[a-z]*)
    )""",
    re.VERBOSE,
)


class SplError(ValueError):
    pass


@dataclass(frozen=True)
class Tok:
    kind: str  # str, tok, op, word
    text: str


def tokenize(text: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SplError(f"cannot tokenize at {text[pos : pos + 30]!r}")
        kind = m.lastgroup or ""
        out.append(Tok(kind, m.group(kind)))
        pos = m.end()
    return out


def split_commands(toks: list[Tok]) -> list[list[Tok]]:
    """Top-level pipes split commands; ``[ … ]`` stays inside its command."""
    commands: list[list[Tok]] = [[]]
    depth = 0
    for t in toks:
        if t.text == "[" and t.kind == "op":
            depth += 1
        elif t.text == "]" and t.kind == "op":
            depth -= 1
            if depth < 0:
                raise SplError("unbalanced ]")
        if t.text == "|" and t.kind == "op" and depth == 0:
            commands.append([])
            continue
        commands[-1].append(t)
    if depth:
        raise SplError("unbalanced [")
    return commands


@dataclass
class Report:
    """What a search reads, creates and assigns (eval field -> expression text)."""

    reads: list[str] = field(default_factory=list)
    assigns: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    wheres: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # fields read but not available


class Parser:
    def __init__(self, toks: list[Tok], available: set[str], report: Report) -> None:
        self.toks, self.i, self.available, self.report = toks, 0, available, report

    # --- helpers
    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> Tok:
        t = self.peek()
        if t is None:
            raise SplError("unexpected end of command")
        self.i += 1
        return t

    def expect(self, text: str) -> None:
        t = self.take()
        if t.text != text:
            raise SplError(f"expected {text!r}, got {t.text!r}")

    def at(self, *texts: str) -> bool:
        t = self.peek()
        return t is not None and t.text in texts

    def done(self) -> bool:
        return self.i >= len(self.toks)

    def read(self, name: str) -> None:
        self.report.reads.append(name)
        if name not in self.available:
            self.report.unknown.append(name)

    def field_name(self) -> str:
        t = self.take()
        if t.kind != "word" or t.text in KEYWORDS:
            raise SplError(f"expected a field name, got {t.text!r}")
        return t.text

    def option(self) -> bool:
        """``name=value`` options of a command (span=60s, limit=10, type=left …)."""
        t, eq = self.peek(), self.peek(1)
        if t is not None and t.kind == "word" and eq is not None and eq.text == "=":
            self.i += 2
            self.take()
            return True
        return False

    # --- expressions (eval and where), precedence climbing
    BINARY = (("OR",), ("AND",), ("=", "==", "!=", "<", ">", "<=", ">=", "LIKE"),
              ("+", "-", "."), ("*", "/", "%"))  # fmt: skip

    def expr(self, level: int = 0) -> str:
        if level == len(self.BINARY):
            return self.unary()
        left = self.expr(level + 1)
        while self.at(*self.BINARY[level]):
            op = self.take().text
            left = f"{left}{op}{self.expr(level + 1)}"
        return left

    def unary(self) -> str:
        if self.at("NOT", "-"):
            return self.take().text + " " + self.unary()
        return self.primary()

    def primary(self) -> str:
        t = self.take()
        if t.text == "(":
            inner = self.expr()
            self.expect(")")
            return f"({inner})"
        if t.kind in ("str", "tok"):
            return t.text
        if t.kind == "word" and t.text[0].isdigit():
            return t.text
        if t.kind == "word" and self.at("("):
            if t.text not in EVAL_FUNCTIONS:
                raise SplError(f"unknown function {t.text}")
            self.take()
            args = []
            if not self.at(")"):
                args.append(self.expr())
                while self.at(","):
                    self.take()
                    args.append(self.expr())
            self.expect(")")
            return f"{t.text}({', '.join(args)})"
        if t.kind == "word" and t.text not in KEYWORDS:
            self.read(t.text)
            return t.text
        raise SplError(f"unexpected {t.text!r} in an expression")

    # --- commands
    def aggregation(self) -> str:
        fn = self.take()
        if fn.text not in AGGREGATES:
            raise SplError(f"unknown aggregation {fn.text}")
        name = fn.text
        if self.at("("):
            self.take()
            if self.at("eval"):
                self.take()
                self.expect("(")
                inner = self.expr()
                self.expect(")")
                name = f"{fn.text}(eval({inner}))"
            else:
                arg = self.field_name()
                self.read(arg)
                name = f"{fn.text}({arg})"
            self.expect(")")
        if self.at("AS", "as"):
            self.take()
            name = self.field_name()
        return name

    def by_fields(self) -> list[str]:
        fields: list[str] = []
        if self.at("by", "BY"):
            self.take()
            while not self.done() and self.peek() and self.peek().kind == "word":  # type: ignore[union-attr]
                name = self.field_name()
                self.read(name)
                fields.append(name)
                if self.at(","):
                    self.take()
        return fields

    def stats_like(self, keep: bool) -> None:
        while self.option():
            pass
        outputs = [self.aggregation()]
        while not self.done() and not self.at("by", "BY"):
            if self.at(","):
                self.take()
            outputs.append(self.aggregation())
        by = self.by_fields()
        if keep:
            self.available |= set(outputs)
        else:
            self.available.clear()
            self.available |= set(outputs) | set(by)

    def command(self, name: str, first: bool) -> None:
        self.report.commands.append(name)
        if first and name != "search":
            self.search_terms()
        elif name == "search":
            self.take()
            self.search_terms()
        elif name == "where":
            self.take()
            text = self.expr()
            self.report.wheres.append(text)
        elif name == "eval":
            self.take()
            while True:
                target = self.field_name()
                self.expect("=")
                start = self.i
                self.expr()
                self.report.assigns[target] = "".join(t.text for t in self.toks[start : self.i])
                self.available.add(target)
                if not self.at(","):
                    break
                self.take()
        elif name in ("stats", "eventstats", "streamstats"):
            self.take()
            self.stats_like(keep=name != "stats")
        elif name == "timechart":
            self.take()
            self.stats_like(keep=False)
            self.available.add("_time")
        elif name == "bin":
            self.take()
            while self.option():
                pass
            src = self.field_name()
            self.read(src)
            if self.at("AS", "as"):
                self.take()
                self.available.add(self.field_name())
        elif name == "sort":
            self.take()
            if self.peek() and self.peek().text.isdigit():  # type: ignore[union-attr]
                self.take()
            while not self.done():
                if self.at("-", "+"):
                    self.take()
                self.read(self.field_name())
                if self.at(","):
                    self.take()
        elif name in ("table", "fields", "dedup"):
            self.take()
            kept = set()
            while not self.done():
                n = self.field_name()
                if n != "*":
                    self.read(n)
                kept.add(n)
            if name != "dedup" and "*" not in kept:
                self.available &= kept | {"_time"} if "_time" in kept else kept
        elif name == "rename":
            self.take()
            old = self.field_name()
            self.read(old)
            if not self.at("AS", "as"):
                raise SplError("rename needs AS")
            self.take()
            new = self.field_name()
            self.available.discard(old)
            self.available.add(new)
        elif name == "head":
            self.take()
            if not self.take().text.isdigit():
                raise SplError("head needs a count")
        elif name == "addinfo":
            self.take()
            self.available |= {"info_min_time", "info_max_time", "info_sid", "info_search_time"}
        elif name == "makeresults":
            self.take()
            self.available.add("_time")
        elif name == "return":
            self.take()
            while not self.done():
                self.read(self.field_name())
        elif name == "join":
            self.take()
            while self.option():
                pass
            key = self.field_name()
            self.read(key)
            self.expect("[")
            depth, start = 1, self.i
            while depth:
                t = self.take()
                depth += {"[": 1, "]": -1}.get(t.text, 0) if t.kind == "op" else 0
            sub = check_tokens(self.toks[start : self.i - 1], self.report)
            self.available |= sub
        else:
            raise SplError(f"unknown command {name}")
        if not self.done():
            raise SplError(f"left over in {name}: {' '.join(t.text for t in self.toks[self.i :])}")

    def search_terms(self) -> None:
        while not self.done():
            t = self.take()
            if t.text == "[":
                depth, start = 1, self.i
                while depth:
                    u = self.take()
                    depth += {"[": 1, "]": -1}.get(u.text, 0) if u.kind == "op" else 0
                check_tokens(self.toks[start : self.i - 1], Report(), subsearch=True)
                continue
            if t.kind == "word" and self.at("=", "!="):
                if t.text not in INTERNAL:
                    self.read(t.text)
                self.take()
                self.take()
            elif t.text not in KEYWORDS and t.text not in ("(", ")"):
                raise SplError(f"unexpected search term {t.text!r}")


def check_tokens(toks: list[Tok], report: Report, subsearch: bool = False) -> set[str]:
    from netlogpush.dataset.fields import FIELD_NAMES

    available = set(FIELD_NAMES) | INTERNAL
    commands = split_commands(toks)
    if subsearch and commands and not commands[0]:
        commands = commands[1:]  # "[| makeresults …]" starts with a generating command
        first_is_search = False
    else:
        first_is_search = True
    for n, cmd in enumerate(commands):
        if not cmd:
            raise SplError("empty command between pipes")
        p = Parser(cmd, available, report)
        head = cmd[0].text
        p.command(head, first=n == 0 and first_is_search and head != "search")
    return available


def check(spl: str) -> Report:
    report = Report()
    check_tokens(tokenize(spl), report)
    return report
