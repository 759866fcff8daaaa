"""UDP header.

``UDPPayloadLength`` is the header's Length field minus the 8-byte header, that is the
payload's length, as the field's name says (docs/dataset.md).
"""

from __future__ import annotations

import numpy as np

from netlogpush.decode.columns import PacketColumns
from netlogpush.decode.gather import I64, block, masked, u16
from netlogpush.decode.status import DecodeStatus, set_first

HEADER_LEN = 8


def decode_udp(pc: PacketColumns, rows: I64, l4: I64, end: I64) -> None:
    avail = end - l4
    blk = block(pc.frames.data, l4, HEADER_LEN)
    pc.put("SourcePort", rows, masked(u16(blk, 0), avail >= 2))
    pc.put("DestinationPort", rows, masked(u16(blk, 2), avail >= 4))
    length = u16(blk, 4)
    pc.put("UDPPayloadLength", rows, masked(np.maximum(length, 8) - 8, avail >= 6))
    pc.put("UDPChecksum", rows, masked(u16(blk, 6), avail >= 8))
    set_first(pc.status, rows[avail < HEADER_LEN], DecodeStatus.TRUNCATED_TRANSPORT)
