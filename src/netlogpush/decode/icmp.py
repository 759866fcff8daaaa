"""ICMP and ICMPv6: type, code and checksum (the same layout in both)."""

from __future__ import annotations

from netlogpush.decode.columns import PacketColumns
from netlogpush.decode.gather import I64, block, masked, u8, u16
from netlogpush.decode.status import DecodeStatus, set_first

HEADER_LEN = 4


def decode_icmp(pc: PacketColumns, rows: I64, l4: I64, end: I64) -> None:
    avail = end - l4
    blk = block(pc.frames.data, l4, HEADER_LEN)
    pc.put("ICMPType", rows, masked(u8(blk, 0), avail >= 1))
    pc.put("ICMPCode", rows, masked(u8(blk, 1), avail >= 2))
    pc.put("ICMPChecksum", rows, masked(u16(blk, 2), avail >= 4))
    set_first(pc.status, rows[avail < HEADER_LEN], DecodeStatus.TRUNCATED_TRANSPORT)
