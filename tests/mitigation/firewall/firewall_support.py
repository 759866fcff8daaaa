"""Helpers for the firewall tests: hand-made views, and hypothesis strategies for random
packets and random rules (generated as trees, rendered to text)."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from hypothesis import strategies as st

from netlogpush.mitigation.firewall import PacketView, StringColumn
from netlogpush.mitigation.firewall.fields import FIELDS, SIP_PREFIXES, FieldType, Source

LISTS = {
    "blocklist": ["10.0.0.0/8", "192.0.2.10", "203.0.113.0..203.0.113.9"],
    "v6list": ["2001:db8::/64", "::1"],
    "empty": [],
}

PORTS = [0, 19, 53, 80, 443, 1900, 5060, 11211, 65535]
PROTOCOLS = [0, 1, 6, 17, 47, 50, 58, 132, 253]
V4 = [
    "10.0.0.1",
    "10.1.2.3",
    "192.0.2.10",
    "192.0.2.200",
    "203.0.113.5",
    "0.0.0.0",
    "255.255.255.255",
]
V6 = ["2001:db8::1", "2001:db8::2", "2001:db8:1::1", "::1", "fe80::1", "ffff::ffff"]
COUNTRIES = ["", "US", "BR", "DE", "CN", "GB"]
COLOS = ["sfo06", "ams01", "SFO06"]
REGIONS = ["WNAM", "EEUR", ""]
NEEDLES = [b"", b"\x00", b"\x00\x00", b"ab", b"SIP", b"INVITE sip:", b"\xff\xfe", b"z"]
INTS = [
    0,
    1,
    2,
    5,
    6,
    17,
    20,
    53,
    64,
    80,
    128,
    255,
    256,
    443,
    1500,
    13335,
    65535,
    65536,
    -1,
    -5,
    (1 << 32),
    (1 << 63) - 1,
    -(1 << 63),
]
REGEXES = ["^U", "S$", "[A-D]", r"sfo\d+", "(?i)sfo", "^$", ".", "^(US|BR)$", "6"]
WILDCARDS = ["*", "u*", "*S", "s*6", "S*", "*0*", "us", r"a\*b"]


FLAG_VALUES = [0x02, 0x12, 0x10, 0x04, 0x11, 0x18, 0xC2, 0x1FF]
FIELD_VALUES: dict[str, list[int]] = {
    "tcp.srcport": PORTS, "tcp.dstport": PORTS, "udp.srcport": PORTS, "udp.dstport": PORTS,
    "icmp.type": [0, 3, 8, 11, 128, 255], "icmp.code": [0, 1, 255], "ip.ttl": [1, 64, 128, 255],
    "ip.hdr_len": [5, 6, 10, 15], "ip.len": [40, 60, 1500, 65535], "ip.opt.type": [0, 1, 7, 68, 148],
    "ip.src.asnum": [0, 13335, 15169], "ip.dst.asnum": [0, 13335, 15169],
    "tcp.flags": [*FLAG_VALUES, 0xFF, 0x80],
}  # fmt: skip


def int_column(values: Sequence[int], dtype: Any = np.uint32) -> npt.NDArray[Any]:
    return np.asarray(values, dtype=dtype)


def make_view(
    n: int,
    *,
    ip_version: Sequence[int] | None = None,
    src: Sequence[str] | None = None,
    dst: Sequence[str] | None = None,
    ints: Mapping[str, Sequence[int]] | None = None,
    strings: Mapping[str, Sequence[str]] | None = None,
    payloads: Sequence[tuple[bytes, int, int]] | None = None,
) -> PacketView:
    """A view from Python values. ``payloads`` gives, per packet, (bytes of the IP packet,
    offset of the transport header within it or -1, and -1 to mark "no IP header known")."""
    versions = np.asarray(ip_version if ip_version is not None else [4] * n, np.uint8)
    src4, dst4 = np.zeros(n, np.uint32), np.zeros(n, np.uint32)
    src6, dst6 = np.zeros((n, 16), np.uint8), np.zeros((n, 16), np.uint8)
    for addrs, four, six in ((src, src4, src6), (dst, dst4, dst6)):
        for i, a in enumerate(addrs or []):
            ip = ipaddress.ip_address(a)
            if ip.version == 4:
                four[i] = int(ip)
            else:
                six[i] = np.frombuffer(ip.packed, np.uint8)
    cols = {
        k: np.asarray(v, np.int64 if k.endswith("ASN") else np.uint32)
        for k, v in (ints or {}).items()
    }
    strs = {k: np.asarray(list(v), dtype=object) for k, v in (strings or {}).items()}
    view = PacketView(n, versions, src4, dst4, src6, dst6, cols, strs)
    if payloads is not None:
        data, l3, l4, end = layout(payloads)
        view.data, view.l3, view.l4, view.end = data, l3, l4, end
    return view


def layout(
    payloads: Sequence[tuple[bytes, int, int]],
) -> tuple[
    npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    """Packets laid out one after another in a buffer, with a gap between them (as frames
    with link headers would be), and zero padding at the end like a ``FrameBatch``."""
    buf = bytearray()
    l3, l4, end = [], [], []
    for body, l4_at, l3_flag in payloads:
        buf += b"\xee" * 3  # a "link header" that belongs to no raw field
        start = len(buf)
        buf += body
        l3.append(start if l3_flag >= 0 else -1)
        l4.append(start + l4_at if l4_at >= 0 else -1)
        end.append(len(buf))
    buf += bytes(128)
    return (
        np.frombuffer(bytes(buf), np.uint8),
        np.asarray(l3, np.int64),
        np.asarray(l4, np.int64),
        np.asarray(end, np.int64),
    )


# -- random packets -----------------------------------------------------------------------


@st.composite
def views(draw: st.DrawFn, max_size: int = 30) -> PacketView:
    n = draw(st.integers(1, max_size))

    def ints_of(pool: list[int], hi: int) -> st.SearchStrategy[list[int]]:
        value = st.one_of(st.sampled_from(pool), st.sampled_from(pool), st.integers(0, hi))
        return st.lists(value, min_size=n, max_size=n)

    versions = draw(st.lists(st.sampled_from([4, 4, 4, 6, 6, 0]), min_size=n, max_size=n))
    addr = st.one_of(
        st.sampled_from(V4 + V6),
        st.integers(0, (1 << 32) - 1).map(lambda v: str(ipaddress.IPv4Address(v))),
    )
    srcs = draw(st.lists(addr, min_size=n, max_size=n))
    dsts = draw(st.lists(addr, min_size=n, max_size=n))
    # The address must be of the packet's family; the other family's array stays zero.
    srcs = [
        a if ipaddress.ip_address(a).version == (v or 4) else ("::1" if v == 6 else "10.0.0.1")
        for a, v in zip(srcs, versions, strict=True)
    ]
    dsts = [
        a
        if ipaddress.ip_address(a).version == (v or 4)
        else ("2001:db8::1" if v == 6 else "192.0.2.10")
        for a, v in zip(dsts, versions, strict=True)
    ]
    ints = {
        "IPProtocol": draw(ints_of([6, 6, 6, 17, 17, 17, 1, 58, *PROTOCOLS], 255)),
        "SourcePort": draw(ints_of(PORTS, 65535)),
        "DestinationPort": draw(ints_of(PORTS, 65535)),
        "TCPFlags": draw(ints_of(FLAG_VALUES, 0xFFF)),
        "ICMPType": draw(ints_of([0, 3, 8, 11, 128], 255)),
        "ICMPCode": draw(ints_of([0, 1], 255)),
        "IPTTL": draw(ints_of([1, 64, 128, 255], 255)),
        "IPHeaderLength": draw(ints_of([20, 24, 40, 60], 60)),
        "IPTotalLength": draw(ints_of([40, 60, 1500], 65535)),
        "SourceASN": draw(ints_of([0, 13335, 15169], (1 << 32) - 1)),
        "DestinationASN": draw(ints_of([0, 13335, 15169], (1 << 32) - 1)),
    }
    strings = {
        "SourceCountry": draw(st.lists(st.sampled_from(COUNTRIES), min_size=n, max_size=n)),
        "DestinationCountry": draw(st.lists(st.sampled_from(COUNTRIES), min_size=n, max_size=n)),
        "ColoName": draw(st.lists(st.sampled_from(COLOS), min_size=n, max_size=n)),
        "ColoRegion": [draw(st.sampled_from(REGIONS))] * n,
    }
    payloads = draw(st.lists(payload(), min_size=n, max_size=n))
    view = make_view(
        n, ip_version=versions, src=srcs, dst=dsts, ints=ints, strings=strings, payloads=payloads
    )
    if draw(st.booleans()):  # sometimes the string columns come already factorized
        view.strings = {
            k: StringColumn.from_objects(np.asarray(v, dtype=object)) for k, v in strings.items()
        }
    if draw(st.integers(0, 9)) == 0:  # sometimes a view without raw bytes
        view.data = view.l3 = view.l4 = view.end = None
    return view


@st.composite
def payload(draw: st.DrawFn) -> tuple[bytes, int, int]:
    if draw(st.booleans()):
        head = draw(st.binary(max_size=40))
    else:  # hypothesis favours zero bytes; seeded random bytes make bit slices differ
        head = random.Random(draw(st.integers(0, 2**32))).randbytes(draw(st.integers(0, 60)))
    sip = draw(st.sampled_from([b"", b"", *SIP_PREFIXES[:4], b"SIP/2.0 200 OK"]))
    tail = draw(st.binary(max_size=20))
    body = head + sip + tail
    l4_at = draw(st.one_of(st.just(-1), st.integers(0, len(body)), st.sampled_from([0, 8, 20, 24])))
    l4_at = min(l4_at, len(body))
    l3_flag = draw(st.sampled_from([0, 0, 0, -1]))
    return body, l4_at, l3_flag


# -- random rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    text: str


@dataclass(frozen=True)
class Not:
    arg: Node


@dataclass(frozen=True)
class Op:
    op: str  # and / xor / or
    items: tuple[Node, ...]


Node = Leaf | Not | Op

PRECEDENCE = {"or": 1, "xor": 2, "and": 3}
SPELLINGS = {
    "and": ["and", "&&"], "or": ["or", "||"], "xor": ["xor", "^^"], "not": ["not ", "!", "not"],
    "eq": ["eq", "=="], "ne": ["ne", "!="], "lt": ["lt", "<"], "le": ["le", "<="],
    "gt": ["gt", ">"], "ge": ["ge", ">="], "matches": ["matches", "~"], "bitwise_and": ["bitwise_and", "&"],
}  # fmt: skip


def render(node: Node, draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
    """Text for ``node`` with only the parentheses precedence needs (plus random extra ones)."""
    return _render(node, draw)[0]


def _render(node: Node, draw: Callable[[st.SearchStrategy[Any]], Any]) -> tuple[str, bool]:
    """(text, whether the text is one simple expression: a comparison, a ``not``, or in parentheses)."""
    if isinstance(node, Leaf):
        text, simple = node.text, True
    elif isinstance(node, Not):
        inner, inner_simple = _render(node.arg, draw)
        if not inner_simple:
            inner = f"({inner})"
        spelling = draw(st.sampled_from(SPELLINGS["not"]))
        if spelling == "not" and not inner.startswith("("):
            spelling = "not "
        text, simple = f"{spelling}{inner}", True
    else:
        text = ""
        for k, item in enumerate(node.items):
            part, part_simple = _render(item, draw)
            if (
                isinstance(item, Op)
                and not part_simple
                and PRECEDENCE[item.op] < PRECEDENCE[node.op]
            ):
                part = f"({part})"
            if k:
                text += f" {draw(st.sampled_from(SPELLINGS[node.op]))} "
            text += part
        simple = False
    if draw(st.integers(0, 7)) == 0:
        text, simple = f"({text})", True
    return text, simple


def expected(node: Node, leaf: Callable[[str], npt.NDArray[np.bool_]]) -> npt.NDArray[np.bool_]:
    """What ``node`` means, combined from its leaves' masks along the generated tree."""
    if isinstance(node, Leaf):
        return leaf(node.text)
    if isinstance(node, Not):
        return ~expected(node.arg, leaf)
    masks = [expected(item, leaf) for item in node.items]
    acc = masks[0]
    for m in masks[1:]:
        acc = (acc & m) if node.op == "and" else (acc | m) if node.op == "or" else (acc ^ m)
    return acc


