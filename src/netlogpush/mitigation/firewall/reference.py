"""A per-packet interpreter of the typed tree: the specification the compiler is tested against.

Used only by tests. It reads one packet at a time with plain Python (``ipaddress`` for
networks, ``int.from_bytes`` for ``bit_slice``, ``bytes.startswith`` for SIP, a
backtracking matcher for wildcards) and shares nothing with the vectorised code except
the field table and the typed tree, so an agreement between the two on random rules and
packets says the numpy code computes what the rules say.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.firewall import typed as t
from netlogpush.mitigation.firewall.checker import IpLists
from netlogpush.mitigation.firewall.fields import (
    SIP_PREFIXES,
    FieldSpec,
    Guard,
    Source,
    protocol_name,
)
from netlogpush.mitigation.firewall.literals import IpItem, IpRange
from netlogpush.mitigation.firewall.view import PacketView

Scalar = int | bool | bytes | ipaddress.IPv4Address | ipaddress.IPv6Address | tuple[bytes, bytes]


@dataclass(frozen=True, slots=True)
class Packet:
    """One packet of a view, read with plain indexing."""

    view: PacketView
    i: int

    @property
    def version(self) -> int:
        return int(self.view.ip_version[self.i])

    def col(self, name: str) -> int:
        return int(self.view.int_column(name)[self.i])

    def has(self, guard: Guard) -> bool:
        v, i = self.view, self.i
        if self.version not in (4, 6):
            return False
        if guard is Guard.IP:
            return True
        if guard is Guard.IPV4:
            return self.version == 4
        if guard is Guard.IPV4_OPTIONS:
            if v.data is None or v.l3 is None or v.end is None:
                return False
            l3 = int(v.l3[i])
            return (
                self.version == 4
                and self.col("IPHeaderLength") > 20
                and l3 >= 0
                and l3 + 20 < int(v.end[i])
            )
        wanted = {Guard.TCP: (6,), Guard.UDP: (17,), Guard.ICMP: (1, 58)}[guard]
        if self.col("IPProtocol") not in wanted:
            return False
        return v.l4 is None or int(v.l4[i]) >= 0

    def raw(self, spec: FieldSpec) -> bytes | None:
        """A raw field's bytes: from the IP (or transport) header to the end of the packet."""
        v, i = self.view, self.i
        if not self.has(spec.guard) or v.data is None or v.end is None:
            return None
        base_col = v.l3 if spec.name == "ip" else v.l4
        if base_col is None:
            return None
        base, end = int(base_col[i]), int(v.end[i])
        if base < 0 or base > end:
            return None
        return bytes(v.data[base:end].tolist())

    def value(self, spec: FieldSpec) -> Scalar | None:
        """The field's value, or None for a missing value."""
        if not self.has(spec.guard):
            return None
        src = spec.source
        if src is Source.COLUMN:
            return self.col(spec.columns[0])
        if src is Source.FLAGS_BYTE:
            return self.col("TCPFlags") % 256
        if src is Source.FLAG:
            return (self.col("TCPFlags") >> spec.bit) % 2 == 1
        if src is Source.HEADER_WORDS:
            return self.col("IPHeaderLength") // 4
        if src is Source.OPTION_TYPE:
            assert self.view.data is not None and self.view.l3 is not None
            return int(self.view.data[int(self.view.l3[self.i]) + 20])
        if src is Source.ADDRESS:
            v, i = self.view, self.i
            four, six = (v.src4, v.src6) if spec.columns[0] == "src" else (v.dst4, v.dst6)
            if self.version == 4:
                return ipaddress.IPv4Address(int(four[i]))
            return ipaddress.IPv6Address(bytes(six[i].tolist()))
        if src is Source.STRING:
            return self.view.string_at(spec.columns[0], self.i).encode("utf-8")
        if src is Source.EITHER_STRING:
            a, b = (self.view.string_at(c, self.i).encode("utf-8") for c in spec.columns)
            return (a, b)
        if src is Source.PROTOCOL_NAME:
            return protocol_name(self.col("IPProtocol")).encode()
        if src is Source.SIP:
            udp = self.raw(_udp())
            return udp is not None and any(udp[8:].startswith(p) for p in SIP_PREFIXES)
        return self.raw(spec)


def _udp() -> FieldSpec:
    from netlogpush.mitigation.firewall.fields import RAW_FIELDS

    return RAW_FIELDS["udp"]


def bit_slice(raw: bytes | None, start: int, end: int) -> int | None:
    """Bits ``[start, end)`` of ``raw`` as an unsigned integer, or None past its end."""
    if raw is None or end > len(raw) * 8:
        return None
    as_int = int.from_bytes(raw, "big")
    return (as_int >> (len(raw) * 8 - end)) & ((1 << (end - start)) - 1)


