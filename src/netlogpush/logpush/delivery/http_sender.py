"""HTTP destinations over httpx: generic HTTPS, Splunk HEC (raw and event), Datadog.

One ``httpx.Client`` per job: connections are reused between batches (keep-alive), and a
job never shares a connection pool with another, so a hanging receiver only ever holds
its own job's connections (issue 4, "Isolation").

Bodies are sent gzip-compressed with ``Content-Encoding: gzip`` (reference §4), which
Splunk HEC, Datadog's intake and common HTTP receivers accept.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass

import httpx
import orjson

from netlogpush.logpush.compress import gzip_bytes
from netlogpush.logpush.delivery.sender import (
    BatchMeta,
    SendResult,
    classify_status,
    parse_retry_after,
)
from netlogpush.logpush.destinations import (
    DatadogDestination,
    HttpsDestination,
    SplunkDestination,
)

USER_AGENT = "netlogpush-logpush/1"


@dataclass(frozen=True, slots=True)
class HttpTimeouts:
    connect: float = 10.0
    read: float = 30.0  # also bounds a receiver that accepts the body and never answers
    write: float = 30.0  # bounds a receiver that reads too slowly
    pool: float = 10.0

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write,
                             pool=self.pool)


def _failure(exc: Exception) -> SendResult:
    # Every transport problem (refused, reset, TLS, timeouts) may be transient: retry.
    kind = type(exc).__name__
    return SendResult(False, True, None, f"{kind}: {exc}" if str(exc) else kind)


def _answer(resp: httpx.Response, location: str) -> SendResult:
    ok, retryable = classify_status(resp.status_code)
    message = "" if ok else f"HTTP {resp.status_code}: {resp.text[:300]}"
    return SendResult(ok, retryable, resp.status_code, message,
                      parse_retry_after(resp.headers.get("retry-after")), location)


class HttpSender:
    """POSTs each batch to an HTTPS, Splunk HEC or Datadog destination.

    ``verify`` overrides certificate verification: a CA bundle path or an ``SSLContext``
    for receivers with a private CA (the destination's ``verify_tls`` still decides whether
    to verify at all: Splunk's ``insecure-skip-verify``).
    """

    def __init__(
        self,
        destination: HttpsDestination | SplunkDestination | DatadogDestination,
        *,
        timeouts: HttpTimeouts | None = None,
        verify: str | ssl.SSLContext | None = None,
        ack_timeout: float = 60.0,
        ack_poll_interval: float = 0.5,
    ) -> None:
        self.destination = destination
        self.ack_timeout = ack_timeout
        self.ack_poll_interval = ack_poll_interval
        tls: bool | ssl.SSLContext = True
        if isinstance(verify, str):
            tls = ssl.create_default_context(cafile=verify)
        elif verify is not None:
            tls = verify
        if not destination.verify_tls:
            tls = False
        self._client = httpx.Client(
            timeout=(timeouts or HttpTimeouts()).httpx(),
            verify=tls,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._client.close()

    def _headers(self, meta: BatchMeta) -> dict[str, str]:
        headers = {"Content-Encoding": "gzip", "Content-Type": meta.content_type}
        for name, value in self.destination.headers:
            headers[name] = value
        return headers

    def send(self, body: bytes, meta: BatchMeta) -> SendResult:
        d = self.destination
        url = d.request_url()
        if isinstance(d, SplunkDestination):
            return self._send_splunk(d, body, meta, url)
        try:
            resp = self._client.post(url, content=body, headers=self._headers(meta))
        except httpx.HTTPError as exc:
            return _failure(exc)
        return _answer(resp, url)

    # ---- Splunk HEC ------------------------------------------------------------------------

    def _send_splunk(
        self, d: SplunkDestination, body: bytes, meta: BatchMeta, url: str
    ) -> SendResult:
        headers = self._headers(meta)
        headers["Content-Type"] = "application/json" if d.endpoint == "event" else "text/plain"
        # HEC reads the channel from the header or the query string; send both so proxies
        # that drop query strings still route the batch.
        headers["X-Splunk-Request-Channel"] = d.channel
        if d.endpoint == "event":
            body = gzip_bytes(hec_events(meta.raw, d))
        try:
            resp = self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return _failure(exc)
        result = _answer(resp, url)
        if not result.ok or not d.ack:
            return result
        try:
            ack_id = int(orjson.loads(resp.content)["ackId"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return SendResult(False, True, resp.status_code,
                              "HEC answered without an ackId although ack=true", location=url)
        return self._await_ack(d, ack_id, url)

    def _await_ack(self, d: SplunkDestination, ack_id: int, url: str) -> SendResult:
        """Poll ``/services/collector/ack`` until the indexer confirms ``ack_id``.

        Unconfirmed within ``ack_timeout`` is a retryable failure: Splunk's guidance is to
        resend data whose ack never came (at-least-once).
        """
        deadline = time.monotonic() + self.ack_timeout
        headers = self._headers_for_ack(d)
        while True:
            try:
                resp = self._client.post(d.ack_url(), content=orjson.dumps({"acks": [ack_id]}),
                                         headers=headers)
            except httpx.HTTPError as exc:
                return _failure(exc)
            if resp.status_code != 200:
                return _answer(resp, url) if resp.status_code >= 300 else SendResult(
                    False, True, resp.status_code, "unexpected ack answer", location=url)
            try:
                acked = bool(orjson.loads(resp.content)["acks"].get(str(ack_id)))
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                return SendResult(False, True, 200, "malformed HEC ack answer", location=url)
            if acked:
                return SendResult(True, False, 200, "", location=url)
            if time.monotonic() >= deadline:
                return SendResult(False, True, 200,
                                  f"HEC ack {ack_id} not confirmed within {self.ack_timeout}s",
                                  location=url)
            time.sleep(self.ack_poll_interval)

    def _headers_for_ack(self, d: SplunkDestination) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "X-Splunk-Request-Channel": d.channel}
        for name, value in d.headers:
            headers[name] = value
        return headers


def hec_events(raw: bytes, d: SplunkDestination) -> bytes:
    """Newline-delimited records re-framed as HEC event objects (``/services/collector/event``).

    A record that is a JSON object is embedded as an object (Splunk indexes its fields), any
    other line as a string. Metadata goes into each event as well as on the URL, because
    the event endpoint reads it from the body.
    """
    meta: dict[str, str] = {}
    for key, value in (("sourcetype", d.sourcetype), ("source", d.source),
                       ("host", d.event_host), ("index", d.index)):
        if value is not None:
            meta[key] = value
    tail = orjson.dumps(meta)[1:-1]
    out = []
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        event = line if line[:1] == b"{" and _is_json(line) else orjson.dumps(line.decode(
            "utf-8", "replace"))
        out.append(b'{"event":' + event + (b"," + tail if tail else b"") + b"}")
    return b"\n".join(out)


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True