def _int_literal(draw: st.DrawFn, value: int) -> str:
    if value >= 0:
        style = draw(st.sampled_from(["dec", "dec", "hex", "oct"]))
        if style == "hex":
            return hex(value)
        if style == "oct" and value > 0:
            return "0" + format(value, "o")
    return str(value)


def _bytes_literal(draw: st.DrawFn, value: bytes) -> str:
    styles = ["quoted"]
    try:
        text = value.decode("utf-8")
        if '"#' not in text:
            styles.append("raw")
    except UnicodeDecodeError:
        text = ""
    if len(value) >= 2:
        styles.append("bytes")
    style = draw(st.sampled_from(styles))
    if style == "raw":
        hashes = "#" * draw(st.integers(1 if '"' in text else 0, 2))
        return f'r{hashes}"{text}"{hashes}'
    if style == "bytes":
        sep = draw(st.sampled_from(":-."))
        return sep.join(f"{b:02x}" for b in value)
    out = '"'
    for b in value:
        ch = chr(b)
        if ch in '"\\':
            out += "\\" + ch
        elif 32 <= b < 127 and draw(st.integers(0, 4)):
            out += ch
        elif draw(st.booleans()):
            out += f"\\x{b:02x}"
        else:
            out += f"\\{b:03o}"
    return out + '"'


