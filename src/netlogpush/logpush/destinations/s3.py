"""Amazon S3 and S3-compatible storage.

* AWS (aws-s3.mdx, api-configuration.mdx): ``s3://<bucket>/[dir]?region=<REGION>[&sse=AES256]``.
  Access is granted to Cloudflare's IAM user, so an ownership challenge is required,
  "or use access key/secret key" (logpush-ownership-challenge.mdx).
* S3-compatible (s3-compatible-endpoints.mdx): ``s3://<BUCKET>/<PATH>?region=<REGION>
  &access-key-id=<ID>&secret-access-key=<SECRET>&endpoint=<ENDPOINT_URL>``, where the endpoint
  is "the URL without the bucket name or path", e.g. ``sfo2.digitaloceanspaces.com``. No
  ownership challenge.

Rules from the same pages: China regions (``cn-north-1``, ``cn-northwest-1``) are not
supported; AWS GovCloud must use the S3-compatible form. netlogpush extension: the endpoint
may be written ``http://host[:port]`` for an on-premises gateway (MinIO, Ceph RGW) without
TLS; a bare host or ``https://`` means HTTPS.
"""

from __future__ import annotations

import ipaddress
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
    encode_path,
    hostport,
    no_port,
    no_userinfo,
    shown,
    split_conf,
    with_query,
)
from netlogpush.logpush.destinations.paths import challenge_key, check_path_template

_ALLOWED = ("region", "sse", "access-key-id", "secret-access-key", "endpoint")
_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}\Z")
_UNSUPPORTED_REGIONS = frozenset({"cn-north-1", "cn-northwest-1"})
# AWS bucket naming rules (3-63 characters, lower case, digits, dots, hyphens).
_AWS_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]\Z")
# S3-compatible stores are laxer (Ceph allows upper case and underscores).
_COMPAT_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{1,61}[A-Za-z0-9]\Z")


def check_bucket(bucket: str, pattern: re.Pattern[str], rule: str) -> str:
    if bucket == "":
        raise DestinationConfError("bucket", "is required")
    if not pattern.match(bucket) or ".." in bucket:
        raise DestinationConfError("bucket", f"{shown(bucket)} is not a valid bucket name ({rule})")
    try:
        ipaddress.IPv4Address(bucket)
    except ValueError:
        return bucket
    raise DestinationConfError("bucket", f"{shown(bucket)} must not be formatted as an IP address")


def check_key_pair(access_key_id: str | None, secret: str | None) -> None:
    if (access_key_id is None) != (secret is None):
        missing = "secret-access-key" if secret is None else "access-key-id"
        raise DestinationConfError(
            missing, "parameter is required when the other access key parameter is given"
        )
    if access_key_id == "":
        raise DestinationConfError("access-key-id", "must not be empty")
    if secret == "":
        raise DestinationConfError("secret-access-key", "must not be empty")


def parse_endpoint(text: str) -> tuple[Literal["https", "http"], str, int | None]:
    scheme: Literal["https", "http"] = "https"
    lowered = text.lower()
    if lowered.startswith("http://"):
        scheme = "http"
    elif not lowered.startswith("https://"):
        text = "https://" + text
    try:
        parts = split_conf(text)
    except DestinationConfError as exc:
        raise DestinationConfError("endpoint", exc.rule) from None
    if parts.userinfo is not None or parts.path not in ("", "/") or parts.params:
        raise DestinationConfError(
            "endpoint",
            "must be a host name without bucket, path or query, e.g. sfo2.digitaloceanspaces.com",
        )
    return scheme, check_host(parts.host, "endpoint"), parts.port


@dataclass(frozen=True, slots=True, repr=False)
class S3Destination(Destination):
    bucket: str
    region: str
    path: str = ""  # canonical: no leading or trailing slash; may hold {DATE}
    sse: Literal["AES256"] | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    endpoint: str | None = None  # host, lower case; None for AWS itself
    endpoint_port: int | None = None
    endpoint_scheme: Literal["https", "http"] = "https"

    schemes: ClassVar[tuple[str, ...]] = ("s3",)

    @classmethod
    def from_split(cls, conf: SplitConf) -> Self:
        no_userinfo(conf)
        no_port(conf, "bucket")
        params = Params(conf.params)
        region = params.take_required("region")
        if not _REGION.match(region):
            raise DestinationConfError("region", f"{shown(region)} is not a valid region name")
        sse = params.take("sse")
        if sse is not None and sse != "AES256":
            raise DestinationConfError(
                "sse", f"the only supported value is AES256, got {shown(sse)}"
            )
        key_id = params.take("access-key-id")
        secret = params.take("secret-access-key")
        check_key_pair(key_id, secret)
        endpoint_text = params.take("endpoint")
        params.reject_rest(_ALLOWED)
        if endpoint_text is None:
            bucket = check_bucket(conf.host, _AWS_BUCKET, "AWS rules: 3-63 of a-z 0-9 . -")
            if region in _UNSUPPORTED_REGIONS:
                raise DestinationConfError("region", f"buckets in {region} are not supported")
            if region.startswith("us-gov-"):
                raise DestinationConfError(
                    "region", "AWS GovCloud buckets must use the S3-compatible form with endpoint="
                )
            endpoint: str | None = None
            port: int | None = None
            scheme: Literal["https", "http"] = "https"
        else:
            if key_id is None:
                raise DestinationConfError(
                    "access-key-id", "parameter is required with endpoint= (S3-compatible storage)"
                )
            bucket = check_bucket(conf.host, _COMPAT_BUCKET, "3-63 of A-Z a-z 0-9 . _ -")
            scheme, endpoint, port = parse_endpoint(endpoint_text)
        return cls(
            bucket=bucket,
            region=region,
            path=check_path_template(conf.path),
            sse="AES256" if sse is not None else None,
            access_key_id=key_id,
            secret_access_key=secret,
            endpoint=endpoint,
            endpoint_port=port,
            endpoint_scheme=scheme,
        )

    @property
    def kind(self) -> str:
        return "s3"

    @property
    def requires_ownership_challenge(self) -> bool:
        # AWS with Cloudflare's IAM user: yes; with access keys or S3-compatible: no.
        return self.endpoint is None and self.access_key_id is None

    def ownership_challenge_filename(self) -> str:
        return f"{self.bucket}/{challenge_key(self.path)}"

    def endpoint_url(self) -> str:
        """The S3 API base URL (path-style addressing is up to the client)."""
        if self.endpoint is None:
            return f"https://s3.{self.region}.amazonaws.com"
        return f"{self.endpoint_scheme}://{hostport(self.endpoint, self.endpoint_port)}"

    def _render(self, secret: str | None) -> str:
        params: list[tuple[str, str]] = [("region", self.region)]
        if self.sse is not None:
            params.append(("sse", self.sse))
        if self.access_key_id is not None and secret is not None:
            params += [("access-key-id", self.access_key_id), ("secret-access-key", secret)]
        if self.endpoint is not None:
            host = hostport(self.endpoint, self.endpoint_port)
            params.append(
                ("endpoint", f"http://{host}" if self.endpoint_scheme == "http" else host)
            )
        path = f"/{encode_path(self.path)}" if self.path else ""
        return with_query(f"s3://{self.bucket}{path}", params)

    def render(self) -> str:
        return self._render(self.secret_access_key)

    def redacted(self) -> str:
        return self._render(None if self.secret_access_key is None else REDACTED)
