"""Shared pieces of ``destination_conf`` parsing: the error type, URL splitting, query
decoding and encoding, host checks, and the redaction rules.

A ``destination_conf`` is ``<scheme>://<destination-address>`` (Cloudflare
api-configuration.mdx), a URL in the style Go's ``net/url`` parses. The URL is split here by
hand rather than with ``urllib.parse.urlsplit`` because urlsplit silently deletes tabs and
newlines, accepts invalid percent escapes and raises bare ``ValueError`` from ``.port``;
every one of those must instead become a ``DestinationConfError`` naming what is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Self
from urllib.parse import quote

# The job object's documented limit (OAS-2024 ``destination_conf`` maxLength 4096).
MAX_CONF_LENGTH = 4096

# What secrets are replaced by. Cloudflare's own docs write ``Basic%20REDACTED``.
REDACTED = "REDACTED"

# ``header_<Name>`` query parameters become request headers (http.mdx).
HEADER_PREFIX = "header_"


class DestinationConfError(ValueError):
    """A ``destination_conf`` that cannot be used.

    ``parameter`` names what is wrong (``scheme``, ``host``, ``port``, ``path``, ``bucket``
    or a query parameter such as ``region``), ``rule`` says what it must be. The message is
    ``invalid destination_conf: <parameter>: <rule>``, lower case in the style of
    Cloudflare's Go error strings. It never contains the value of a secret parameter, so it
    can be logged and returned by the API as is.
    """

    def __init__(self, parameter: str, rule: str) -> None:
        super().__init__(f"invalid destination_conf: {parameter}: {rule}")
        self.parameter = parameter
        self.rule = rule


def shown(value: str, limit: int = 64) -> str:
    """A non-secret value quoted for an error message, cut so one bad input cannot make a
    4 KiB message."""
    if len(value) > limit:
        value = value[:limit] + "..."
    return '"' + value.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


# ---------------------------------------------------------------------------------------
# Splitting


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*\Z")
_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(frozen=True, slots=True)
class SplitConf:
    """A ``destination_conf`` cut into URL parts, percent-decoded, not yet validated."""

    scheme: str  # lower case
    userinfo: str | None
    host: str  # as written, IPv6 without brackets; "" when absent
    port: int | None
    path: str  # decoded; "" or starting with "/"
    params: tuple[tuple[str, str], ...]  # decoded, in order, duplicates kept


def _decode(text: str, parameter: str, plus_is_space: bool) -> str:
    """Percent-decode strictly: Go's ``url.Parse`` rejects a bad escape, so do we."""
    bad = _ESCAPE.search(text)
    if bad is not None:
        if parameter != "path":
            # A query value may be a secret: do not echo any of it.
            return _raise(parameter, "invalid URL escape (write % as %25)")
        return _raise(parameter, f"invalid URL escape {shown(text[bad.start() : bad.start() + 3])}")
    if plus_is_space:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    raw = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            raw.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(ch.encode("utf-8"))
            i += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _raise(parameter, "is not valid UTF-8 once percent-decoded")


def _raise(parameter: str, rule: str) -> str:
    raise DestinationConfError(parameter, rule)


def split_conf(text: str) -> SplitConf:
    """Cut ``text`` into scheme, authority, path and query; raise ``DestinationConfError``."""
    if not isinstance(text, str):
        raise DestinationConfError("destination_conf", "must be a string")
    if text == "":
        raise DestinationConfError("destination_conf", "is required")
    if len(text) > MAX_CONF_LENGTH:
        raise DestinationConfError(
            "destination_conf", f"must be at most {MAX_CONF_LENGTH} characters, got {len(text)}"
        )
    for ch in text:
        if ord(ch) <= 0x20 or ord(ch) == 0x7F:
            raise DestinationConfError(
                "destination_conf",
                f"must not contain spaces or control characters (found {shown(ch)}); "
                "URL-encode them, e.g. %20 for a space",
            )
    scheme, sep, rest = text.partition("://")
    if not sep or not _SCHEME.match(scheme):
        raise DestinationConfError(
            "scheme", "destination_conf must have the form <scheme>://<destination-address>"
        )
    if "#" in rest:
        raise DestinationConfError("destination_conf", "must not contain a fragment (#)")
    rest, _, query = rest.partition("?")
    slash = rest.find("/")
    authority, raw_path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    userinfo: str | None = None
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
    host, port = _split_hostport(authority)
    path = _decode(raw_path, "path", plus_is_space=False)
    params: list[tuple[str, str]] = []
    for piece in query.split("&"):
        if piece == "":
            continue
        raw_name, _, raw_value = piece.partition("=")
        name = _decode(raw_name, "query", plus_is_space=True)
        if name == "":
            raise DestinationConfError("query", f"empty parameter name in {shown(piece, 24)}")
        # Only the name may be echoed in the error about a value: values can be secrets.
        value = _decode(raw_value, name, plus_is_space=True)
        params.append((name, value))
    return SplitConf(scheme.lower(), userinfo, host, port, path, tuple(params))


