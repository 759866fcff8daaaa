"""UDP collector for sFlow v5: receive datagrams in bursts, decode them in batches.

Exporters send in bursts (pmacct writes hundreds of datagrams back to back), and a UDP
socket drops whatever does not fit in its receive buffer. So the collector asks for a big
``SO_RCVBUF`` (32 MiB), drains the socket without blocking, and decodes a whole batch at a
time. Python has no ``recvmmsg``; ``recv_into`` straight into one preallocated arena is the
next best thing: no per-datagram allocation, and the arena *is* the batch's frame buffer,
because the decoder leaves the sampled headers where they lie.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import selectors
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from netlogpush.decode import frames as fr
from netlogpush.sources.sflow.datagram import SflowDecoder
from netlogpush.sources.sflow.stats import SflowStats
from netlogpush.sources.sflow.tracking import AgentSummary

log = logging.getLogger(__name__)

DEFAULT_PORT = 6343
DEFAULT_RCVBUF = 32 * 1024 * 1024
DEFAULT_BATCH_DATAGRAMS = 4096
DEFAULT_BATCH_MS = 100.0
#: Largest UDP payload; the arena always has this much room left before a receive, so a
#: datagram is never truncated.
MAX_DATAGRAM = 65_535
#: Linux socket option that sets the buffer past ``net.core.rmem_max`` (needs CAP_NET_ADMIN).
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
#: How often a blocked receive wakes up to look at the clock (batch deadline).
_POLL_S = 0.2


@dataclass(slots=True)
class CollectorStats:
    """Socket-level counters plus the decoder's counters and per-agent summaries."""

    datagrams: int = 0
    bytes: int = 0
    batches: int = 0
    #: Receive buffer the kernel granted (``getsockopt``, which reports twice the payload
    #: bytes it will hold: the kernel counts its bookkeeping too).
    rcvbuf_bytes: int = 0
    #: Datagrams the kernel dropped because the receive buffer was full (/proc/net/udp*).
    kernel_drops: int = 0
    decode: SflowStats = field(default_factory=SflowStats)
    agents: list[AgentSummary] = field(default_factory=list)


def _bind(host: str, port: int) -> socket.socket:
    """Bind a UDP socket; ``::`` (the default) takes IPv4 too, as v4-mapped addresses."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(addr)
    except OSError:
        sock.close()
        raise
    return sock


def _set_rcvbuf(sock: socket.socket, size: int, force: bool) -> int:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if got < size and force:
        with contextlib.suppress(OSError):  # EPERM without CAP_NET_ADMIN
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
            got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if got < size:
        log.warning(
            "sFlow collector: asked for a %d byte receive buffer, the kernel granted %d; "
            "bursts may be dropped. Raise the limit: sysctl -w net.core.rmem_max=%d",
            size,
            got,
            size,
        )
    return got


def _kernel_drops(sock: socket.socket) -> int:
    """The socket's drop counter from /proc/net/udp or udp6 (Linux), matched by inode."""
    inode = str(os.fstat(sock.fileno()).st_ino)
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if len(cols) > 12 and cols[9] == inode:
                        return int(cols[12])
        except OSError:
            continue
    return 0


