"""``FrameBatch``: the unit every source hands to the decoder.

A batch keeps all its frames in one contiguous ``uint8`` buffer, with per-frame offsets,
lengths and metadata in parallel numpy arrays. The decoder gathers header fields from that
buffer with vectorised indexing, so no Python object is ever made per packet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

#: Zero bytes appended after the last frame, so that a fixed-size gather that starts inside
#: the buffer never reads past its end. Larger than any header block the decoder gathers.
PAD = 128

# Link-layer header types (https://www.tcpdump.org/linktypes.html).
LINKTYPE_NULL = 0  # BSD loopback: 4-byte address family in host byte order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4 or IPv6, version nibble decides
LINKTYPE_LOOP = 108  # OpenBSD loopback: 4-byte address family in network byte order
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
#: DLT_RAW values some platforms wrote into pcap headers before LINKTYPE_RAW existed.
LINKTYPE_RAW_ALIASES = (12, 14)

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]
U16 = npt.NDArray[np.uint16]


@dataclass(slots=True)
class FrameBatch:
    """Frames as captured, in arrival order.

    ``data[offsets[i] : offsets[i] + caplen[i]]`` is frame ``i``. ``data`` ends with at least
    ``PAD`` zero bytes. ``sample_interval`` is how many packets on the wire each frame stands
    for before netlogpush samples it: 1 for pcap and live capture, the exporter's sampling
    rate for sFlow.
    """

    data: U8
    offsets: I64
    caplen: U32
    wirelen: U32
    ts_ns: I64
    linktype: U16
    sample_interval: U32

    def __len__(self) -> int:
        return int(self.offsets.shape[0])

    def frame(self, i: int) -> bytes:
        """Frame ``i`` as bytes (for debugging and tests, not for the hot path)."""
        start = int(self.offsets[i])
        return self.data[start : start + int(self.caplen[i])].tobytes()

    @classmethod
    def empty(cls) -> FrameBatch:
        return FrameBatchBuilder().build()


@dataclass(slots=True)
class FrameBatchBuilder:
    """Collects frames one at a time (pcap records, sFlow samples) into a ``FrameBatch``.

    Appending costs one ``bytearray.extend`` and five list appends; ``build`` converts the
    lists to arrays once per batch.
    """

    _buf: bytearray = field(default_factory=bytearray)
    _offsets: list[int] = field(default_factory=list)
    _caplen: list[int] = field(default_factory=list)
    _wirelen: list[int] = field(default_factory=list)
    _ts_ns: list[int] = field(default_factory=list)
    _linktype: list[int] = field(default_factory=list)
    _interval: list[int] = field(default_factory=list)

    def append(
        self,
        frame: bytes | bytearray | memoryview,
        ts_ns: int,
        linktype: int,
        wirelen: int | None = None,
        sample_interval: int = 1,
    ) -> None:
        self._offsets.append(len(self._buf))
        self._buf += frame
        n = len(frame)
        self._caplen.append(n)
        self._wirelen.append(n if wirelen is None else wirelen)
        self._ts_ns.append(ts_ns)
        self._linktype.append(linktype)
        self._interval.append(sample_interval)

    def __len__(self) -> int:
        return len(self._offsets)

    @property
    def nbytes(self) -> int:
        return len(self._buf)

    def build(self) -> FrameBatch:
        """Return the batch and reset the builder."""
        self._buf += bytes(PAD)
        batch = FrameBatch(
            data=np.frombuffer(bytes(self._buf), dtype=np.uint8),
            offsets=np.asarray(self._offsets, dtype=np.int64),
            caplen=np.asarray(self._caplen, dtype=np.uint32),
            wirelen=np.asarray(self._wirelen, dtype=np.uint32),
            ts_ns=np.asarray(self._ts_ns, dtype=np.int64),
            linktype=np.asarray(self._linktype, dtype=np.uint16),
            sample_interval=np.asarray(self._interval, dtype=np.uint32),
        )
        self._buf = bytearray()
        self._offsets, self._caplen, self._wirelen = [], [], []
        self._ts_ns, self._linktype, self._interval = [], [], []
        return batch