def wildcard_match(pattern: bytes, value: bytes, case_sensitive: bool) -> bool:
    """Whole-value match, ``*`` = any run of bytes, ``\\x`` = the byte x (plain backtracking)."""
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    tokens: list[bytes | None] = []  # None is '*'
    k = 0
    while k < len(pattern):
        if pattern[k : k + 1] == b"\\" and k + 1 < len(pattern):
            tokens.append(pattern[k + 1 : k + 2])
            k += 2
        elif pattern[k : k + 1] == b"*":
            tokens.append(None)
            k += 1
        else:
            tokens.append(pattern[k : k + 1])
            k += 1

    def match(ti: int, vi: int) -> bool:
        if ti == len(tokens):
            return vi == len(value)
        tok = tokens[ti]
        if tok is None:
            return any(match(ti + 1, j) for j in range(vi, len(value) + 1))
        if pattern_byte_matches(tok, value[vi : vi + 1], case_sensitive):
            return match(ti + 1, vi + 1)
        return False

    return match(0, 0)


def pattern_byte_matches(tok: bytes, byte: bytes, case_sensitive: bool) -> bool:
    return byte != b"" and (tok == byte if case_sensitive else tok.lower() == byte.lower())


def in_ip_items(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, items: tuple[IpItem, ...]
) -> bool:
    for item in items:
        if isinstance(item, IpRange):
            same = item.first.version == address.version
            if same and int(item.first) <= int(address) <= int(item.last):
                return True
        elif item.version == address.version and address in item:
            return True
    return False


def _compare_bytes(op: t.Op, value: t.Value, v: bytes) -> bool:
    if op is t.Op.EQ:
        return v == value
    if op is t.Op.NE:
        return v != value
    if op is t.Op.LT:
        return v < value  # type: ignore[operator]
    if op is t.Op.LE:
        return v <= value  # type: ignore[operator]
    if op is t.Op.GT:
        return v > value  # type: ignore[operator]
    if op is t.Op.GE:
        return v >= value  # type: ignore[operator]
    if op is t.Op.IN:
        assert isinstance(value, t.BytesSet)
        return v in value.values
    if op is t.Op.CONTAINS:
        assert isinstance(value, bytes)
        return value in v
    if op is t.Op.CONTAINS_ANY:
        assert isinstance(value, t.BytesSet)
        return any(x in v for x in value.values)
    assert isinstance(value, t.Pattern)
    if op is t.Op.MATCHES:
        return re.search(value.source, v) is not None
    return wildcard_match(value.source, v, op is t.Op.STRICT_WILDCARD)


def _compare_int(op: t.Op, value: t.Value, v: int) -> bool:
    if op is t.Op.IN:
        assert isinstance(value, t.IntSet)
        return any(lo <= v <= hi for lo, hi in value.ranges)
    assert isinstance(value, int)
    if op is t.Op.BITWISE_AND:
        return (v & value) != 0
    return {
        t.Op.EQ: v == value,
        t.Op.NE: v != value,
        t.Op.LT: v < value,
        t.Op.LE: v <= value,
        t.Op.GT: v > value,
        t.Op.GE: v >= value,
    }[op]


def evaluate_packet(expr: t.Expr, packet: Packet, lists: IpLists) -> bool:
    if isinstance(expr, t.Logical):
        results = [evaluate_packet(item, packet, lists) for item in expr.items]
        if expr.op is t.Logic.AND:
            return all(results)
        if expr.op is t.Logic.OR:
            return any(results)
        return sum(results) % 2 == 1
    if isinstance(expr, t.Not):
        return not evaluate_packet(expr.arg, packet, lists)
    if isinstance(expr, t.IsTrue):
        return packet.value(expr.operand.spec) is True
    operand = expr.operand
    if isinstance(operand, t.BitSlice):
        value: Scalar | None = bit_slice(packet.raw(operand.spec), operand.start, operand.end)
    else:
        value = packet.value(operand.spec)
    if value is None:
        return False  # any comparison with a missing value is false
    op = expr.op
    if isinstance(value, tuple):  # ip.geoip.country: either address's country
        return any(_compare_bytes(op, expr.value, side) for side in value)
    if isinstance(value, bytes):
        return _compare_bytes(op, expr.value, value)
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        if op is t.Op.EQ:
            return value == expr.value
        if op is t.Op.NE:
            return value != expr.value
        items = lists[expr.value.name] if isinstance(expr.value, t.ListRef) else expr.value.items  # type: ignore[union-attr]
        return in_ip_items(value, items)
    assert isinstance(value, int) and not isinstance(value, bool)
    return _compare_int(op, expr.value, value)


def evaluate(expr: t.Expr, view: PacketView, lists: IpLists | None = None) -> npt.NDArray[np.bool_]:
    """The expression's verdict for every packet of ``view``, one packet at a time."""
    table = lists or IpLists()
    return np.array(
        [evaluate_packet(expr, Packet(view, i), table) for i in range(view.n)], np.bool_
    )
