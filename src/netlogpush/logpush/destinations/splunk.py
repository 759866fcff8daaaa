"""Splunk HTTP Event Collector: ``splunk://<host>:<port>/services/collector/raw?channel=<GUID>
&insecure-skip-verify=<bool>&sourcetype=<type>&header_Authorization=Splunk%20<token>``.

Format from Cloudflare's splunk.mdx. Cloudflare supports only the ``raw`` endpoint over
HTTPS and always sends a channel. netlogpush extensions, documented in
docs/destinations.md:

* ``/services/collector/event`` is accepted as well as ``/raw`` (the sender then wraps
  records in HEC event envelopes);
* ``ack=true`` makes the sender poll ``/services/collector/ack`` for indexer
  acknowledgement, which Cloudflare never does (its docs do not mention ack);
* ``source``, ``host`` and ``index`` are forwarded to HEC like ``sourcetype``.

What is POSTed: ``request_url()`` carries only the HEC metadata parameters; the
``header_*``, ``insecure-skip-verify`` and ``ack`` parameters are for the sender, not for
Splunk, so they are stripped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Literal, Self

from netlogpush.logpush.destinations.conf import (
    Destination,
    DestinationConfError,
    Params,
    SplitConf,
    check_host,
    hostport,
    no_userinfo,
    parse_bool,
    shown,
    with_query,
)
from netlogpush.logpush.destinations.https import Headers, header_params, redacted_header_params

RAW_PATH = "/services/collector/raw"
EVENT_PATH = "/services/collector/event"
ACK_PATH = "/services/collector/ack"
_ENDPOINTS: dict[str, Literal["raw", "event"]] = {RAW_PATH: "raw", EVENT_PATH: "event"}
# HEC rejects a malformed channel with "Invalid data channel" (code 11).
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\Z")
_METADATA = ("sourcetype", "source", "host", "index")
_ALLOWED = ("channel", "insecure-skip-verify", "ack", *_METADATA, "header_*")


@dataclass(frozen=True, slots=True, repr=False)
class SplunkDestination(Destination):
    host: str
    channel: str
    headers: Headers  # always holds Authorization
    port: int | None = None
    endpoint: Literal["raw", "event"] = "raw"
    insecure_skip_verify: bool = False
    sourcetype: str | None = None
    source: str | None = None
    index: str | None = None
    event_host: str | None = None  # the ``host`` query parameter: HEC's host metadata
    ack: bool = False

    schemes: ClassVar[tuple[str, ...]] = ("splunk",)

    @classmethod
    def from_split(cls, conf: SplitConf) -> Self:
        no_userinfo(conf)
        host = check_host(conf.host)
        endpoint = _ENDPOINTS.get(conf.path)
        if endpoint is None:
            raise DestinationConfError(
                "path",
                f"must be {RAW_PATH} (or {EVENT_PATH}, a netlogpush extension), "
                f"got {shown(conf.path or '/')}",
            )
        params = Params(conf.params)
        headers = params.take_headers()
        if not any(name.lower() == "authorization" for name, _ in headers):
            raise DestinationConfError(
                "header_Authorization",
                'parameter is required (the HEC token, URL-encoded: "Splunk%20<token>")',
            )
        if any(name.lower() == "authorization" and value.strip() == "" for name, value in headers):
            raise DestinationConfError("header_Authorization", "must not be empty")
        channel = params.take_required("channel")
        if not _GUID.match(channel):
            raise DestinationConfError("channel", f"must be a GUID, got {shown(channel)}")
        skip = params.take("insecure-skip-verify")
        ack = params.take("ack")
        meta = {name: params.take(name) for name in _METADATA}
        for name, value in meta.items():
            if value == "":
                raise DestinationConfError(name, "must not be empty when given")
        params.reject_rest(_ALLOWED)
        return cls(
            host=host,
            channel=channel,
            headers=headers,
            port=conf.port,
            endpoint=endpoint,
            insecure_skip_verify=False
            if skip is None
            else parse_bool(skip, "insecure-skip-verify"),
            sourcetype=meta["sourcetype"],
            source=meta["source"],
            index=meta["index"],
            event_host=meta["host"],
            ack=False if ack is None else parse_bool(ack, "ack"),
        )

    @property
    def kind(self) -> str:
        return "splunk"

    @property
    def verify_tls(self) -> bool:
        return not self.insecure_skip_verify

    @property
    def path(self) -> str:
        return RAW_PATH if self.endpoint == "raw" else EVENT_PATH

    def _metadata(self) -> list[tuple[str, str]]:
        pairs = [
            ("sourcetype", self.sourcetype),
            ("source", self.source),
            ("host", self.event_host),
            ("index", self.index),
        ]
        return [(k, v) for k, v in pairs if v is not None]

    def request_url(self) -> str:
        """``https://<host>[:port]/services/collector/raw?channel=…&sourcetype=…``."""
        base = f"https://{hostport(self.host, self.port)}{self.path}"
        return with_query(base, [("channel", self.channel), *self._metadata()])

    def ack_url(self) -> str:
        """Where indexer acknowledgements are polled (``ack=true`` only)."""
        base = f"https://{hostport(self.host, self.port)}{ACK_PATH}"
        return with_query(base, [("channel", self.channel)])

    def _render(self, headers: list[tuple[str, str]]) -> str:
        params = [
            ("channel", self.channel),
            ("insecure-skip-verify", "true" if self.insecure_skip_verify else "false"),
            *self._metadata(),
        ]
        if self.ack:
            params.append(("ack", "true"))
        return with_query(f"splunk://{hostport(self.host, self.port)}{self.path}", params + headers)

    def render(self) -> str:
        return self._render(header_params(self.headers))

    def redacted(self) -> str:
        return self._render(redacted_header_params(self.headers))
