"""S3, S3-compatible and R2 destinations over boto3: one ``PutObject`` per batch.

Object keys come from ``destinations.paths.object_key`` (``{DATE}`` from the first record,
a name from the batch window and a hash of the payload), so a retried batch overwrites
its own object rather than duplicating it. botocore's own retries are switched off
(``total_max_attempts=1``): retry.py decides, with the job's window and backoff, so that
a failing store is retried the same way as every other destination.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from netlogpush.logpush.delivery.sender import BatchMeta, SendResult, classify_status
from netlogpush.logpush.destinations import R2Destination, S3Destination, object_key


class ObjectSender:
    """Writes each batch as ``<path>/<name>.log.gz`` into the destination bucket.

    ``endpoint_url`` overrides where the API is reached (an R2 or S3 gateway behind a
    proxy, or a local test server); the bucket, keys and path still come from the conf.
    """

    def __init__(
        self,
        destination: S3Destination | R2Destination,
        *,
        endpoint_url: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        verify: str | bool | None = None,
    ) -> None:
        self.destination = destination
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
            # Path-style works with every S3-compatible store (MinIO, Ceph, SeaweedFS) and
            # with bucket names containing dots; AWS and R2 still accept it.
            s3={"addressing_style": "path"},
            user_agent_extra="netlogpush-logpush/1",
        )
        kwargs: dict[str, Any] = {
            "region_name": destination.region,
            "endpoint_url": endpoint_url or destination.endpoint_url(),
            "config": config,
        }
        if destination.access_key_id is not None:
            kwargs["aws_access_key_id"] = destination.access_key_id
            kwargs["aws_secret_access_key"] = destination.secret_access_key
        if verify is not None:
            kwargs["verify"] = verify
        # A session per sender: boto3's default session is shared global state.
        self._client = boto3.session.Session().client("s3", **kwargs)

    def close(self) -> None:
        self._client.close()

    def key(self, meta: BatchMeta) -> str:
        return object_key(
            self.destination.path, meta.first_record_ns, meta.start_ns, meta.end_ns, meta.raw
        )

    def send(self, body: bytes, meta: BatchMeta) -> SendResult:
        d = self.destination
        key = self.key(meta)
        extra: dict[str, Any] = {}
        if isinstance(d, S3Destination) and d.sse is not None:
            extra["ServerSideEncryption"] = d.sse
        try:
            self._client.put_object(
                Bucket=d.bucket,
                Key=key,
                Body=body,
                ContentType="application/gzip",
                **extra,
            )
        except ClientError as exc:
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            code = exc.response.get("Error", {}).get("Code", "")
            _, retryable = classify_status(status) if status else (False, True)
            if code in ("SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"):
                retryable = True
            return SendResult(False, retryable, status or None, f"S3 {code}: {exc}",
                              location=f"{d.bucket}/{key}")
        except BotoCoreError as exc:  # connection refused or reset, timeouts, TLS
            return SendResult(False, True, None, f"{type(exc).__name__}: {exc}",
                              location=f"{d.bucket}/{key}")
        return SendResult(True, False, 200, "", location=f"{d.bucket}/{key}")
