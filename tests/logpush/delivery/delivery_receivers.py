"""Real receivers on loopback for the delivery tests, with fault injection.

* ``Receiver``: an HTTP(S) server (stdlib ``ThreadingHTTPServer``, TLS with a self-signed
  certificate made here with ``cryptography``) that plays a script of answers: ``ok``, a
  status code, ``reset`` (TCP RST after reading the request), ``hang`` (read the request,
  never answer), ``slow`` (read the body a little at a time, then answer 200).
* ``HecReceiver``: the same server speaking Splunk HEC: ``/services/collector/raw`` and
  ``/event`` with token and channel checks, the documented JSON answers
  (``{"text":"Success","code":0}``, 400/401/403, 503 "Server is busy"), and indexer
  acknowledgements on ``/services/collector/ack``.
* ``moto_s3``: moto's S3 server (``moto_server``) on a free loopback port.

Every batch a receiver accepts is kept un-gzipped in ``received`` so tests can check
record by record what arrived.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest

from netlogpush.dataset.records import make_table
from netlogpush.testing.net import free_port
from netlogpush.tls import Cert, self_signed

HEC_TOKEN = "11111111-2222-3333-4444-555555555555"
CHANNEL = "0E4E4C9B-5B8F-4B3A-9E1B-2F8E3C6D7A10"


# ---- certificates ------------------------------------------------------------------------


def make_cert(directory: Path) -> Cert:
    return self_signed(directory, days=1, name="netlogpush-test")


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    return make_cert(tmp_path_factory.mktemp("tls"))


# ---- the HTTP(S) receiver ------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes  # un-gzipped when Content-Encoding: gzip


@dataclass
class Receiver:
    """A loopback HTTP(S) server playing ``script`` (then ``default``) for each POST."""

    tls: Cert | None = None
    default: Any = "ok"
    hang_seconds: float = 5.0
    script: deque[Any] = field(default_factory=deque)
    received: list[Request] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def next_action(self) -> Any:
        with self.lock:
            self.attempts += 1
            return self.script.popleft() if self.script else self.default

    def accept(self, req: Request) -> None:
        with self.lock:
            self.received.append(req)

    def handle_post(self, h: Handler, req: Request) -> None:
        h.answer(200, b'{"ok":true}')
        self.accept(req)

    def start(self) -> Receiver:
        receiver = self

        class _H(Handler):
            owner = receiver

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _H)
        server.daemon_threads = True
        if self.tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.tls.cert, self.tls.key)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self.server = server
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def records(self, key: str = "TCPSequenceNumber") -> list[int]:
        """The record ids in every accepted NDJSON batch, in arrival order."""
        with self.lock:
            bodies = [r.body for r in self.received]
        return [int(orjson.loads(line)[key]) for b in bodies for line in b.splitlines() if line]


class Handler(http.server.BaseHTTPRequestHandler):
    owner: Receiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self, slow: bool = False) -> bytes:
        length = int(self.headers.get("Content-Length", "0"))
        if not slow:
            return self.rfile.read(length)
        chunks = []
        while length > 0:
            chunk = self.rfile.read(min(2048, length))
            if not chunk:
                break
            chunks.append(chunk)
            length -= len(chunk)
            time.sleep(0.002)
        return b"".join(chunks)

    def parsed(self, raw: bytes) -> Request:
        url = urllib.parse.urlsplit(self.path)
        body = raw
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(raw)
        return Request(
            "POST",
            url.path,
            urllib.parse.parse_qs(url.query),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )

    def do_POST(self) -> None:
        action = self.owner.next_action()
        raw = self.read_body(slow=action == "slow")
        if action == "reset":
            # SO_LINGER 0: close() sends RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if action == "hang":
            self.owner.stopping.wait(self.owner.hang_seconds)
            self.close_connection = True
            return
        if isinstance(action, tuple):
            status, body, *rest = action
            self.answer(status, body, rest[0] if rest else None)
            return
        self.owner.handle_post(self, self.parsed(raw))

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the connection was reset on purpose
            super().finish()


@pytest.fixture
def https_receiver(tls_cert: Cert) -> Iterator[Receiver]:
    r = Receiver(tls=tls_cert).start()
    yield r
    r.stop()


# ---- Splunk HEC ----------------------------------------------------------------------------


@dataclass
class HecReceiver(Receiver):
    """HEC semantics from Splunk's "HTTP Event Collector REST API" and "Troubleshoot HTTP
    Event Collector" docs: codes 0 Success, 2 Token is required, 4 Invalid token,
    5 No data, 6 Invalid data format, 9 Server is busy, 10 Data channel is missing,
    11 Invalid data channel."""

    ack: bool = False
    acks_after_polls: int = 2  # an ack is confirmed on this poll
    next_ack: int = 0
    polls: dict[int, int] = field(default_factory=dict)

    def handle_post(self, h: Handler, req: Request) -> None:
        auth = req.headers.get("authorization")
        if auth is None:
            h.answer(401, b'{"text":"Token is required","code":2}')
            return
        if auth != f"Splunk {HEC_TOKEN}":
            h.answer(403, b'{"text":"Invalid token","code":4}')
            return
        channel = req.headers.get("x-splunk-request-channel") or next(
            iter(req.query.get("channel", [])), None
        )
        if req.path == "/services/collector/ack":
            ids = orjson.loads(req.body)["acks"]
            out = {}
            with self.lock:
                for i in ids:
                    self.polls[i] = self.polls.get(i, 0) + 1
                    out[str(i)] = self.polls[i] >= self.acks_after_polls
            h.answer(200, orjson.dumps({"acks": out}))
            return
        if req.path not in ("/services/collector/raw", "/services/collector/event"):
            h.answer(404, b'{"text":"The requested URL was not found on this server.","code":404}')
            return
        if channel is None:
            h.answer(400, b'{"text":"Data channel is missing","code":10}')
            return
        if not req.body:
            h.answer(400, b'{"text":"No data","code":5}')
            return
        if req.path.endswith("/event"):
            try:
                for line in req.body.splitlines():
                    if "event" not in orjson.loads(line):
                        raise ValueError
            except ValueError:
                h.answer(400, b'{"text":"Invalid data format","code":6}')
                return
        answer: dict[str, Any] = {"text": "Success", "code": 0}
        if self.ack:
            with self.lock:
                answer["ackId"] = self.next_ack
                self.next_ack += 1
        h.answer(200, orjson.dumps(answer))
        self.accept(req)

    def event_records(self, key: str = "TCPSequenceNumber") -> list[int]:
        with self.lock:
            bodies = [r.body for r in self.received]
        return [
            int(orjson.loads(line)["event"][key]) for b in bodies for line in b.splitlines() if line
        ]


@pytest.fixture
def hec_receiver(tls_cert: Cert) -> Iterator[HecReceiver]:
    r = HecReceiver(tls=tls_cert)
    r.start()
    yield r
    r.stop()


# ---- moto S3 -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    exe = shutil.which("moto_server") or str(
        Path(__import__("sys").executable).parent / "moto_server"
    )
    if not Path(exe).exists():
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("moto_server did not start")
    yield url
    proc.terminate()
    proc.wait(10)


# ---- records -------------------------------------------------------------------------------

BASE_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


def records(first_id: int, n: int) -> pa.Table:
    """``n`` records whose TCPSequenceNumber is a unique id ``first_id..first_id+n-1``."""
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    return make_table(
        {
            "TCPSequenceNumber": ids,
            "Datetime": BASE_NS + ids * 1_000_000,
            "IPProtocol": 6,
            "IPSourceAddress": "192.0.2.1",
            "IPDestinationAddress": "198.51.100.7",
        },
        n,
    )
