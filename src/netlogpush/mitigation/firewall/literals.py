"""Literal values as wirefilter reads them: integers, IP addresses and networks, strings, bytes.

Each reader takes a token and what the value is for (``context``, e.g. "after '==' for
tcp.dstport") and raises ``RuleTypeError`` at the token's position when the text is not a
value of that type. Rules, from wirefilter's ``rhs_types`` and Cloudflare's "Values" page:

* integers: decimal (``-`` allowed), ``0x`` hexadecimal, a leading ``0`` means octal; 64-bit;
* ranges ``a..b`` (integers, or two addresses of one family) with ``a <= b``;
* networks in CIDR form must have no host bits set (``10.0.0.0/8``, not ``10.0.0.1/8``);
* strings ``"…"`` with escapes ``\\"``, ``\\\\``, ``\\xHH`` and ``\\NNN`` (octal), raw
  strings ``r#"…"#`` without escapes, and byte strings ``01:2e:f3`` (``:``, ``-`` or ``.``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from netlogpush.mitigation.firewall.errors import Position, RuleTypeError
from netlogpush.mitigation.firewall.syntax import Token

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1

_DECIMAL = re.compile(r"-?[0-9]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_OCTAL = re.compile(r"0[0-7]+")
_BYTE_STRING = re.compile(r"[0-9a-fA-F]{2}(?:[:.-][0-9a-fA-F]{2})+")


@dataclass(frozen=True, slots=True)
class IpRange:
    """An explicit range ``first..last`` of one address family (both ends included)."""

    first: IpAddress
    last: IpAddress

    def __str__(self) -> str:
        return f"{self.first}..{self.last}"


IpItem = IpNetwork | IpRange


def _got(tok: Token) -> str:
    if tok.kind in ("STRING", "RAW_STRING"):
        return f"the string {tok.text}"
    return f'"{tok.text}"'


def expected_error(tok: Token, what: str, context: str, hint: str = "") -> RuleTypeError:
    return RuleTypeError(tok.pos, f"expected {what} {context}, got {_got(tok)}{hint}", what)


def parse_int(tok: Token, context: str, text: str | None = None) -> int:
    """An integer literal (``text`` overrides the token's text for the ends of a range)."""
    s = tok.text if text is None else text
    if tok.kind == "VALUE" and (s.startswith("0x") and _HEX.fullmatch(s)):
        value = int(s[2:], 16)
    elif tok.kind == "VALUE" and _OCTAL.fullmatch(s):
        value = int(s[1:], 8)
    elif tok.kind == "VALUE" and _DECIMAL.fullmatch(s) and not (len(s) > 1 and s[0] == "0"):
        value = int(s, 10)
    else:
        hint = ""
        if tok.kind == "VALUE" and re.fullmatch(r"0[0-9]+", s):
            hint = " (a leading 0 makes an octal number, which has no digit 8 or 9)"
        elif tok.kind == "STRING" and _DECIMAL.fullmatch(tok.text.strip('"')):
            hint = " (numbers are written without quotes)"
        raise expected_error(tok, "an integer", context, hint)
    if not I64_MIN <= value <= I64_MAX:
        raise RuleTypeError(
            tok.pos, f"{s} {context} is outside the 64-bit integer range", "an integer"
        )
    return value


def parse_int_range(tok: Token, context: str) -> tuple[int, int]:
    """``n`` or ``a..b`` (an item of an integer set)."""
    if tok.kind == "VALUE" and ".." in tok.text:
        first, _, last = tok.text.partition("..")
        lo, hi = parse_int(tok, context, first), parse_int(tok, context, last)
        if hi < lo:
            raise RuleTypeError(
                tok.pos,
                f"the range {tok.text} {context} ends before it starts; write {hi}..{lo}",
                "a range a..b with a <= b",
            )
        return lo, hi
    value = parse_int(tok, context)
    return value, value


def parse_ip(tok: Token, context: str) -> IpAddress:
    """A single address (for ``==`` and ``!=``)."""
    if tok.kind == "VALUE":
        try:
            return ipaddress.ip_address(tok.text)
        except ValueError:
            pass
    hint = ""
    if tok.kind == "VALUE" and ("/" in tok.text or ".." in tok.text):
        hint = f" (to match a network or range write 'in {{{tok.text}}}')"
    raise expected_error(tok, "an IP address", context, hint)


def parse_ip_item(tok: Token, context: str) -> IpItem:
    """An address, a CIDR network or an explicit range (an item of an IP set or list)."""
    what = "an IP address or CIDR"
    s = tok.text
    if tok.kind != "VALUE":
        raise expected_error(tok, what, context)
    if ".." in s:
        a, _, b = s.partition("..")
        try:
            first, last = ipaddress.ip_address(a), ipaddress.ip_address(b)
        except ValueError:
            raise expected_error(tok, what, context) from None
        if first.version != last.version or int(last) < int(first):
            raise RuleTypeError(
                tok.pos,
                f"the range {s} {context} must run from a lower to a higher address of one family",
                what,
            )
        return IpRange(first, last)
    try:
        return ipaddress.ip_network(s, strict=True)
    except ValueError as err:
        if "host bits set" in str(err):
            network = ipaddress.ip_network(s, strict=False)
            raise RuleTypeError(
                tok.pos,
                f"{s} {context} has host bits set; write the network address {network}",
                what,
            ) from None
        raise expected_error(tok, what, context) from None


def parse_bytes(tok: Token, context: str) -> bytes:
    """A string, raw string or byte string (``01:2e:f3``)."""
    if tok.kind == "STRING":
        return _unescape(tok)
    if tok.kind == "RAW_STRING":
        return raw_string_body(tok.text).encode("utf-8")
    if _BYTE_STRING.fullmatch(tok.text):
        return bytes(int(tok.text[k : k + 2], 16) for k in range(0, len(tok.text), 3))
    raise expected_error(tok, "a string in double quotes", context)


def raw_string_body(text: str) -> str:
    hashes = len(text) - len(text[1:].lstrip("#")) - 1
    return text[2 + hashes : len(text) - 1 - hashes]


def regex_source(tok: Token, context: str) -> bytes:
    """The regular expression a ``matches`` operand spells.

    A quoted string there keeps its backslashes for the regex engine (only ``\\"`` loses
    its backslash), as Cloudflare's "Values" page and wirefilter's regex lexer do, so
    ``"^/a\\.b$"`` is the regex ``^/a\\.b$``.
    """
    if tok.kind == "RAW_STRING":
        return raw_string_body(tok.text).encode("utf-8")
    if tok.kind != "STRING":
        raise expected_error(tok, "a regular expression in double quotes", context)
    body = tok.text[1:-1]
    out: list[str] = []
    k = 0
    while k < len(body):
        c = body[k]
        if c == "\\" and k + 1 < len(body):
            nxt = body[k + 1]
            out.append(nxt if nxt == '"' else c + nxt)
            k += 2
        else:
            out.append(c)
            k += 1
    return "".join(out).encode("utf-8")


def wildcard_source(tok: Token, context: str) -> bytes:
    """The pattern of a ``wildcard`` operand; ``**`` is invalid (Cloudflare's operators page)."""
    if tok.kind not in ("STRING", "RAW_STRING"):
        raise expected_error(tok, "a wildcard pattern in double quotes", context)
    pattern = parse_bytes(tok, context)
    k = 0
    while k < len(pattern):
        if pattern[k : k + 1] == b"\\":
            k += 2
            continue
        if pattern[k : k + 2] == b"**":
            raise RuleTypeError(
                _inside(tok, 1 + k), "a wildcard pattern cannot contain '**'", "a single '*'"
            )
        k += 1
    return pattern


def _inside(tok: Token, k: int) -> Position:
    """The position ``k`` characters into a token that does not span lines."""
    return Position(tok.pos.line, tok.pos.column + k, tok.pos.offset + k)


def _unescape(tok: Token) -> bytes:
    body = tok.text[1:-1]
    out = bytearray()
    k = 0
    while k < len(body):
        c = body[k]
        if c != "\\":
            out += c.encode("utf-8")
            k += 1
            continue
        nxt = body[k + 1]
        if nxt in '"\\':
            out.append(ord(nxt))
            k += 2
        elif nxt == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", body[k + 2 : k + 4]):
            out.append(int(body[k + 2 : k + 4], 16))
            k += 4
        elif re.fullmatch(r"[0-7]{3}", body[k + 1 : k + 4]) and int(body[k + 1 : k + 4], 8) < 256:
            out.append(int(body[k + 1 : k + 4], 8))
            k += 4
        else:
            pos = Position.at(tok.text, 1 + k)  # within the token, then shifted to the source
            at = Position(
                tok.pos.line + pos.line - 1,
                pos.column if pos.line > 1 else tok.pos.column + pos.column - 1,
                tok.pos.offset + 1 + k,
            )
            raise RuleTypeError(
                at,
                f'invalid escape "\\{nxt}" in a string; write \\", \\\\, \\xHH or \\NNN (octal)',
                '\\", \\\\, \\xHH or \\NNN',
            )
    return bytes(out)
