"""Local directory, for air-gapped installations: ``file:///var/log/netlogpush/{DATE}``.

A netlogpush extension (Cloudflare has no such destination). Batches are written as the
same gzip objects, with the same names, as on S3 or R2, so tools reading a bucket can read
the directory. The path must be absolute; the host must be empty or ``localhost``
(RFC 8089). No parameters, no ownership challenge: whoever can configure a job on this
machine already chooses where it writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import ClassVar, Self

from netlogpush.logpush.destinations.conf import (
    Destination,
    DestinationConfError,
    Params,
    SplitConf,
    encode_path,
    no_port,
    no_userinfo,
)
from netlogpush.logpush.destinations.paths import challenge_key, check_path_template


@dataclass(frozen=True, slots=True, repr=False)
class LocalDestination(Destination):
    path: str  # canonical: absolute, no trailing slash except for "/"; may hold {DATE}

    schemes: ClassVar[tuple[str, ...]] = ("file",)

    @classmethod
    def from_split(cls, conf: SplitConf) -> Self:
        no_userinfo(conf)
        no_port(conf, "local directory")
        if conf.host not in ("", "localhost"):
            raise DestinationConfError(
                "host", "must be empty or localhost (file:///<absolute path>)"
            )
        if not conf.path.startswith("/"):
            raise DestinationConfError(
                "path", "must be an absolute directory, e.g. file:///var/log/netlogpush"
            )
        Params(conf.params).reject_rest(())
        return cls("/" + check_path_template(conf.path))

    @property
    def kind(self) -> str:
        return "file"

    @property
    def template(self) -> str:
        """The path relative to ``/``, as ``paths.object_key`` takes it."""
        return self.path.lstrip("/")

    def directory(self) -> PurePosixPath:
        return PurePosixPath(self.path)

    def ownership_challenge_filename(self) -> str:
        return "/" + challenge_key(self.template)

    def render(self) -> str:
        return f"file://{encode_path(self.path)}"

    def redacted(self) -> str:
        return self.render()