def _split_hostport(authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise DestinationConfError("host", "IPv6 address is missing its closing ]")
        host, after = authority[1:end], authority[end + 1 :]
        if after and not after.startswith(":"):
            raise DestinationConfError("host", f"unexpected {shown(after)} after IPv6 address")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise DestinationConfError("host", f"{shown(host)} is not an IPv6 address") from None
        port_text = after[1:] if after else None
    else:
        host, colon, port_text_ = authority.partition(":")
        port_text = port_text_ if colon else None
    if port_text is None:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        raise DestinationConfError(
            "port", f"must be a number from 1 to 65535, got {shown(port_text)}"
        )
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise DestinationConfError("port", f"must be a number from 1 to 65535, got {port}")
    return host, port


# ---------------------------------------------------------------------------------------
# Hosts

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?\Z")


def check_host(host: str, parameter: str = "host") -> str:
    """A DNS name, IPv4 address or IPv6 address; returned lower-cased (names are
    case-insensitive, so this is the canonical form). Underscores are allowed because
    internal names (container services) use them and Go's resolver accepts them."""
    if host == "":
        raise DestinationConfError(parameter, "is required")
    lowered = host.lower()
    try:
        return str(ipaddress.ip_address(lowered))
    except ValueError:
        pass
    if not lowered.isascii():
        raise DestinationConfError(
            parameter, f"{shown(host)} is not a valid host name (write IDNs in punycode)"
        )
    name = lowered[:-1] if lowered.endswith(".") else lowered
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise DestinationConfError(parameter, f"{shown(host)} is not a valid host name")
    if all(label.isdigit() for label in labels):
        raise DestinationConfError(parameter, f"{shown(host)} is not a valid IPv4 address")
    return name


def render_host(host: str) -> str:
    """``host`` for a URL authority: IPv6 addresses get their brackets back."""
    return f"[{host}]" if ":" in host else host


def hostport(host: str, port: int | None) -> str:
    return render_host(host) if port is None else f"{render_host(host)}:{port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------
# Query parameters

# Characters left as they are when rendering. Everything that has a meaning in a query
# (& = + # % ?) or in an authority is escaped; ':' ',' '/' stay readable (Cloudflare's own
# example keeps ``tags=host:theburritobot.com,dataset:http_requests``).
_SAFE_VALUE = ":/,@!$'()*;{}"
_SAFE_PATH = "/:@!$&'()*+,;={}"


def encode_component(value: str) -> str:
    return quote(value, safe=_SAFE_VALUE)


def encode_path(path: str) -> str:
    return quote(path, safe=_SAFE_PATH)


def encode_query(params: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{encode_component(k)}={encode_component(v)}" for k, v in params)


def with_query(base: str, params: Sequence[tuple[str, str]]) -> str:
    return f"{base}?{encode_query(params)}" if params else base


class Params:
    """The query parameters of one conf, consumed by name so leftovers can be reported."""

    def __init__(self, params: Sequence[tuple[str, str]]) -> None:
        self._params = list(params)

    def take(self, name: str, *, required: bool = False) -> str | None:
        """The value of ``name`` (matched exactly), removed from the remaining set."""
        found = [v for k, v in self._params if k == name]
        if len(found) > 1:
            raise DestinationConfError(name, "must be given at most once")
        if not found:
            if required:
                raise DestinationConfError(name, "parameter is required")
            return None
        self._params = [(k, v) for k, v in self._params if k != name]
        return found[0]

    def take_required(self, name: str) -> str:
        value = self.take(name, required=True)
        assert value is not None
        return value

    def take_headers(self) -> tuple[tuple[str, str], ...]:
        """All ``header_<Name>`` parameters as (Name, value) request headers, in order."""
        headers: list[tuple[str, str]] = []
        seen: set[str] = set()
        for k, v in self._params:
            if not k.startswith(HEADER_PREFIX):
                continue
            name = k[len(HEADER_PREFIX) :]
            check_header(name, v, k)
            if name.lower() in seen:
                # HTTP header names are case-insensitive: header_x and header_X collide.
                raise DestinationConfError(k, "header is given more than once")
            seen.add(name.lower())
            headers.append((name, v))
        self._params = [(k, v) for k, v in self._params if not k.startswith(HEADER_PREFIX)]
        return tuple(headers)

    def rest(self) -> tuple[tuple[str, str], ...]:
        return tuple(self._params)

    def reject_rest(self, allowed: Iterable[str]) -> None:
        if self._params:
            names = ", ".join(sorted(allowed))
            raise DestinationConfError(self._params[0][0], f"unknown parameter (allowed: {names})")


# RFC 9110 token characters.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# Set by the sender itself; a user value would corrupt the request framing.
_MANAGED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}
)


