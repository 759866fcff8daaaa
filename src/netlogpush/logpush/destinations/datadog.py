"""Datadog: ``datadog://<DATADOG_ENDPOINT_URL>?header_DD-API-KEY=<KEY>&ddsource=cloudflare
&service=<SERVICE>&host=<HOST>&ddtags=<TAGS>`` (datadog.mdx).

The endpoint is ``http-intake.logs.datadoghq.com/v1/input`` or ``…/api/v2/logs`` (or the
same paths on another Datadog site, e.g. ``datadoghq.eu``). The API key header is required;
``ddsource``, ``service``, ``host`` and ``ddtags`` are optional Datadog query parameters and,
like any other non-header parameter, are kept on the intake URL. The host is not checked
against Datadog's domains so that a Datadog-compatible receiver (Vector's
``datadog_logs`` source) can be used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from netlogpush.logpush.destinations.conf import (
    Destination,
    DestinationConfError,
    Params,
    SplitConf,
    check_host,
    hostport,
    no_userinfo,
    redact_params,
    shown,
    with_query,
)
from netlogpush.logpush.destinations.https import Headers, header_params, redacted_header_params

V1_PATH = "/v1/input"
V2_PATH = "/api/v2/logs"
API_KEY_HEADER = "DD-API-KEY"


@dataclass(frozen=True, slots=True, repr=False)
class DatadogDestination(Destination):
    host: str
    headers: Headers  # always holds DD-API-KEY
    path: str = V1_PATH
    port: int | None = None
    params: tuple[tuple[str, str], ...] = ()

    schemes: ClassVar[tuple[str, ...]] = ("datadog",)

    @classmethod
    def from_split(cls, conf: SplitConf) -> Self:
        no_userinfo(conf)
        host = check_host(conf.host)
        if conf.path not in (V1_PATH, V2_PATH):
            raise DestinationConfError(
                "path", f"must be {V1_PATH} or {V2_PATH}, got {shown(conf.path or '/')}"
            )
        params = Params(conf.params)
        headers = params.take_headers()
        keys = [value for name, value in headers if name.lower() == API_KEY_HEADER.lower()]
        if not keys:
            raise DestinationConfError(f"header_{API_KEY_HEADER}", "parameter is required")
        if keys[0] == "":
            raise DestinationConfError(f"header_{API_KEY_HEADER}", "must not be empty")
        return cls(host, headers, conf.path, conf.port, params.rest())

    @property
    def kind(self) -> str:
        return "datadog"

    @property
    def verify_tls(self) -> bool:
        return True

    def param(self, name: str) -> str | None:
        """First value of a kept query parameter (``ddsource``, ``service``, ``host``…)."""
        return next((v for k, v in self.params if k == name), None)

    def request_url(self) -> str:
        return with_query(f"https://{hostport(self.host, self.port)}{self.path}", self.params)

    def render(self) -> str:
        return with_query(
            f"datadog://{hostport(self.host, self.port)}{self.path}",
            [*self.params, *header_params(self.headers)],
        )

    def redacted(self) -> str:
        return with_query(
            f"datadog://{hostport(self.host, self.port)}{self.path}",
            [*redact_params(self.params), *redacted_header_params(self.headers)],
        )
