"""The dashboard's include/exclude filters as a Magic Firewall rule expression.

The expression selects exactly the packets whose samples the filters select (tested on real
decoded packets against ``Filter.sql``). That takes care where a dataset field and a rules
field differ:

* a record holds 0 or "" where a packet has no such header (a port of an ICMP packet, the
  flags of a TCP fragment), while the rules language calls that a *missing value* on which
  every comparison is false; so "port 0" becomes "no port that is not 0";
* ``destination_port`` is TCP's or UDP's, so both fields are tested;
* ``TCPFlagsString`` names nine flags, ``tcp.flags`` holds eight: the ninth (AE, bit 8 of
  the 16 bits at TCP offset 12) is read with ``bit_slice``;
* ``IPTotalLengthBuckets`` is ``IPTotalLength`` rounded down to 100: a range of ``ip.len``;
* ``IPProtocolName`` is upper case and "" for unnamed protocols; ``ip.proto`` takes the
  lower-case keyword or the number.

Dimensions the rules language cannot see (the system's own decision, the colo, the attack,
the direction) raise ``ValueError``: a rule cannot select on them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netlogpush.analytics.queries import Filter
from netlogpush.decode.names import IP_PROTOCOL_NAMES, TCP_FLAG_NAMES, tcp_flags_string
from netlogpush.mitigation.firewall import RuleError, compile_expression
from netlogpush.mitigation.firewall.fields import protocol_name

#: Which rules field each dimension becomes (for docs and the page).
RULE_FIELDS: dict[str, str] = {
    "source_ip": "ip.src",
    "destination_ip": "ip.dst",
    "destination_prefix": "ip.dst",
    "source_asn": "ip.src.asnum",
    "source_country": "ip.src.country",
    "source_port": "tcp.srcport, udp.srcport",
    "destination_port": "tcp.dstport, udp.dstport",
    "protocol": "ip.proto",
    "tcp_flag": "tcp.flags",
    "packet_size": "ip.len",
}
#: Why the other dimensions cannot become a rule.
NO_EQUIVALENT: dict[str, str] = {
    "action": "it is the mitigation systems' own decision",
    "mitigation_system": "it is the system that sampled the packet",
    "colo": "rules see the data center's name (cf.colo.name), not its code",
    "colo_country": "rules have no field for the data center's country",
    "direction": "rules have no field for the direction",
    "attack_vector": "it is dosd's label, not a packet field",
    "rule": "it is the rule that matched, not a packet field",
    "mitigation_reason": "it is flowtrackd's label, not a packet field",
    "protocol_state": "it is flowtrackd's connection state, not a packet field",
}
_AE_BIT = 1 << 8
# AE is the lowest bit of TCP byte 12 (bit 8 of the 16 bits at offset 96). Reading all 16
# bits needs the same 14 header bytes the decoder needs to fill TCPFlags.
_AE = f'bit_slice("tcp", 96, 112) & {_AE_BIT:#x}'
_FLAG_BITS = {name: 1 << bit for bit, name in enumerate(TCP_FLAG_NAMES)}
_MAX_ASN = (1 << 32) - 1


@dataclass(frozen=True)
class Rule:
    expression: str
    description: str
    action: str = "block"


@dataclass(frozen=True)
class _Clause:
    text: str
    atomic: bool  # safe to combine with `and` / `not` without parentheses

    def grouped(self) -> str:
        return self.text if self.atomic else f"({self.text})"


def _any(parts: Sequence[str]) -> _Clause:
    return _Clause(parts[0], True) if len(parts) == 1 else _Clause(" or ".join(parts), False)


def _string(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{value!r} is not valid text") from None
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _test(field: str, items: Sequence[str], as_set: bool = False) -> str:
    """``field eq x`` for one value, ``field in {x y}`` for several (or for networks)."""
    if len(items) == 1 and not as_set:
        return f"{field} eq {items[0]}"
    return f"{field} in {{{' '.join(items)}}}"


def _address_text(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    # As records write it: dotted quad, or inet_ntop's RFC 5952 text.
    if addr.version == 4:
        return str(addr)
    return socket.inet_ntop(socket.AF_INET6, addr.packed)


def _address(dim: str, value: str | int) -> str:
    try:
        addr = ipaddress.ip_address(str(value))
    except ValueError:
        raise ValueError(f"{dim}: {value!r} is not an IP address") from None
    if _address_text(addr) != value:
        raise ValueError(
            f"{dim}: {value!r} is not written as records write it ({_address_text(addr)})"
        )
    return str(value)


def _prefix(dim: str, value: str | int) -> str:
    try:
        net = ipaddress.ip_network(str(value))
    except ValueError:
        raise ValueError(f"{dim}: {value!r} is not a /24 or /64 network") from None
    want = 24 if net.version == 4 else 64
    if net.prefixlen != want or f"{_address_text(net.network_address)}/{want}" != value:
        raise ValueError(f"{dim}: {value!r} is not a /24 (IPv4) or /64 (IPv6) subnet")
    return str(value)


def _int(dim: str, value: str | int, hi: int, what: str) -> int:
    if isinstance(value, str) or not 0 <= value <= hi:
        raise ValueError(f"{dim}: {value!r} is not {what}")
    return value


def _ports(dim: str, values: Sequence[str | int], side: str) -> _Clause:
    ports = sorted({_int(dim, v, 0xFFFF, "a port (0 to 65535)") for v in values})
    tcp, udp = f"tcp.{side}port", f"udp.{side}port"
    parts = []
    named = [str(p) for p in ports if p != 0]
    if named:
        parts += [_test(tcp, named), _test(udp, named)]
    if 0 in ports:
        # Records say 0 for packets without a port: "no port other than 0".
        parts.append(f"not ({tcp} ne 0 or {udp} ne 0)")
    return _any(parts)


def _protocols(dim: str, values: Sequence[str | int]) -> _Clause:
    numbers: set[int] = set()
    for value in values:
        if value == "":
            numbers |= {n for n in range(256) if n not in IP_PROTOCOL_NAMES}
            continue
        found = {n for n, name in IP_PROTOCOL_NAMES.items() if name == value}
        if not found:
            raise ValueError(f"{dim}: {value!r} is not a protocol name as IPProtocolName writes it")
        numbers |= found
    # The shorter of "one of these" and "none of the others".
    rest = sorted(set(range(256)) - numbers)
    if len(numbers) <= len(rest):
        return _Clause(
            _test("ip.proto", [_string(protocol_name(n)) for n in sorted(numbers)]), True
        )
    return _Clause(f"not {_test('ip.proto', [_string(protocol_name(n)) for n in rest])}", True)


def _flags(value: str | int) -> int:
    if not isinstance(value, str):
        raise ValueError(f"tcp_flag: {value!r} is not a TCPFlagsString value")
    bits = 0
    for name in value.split("-") if value else []:
        if name not in _FLAG_BITS:
            raise ValueError(
                f"tcp_flag: {value!r} is not a TCPFlagsString value (flags "
                f"{'-'.join(TCP_FLAG_NAMES)}, in that order)"
            )
        bits |= _FLAG_BITS[name]
    if tcp_flags_string(bits) != value:
        raise ValueError(
            f"tcp_flag: {value!r} is not written as records write it ({tcp_flags_string(bits)!r})"
        )
    return bits


def _tcp_flags(dim: str, values: Sequence[str | int]) -> _Clause:
    wanted = sorted({_flags(v) for v in values})
    parts = []
    for ae, ae_test in ((False, f"not {_AE}"), (True, _AE)):
        group = [f"{bits & 0xFF:#04x}" for bits in wanted if bits and bool(bits & _AE_BIT) == ae]
        if group:
            parts.append(f"({_test('tcp.flags', group)} and {ae_test})")
    if 0 in wanted:
        # "" in records: not TCP, no flags decoded, or none of the nine set.
        parts.append(f"not (tcp.flags ne 0 or {_AE})")
    return _any(parts)


def _packet_sizes(dim: str, values: Sequence[str | int]) -> _Clause:
    buckets = sorted({_int(dim, v, 0xFFFF + 40, "a multiple of 100 (a bucket)") for v in values})
    if any(b % 100 for b in buckets):
        raise ValueError(f"{dim}: buckets are multiples of 100, got {buckets}")
    ranges: list[list[int]] = []
    for b in buckets:  # adjacent buckets merge into one range
        if ranges and ranges[-1][1] + 1 == b:
            ranges[-1][1] = b + 99
        else:
            ranges.append([b, b + 99])
    return _Clause(f"ip.len in {{{' '.join(f'{lo}..{hi}' for lo, hi in ranges)}}}", True)


def _each(
    field: str, parse: Callable[[str, str | int], str], as_set: bool = False
) -> Callable[[str, Sequence[str | int]], _Clause]:
    def clause(dim: str, values: Sequence[str | int]) -> _Clause:
        items = list(dict.fromkeys(parse(dim, v) for v in values))
        return _Clause(_test(field, items, as_set), True)

    return clause


def _country(dim: str, value: str | int) -> str:
    return _string(str(value))


def _asn(dim: str, value: str | int) -> str:
    return str(_int(dim, value, _MAX_ASN, "an AS number (0 to 4294967295)"))


_TRANSLATE: dict[str, Callable[[str, Sequence[str | int]], _Clause]] = {
    "source_ip": _each("ip.src", _address),
    "destination_ip": _each("ip.dst", _address),
    "destination_prefix": _each("ip.dst", _prefix, as_set=True),
    "source_asn": _each("ip.src.asnum", _asn),
    "source_country": _each("ip.src.country", _country),
    "source_port": lambda dim, values: _ports(dim, values, "src"),
    "destination_port": lambda dim, values: _ports(dim, values, "dst"),
    "protocol": _protocols,
    "tcp_flag": _tcp_flags,
    "packet_size": _packet_sizes,
}


def clause(f: Filter) -> str:
    """One filter as an expression that can stand beside others joined by ``and``."""
    translate = _TRANSLATE.get(f.dimension)
    if translate is None:
        why = NO_EQUIVALENT.get(f.dimension, "it is not a packet field")
        raise ValueError(
            f"the filter on {f.dimension} cannot become a firewall rule: {why}. "
            f"Filters that can: {', '.join(RULE_FIELDS)}"
        )
    if not f.values:
        raise ValueError(f"the filter on {f.dimension} has no values")
    c = translate(f.dimension, f.values)
    return f"not ({c.text})" if f.exclude else c.grouped()


def expression_from_filters(filters: Sequence[Filter]) -> str:
    if not filters:
        raise ValueError("no filters: add at least one filter to build a rule from")
    return " and ".join(clause(f) for f in filters)


def _describe(filters: Sequence[Filter]) -> str:
    parts = [
        f"{f.dimension} {'not in' if f.exclude else 'in'} "
        + ", ".join('""' if v == "" else str(v) for v in f.values)
        for f in filters
    ]
    text = "Dashboard filters: " + "; ".join(parts)
    return text if len(text) <= 500 else text[:499] + "…"


def rule_from_filters(filters: Sequence[Filter]) -> Rule:
    """The block rule for a view's filters, checked by the real firewall compiler."""
    expression = expression_from_filters(filters)
    try:
        compile_expression(expression)
    except RuleError as exc:
        raise ValueError(f"the filters give an expression the firewall rejects: {exc}") from exc
    return Rule(expression, _describe(filters))