def _regex_literal(draw: st.DrawFn, pattern: str) -> str:
    if draw(st.booleans()):
        return f'r"{pattern}"'
    return '"' + pattern.replace('"', '\\"') + '"'


_INT_FIELDS = [name for name, s in FIELDS.items() if s.type is FieldType.INT]
_STRING_FIELDS = [
    name
    for name, s in FIELDS.items()
    if s.type is FieldType.BYTES and s.source not in (Source.RAW, Source.PROTOCOL_NAME)
]
_RAW_FIELDS = [name for name, s in FIELDS.items() if s.source is Source.RAW]
_BOOL_FIELDS = [name for name, s in FIELDS.items() if s.type is FieldType.BOOL]


@st.composite
def int_leaf(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 4)) == 0:
        proto = draw(st.sampled_from(_RAW_FIELDS))
        start = draw(st.integers(0, 120))
        end = start + draw(st.integers(1, 32))
        arg = draw(st.sampled_from([f'"{proto}"', proto]))
        lhs = f"bit_slice({arg}, {start}, {end})"
        pool = [0, 1, 2, 0x49, 0xFF, (1 << (end - start)) - 1]
    else:
        lhs = draw(st.sampled_from(_INT_FIELDS))
        pool = FIELD_VALUES.get(lhs, []) + draw(st.sampled_from([[], [], INTS]))
    value = st.one_of(
        st.sampled_from(pool), st.sampled_from(pool), st.integers(-(1 << 63), (1 << 63) - 1)
    )
    kind = draw(st.sampled_from(["cmp", "cmp", "in", "and"]))
    if kind == "cmp":
        op = draw(st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]))
        return f"{lhs} {draw(st.sampled_from(SPELLINGS[op]))} {_int_literal(draw, draw(value))}"
    if kind == "and":
        return f"{lhs} {draw(st.sampled_from(SPELLINGS['bitwise_and']))} {_int_literal(draw, draw(value))}"
    items = []
    if draw(st.booleans()):
        # Values of the field's pool, single or in short ranges: many disjoint ranges over a
        # small domain, the case a lookup table serves.
        for _ in range(draw(st.integers(0, 12))):
            lo = draw(st.sampled_from(pool or [0]))
            width = min(draw(st.sampled_from([0, 0, 0, 1, 3])), (1 << 63) - 1 - lo)
            items.append(
                _int_literal(draw, lo) + (f"..{_int_literal(draw, lo + width)}" if width else "")
            )
        return f"{lhs} in {{{' '.join(items)}}}"
    for _ in range(draw(st.integers(0, 12))):
        lo = draw(value)
        if draw(st.booleans()) and lo < (1 << 63) - 1:
            hi = draw(st.sampled_from([v for v in pool if v >= lo] or [lo]))
            if draw(st.booleans()):
                hi = lo + draw(st.integers(0, min(70000, (1 << 63) - 1 - lo)))
            items.append(f"{_int_literal(draw, lo)}..{_int_literal(draw, hi)}")
        else:
            items.append(_int_literal(draw, lo))
    return f"{lhs} in {{{' '.join(items)}}}"