def check_header(name: str, value: str, parameter: str) -> None:
    if not _TOKEN.match(name):
        raise DestinationConfError(parameter, "header name must be a non-empty HTTP token")
    if name.lower() in _MANAGED_HEADERS:
        raise DestinationConfError(
            parameter, "header is set by the sender and cannot be overridden"
        )
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
        raise DestinationConfError(parameter, "header value must not contain control characters")


def parse_bool(value: str, parameter: str) -> bool:
    """Go's ``strconv.ParseBool`` spellings, since Cloudflare's backend is Go."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise DestinationConfError(parameter, f"must be true or false, got {shown(value)}")


# ---------------------------------------------------------------------------------------
# Redaction

# Headers whose values are never secret and help when reading a dashboard.
_PUBLIC_HEADERS = frozenset({"content-type", "accept", "accept-encoding", "user-agent"})
# Query parameter names that carry credentials: New Relic's ``Api-Key``, Azure SAS ``sig``,
# Azure Functions ``code``, generic ``token``/``secret``/``password``/``auth``.
_SECRET_PARAM = re.compile(
    r"(key|token|secret|passw|auth|sig|credential|session|code)", re.IGNORECASE
)
# Authorization schemes kept in front of a redacted credential ("Splunk REDACTED").
_AUTH_SCHEMES = frozenset({"basic", "bearer", "splunk", "token", "apikey", "digest", "dd-api-key"})


def is_secret_param(name: str) -> bool:
    return bool(_SECRET_PARAM.search(name))


def redact_header(name: str, value: str) -> str:
    if name.lower() in _PUBLIC_HEADERS:
        return value
    scheme, space, _credential = value.partition(" ")
    if space and scheme.lower() in _AUTH_SCHEMES:
        return f"{scheme} {REDACTED}"
    return REDACTED


def redact_params(params: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, REDACTED if is_secret_param(k) else v) for k, v in params]


def looks_like_token(segment: str) -> bool:
    """A path segment that is probably a credential (Slack-style webhook keys, Sumo
    collector codes): 16+ characters mixing letters and digits. A heuristic, documented
    in docs/destinations.md; header_* parameters are the supported place for secrets."""
    return (
        len(segment) >= 16
        and any(c.isdigit() for c in segment)
        and any(c.isalpha() for c in segment)
    )


def redact_path(path: str) -> str:
    return "/".join(REDACTED if looks_like_token(s) else s for s in path.split("/"))


# ---------------------------------------------------------------------------------------
# The common interface


class Destination(ABC):
    """A parsed, validated ``destination_conf``.

    Subclasses are frozen dataclasses, so two parses of equivalent strings compare equal,
    and ``parse(d.render()) == d`` for every valid value ``d``.
    """

    schemes: ClassVar[tuple[str, ...]]

    @classmethod
    @abstractmethod
    def from_split(cls, conf: SplitConf) -> Self:
        """Validate the split parts; raise ``DestinationConfError``."""

    @property
    @abstractmethod
    def kind(self) -> str:
        """Short destination type, as Cloudflare's health metrics' ``destinationType``."""

    @abstractmethod
    def render(self) -> str:
        """The canonical ``destination_conf`` string, secrets included."""

    @abstractmethod
    def redacted(self) -> str:
        """``render()`` with every secret replaced by ``REDACTED``, for logs and dashboards."""

    @property
    def requires_ownership_challenge(self) -> bool:
        """Whether job creation needs an ``ownership_challenge`` (§2.7)."""
        return False

    def ownership_challenge_filename(self) -> str | None:
        """Where the challenge file is written, as the ownership endpoint's ``filename``
        reports it; None for destinations that take no file."""
        return None

    def __str__(self) -> str:
        # str() and repr() are what end up in log lines, f-strings and tracebacks: never
        # the secrets. Subclasses are declared with ``repr=False`` so this one is used.
        return self.redacted()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.redacted()!r})"


def no_userinfo(conf: SplitConf) -> None:
    if conf.userinfo is not None:
        raise DestinationConfError(
            "host",
            "must not contain user information (user@); pass credentials as "
            "header_Authorization or the destination's key parameters",
        )


def no_port(conf: SplitConf, what: str) -> None:
    if conf.port is not None:
        raise DestinationConfError("port", f"a {what} takes no port")
