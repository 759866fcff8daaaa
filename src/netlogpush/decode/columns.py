"""``PacketColumns``: the decoder's output, one numpy array per header field.

Integer header fields are stored under their dataset names (``TCPSequenceNumber``, …), so a
search for a field name finds the line that computes it. Addresses stay binary here; they
become strings only for the packets that are sampled into records (``dataset/records.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from netlogpush.decode.frames import FrameBatch
from netlogpush.decode.status import FIRST_RECORDABLE, DecodeStatus, count_by_reason

I64 = npt.NDArray[np.int64]
IntColumn = npt.NDArray[np.integer[Any]]


@dataclass(slots=True)
class ListColumn:
    """A list-valued field for the rows that have one.

    ``values[k, : counts[k]]`` belongs to packet ``rows[k]``; other packets have an empty list.
    """

    rows: I64
    values: npt.NDArray[np.uint32]
    counts: npt.NDArray[np.int32]

    @classmethod
    def empty(cls, width: int = 1) -> ListColumn:
        return cls(np.zeros(0, np.int64), np.zeros((0, width), np.uint32), np.zeros(0, np.int32))


@dataclass(slots=True)
class DnsQuestions:
    """Where the first question of each DNS query sits in the frame buffer."""

    rows: I64
    name_start: I64  # absolute offset of the QNAME in wire format
    name_end: I64  # offset just past its terminating zero label
    qtype: IntColumn

    @classmethod
    def empty(cls) -> DnsQuestions:
        z = np.zeros(0, np.int64)
        return cls(z, z, z, np.zeros(0, np.uint32))


@dataclass(slots=True)
class PacketColumns:
    frames: FrameBatch
    status: npt.NDArray[np.uint8]
    ip_version: npt.NDArray[np.uint8]  # 4, 6, or 0 when there is no IP header
    src4: npt.NDArray[np.uint32]
    dst4: npt.NDArray[np.uint32]
    src6: npt.NDArray[np.uint8]  # (n, 16); zero for IPv4 packets
    dst6: npt.NDArray[np.uint8]
    #: Absolute offset of the transport header, or -1 when there is none to decode
    #: (no IP header, a non-first fragment, or an IPv6 chain that ends before it).
    l4: I64
    fields: dict[str, IntColumn] = field(default_factory=dict)
    lists: dict[str, ListColumn] = field(default_factory=dict)
    dns: DnsQuestions = field(default_factory=DnsQuestions.empty)

    def __len__(self) -> int:
        return int(self.status.shape[0])

    def get(self, name: str) -> IntColumn:
        """The integer field ``name``; zeros when no packet in the batch has it."""
        col = self.fields.get(name)
        if col is None:
            col = np.zeros(len(self), np.uint32)
        return col

    def put(self, name: str, rows: I64, values: IntColumn) -> None:
        """Set ``name`` for ``rows`` (the rest of the column stays 0)."""
        col = self.fields.get(name)
        if col is None:
            col = self.fields[name] = np.zeros(len(self), np.uint32)
        col[rows] = values

    @property
    def recordable(self) -> npt.NDArray[np.bool_]:
        """Packets with an IP header: the ones that can become records."""
        ok: npt.NDArray[np.bool_] = (self.status == DecodeStatus.OK) | (self.status >= FIRST_RECORDABLE)
        return ok

    def problems(self) -> dict[str, int]:
        return count_by_reason(self.status)
