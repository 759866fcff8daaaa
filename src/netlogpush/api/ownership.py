"""The ownership challenge (reference spec §2.7): ``POST …/logpush/ownership`` writes a
challenge token into the destination, ``POST …/logpush/ownership/validate`` checks one, and
job creation requires one for destinations that need it (AWS S3 without access keys).

The token is a JWT, as Cloudflare's is, signed with HMAC-SHA256 by a per-server key
(``DATA_DIR/ownership.key``, mode 0600). Its claims bind it to the account, the destination
and a 7-day expiry, so checking it needs no read-back from the bucket: only whoever can read
the bucket learns the token. Unlike Cloudflare's, the claims carry a SHA-256 of the
``destination_conf`` rather than the string itself, because the file sits in the bucket and
the string may hold keys (R2, S3-compatible).

The network side (writing the file, the HTTPS test upload) is ``DestinationIO``, so the API
can be tested without receivers; ``NetworkDestinationIO`` is the real one and goes through
the delivery senders.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import ssl
import time
from pathlib import Path
from typing import Annotated, Any, Protocol

import orjson
from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from netlogpush.api.envelope import FAILURES, Envelope, invalid, ok
from netlogpush.api.jobs import AccountId, _auth
from netlogpush.api.schemas import Conf
from netlogpush.logpush.compress import gzip_bytes
from netlogpush.logpush.delivery import (
    BatchMeta,
    HttpTimeouts,
    LocalSender,
    ObjectSender,
    SendResult,
    make_sender,
)
from netlogpush.logpush.destinations import (
    Destination,
    DestinationConfError,
    LocalDestination,
    R2Destination,
    S3Destination,
    challenge_key,
    parse_destination_conf,
)

KEY_FILE = "ownership.key"
TTL_SECONDS = 7 * 24 * 3600  # "expiry of 7 days" (logpush-ownership-challenge.mdx)
#: A generous bound on a token's length; ours are about 300 characters.
MAX_TOKEN = 4096
#: What the HTTPS test upload carries (reference §3.2): ``test.txt.gz`` holding this.
TEST_CONTENT = b'{"content":"tests"}'


# ---- tokens ----------------------------------------------------------------------------------
# A hand-written HS256 JWT: PyJWT is not a dependency, and issuing and checking one fixed
# algorithm is 30 lines (the header is checked, so "alg": "none" and friends are refused).


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_HEADER = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"}))


def conf_digest(destination: Destination) -> str:
    """SHA-256 of the canonical ``destination_conf``: equivalent spellings match."""
    return hashlib.sha256(destination.render().encode("utf-8")).hexdigest()


def fingerprint(destination: Destination) -> str:
    """Cloudflare's "destination fingerprint": a hash of the bucket and path where the
    challenge file lives, which stays the same when keys are rotated."""
    where = destination.ownership_challenge_filename() or destination.redacted()
    return hashlib.sha256(f"{destination.kind}:{where}".encode()).hexdigest()[:32]


class ChallengeSigner:
    """Issues and checks ownership-challenge tokens with this server's key."""

    def __init__(self, data_dir: Path) -> None:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        self.key = _load_key(Path(data_dir) / KEY_FILE)

    def _sign(self, signing_input: str) -> str:
        return _b64(hmac.new(self.key, signing_input.encode("ascii"), hashlib.sha256).digest())

    def issue(self, account_id: str, destination: Destination, now: float | None = None) -> str:
        iat = int(time.time() if now is None else now)
        claims = {
            "typ": "account",
            "sub": account_id,
            "dst": conf_digest(destination),
            "fp": fingerprint(destination),
            "iat": iat,
            "exp": iat + TTL_SECONDS,
            "jti": secrets.token_hex(8),
        }
        body = f"{_HEADER}.{_b64(orjson.dumps(claims))}"
        return f"{body}.{self._sign(body)}"

    def check(
        self, token: str, account_id: str, destination: Destination, now: float | None = None
    ) -> str | None:
        """None when ``token`` is a valid challenge for this account and destination, else
        why not. Never raises: the token is outside input."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
            return "is empty or too long"
        parts = token.split(".")
        if len(parts) != 3:
            return "is not a challenge token"
        header, payload, signature = parts
        if header != _HEADER:
            return "is not a challenge token"
        if not hmac.compare_digest(
            signature.encode("ascii", "replace"), self._sign(f"{header}.{payload}").encode("ascii")
        ):
            return "was not issued by this server"
        try:
            claims = orjson.loads(_unb64(payload))
        except (binascii.Error, ValueError):
            return "is not a challenge token"
        if not isinstance(claims, dict):
            return "is not a challenge token"
        when = time.time() if now is None else now
        exp = claims.get("exp")
        if not isinstance(exp, int) or when >= exp:
            return "has expired (tokens are valid for 7 days); request a new one"
        if claims.get("typ") != "account" or claims.get("sub") != account_id:
            return "was issued for another account"
        if claims.get("fp") != fingerprint(destination):
            return "was issued for another destination"
        if claims.get("dst") != conf_digest(destination):
            return "was issued for a different destination_conf"
        return None


def _load_key(path: Path) -> bytes:
    """Read the signing key, creating it (32 random bytes, mode 0600) on first use. The key
    is written to a temporary file and hard-linked into place, so two processes starting
    together agree on one key and neither reads a half-written file."""
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won; use its key
        finally:
            tmp.unlink()
    key = path.read_bytes()
    if len(key) < 32:
        raise RuntimeError(f"{path} is shorter than 32 bytes; delete it to make a new key")
    return key


# ---- the network side ------------------------------------------------------------------------


class DestinationIO(Protocol):
    """What the API does to destinations; one attempt each, no retries (an API call should
    answer within seconds, and the caller can simply try again)."""

    def write_challenge(self, destination: Destination, token: str) -> SendResult:
        """Write ``token`` to ``destination.ownership_challenge_filename()``."""
        ...

    def test_upload(self, destination: Destination) -> SendResult:
        """POST the gzipped ``test.txt.gz`` (``TEST_CONTENT``) to an HTTP destination."""
        ...


class _ChallengeObjectSender(ObjectSender):
    """The S3/R2 sender, writing the challenge file instead of a batch object: same client,
    credentials, endpoint and error mapping as delivery, so a challenge that can be written
    proves that batches can be."""

    def key(self, meta: BatchMeta) -> str:
        return challenge_key(self.destination.path)


class _ChallengeLocalSender(LocalSender):
    def path(self, meta: BatchMeta) -> Path:
        return Path("/") / challenge_key(self.destination.template)


def _meta(raw: bytes, content_type: str) -> BatchMeta:
    now = time.time_ns()
    return BatchMeta("validate", raw, 1, 0, 0, now, now, now, content_type)


class NetworkDestinationIO:
    """The real ``DestinationIO``, through the delivery senders.

    S3 without keys uses the server's own AWS credentials (boto3's default chain), the
    counterpart of Cloudflare's IAM user. ``endpoint_url`` redirects S3/R2 API calls (a
    gateway, or a test server); ``verify`` is a CA bundle or context for private CAs.
    """

    def __init__(
        self,
        *,
        timeouts: HttpTimeouts | None = None,
        verify: str | ssl.SSLContext | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        # Cloudflare dials for 5 s (health code 1102); an API call must not hang for long.
        self.timeouts = timeouts or HttpTimeouts(connect=5.0, read=10.0, write=10.0, pool=5.0)
        self.verify = verify
        self.endpoint_url = endpoint_url

    def write_challenge(self, destination: Destination, token: str) -> SendResult:
        sender: ObjectSender | LocalSender
        if isinstance(destination, (S3Destination, R2Destination)):
            ca = self.verify if isinstance(self.verify, str) else None
            sender = _ChallengeObjectSender(
                destination, endpoint_url=self.endpoint_url, verify=ca,
                connect_timeout=self.timeouts.connect, read_timeout=self.timeouts.read,
            )  # fmt: skip
        elif isinstance(destination, LocalDestination):
            sender = _ChallengeLocalSender(destination)
        else:
            return SendResult(False, False, None, f"{destination.kind} destinations take no file")
        raw = token.encode("ascii")
        try:
            # The file is the plain-text token, as Cloudflare's (users read it with
            # `aws s3 cp`). The shared S3 sender labels every object application/gzip; we
            # accept that rather than fork its error mapping for one small file.
            return sender.send(raw, _meta(raw, "text/plain"))
        finally:
            sender.close()

    def test_upload(self, destination: Destination) -> SendResult:
        sender = make_sender(destination, timeouts=self.timeouts, verify=self.verify)
        try:
            return sender.send(gzip_bytes(TEST_CONTENT), _meta(TEST_CONTENT, "application/json"))
        finally:
            sender.close()


# ---- routes ----------------------------------------------------------------------------------


class OwnershipRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    destination_conf: Conf


class OwnershipValidateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    destination_conf: Conf
    ownership_challenge: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN)]


class OwnershipResult(BaseModel):
    filename: str
    message: str
    valid: bool


class ValidResult(BaseModel):
    valid: bool


def parse_or_400(conf: str) -> Destination:
    try:
        return parse_destination_conf(conf)
    except DestinationConfError as exc:
        raise invalid([("destination_conf", f"{exc.parameter}: {exc.rule}")]) from exc


def ownership_problem(
    signer: ChallengeSigner, account_id: str, destination: Destination, token: str | None
) -> str | None:
    """Why a job with ``destination`` cannot be created with ``token`` (None: it can)."""
    if not destination.requires_ownership_challenge:
        return None
    if not token:
        return (
            "ownership_challenge: is required for this destination (s3 without access keys); "
            "get one with POST /accounts/{account_id}/logpush/ownership"
        )
    reason = signer.check(token, account_id, destination)
    return None if reason is None else f"ownership_challenge: {reason}"


def build_router() -> APIRouter:
    router = APIRouter(
        prefix="/accounts/{account_id}/logpush",
        responses=FAILURES,
        dependencies=[Depends(_auth)],
    )

    @router.post(
        "/ownership",
        response_model=Envelope[OwnershipResult],
        summary="Get an ownership challenge (written to the destination)",
    )
    def ownership(
        request: Request, account_id: AccountId, body: Annotated[OwnershipRequest, Body()]
    ) -> dict[str, Any]:
        destination = parse_or_400(body.destination_conf)
        filename = destination.ownership_challenge_filename()
        if filename is None:
            message = f"{destination.kind} destinations take no ownership challenge"
            return ok({"filename": "", "message": message, "valid": False})
        api = request.app.state.api
        io: DestinationIO | None = api.destination_io
        if io is None:
            message = "this server does not contact destinations (no destination_io configured)"
            return ok({"filename": filename, "message": message, "valid": False})
        token = api.ownership.issue(account_id, destination)
        result = io.write_challenge(destination, token)
        if not result.ok:
            # Cloudflare answers 200 with valid=false when the write fails (cloudflare-go #500).
            message = f"error writing ownership challenge: {result.message}"
            return ok({"filename": filename, "message": message, "valid": False})
        return ok({"filename": filename, "message": "", "valid": True})

    @router.post(
        "/ownership/validate",
        response_model=Envelope[ValidResult],
        summary="Validate an ownership challenge",
    )
    def ownership_validate(
        request: Request,
        account_id: AccountId,
        body: Annotated[OwnershipValidateRequest, Body()],
    ) -> dict[str, Any]:
        destination = parse_or_400(body.destination_conf)
        signer: ChallengeSigner = request.app.state.api.ownership
        reason = signer.check(body.ownership_challenge, account_id, destination)
        return ok({"valid": reason is None})

    return router
