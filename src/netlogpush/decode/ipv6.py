"""IPv6 header and its extension-header chain.

The chain is walked for hop-by-hop (0), routing (43), fragment (44), destination options
(60), authentication (51), mobility (135), HIP (139), Shim6 (140) and the experimental
253/254 headers. ``IPProtocol`` is the upper-layer protocol the chain ends in;
``IPHeaderLength`` counts the fixed header plus the extension headers (docs/dataset.md).
"""

from __future__ import annotations

import numpy as np

from netlogpush.decode.columns import ListColumn, PacketColumns
from netlogpush.decode.gather import I64, U32, at_u8, at_u16, at_u32, block, u8, u16
from netlogpush.decode.status import DecodeStatus, set_first

HEADER_LEN = 40
FRAGMENT = 44
AUTHENTICATION = 51
NO_NEXT_HEADER = 59
EXTENSION_HEADERS = (0, 43, FRAGMENT, 60, AUTHENTICATION, 135, 139, 140, 253, 254)
#: Real chains have two or three; a longer one is an evasion attempt and is reported.
MAX_EXTENSION_HEADERS = 8


def decode_ipv6(pc: PacketColumns, rows: I64, l3: I64, end: I64) -> tuple[I64, U32]:
    """Decode the IPv6 headers at ``l3[rows]``; return (transport offset, protocol) for ``rows``."""
    data = pc.frames.data
    start, stop = l3[rows], end[rows]
    l4 = np.full(rows.size, -1, np.int64)
    proto = np.zeros(rows.size, np.uint32)

    short = stop - start < HEADER_LEN
    pc.status[rows[short]] = DecodeStatus.TRUNCATED_IP
    blk = block(data, start, HEADER_LEN)
    wrong_version = ~short & ((blk[:, 0] >> 4) != 6)
    pc.status[rows[wrong_version]] = DecodeStatus.BAD_IP_VERSION
    ok = np.flatnonzero(~short & ~wrong_version)
    r, blk, start, stop = rows[ok], blk[ok], start[ok], stop[ok]

    first_word = u16(blk, 0)
    traffic_class = (first_word >> 4) & 0xFF
    pc.ip_version[r] = 6
    pc.src6[r] = blk[:, 8:24]
    pc.dst6[r] = blk[:, 24:40]
    pc.put("IPv6DSCP", r, traffic_class >> 2)
    pc.put("IPv6ECN", r, traffic_class & 3)
    pc.put("IPv6FlowLabel", r, ((first_word & 0x0F) << 16) | u16(blk, 2))
    pc.put("IPTotalLength", r, u16(blk, 4) + HEADER_LEN)
    pc.put("IPTTL", r, u8(blk, 7))

    next_header = u8(blk, 6)
    pos = start + HEADER_LEN
    chain = np.zeros((r.size, MAX_EXTENSION_HEADERS), np.uint32)
    depth = np.zeros(r.size, np.int32)
    frag_offset = np.zeros(r.size, np.uint32)
    truncated = np.zeros(r.size, np.bool_)
    for step in range(MAX_EXTENSION_HEADERS):
        idx = np.flatnonzero(np.isin(next_header, EXTENSION_HEADERS) & ~truncated)
        if not idx.size:
            break
        p, nh = pos[idx], next_header[idx]
        is_frag = nh == FRAGMENT
        length = np.where(
            is_frag,
            8,
            np.where(
                nh == AUTHENTICATION,
                (at_u8(data, p + 1).astype(np.int64) + 2) * 4,
                (at_u8(data, p + 1).astype(np.int64) + 1) * 8,
            ),
        )
        cut = (p + 2 > stop[idx]) | (p + length > stop[idx])
        truncated[idx[cut]] = True
        idx, p, nh, length, is_frag = idx[~cut], p[~cut], nh[~cut], length[~cut], is_frag[~cut]
        chain[idx, step] = nh
        depth[idx] += 1
        f, fp = idx[is_frag], p[is_frag]
        if f.size:
            word = at_u16(data, fp + 2)
            frag_offset[f] = (
                word & 0xFFF8
            )  # already in bytes: 13 bits of 8-byte units, shifted by 3
            pc.put("IPFragmentOffset", r[f], word & 0xFFF8)
            pc.put("IPMoreFragments", r[f], word & 1)
            pc.put("IPv6Identification", r[f], at_u32(data, fp + 4))
        next_header[idx] = at_u8(data, p)
        pos[idx] = p + length

    set_first(pc.status, r[truncated], DecodeStatus.TRUNCATED_IPV6_EXTENSION)
    too_long = ~truncated & np.isin(next_header, EXTENSION_HEADERS)
    set_first(pc.status, r[too_long], DecodeStatus.IPV6_EXTENSION_CHAIN_TOO_LONG)
    pc.put("IPHeaderLength", r, (pos - start).astype(np.uint32))
    pc.put("IPProtocol", r, next_header)
    has_chain = np.flatnonzero(depth > 0)
    if has_chain.size:
        pc.lists["IPv6ExtensionHeaders"] = ListColumn(
            r[has_chain], chain[has_chain], depth[has_chain]
        )

    has_l4 = (
        ~truncated
        & (frag_offset == 0)
        & ~np.isin(next_header, EXTENSION_HEADERS)
        & (next_header != NO_NEXT_HEADER)
    )
    l4[ok[has_l4]] = pos[has_l4]
    proto[ok] = next_header
    return l4, proto
