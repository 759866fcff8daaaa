"""Live capture from a network interface as ``FrameBatch``es (Linux, needs root).

    with LiveCapture("eth0", "udp or tcp", flush_ms=200) as cap:
        for batch in cap.batches(duration_s=10):
            ...

How: an AF_PACKET socket with a TPACKET_V3 memory-mapped receive ring. The kernel writes
packets into fixed-size blocks and hands over a block when it is full or ``flush_ms`` after its
first packet; we copy a whole block into one numpy array at a time and find its packets with
the same walk-then-gather approach as the pcap reader, so there is no system call and almost
no Python per packet. A plain recvfrom loop costs a system call and several Python objects per
packet, and pcapy-ng would add a compiled dependency (and a callback per packet) for the same
kernel interface. Filters are compiled by ``tcpdump -ddd`` (see ``_bpf``) and run in the
kernel. Timestamps are the kernel's receive times (ns). Both directions are captured.
"""

from __future__ import annotations

import mmap
import select
import socket
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from netlogpush.decode.frames import I64, LINKTYPE_ETHERNET, LINKTYPE_RAW, PAD, U8, U32, FrameBatch
from netlogpush.sources._bpf import BpfError, attach_filter, compile_filter
from netlogpush.sources._capcommon import gather_u32

__all__ = ["LiveCapture", "LiveCaptureError", "capture"]

# <linux/if_packet.h>
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_RX_RING = 5
PACKET_STATISTICS = 6
PACKET_VERSION = 10
TPACKET_V3 = 2
PACKET_MR_PROMISC = 1
ETH_P_ALL = 0x0003
TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
#: struct tpacket_block_desc up to blk_len: version, offset_to_priv, then tpacket_hdr_v1's
#: block_status, num_pkts, offset_to_first_pkt, blk_len.
_BLOCK = struct.Struct("=IIIIII")
_STATUS_AT = 8
_NEXT = struct.Struct("=I")
#: struct tpacket3_hdr as 12 u32 words: next, sec, nsec, snaplen, len, status, mac|net,
#: rxhash, vlan_tci, vlan_tpid|pad, padding[8].
_PKT_WORDS = 12
_FRAME_SIZE = 2048  # only sizes tp_frame_nr in TPACKET_V3; packets are packed tightly

#: ARPHRD_* from /sys/class/net/<if>/type -> (link type, tcpdump -y name for the filter)
_LINKS = {
    1: (LINKTYPE_ETHERNET, "EN10MB"),  # ARPHRD_ETHER
    772: (LINKTYPE_ETHERNET, "EN10MB"),  # ARPHRD_LOOPBACK: Linux gives it a zero MAC header
    65534: (LINKTYPE_RAW, "RAW"),  # ARPHRD_NONE: tun devices carry bare IP
}


class LiveCaptureError(OSError):
    """Capture could not start: not root, no such interface, bad filter, unsupported link."""


