"""GRE header (RFC 2784/2890, and version 1 as PPTP uses it).

Only the GRE header is decoded; the packet it carries is not (docs/dataset.md): the record
describes the outer IP packet, as a sample taken at the tunnel endpoint would.
"""

from __future__ import annotations

import numpy as np

from netlogpush.decode.columns import PacketColumns
from netlogpush.decode.gather import I64, at_u16, at_u32, block, masked, u16
from netlogpush.decode.status import DecodeStatus, set_first

BASE_LEN = 4
FLAG_CHECKSUM, FLAG_ROUTING, FLAG_KEY, FLAG_SEQUENCE = 0x8000, 0x4000, 0x2000, 0x1000
FLAG_ACK = 0x0080  # version 1 only


def decode_gre(pc: PacketColumns, rows: I64, l4: I64, end: I64) -> None:
    data = pc.frames.data
    avail = end - l4
    blk = block(data, l4, BASE_LEN)
    flags = masked(u16(blk, 0), avail >= 2)
    version = flags & 7
    pc.put("GREVersion", rows, version)
    pc.put("GREEtherType", rows, masked(u16(blk, 2), avail >= 4))

    has_checksum = (flags & (FLAG_CHECKSUM | FLAG_ROUTING)) != 0
    has_key = (flags & FLAG_KEY) != 0
    has_seq = (flags & FLAG_SEQUENCE) != 0
    has_ack = (version == 1) & ((flags & FLAG_ACK) != 0)
    key_at = BASE_LEN + 4 * has_checksum
    seq_at = key_at + 4 * has_key
    header_len = seq_at + 4 * has_seq + 4 * has_ack
    pc.put("GREHeaderLength", rows, masked(header_len.astype(np.uint32), avail >= 2))
    pc.put("GREChecksum", rows, masked(at_u16(data, l4 + BASE_LEN), has_checksum & (avail >= 6)))
    pc.put("GREKey", rows, masked(at_u32(data, l4 + key_at), has_key & (avail >= key_at + 4)))
    pc.put(
        "GRESequenceNumber",
        rows,
        masked(at_u32(data, l4 + seq_at), has_seq & (avail >= seq_at + 4)),
    )
    set_first(pc.status, rows[avail < header_len], DecodeStatus.TRUNCATED_GRE)