@st.composite
def ip_item(draw: st.DrawFn) -> str:
    a = ipaddress.ip_address(draw(st.sampled_from(V4 + V6)))
    kind = draw(st.sampled_from(["addr", "cidr", "range"]))
    if kind == "cidr":
        prefix = draw(st.integers(0, a.max_prefixlen))
        return str(ipaddress.ip_network(f"{a}/{prefix}", strict=False))
    if kind == "range":
        b = ipaddress.ip_address(draw(st.sampled_from(V4 if a.version == 4 else V6)))
        lo, hi = sorted([a, b])
        return f"{lo}..{hi}"
    return str(a)


@st.composite
def ip_leaf(draw: st.DrawFn) -> str:
    lhs = draw(st.sampled_from(["ip.src", "ip.dst"]))
    kind = draw(st.sampled_from(["eq", "ne", "in", "list"]))
    if kind in ("eq", "ne"):
        return f"{lhs} {draw(st.sampled_from(SPELLINGS[kind]))} {draw(st.sampled_from(V4 + V6))}"
    if kind == "list":
        return f"{lhs} in ${draw(st.sampled_from(sorted(LISTS)))}"
    items = draw(st.lists(ip_item(), max_size=12))
    return f"{lhs} in {{{' '.join(items)}}}"


@st.composite
def string_leaf(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 3)) == 0:
        lhs = "ip.proto"
        pool = [b"tcp", b"udp", b"icmp", b"gre", b"ipv6-icmp", b"hopopt", b"253", b"esp"]
    else:
        lhs = draw(st.sampled_from(_STRING_FIELDS))
        pool = [c.encode() for c in COUNTRIES + COLOS + REGIONS] + [b"U", b"S", b"0", b"s"]
    value = st.sampled_from(pool)
    kind = draw(st.sampled_from(["cmp", "in", "contains", "contains_any", "matches", "wildcard"]))
    if lhs == "ip.proto" and kind == "cmp":
        kind = draw(st.sampled_from(["eq", "ne"]))
    if kind in ("cmp", "eq", "ne"):
        op = kind if kind != "cmp" else draw(st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]))
        return f"{lhs} {draw(st.sampled_from(SPELLINGS[op]))} {_bytes_literal(draw, draw(value))}"
    if kind == "in":
        items = [_bytes_literal(draw, draw(value)) for _ in range(draw(st.integers(0, 5)))]
        return f"{lhs} in {{{' '.join(items)}}}"
    return _text_op(draw, lhs, kind, value)


