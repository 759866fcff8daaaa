"""netlogpush's live stream, in the spirit of Cloudflare Instant Logs:
``wss://<netlogpush host>[:port]/instant-logs/ws/sessions/<SESSION_ID>``.

Cloudflare hands out ``wss://logs.cloudflare.com/instant-logs/ws/sessions/<id>`` as the
``destination_conf`` of an Instant Logs job (instant-logs.mdx; OAS ``session_id``, 32 hex),
and clients connect to it to read line-delimited JSON. netlogpush uses the same path on its
own server, so the conf names a session there, not a remote target: nothing is pushed
anywhere, the server keeps the session's records for whoever connects. ``ws://`` (no TLS)
is accepted for a server on a trusted network. The session id is the only credential a
reader needs, so ``redacted()`` hides it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Literal, Self

from netlogpush.logpush.destinations.conf import (
    REDACTED,
    Destination,
    DestinationConfError,
    Params,
    SplitConf,
    check_host,
    hostport,
    no_userinfo,
)

SESSION_PATH_PREFIX = "/instant-logs/ws/sessions/"
_SESSION_ID = re.compile(r"[0-9a-f]{32}\Z")


@dataclass(frozen=True, slots=True, repr=False)
class WebSocketDestination(Destination):
    host: str
    session_id: str
    port: int | None = None
    scheme: Literal["wss", "ws"] = "wss"

    schemes: ClassVar[tuple[str, ...]] = ("wss", "ws")

    @classmethod
    def from_split(cls, conf: SplitConf) -> Self:
        no_userinfo(conf)
        host = check_host(conf.host)
        if not conf.path.startswith(SESSION_PATH_PREFIX):
            raise DestinationConfError("path", f"must be {SESSION_PATH_PREFIX}<SESSION_ID>")
        if not _SESSION_ID.match(conf.path[len(SESSION_PATH_PREFIX) :]):
            # The id itself is not echoed: it is the session's credential.
            raise DestinationConfError("session_id", "must be 32 lower-case hex characters")
        Params(conf.params).reject_rest(())
        scheme: Literal["wss", "ws"] = "ws" if conf.scheme == "ws" else "wss"
        return cls(host, conf.path[len(SESSION_PATH_PREFIX) :], conf.port, scheme)

    @property
    def kind(self) -> str:
        return "websocket"

    @property
    def path(self) -> str:
        return SESSION_PATH_PREFIX + self.session_id

    def render(self) -> str:
        return f"{self.scheme}://{hostport(self.host, self.port)}{self.path}"

    def redacted(self) -> str:
        return f"{self.scheme}://{hostport(self.host, self.port)}{SESSION_PATH_PREFIX}{REDACTED}"
