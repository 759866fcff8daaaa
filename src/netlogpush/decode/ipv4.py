"""IPv4 header: every field the dataset has, options, and fragments.

``IPFragmentOffset`` is reported in bytes (the header's 8-byte units × 8), as tshark shows
it and as ``TCPDataOffset`` is reported in bytes; see docs/dataset.md.
"""

from __future__ import annotations

import numpy as np

from netlogpush.decode import options
from netlogpush.decode.columns import ListColumn, PacketColumns
from netlogpush.decode.gather import I64, U32, block, u8, u16, u32
from netlogpush.decode.status import DecodeStatus, set_first

HEADER_LEN = 20


def decode_ipv4(pc: PacketColumns, rows: I64, l3: I64, end: I64) -> tuple[I64, U32]:
    """Decode the IPv4 headers at ``l3[rows]``; return (transport offset, protocol) for ``rows``.

    The transport offset is -1 where there is no transport header to decode: a truncated or
    bad header, or a fragment other than the first.
    """
    data = pc.frames.data
    start, stop = l3[rows], end[rows]
    avail = stop - start
    l4 = np.full(rows.size, -1, np.int64)
    proto = np.zeros(rows.size, np.uint32)

    short = avail < HEADER_LEN
    pc.status[rows[short]] = DecodeStatus.TRUNCATED_IP
    blk = block(data, start, HEADER_LEN)
    wrong_version = ~short & ((blk[:, 0] >> 4) != 4)
    pc.status[rows[wrong_version]] = DecodeStatus.BAD_IP_VERSION
    ok = ~short & ~wrong_version
    r, blk, start, stop = rows[ok], blk[ok], start[ok], stop[ok]

    ihl = u8(blk, 0) & 0x0F
    header_len = ihl * 4
    tos = u8(blk, 1)
    flags_frag = u16(blk, 6)
    frag_offset = (flags_frag & 0x1FFF) * 8
    pc.ip_version[r] = 4
    pc.src4[r] = u32(blk, 12)
    pc.dst4[r] = u32(blk, 16)
    pc.put("IPHeaderLength", r, header_len)
    pc.put("IPv4DSCP", r, tos >> 2)
    pc.put("IPv4ECN", r, tos & 3)
    total_length = u16(blk, 2)
    pc.put("IPTotalLength", r, total_length)
    pc.put("IPv4Identification", r, u16(blk, 4))
    pc.put("IPv4DontFragment", r, (flags_frag >> 14) & 1)
    pc.put("IPMoreFragments", r, (flags_frag >> 13) & 1)
    pc.put("IPFragmentOffset", r, frag_offset)
    pc.put("IPTTL", r, u8(blk, 8))
    pc.put("IPv4Checksum", r, u16(blk, 10))
    p = u8(blk, 9)
    pc.put("IPProtocol", r, p)

    bad_len = (header_len < HEADER_LEN) | (start + header_len > stop)
    set_first(pc.status, r[bad_len], DecodeStatus.BAD_IP_HEADER_LENGTH)
    # A total length that does not even cover the header: nothing after it can be trusted.
    bad_total = ~bad_len & (total_length < header_len)
    set_first(pc.status, r[bad_total], DecodeStatus.BAD_IP_TOTAL_LENGTH)

    with_options = np.flatnonzero(~bad_len & (header_len > HEADER_LEN))
    if with_options.size:
        opt_start = start[with_options] + HEADER_LEN
        walked = options.walk(data, opt_start, start[with_options] + header_len[with_options])
        set_first(pc.status, r[with_options[walked.malformed]], DecodeStatus.BAD_IP_OPTIONS)
        pc.lists["IPv4Options"] = ListColumn(
            r[with_options], walked.kinds.astype(np.uint32), walked.counts
        )

    has_l4 = ~bad_len & ~bad_total & (frag_offset == 0)
    sub = np.flatnonzero(ok)
    l4[sub[has_l4]] = start[has_l4] + header_len[has_l4]
    proto[sub] = p
    return l4, proto
