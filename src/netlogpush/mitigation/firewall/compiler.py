"""Typed tree -> one function per rule that maps a batch to a boolean mask, with numpy.

Every comparison is a handful of whole-column numpy operations; nothing loops over
packets except ``matches`` on a raw-bytes field (``udp matches "…"``), which has no
vectorised regex engine to run on and is documented as slow. String fields are tested
once per distinct value and the answers spread over the batch with one ``take``.

Across a rule set, sub-expressions that occur more than once (``ip.proto eq "tcp"`` in
twenty rules) are computed once per batch; so are presence masks and derived columns
(``Batch``). ``and``/``or`` stop early when the answer is already settled for every row.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.firewall import typed as t
from netlogpush.mitigation.firewall.batch import Batch
from netlogpush.mitigation.firewall.checker import IpLists, check
from netlogpush.mitigation.firewall.errors import RuleError
from netlogpush.mitigation.firewall.fields import FIELDS, FieldType, Guard, Source
from netlogpush.mitigation.firewall.parser import parse
from netlogpush.mitigation.firewall.vectors import (
    IntRanges,
    IpRanges,
    bitwise_and,
    compare_int,
    find_bytes,
)
from netlogpush.mitigation.firewall.view import PacketView

Mask = npt.NDArray[np.bool_]
Eval = Callable[[Batch], Mask]
Predicate = Callable[[bytes], bool]
ListsArg = IpLists | Mapping[str, Sequence[str]] | None

#: A protocol-name test true for at most this many protocol numbers becomes ``==`` tests.
_FEW_PROTOCOLS = 3
#: Larger views are evaluated in slices of this many packets. Every operation is a pass
#: over whole columns; a slice keeps those columns and the temporaries in the CPU cache,
#: where a 1M-row pass waits on memory, and is still large enough that the per-rule Python
#: overhead stays small. Measured here for 500 rules over 1M packets: 1.13 s in one piece,
#: 0.31 s in slices of 128k, 0.35 s of 64k, 1.3 s of 8k (bench/bench_firewall.py).
CHUNK_ROWS = 1 << 17


def _string_columns(tree: t.Expr) -> frozenset[str]:
    """The string columns an expression reads (to factorize once, before slicing)."""
    return frozenset(
        column
        for name in t.fields_used(tree)
        if FIELDS[name].source in (Source.STRING, Source.EITHER_STRING)
        for column in FIELDS[name].columns
    )


def _slices(view: PacketView, strings: Iterable[str]) -> Iterator[tuple[int, int, Batch]]:
    if view.n > CHUNK_ROWS:
        for column in strings:  # factorized on the whole view, so once, not once per slice
            view.string_column(column)
    for start in range(0, max(view.n, 1), CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, view.n)
        part = view if (start == 0 and stop == view.n) else view.rows(start, stop)
        yield start, stop, Batch(part)


def wildcard_regex(pattern: bytes, case_sensitive: bool) -> re.Pattern[bytes]:
    """Cloudflare's wildcard: ``*`` is any run of bytes, ``\\*`` and ``\\\\`` are literal, and
    the whole value must match; ``wildcard`` ignores ASCII case, ``strict wildcard`` does not."""
    out = []
    k = 0
    while k < len(pattern):
        c = pattern[k : k + 1]
        if c == b"\\" and k + 1 < len(pattern):
            out.append(re.escape(pattern[k + 1 : k + 2]))
            k += 2
            continue
        out.append(b".*" if c == b"*" else re.escape(c))
        k += 1
    flags = re.DOTALL | (0 if case_sensitive else re.IGNORECASE)
    return re.compile(b"".join(out), flags)


def predicate(op: t.Op, value: t.Value) -> Predicate:
    """The test a String comparison applies to one value."""
    if op in t.ORDERING:
        assert isinstance(value, bytes)
        lit = value
        return {
            t.Op.EQ: lambda v: v == lit,
            t.Op.NE: lambda v: v != lit,
            t.Op.LT: lambda v: v < lit,
            t.Op.LE: lambda v: v <= lit,
            t.Op.GT: lambda v: v > lit,
            t.Op.GE: lambda v: v >= lit,
        }[op]
    if op is t.Op.IN:
        assert isinstance(value, t.BytesSet)
        members = frozenset(value.values)
        return lambda v: v in members
    if op is t.Op.CONTAINS:
        assert isinstance(value, bytes)
        needle = value
        return lambda v: needle in v
    if op is t.Op.CONTAINS_ANY:
        assert isinstance(value, t.BytesSet)
        needles = value.values
        return lambda v: any(x in v for x in needles)
    assert isinstance(value, t.Pattern)
    if op is t.Op.MATCHES:
        search = re.compile(value.source).search
        return lambda v: search(v) is not None
    full = wildcard_regex(value.source, op is t.Op.STRICT_WILDCARD).fullmatch
    return lambda v: full(v) is not None


class _Compiler:
    def __init__(self, lists: IpLists, shared: Mapping[t.Expr, int]) -> None:
        self.lists = lists
        self.shared = shared
        self._list_ranges: dict[str, IpRanges] = {}

    def expr(self, e: t.Expr) -> Eval:
        run = self._expr(e)
        key = self.shared.get(e)
        if key is None:
            return run
        memo_key = ("memo", key)
        return lambda b: b.cached(memo_key, lambda: run(b))

    def _expr(self, e: t.Expr) -> Eval:
        if isinstance(e, t.Logical):
            return self._logical(e.op, [self.expr(item) for item in e.items])
        if isinstance(e, t.Not):
            arg = self.expr(e.arg)
            return lambda b: ~arg(b)
        if isinstance(e, t.IsTrue):
            spec = e.operand.spec
            return lambda b: b.flag(spec)
        if e.operand.type is FieldType.INT:
            return self._int(e)
        if e.operand.type is FieldType.IP:
            return self._ip(e)
        return self._bytes(e)

    @staticmethod
    def _logical(op: t.Logic, items: list[Eval]) -> Eval:
        first, rest = items[0], items[1:]
        if op is t.Logic.AND:

            def run_and(b: Batch) -> Mask:
                acc = first(b)
                for item in rest:
                    if not acc.any():
                        break
                    acc = acc & item(b)
                return acc

            return run_and
        if op is t.Logic.OR:

            def run_or(b: Batch) -> Mask:
                acc = first(b)
                for item in rest:
                    if acc.all():
                        break
                    acc = acc | item(b)
                return acc

            return run_or

        def run_xor(b: Batch) -> Mask:
            acc = first(b)
            for item in rest:
                acc = acc ^ item(b)
            return acc

        return run_xor

    # -- Number -------------------------------------------------------------------------

    def _int(self, e: t.Compare) -> Eval:
        operand = e.operand
        if isinstance(operand, t.BitSlice):
            spec, lo, hi = operand.spec, operand.start, operand.end

            def values(b: Batch) -> tuple[npt.NDArray[np.integer], Mask]:
                return b.bit_slice(spec, lo, hi)

        else:
            field = operand.spec

            def values(b: Batch) -> tuple[npt.NDArray[np.integer], Mask]:
                return b.ints(field), b.present(field.guard)

        if e.op is t.Op.IN:
            assert isinstance(e.value, t.IntSet)
            ranges = IntRanges(e.value.ranges)

            def run_in(b: Batch) -> Mask:
                v, present = values(b)
                return present & ranges.contains(v)

            return run_in
        assert isinstance(e.value, int)
        literal, op = e.value, e.op
        if op is t.Op.BITWISE_AND:

            def run_and(b: Batch) -> Mask:
                v, present = values(b)
                return present & bitwise_and(v, literal)

            return run_and

        def run_cmp(b: Batch) -> Mask:
            v, present = values(b)
            return present & compare_int(v, op, literal)

        return run_cmp

    # -- IP address ---------------------------------------------------------------------

    def _ip(self, e: t.Compare) -> Eval:
        assert isinstance(e.operand, t.FieldOperand)
        column = e.operand.spec.columns[0]
        if e.op in (t.Op.EQ, t.Op.NE):
            address = e.value
            assert isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address))
            negate = e.op is t.Op.NE
            if address.version == 4:
                v4 = np.uint32(int(address))

                def equal(b: Batch) -> Mask:
                    four, _ = b.addresses(column)
                    out: Mask = b.present(Guard.IPV4) & (four == v4)
                    return out

            else:
                packed = int(address)
                hi, lo = np.uint64(packed >> 64), np.uint64(packed & ((1 << 64) - 1))

                def equal(b: Batch) -> Mask:
                    high, low = b.v6_pairs(column)
                    out: Mask = (high == hi) & (low == lo) & (b.view.ip_version == 6)
                    return out

            if negate:
                return lambda b: b.present(Guard.IP) & ~equal(b)
            return equal

        value = e.value
        if isinstance(value, t.ListRef):
            ranges = self._list_ranges.get(value.name)
            if ranges is None:
                ranges = self._list_ranges[value.name] = IpRanges(self.lists[value.name])
        else:
            assert isinstance(value, t.IpSet)
            ranges = IpRanges(value.items)

        def run_in(b: Batch) -> Mask:
            out = np.zeros(b.n, np.bool_)
            if ranges.has_v4:
                four, _ = b.addresses(column)
                out = ranges.contains_v4(four) & b.present(Guard.IPV4)
            if ranges.has_v6:
                rows = b.v6_rows()
                if rows.size:
                    out[rows] |= ranges.contains_v6(b.v6_keys(column))
            return out

        return run_in

    # -- String -------------------------------------------------------------------------

    def _bytes(self, e: t.Compare) -> Eval:
        assert isinstance(e.operand, t.FieldOperand)
        spec = e.operand.spec
        test = predicate(e.op, e.value)
        if spec.source is Source.RAW:
            return self._raw(e, test)
        if spec.source is Source.PROTOCOL_NAME:
            lut = np.array([test(name) for name in Batch.protocol_categories()] + [False])
            numbers = np.flatnonzero(lut)
            if numbers.size <= _FEW_PROTOCOLS:

                def run_few(b: Batch) -> Mask:
                    proto = b.protocol_numbers()
                    out = np.zeros(b.n, np.bool_)
                    for number in numbers:
                        out |= proto == number
                    return out & b.present(Guard.IP)

                return run_few
            return lambda b: b.present(Guard.IP) & np.take(lut, b.protocol_numbers(), mode="clip")

        def column_test(b: Batch, column: str) -> Mask:
            codes, categories = b.string_codes(column)
            answers = np.array([test(c) for c in categories], np.bool_)
            if answers.size == 1:
                return np.full(b.n, bool(answers[0]), np.bool_)
            if not answers.any():
                return np.zeros(b.n, np.bool_)
            hit: Mask = answers[codes]
            return hit

        columns = spec.columns
        if len(columns) == 1:
            return lambda b: b.present(Guard.IP) & column_test(b, columns[0])
        return lambda b: (
            b.present(Guard.IP) & (column_test(b, columns[0]) | column_test(b, columns[1]))
        )

    def _raw(self, e: t.Compare, test: Predicate) -> Eval:
        spec = e.operand.spec
        if e.op in (t.Op.CONTAINS, t.Op.CONTAINS_ANY):
            needles = (e.value,) if isinstance(e.value, bytes) else e.value.values  # type: ignore[union-attr]

            def run_contains(b: Batch) -> Mask:
                start, end, present = b.raw_region(spec)
                rows = np.flatnonzero(present)
                out = np.zeros(b.n, np.bool_)
                data = b.view.data
                if rows.size and data is not None:
                    hit = np.zeros(rows.size, np.bool_)
                    for needle in needles:
                        hit |= find_bytes(data, start, end, rows, needle)
                    out[rows] = hit
                return out

            return run_contains

        def run_each(b: Batch) -> Mask:
            # The one per-packet loop: regexes over raw payloads (about 1 µs per packet).
            start, end, present = b.raw_region(spec)
            out = np.zeros(b.n, np.bool_)
            data = b.view.data
            if data is None:
                return out
            buf = memoryview(data)  # type: ignore[arg-type]  # an ndarray is a buffer
            for i in np.flatnonzero(present).tolist():
                out[i] = test(bytes(buf[start[i] : end[i]]))
            return out

        return run_each


def _walk(e: t.Expr) -> Iterator[t.Expr]:
    yield e
    if isinstance(e, t.Not):
        yield from _walk(e.arg)
    elif isinstance(e, t.Logical):
        for item in e.items:
            yield from _walk(item)


def _lists(lists: ListsArg) -> IpLists:
    return lists if isinstance(lists, IpLists) else IpLists(lists)


def check_expression(text: str, lists: ListsArg = None) -> t.Expr:
    """Parse and type-check ``text``; raise ``RuleSyntaxError`` / ``RuleTypeError``."""
    return check(parse(text), _lists(lists))


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    text: str
    tree: t.Expr
    _run: Eval

    @property
    def fields(self) -> frozenset[str]:
        """The fields the expression reads (raw fields for ``bit_slice``)."""
        return t.fields_used(self.tree)

    def evaluate(self, view: PacketView | Batch) -> Mask:
        """The packets the expression matches, as a boolean mask."""
        if isinstance(view, Batch):
            return self._run(view)
        out = np.zeros(view.n, np.bool_)
        for start, stop, batch in _slices(view, _string_columns(self.tree)):
            out[start:stop] = self._run(batch)
        return out


def compile_expression(text: str, lists: ListsArg = None) -> CompiledExpression:
    ip_lists = _lists(lists)
    tree = check_expression(text, ip_lists)
    return CompiledExpression(text, tree, _Compiler(ip_lists, {}).expr(tree))


class CompiledRules:
    """An ordered list of rule expressions, evaluated together over each batch."""

    def __init__(self, expressions: Sequence[str], lists: ListsArg = None) -> None:
        self.lists = _lists(lists)
        trees: list[t.Expr] = []
        for index, text in enumerate(expressions):
            try:
                trees.append(check_expression(text, self.lists))
            except RuleError as err:
                err.rule_index = index  # type: ignore[attr-defined]
                err.add_note(f"in rule {index + 1}: {text}")
                raise
        counts = Counter(node for tree in trees for node in _walk(tree))
        shared = {node: k for k, node in enumerate(n for n, c in counts.items() if c > 1)}
        compiler = _Compiler(self.lists, shared)
        self.rules = [
            CompiledExpression(text, tree, compiler.expr(tree))
            for text, tree in zip(expressions, trees, strict=True)
        ]
        self.shared_subexpressions = len(shared)
        self._strings = frozenset().union(*(_string_columns(tree) for tree in trees))

    def __len__(self) -> int:
        return len(self.rules)

    def fields_used(self) -> frozenset[str]:
        """Every field some rule reads: tells a caller whether enrichment is needed."""
        return frozenset().union(*(rule.fields for rule in self.rules))

    def evaluate(self, view: PacketView | Batch) -> list[Mask]:
        """Each rule's mask (one ``Batch`` shared by all rules)."""
        if isinstance(view, Batch):
            return [rule.evaluate(view) for rule in self.rules]
        masks = [np.zeros(view.n, np.bool_) for _ in self.rules]
        for start, stop, batch in _slices(view, self._strings):
            for mask, rule in zip(masks, self.rules, strict=True):
                mask[start:stop] = rule.evaluate(batch)
        return masks

    def first_match(
        self,
        view: PacketView | Batch,
        enabled: Sequence[bool] | None = None,
        rows: Mask | None = None,
    ) -> npt.NDArray[np.int32]:
        """Per packet, the index of the first enabled rule that matches it, or -1.

        ``rows`` limits the packets considered (the others get -1). Evaluation stops as soon
        as every packet has matched a rule.
        """
        if isinstance(view, Batch):
            return self._first_match(view, enabled, rows)
        result = np.full(view.n, -1, np.int32)
        for start, stop, batch in _slices(view, self._strings):
            part = None if rows is None else rows[start:stop]
            result[start:stop] = self._first_match(batch, enabled, part)
        return result

    def _first_match(
        self, batch: Batch, enabled: Sequence[bool] | None, rows: Mask | None
    ) -> npt.NDArray[np.int32]:
        result = np.full(batch.n, -1, np.int32)
        undecided = np.ones(batch.n, np.bool_) if rows is None else rows.copy()
        for index, rule in enumerate(self.rules):
            if enabled is not None and not enabled[index]:
                continue
            if not undecided.any():
                break
            # Most rules match nothing in most batches: test that before touching the
            # result arrays, which costs a full pass over the batch each.
            mask = rule.evaluate(batch)
            if not mask.any():
                continue
            hit = mask & undecided
            if hit.any():
                result[hit] = index
                undecided &= ~hit
        return result