class LiveCapture:
    """An open capture on one interface; iterate ``batches()`` to receive frames."""

    def __init__(
        self,
        interface: str,
        bpf_filter: str | None = None,
        *,
        batch_frames: int = 65536,
        flush_ms: int = 100,
        snaplen: int = 262144,
        promiscuous: bool = True,
        block_size: int = 1 << 20,
        block_count: int = 32,
    ) -> None:
        if batch_frames < 1 or flush_ms < 1 or block_count < 1:
            raise ValueError("batch_frames, flush_ms and block_count must be positive")
        if block_size % mmap.PAGESIZE:
            raise ValueError(f"block_size must be a multiple of the page size {mmap.PAGESIZE}")
        self.interface = interface
        self.batch_frames = batch_frames
        self.flush_s = flush_ms / 1000
        self.snaplen = snaplen
        self.kernel_packets = 0
        self.kernel_drops = 0
        self.frames = 0
        self._block_size = block_size
        self._block_count = block_count
        self._next_block = 0
        self._stopping = False
        self.linktype, dlt = self._link_of(interface)
        program = None
        if bpf_filter:
            try:
                program = compile_filter(bpf_filter, dlt=dlt, snaplen=snaplen)
            except BpfError as exc:
                raise LiveCaptureError(str(exc)) from None
        try:
            # Protocol 0: the socket receives nothing until bind(), so no packet gets past
            # before the filter and the ring are in place.
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError as exc:
            raise LiveCaptureError(
                f"live capture on {interface!r} needs root (or CAP_NET_RAW): {exc}"
            ) from None
        try:
            self._ring = self._open_ring(program, promiscuous)
        except BaseException:
            self._sock.close()
            raise
        self._poll = select.poll()
        self._poll.register(self._sock.fileno(), select.POLLIN | select.POLLERR)

    @staticmethod
    def _link_of(interface: str) -> tuple[int, str]:
        try:
            socket.if_nametoindex(interface)
            hatype = int(Path("/sys/class/net", interface, "type").read_text())
        except (OSError, ValueError) as exc:
            raise LiveCaptureError(f"no such network interface {interface!r}: {exc}") from None
        if hatype not in _LINKS:
            raise LiveCaptureError(
                f"interface {interface!r} has hardware type {hatype}; live capture supports "
                "Ethernet, loopback and tun (raw IP) interfaces"
            )
        return _LINKS[hatype]

    def _open_ring(
        self, program: list[tuple[int, int, int, int]] | None, promisc: bool
    ) -> mmap.mmap:
        sock = self._sock
        try:
            if program is not None:
                attach_filter(sock, program)
            sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
            frames = self._block_size // _FRAME_SIZE * self._block_count
            retire_ms = max(1, int(self.flush_s * 1000))
            req = struct.pack(
                "=7I", self._block_size, self._block_count, _FRAME_SIZE, frames, retire_ms, 0, 0
            )
            sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
            ring = mmap.mmap(
                sock.fileno(),
                self._block_size * self._block_count,
                mmap.MAP_SHARED,
                mmap.PROT_READ | mmap.PROT_WRITE,
            )
        except OSError as exc:  # e.g. too large a ring for the memory limits
            raise LiveCaptureError(f"cannot set up capture on {self.interface!r}: {exc}") from None
        try:
            sock.bind((self.interface, ETH_P_ALL))
            if promisc:
                ifindex = socket.if_nametoindex(self.interface)
                mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
                sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        except OSError as exc:
            ring.close()
            raise LiveCaptureError(f"cannot capture on {self.interface!r}: {exc}") from None
        return ring

    # -- reading -------------------------------------------------------------------------

    def _take_block(self) -> tuple[U8, I64, U32, U32, I64] | None:
        """Copy out the next block if the kernel has handed it over, and give it back."""
        base = self._next_block * self._block_size
        _, _, status, count, first, used = _BLOCK.unpack_from(self._ring, base)
        if not status & TP_STATUS_USER:
            return None
        arr = np.frombuffer(self._ring, dtype=np.uint8, count=used, offset=base).copy()
        struct.pack_into("=I", self._ring, base + _STATUS_AT, TP_STATUS_KERNEL)
        self._next_block = (self._next_block + 1) % self._block_count
        view = arr.data
        offs: list[int] = []
        append, nxt, pos = offs.append, _NEXT.unpack_from, first
        for _ in range(count):
            append(pos)
            pos += nxt(view, pos)[0]
        rec = np.asarray(offs, dtype=np.int64)
        hdr = gather_u32(arr, rec, _PKT_WORDS, "=")
        little = sys.byteorder == "little"
        mac = (hdr[:, 6] & 0xFFFF) if little else (hdr[:, 6] >> 16)
        offsets = rec + mac.astype(np.int64)
        caplen = np.minimum(hdr[:, 3], np.uint32(self.snaplen))
        wirelen = hdr[:, 4].copy()
        ts = hdr[:, 1].astype(np.int64) * 1_000_000_000 + hdr[:, 2].astype(np.int64)
        tagged = np.flatnonzero(hdr[:, 5] & TP_STATUS_VLAN_VALID)
        if tagged.size and self.linktype == LINKTYPE_ETHERNET:
            arr = self._reinsert_vlan(arr, hdr, tagged, offsets, caplen, wirelen, little)
        return arr, offsets, caplen, wirelen, ts

    @staticmethod
    def _reinsert_vlan(
        arr: U8, hdr: U32, tagged: I64, offsets: I64, caplen: U32, wirelen: U32, little: bool
    ) -> U8:
        """Put back the 802.1Q tag the NIC or driver stripped (as libpcap does), so frames
        look as they did on the wire. Rare enough to do per frame."""
        extra: list[bytes] = []
        end = arr.shape[0]
        for i in tagged.tolist():
            status, tci, word = int(hdr[i, 5]), int(hdr[i, 8]), int(hdr[i, 9])
            tpid = (word & 0xFFFF) if little else (word >> 16)
            if not status & TP_STATUS_VLAN_TPID_VALID or not tpid:
                tpid = 0x8100
            start, n = int(offsets[i]), int(caplen[i])
            frame = arr[start : start + n].tobytes()
            frame = frame[:12] + struct.pack("!HH", tpid, tci & 0xFFFF) + frame[12:]
            offsets[i] = end
            end += len(frame)
            caplen[i] += 4
            wirelen[i] += 4
            extra.append(frame)
        return np.concatenate([arr, np.frombuffer(b"".join(extra), dtype=np.uint8)])

    def _poll_stats(self) -> None:
        raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)
        packets, drops, _ = struct.unpack("=III", raw)  # the kernel resets them on each read
        self.kernel_packets += packets
        self.kernel_drops += drops

    def batches(
        self, *, max_frames: int | None = None, duration_s: float | None = None
    ) -> Iterator[FrameBatch]:
        """Yield batches until ``stop()``, ``max_frames`` frames, or ``duration_s`` seconds.

        A batch is yielded once ``batch_frames`` frames are waiting, or ``flush_ms`` after the
        kernel handed over the first waiting frame (so a quiet link still delivers promptly).
        """
        deadline = None if duration_s is None else time.monotonic() + duration_s
        limit = None if max_frames is None else self.frames + max_frames
        pending: list[tuple[U8, I64, U32, U32, I64]] = []
        waiting = 0
        since = 0.0
        while True:
            while (block := self._take_block()) is not None:
                if block[1].size:
                    if not pending:
                        since = time.monotonic()
                    pending.append(block)
                    waiting += block[1].size
            now = time.monotonic()
            left = None if limit is None else limit - self.frames
            done = (
                self._stopping
                or (deadline is not None and now >= deadline)
                or (left is not None and waiting >= left)
            )
            if pending and (done or waiting >= self.batch_frames or now - since >= self.flush_s):
                self._poll_stats()
                yield from self._emit(pending, left)
                pending, waiting = [], 0
            if done:
                self._poll_stats()
                return
            wait = self.flush_s - (now - since) if pending else 0.1
            if deadline is not None:
                wait = min(wait, deadline - now)
            self._poll.poll(max(1, int(min(wait, 0.1) * 1000)))

    def __iter__(self) -> Iterator[FrameBatch]:
        return self.batches()

    def _emit(
        self, pending: list[tuple[U8, I64, U32, U32, I64]], left: int | None
    ) -> Iterator[FrameBatch]:
        bases = np.cumsum([0] + [b[0].shape[0] for b in pending])
        data = np.concatenate([b[0] for b in pending] + [np.zeros(PAD, dtype=np.uint8)])
        offsets = np.concatenate([b[1] + base for b, base in zip(pending, bases, strict=False)])
        caplen = np.concatenate([b[2] for b in pending])
        wirelen = np.concatenate([b[3] for b in pending])
        ts = np.concatenate([b[4] for b in pending])
        n = offsets.shape[0] if left is None else min(offsets.shape[0], left)
        linktype = np.full(n, self.linktype, dtype=np.uint16)
        interval = np.ones(n, dtype=np.uint32)
        for start in range(0, n, self.batch_frames):
            part = slice(start, min(start + self.batch_frames, n))
            batch = FrameBatch(
                data=data,
                offsets=offsets[part],
                caplen=caplen[part],
                wirelen=wirelen[part],
                ts_ns=ts[part],
                linktype=linktype[part],
                sample_interval=interval[part],
            )
            self.frames += len(batch)
            yield batch

    def stop(self) -> None:
        """Make ``batches()`` deliver what it holds and return (safe from another thread)."""
        self._stopping = True

    def close(self) -> None:
        self._stopping = True
        if not self._ring.closed:
            self._ring.close()
        self._sock.close()

    def __enter__(self) -> LiveCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def capture(
    interface: str,
    bpf_filter: str | None = None,
    *,
    batch_frames: int = 65536,
    flush_ms: int = 100,
    max_frames: int | None = None,
    duration_s: float | None = None,
) -> Iterator[FrameBatch]:
    """Capture on ``interface`` (optionally filtered) and yield ``FrameBatch``es."""
    with LiveCapture(interface, bpf_filter, batch_frames=batch_frames, flush_ms=flush_ms) as cap:
        yield from cap.batches(max_frames=max_frames, duration_s=duration_s)