def _text_op(draw: st.DrawFn, lhs: str, kind: str, value: st.SearchStrategy[bytes]) -> str:
    if kind == "contains":
        return f"{lhs} contains {_bytes_literal(draw, draw(value))}"
    if kind == "contains_any":
        items = [_bytes_literal(draw, draw(value)) for _ in range(draw(st.integers(0, 4)))]
        return f"{lhs} contains {{{' '.join(items)}}}"
    if kind == "matches":
        return f"{lhs} {draw(st.sampled_from(SPELLINGS['matches']))} {_regex_literal(draw, draw(st.sampled_from(REGEXES)))}"
    op = draw(st.sampled_from(["wildcard", "strict wildcard"]))
    return f'{lhs} {op} r"{draw(st.sampled_from(WILDCARDS))}"'


@st.composite
def raw_leaf(draw: st.DrawFn) -> str:
    lhs = draw(st.sampled_from(_RAW_FIELDS))
    kind = draw(st.sampled_from(["contains", "contains", "contains_any", "matches"]))
    if kind == "matches":
        pattern = draw(st.sampled_from(["SIP/2", "^INVITE", r"\x00\x00", "ab|cd"]))
        return f'{lhs} matches r"{pattern}"'
    return _text_op(draw, lhs, kind, st.sampled_from(NEEDLES))


def leaves() -> st.SearchStrategy[str]:
    return st.one_of(
        int_leaf(), ip_leaf(), string_leaf(), raw_leaf(), st.sampled_from(_BOOL_FIELDS)
    )


def trees(max_leaves: int = 8) -> st.SearchStrategy[Node]:
    return st.recursive(
        leaves().map(Leaf),
        lambda children: st.one_of(
            children.map(Not),
            st.tuples(
                st.sampled_from(["and", "or", "xor"]), st.lists(children, min_size=2, max_size=3)
            ).map(lambda pair: Op(pair[0], tuple(pair[1]))),
        ),
        max_leaves=max_leaves,
    )
