"""TCP header and the options the dataset reports.

``TCPDataOffset`` is the header length in bytes (Cloudflare's records show 56 for a
20-byte header with 36 bytes of options). ``TCPFlags`` holds the 12 flag bits as tshark's
``tcp.flags`` does (the 3 reserved bits, AE/NS, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN).
"""

from __future__ import annotations

import numpy as np

from netlogpush.decode import options
from netlogpush.decode.columns import ListColumn, PacketColumns
from netlogpush.decode.gather import I64, at_u8, at_u16, at_u32, block, masked, u8, u16, u32
from netlogpush.decode.status import DecodeStatus, set_first

HEADER_LEN = 20
OPT_MSS, OPT_WINDOW_SCALE, OPT_SACK_PERMITTED, OPT_SACK, OPT_TIMESTAMP = 2, 3, 4, 5, 8
MAX_SACK_BLOCKS = 4


def decode_tcp(pc: PacketColumns, rows: I64, l4: I64, end: I64) -> None:
    """Decode the TCP headers of ``rows``, which start at ``l4`` (one offset per row)."""
    data = pc.frames.data
    avail = end - l4
    blk = block(data, l4, HEADER_LEN)
    pc.put("SourcePort", rows, masked(u16(blk, 0), avail >= 2))
    pc.put("DestinationPort", rows, masked(u16(blk, 2), avail >= 4))
    pc.put("TCPSequenceNumber", rows, masked(u32(blk, 4), avail >= 8))
    pc.put("TCPAcknowledgementNumber", rows, masked(u32(blk, 8), avail >= 12))
    has_flags = avail >= 14
    data_offset = masked(u8(blk, 12) >> 4, has_flags) * 4
    pc.put("TCPDataOffset", rows, data_offset)
    pc.put("TCPFlags", rows, masked(u16(blk, 12) & 0x0FFF, has_flags))
    pc.put("TCPWindowSize", rows, masked(u16(blk, 14), avail >= 16))
    pc.put("TCPChecksum", rows, masked(u16(blk, 16), avail >= 18))
    pc.put("TCPUrgentPointer", rows, masked(u16(blk, 18), avail >= 20))
    set_first(pc.status, rows[avail < HEADER_LEN], DecodeStatus.TRUNCATED_TRANSPORT)
    set_first(
        pc.status, rows[has_flags & (data_offset < HEADER_LEN)], DecodeStatus.BAD_TCP_DATA_OFFSET
    )

    # Options are read as far as the capture holds them (sFlow headers are often cut short).
    with_opts = np.flatnonzero((avail >= HEADER_LEN) & (data_offset > HEADER_LEN))
    if not with_opts.size:
        return
    r = rows[with_opts]
    opt_start = l4[with_opts] + HEADER_LEN
    opt_end = np.minimum(l4[with_opts] + data_offset[with_opts], end[with_opts])
    set_first(
        pc.status,
        r[l4[with_opts] + data_offset[with_opts] > end[with_opts]],
        DecodeStatus.TRUNCATED_TRANSPORT,
    )
    walked = options.walk(data, opt_start, opt_end)
    set_first(pc.status, r[walked.malformed], DecodeStatus.BAD_TCP_OPTIONS)
    pc.lists["TCPOptions"] = ListColumn(r, walked.kinds.astype(np.uint32), walked.counts)

    k, at = walked.first(OPT_MSS, 4)
    pc.put("TCPMSS", r[k], at_u16(data, at + 2))
    k, at = walked.first(OPT_WINDOW_SCALE, 3)
    pc.put("TCPWindowScale", r[k], at_u8(data, at + 2))
    k, _ = walked.first(OPT_SACK_PERMITTED, 2)
    pc.put("TCPSACKPermitted", r[k], np.ones(k.size, np.uint32))
    k, at = walked.first(OPT_TIMESTAMP, 10)
    pc.put("TCPTimestampValue", r[k], at_u32(data, at + 2))
    pc.put("TCPTimestampECR", r[k], at_u32(data, at + 6))

    k, at, length = walked.first_any_length(OPT_SACK)
    if k.size:
        n_edges = np.minimum((length.astype(np.int32) - 2) // 4, 2 * MAX_SACK_BLOCKS)
        n_edges -= n_edges % 2
        edges = np.zeros((k.size, 2 * MAX_SACK_BLOCKS), np.uint32)
        for j in range(2 * MAX_SACK_BLOCKS):
            edges[:, j] = masked(at_u32(data, at + 2 + 4 * j), j < n_edges)
        pc.lists["TCPSACKBlocks"] = ListColumn(r[k], edges, n_edges)
