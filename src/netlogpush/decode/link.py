"""Link layers: find where the network header starts and what it is.

Ethernet II with any stack of 802.1Q / 802.1ad / QinQ tags, Linux cooked captures (SLL and
SLL2), raw IP, and BSD loopback. The result is, per frame, the offset of the L3 header and
its EtherType (0x0800, 0x86DD, or whatever else the frame carries).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from netlogpush.decode import frames as fr
from netlogpush.decode.gather import I64, U32, at_u8, at_u16, at_u32
from netlogpush.decode.status import DecodeStatus

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
#: 802.1Q, 802.1ad, and the pre-standard QinQ tags some switches still send.
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100, 0x9200)
MAX_VLAN_TAGS = 4

#: BSD loopback address families that mean IPv6 (they differ per OS).
AF_INET = 2
AF_INET6 = (10, 24, 28, 30)


def decode_link(frames: fr.FrameBatch, status: npt.NDArray[np.uint8]) -> tuple[I64, U32]:
    """Return (l3 offset, ethertype) per frame and mark link-layer problems in ``status``."""
    n = len(frames)
    data, start = frames.data, frames.offsets
    end = start + frames.caplen.astype(np.int64)
    l3 = np.full(n, -1, np.int64)
    etype = np.zeros(n, np.uint32)
    lt = frames.linktype

    eth = np.flatnonzero(lt == fr.LINKTYPE_ETHERNET)
    if eth.size:
        pos = start[eth]
        et = at_u16(data, pos + 12)
        hdr = np.full(eth.size, 14, np.int64)
        # Each VLAN tag moves the EtherType four bytes further in.
        for _ in range(MAX_VLAN_TAGS):
            tagged = np.isin(et, VLAN_TPIDS)
            if not tagged.any():
                break
            hdr[tagged] += 4
            et = np.where(tagged, at_u16(data, pos + hdr - 2), et)
        l3[eth], etype[eth] = pos + hdr, et

    for linktype, hdr_len, proto_at in (
        (fr.LINKTYPE_LINUX_SLL, 16, 14),
        (fr.LINKTYPE_LINUX_SLL2, 20, 0),
    ):
        rows = np.flatnonzero(lt == linktype)
        if rows.size:
            l3[rows] = start[rows] + hdr_len
            etype[rows] = at_u16(data, start[rows] + proto_at)

    raw = np.flatnonzero(np.isin(lt, (fr.LINKTYPE_RAW, *fr.LINKTYPE_RAW_ALIASES)))
    if raw.size:
        version = at_u8(data, start[raw]) >> 4
        # An empty frame has no version nibble: the byte read belongs to the next frame. Take
        # it as IPv4, so it is a truncated IP header, as empty LINKTYPE_IPV4/IPV6 frames are.
        version = np.where(end[raw] > start[raw], version, np.uint32(4))
        l3[raw] = start[raw]
        etype[raw] = np.select([version == 4, version == 6], [ETHERTYPE_IPV4, ETHERTYPE_IPV6], 0)

    for linktype, et_value in (
        (fr.LINKTYPE_IPV4, ETHERTYPE_IPV4),
        (fr.LINKTYPE_IPV6, ETHERTYPE_IPV6),
    ):
        rows = np.flatnonzero(lt == linktype)
        l3[rows], etype[rows] = start[rows], et_value

    for linktype, little_endian in ((fr.LINKTYPE_NULL, True), (fr.LINKTYPE_LOOP, False)):
        rows = np.flatnonzero(lt == linktype)
        if rows.size:
            family = at_u32(data, start[rows])
            if little_endian:  # DLT_NULL stores the family in the capturing host's order
                family = np.where(family > 0xFFFF, family.byteswap(), family)
            l3[rows] = start[rows] + 4
            etype[rows] = np.where(
                family == AF_INET,
                ETHERTYPE_IPV4,
                np.where(np.isin(family, AF_INET6), ETHERTYPE_IPV6, 0),
            )

    unsupported = l3 < 0
    status[unsupported] = DecodeStatus.UNSUPPORTED_LINKTYPE
    truncated = ~unsupported & (l3 > end)
    status[truncated] = DecodeStatus.TRUNCATED_LINK
    not_ip = ~unsupported & ~truncated & (etype != ETHERTYPE_IPV4) & (etype != ETHERTYPE_IPV6)
    status[not_ip] = DecodeStatus.NOT_IP
    return l3, etype
