"""Cloudflare R2: ``r2://<BUCKET_PATH>/{DATE}?account-id=<ACCOUNT_ID>
&access-key-id=<R2_ACCESS_KEY_ID>&secret-access-key=<R2_SECRET_ACCESS_KEY>`` (r2.mdx).

All three parameters are required; R2 takes access keys, so there is no ownership
challenge. The S3 API endpoint is ``https://<ACCOUNT_ID>.r2.cloudflarestorage.com`` and the
region ``auto``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Self

from netlogpush.logpush.destinations.conf import (
    REDACTED,
    Destination,
    DestinationConfError,
    Params,
    SplitConf,
    encode_path,
    no_port,
    no_userinfo,
    shown,
    with_query,
)
from netlogpush.logpush.destinations.paths import challenge_key, check_path_template
from netlogpush.logpush.destinations.s3 import check_bucket, check_key_pair

_ALLOWED = ("account-id", "access-key-id", "secret-access-key")
# Cloudflare account IDs are 32 hex characters (OAS ``maxLength 32``).
_ACCOUNT_ID = re.compile(r"[0-9a-f]{32}\Z")
# R2 bucket names: 3-63 of lower case letters, digits and hyphens.
_R2_BUCKET = re.compile(r"[a-z0-9][a-z0-9\-]{1,61}[a-z0-9]\Z")


@dataclass(frozen=True, slots=True, repr=False)
class R2Destination(Destination):
    bucket: str
    account_id: str
    access_key_id: str
    secret_access_key: str
    path: str = ""

    schemes: ClassVar[tuple[str, ...]] = ("r2",)

    @classmethod
    def from_split(cls, conf: SplitConf) -> Self:
        no_userinfo(conf)
        no_port(conf, "bucket")
        bucket = check_bucket(conf.host, _R2_BUCKET, "3-63 of a-z 0-9 -")
        params = Params(conf.params)
        account_id = params.take_required("account-id")
        if not _ACCOUNT_ID.match(account_id):
            raise DestinationConfError(
                "account-id", f"must be 32 lower-case hex characters, got {shown(account_id)}"
            )
        key_id = params.take_required("access-key-id")
        secret = params.take_required("secret-access-key")
        check_key_pair(key_id, secret)
        params.reject_rest(_ALLOWED)
        return cls(bucket, account_id, key_id, secret, check_path_template(conf.path))

    @property
    def kind(self) -> str:
        return "r2"

    @property
    def region(self) -> str:
        return "auto"

    def endpoint_url(self) -> str:
        return f"https://{self.account_id}.r2.cloudflarestorage.com"

    def ownership_challenge_filename(self) -> str:
        return f"{self.bucket}/{challenge_key(self.path)}"

    def _render(self, secret: str) -> str:
        path = f"/{encode_path(self.path)}" if self.path else ""
        return with_query(
            f"r2://{self.bucket}{path}",
            [
                ("account-id", self.account_id),
                ("access-key-id", self.access_key_id),
                ("secret-access-key", secret),
            ],
        )

    def render(self) -> str:
        return self._render(self.secret_access_key)

    def redacted(self) -> str:
        return self._render(REDACTED)