class SflowCollector:
    """Receives sFlow v5 on UDP and yields ``FrameBatch``es until ``stop()``.

    A batch closes at ``batch_datagrams`` datagrams or ``batch_ms`` after its first one,
    whichever comes first. ``stop()`` may be called from another thread or a signal handler;
    what is already in the socket buffer is still decoded and yielded. Ctrl-C (SIGINT)
    raises ``KeyboardInterrupt`` out of ``batches()`` promptly.
    """

    def __init__(
        self,
        host: str = "::",
        port: int = DEFAULT_PORT,
        *,
        rcvbuf: int = DEFAULT_RCVBUF,
        rcvbuf_force: bool = True,
        batch_datagrams: int = DEFAULT_BATCH_DATAGRAMS,
        batch_ms: float = DEFAULT_BATCH_MS,
        decoder: SflowDecoder | None = None,
    ) -> None:
        self.decoder = decoder or SflowDecoder()
        self.batch_datagrams = max(1, batch_datagrams)
        self.batch_ns = int(batch_ms * 1e6)
        self._sock = _bind(host, port)
        self._sock.setblocking(False)
        self._rcvbuf = _set_rcvbuf(self._sock, rcvbuf, rcvbuf_force)
        # A socket pair wakes a blocked select() at once when stop() is called.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # A selector, not select.select(): that one fails for descriptors above 1023.
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._sock, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._stopping = False
        self._datagrams = 0
        self._bytes = 0
        self._batches = 0
        # A typical datagram is <= 1500 bytes; the arena also keeps room for one maximal one.
        self._arena_bytes = self.batch_datagrams * 1536 + MAX_DATAGRAM + fr.PAD

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def stats(self) -> CollectorStats:
        """A snapshot; safe to take from another thread while ``batches()`` runs."""
        d = self.decoder.stats
        return CollectorStats(
            datagrams=self._datagrams,
            bytes=self._bytes,
            batches=self._batches,
            rcvbuf_bytes=self._rcvbuf,
            kernel_drops=_kernel_drops(self._sock) if self._sock.fileno() >= 0 else 0,
            decode=dataclasses.replace(d, malformed=dict(d.malformed)),
            agents=self.decoder.agent_summaries(),
        )

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def close(self) -> None:
        self.stop()
        self._selector.close()
        self._sock.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> SflowCollector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, on_batch: Callable[[fr.FrameBatch], None]) -> None:
        """Call ``on_batch`` for every batch until stopped."""
        for batch in self.batches():
            on_batch(batch)

    def batches(self) -> Iterator[fr.FrameBatch]:
        """Yield decoded batches (never empty ones) until ``stop()``.

        After ``stop()`` the datagrams already queued are still received and yielded: at
        most one more batch, so that an exporter that keeps sending cannot hold it open.
        """
        while True:
            final = self._stopping
            spans, arena, used = self._fill()
            if spans:
                yield self._decode(spans, arena, used)
            if final or (self._stopping and not spans):
                return

    def _fill(self) -> tuple[list[tuple[int, int, int]], bytearray, int]:
        """Receive one batch of datagrams into a fresh arena."""
        size = self._arena_bytes
        arena = bytearray(size)
        view = memoryview(arena)
        limit = size - MAX_DATAGRAM - fr.PAD
        recv_into = self._sock.recv_into
        time_ns = time.time_ns
        spans: list[tuple[int, int, int]] = []
        max_n = self.batch_datagrams
        pos = 0
        deadline = 0
        while True:
            try:
                n = recv_into(view[pos:], MAX_DATAGRAM)
            except BlockingIOError:
                now = time_ns()
                if self._stopping or (spans and now >= deadline):
                    break
                wait = _POLL_S if not spans else min(_POLL_S, (deadline - now) / 1e9)
                for key, _ in self._selector.select(wait):
                    if key.fileobj is self._wake_r:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(64)
                continue
            except OSError as exc:
                if self._stopping:  # closed under us
                    break
                # E.g. ECONNREFUSED left behind by an ICMP error: not fatal.
                log.debug("sFlow collector: recv: %s", exc)
                continue
            ts = time_ns()
            if not spans:
                deadline = ts + self.batch_ns
            spans.append((pos, pos + n, ts))
            pos += n
            if len(spans) >= max_n or pos > limit or ts >= deadline:
                break
        view.release()
        return spans, arena, pos

    def _decode(
        self, spans: list[tuple[int, int, int]], arena: bytearray, used: int
    ) -> fr.FrameBatch:
        self._datagrams += len(spans)
        self._bytes += used
        self._batches += 1
        # A mostly empty arena is copied out, so that a trickle of datagrams does not pin
        # megabytes per batch downstream.
        buf: bytes | bytearray = arena
        if used < len(arena) // 4:
            buf = bytes(memoryview(arena)[: used + fr.PAD])
        batch, _ = self.decoder.decode_buffer(buf, spans)
        return batch
