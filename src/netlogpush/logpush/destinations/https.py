"""Generic HTTP destination: ``https://<host>[:port]/<path>?<own params>&header_<Name>=<v>``.

From Cloudflare's http.mdx: ``header_*`` parameters become request headers and must be
URL-encoded (``%20`` for a space); any other parameter stays on the URL the batches are
POSTed to; the endpoint must be HTTPS. netlogpush also accepts ``http://`` when the host is
a loopback address, so a sidecar receiver on the same machine needs no certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Self

from netlogpush.logpush.destinations.conf import (
    HEADER_PREFIX,
    Destination,
    DestinationConfError,
    Params,
    SplitConf,
    check_host,
    encode_path,
    hostport,
    is_loopback,
    no_userinfo,
    redact_header,
    redact_params,
    redact_path,
    with_query,
)

Headers = tuple[tuple[str, str], ...]


def header_params(headers: Headers) -> list[tuple[str, str]]:
    return [(HEADER_PREFIX + name, value) for name, value in headers]


def redacted_header_params(headers: Headers) -> list[tuple[str, str]]:
    return [(HEADER_PREFIX + name, redact_header(name, value)) for name, value in headers]


@dataclass(frozen=True, slots=True, repr=False)
class HttpsDestination(Destination):
    """Batches are POSTed, gzip-compressed, to ``request_url()`` with ``headers``."""

    host: str
    port: int | None = None
    path: str = ""
    params: tuple[tuple[str, str], ...] = ()
    headers: Headers = ()
    scheme: Literal["https", "http"] = "https"

    schemes: ClassVar[tuple[str, ...]] = ("https", "http")

    @classmethod
    def from_split(cls, conf: SplitConf) -> Self:
        no_userinfo(conf)
        host = check_host(conf.host)
        if conf.scheme == "http" and not is_loopback(host):
            raise DestinationConfError(
                "scheme", "http is only accepted for loopback hosts; the endpoint must use https"
            )
        params = Params(conf.params)
        headers = params.take_headers()
        scheme: Literal["https", "http"] = "http" if conf.scheme == "http" else "https"
        return cls(host, conf.port, conf.path, params.rest(), headers, scheme)

    @property
    def kind(self) -> str:
        return "http"

    @property
    def verify_tls(self) -> bool:
        return True

    def base_url(self) -> str:
        return f"{self.scheme}://{hostport(self.host, self.port)}{encode_path(self.path)}"

    def request_url(self) -> str:
        """Where batches go: the URL without the ``header_*`` parameters."""
        return with_query(self.base_url(), self.params)

    def render(self) -> str:
        return with_query(self.base_url(), [*self.params, *header_params(self.headers)])

    def redacted(self) -> str:
        base = (
            f"{self.scheme}://{hostport(self.host, self.port)}{encode_path(redact_path(self.path))}"
        )
        return with_query(
            base, [*redact_params(self.params), *redacted_header_params(self.headers)]
        )
