"""DNS queries on port 53: where the first question's name is, and its type.

Only queries (QR = 0) sent to port 53 are decoded, over UDP and over TCP (after the 2-byte
length prefix). The name's labels are located here for every query; the text of the name is
built only for the packets sampled into records (``dataset/records.py``).
"""

from __future__ import annotations

import numpy as np

from netlogpush.decode.columns import DnsQuestions, PacketColumns
from netlogpush.decode.gather import I64, at_u8, at_u16, block, u8, u16
from netlogpush.decode.status import DecodeStatus, set_first

DNS_PORT = 53
HEADER_LEN = 12
MAX_LABELS = 128  # a 255-byte name holds at most 127 labels plus the root
MAX_NAME_LEN = 255


def decode_dns_queries(pc: PacketColumns, rows: I64, payload: I64, end: I64) -> None:
    """Find the first question of the DNS messages at ``payload[k]`` for packet ``rows[k]``."""
    data = pc.frames.data
    blk = block(data, payload, HEADER_LEN)
    is_query = (end - payload >= HEADER_LEN) & ((u8(blk, 2) & 0x80) == 0) & (u16(blk, 4) >= 1)
    rows, start, end = rows[is_query], payload[is_query] + HEADER_LEN, end[is_query]

    pos = start.copy()
    done = np.zeros(rows.size, np.bool_)
    bad = np.zeros(rows.size, np.bool_)
    for _ in range(MAX_LABELS):
        idx = np.flatnonzero(~done & ~bad)
        if not idx.size:
            break
        p = pos[idx]
        length = at_u8(data, p).astype(np.int64)
        # A question name has no compression pointers, and the name never leaves the capture.
        broken = (p >= end[idx]) | (length >= 0x40) | (p + 1 - start[idx] > MAX_NAME_LEN)
        bad[idx[broken]] = True
        root = ~broken & (length == 0)
        done[idx[root]] = True
        step = ~broken & ~root
        pos[idx[step]] = p[step] + 1 + length[step]
    bad |= ~done | (pos + 5 > end)  # the terminating zero, then QTYPE and QCLASS
    set_first(pc.status, rows[bad], DecodeStatus.MALFORMED_DNS)
    ok = ~bad
    pc.dns = DnsQuestions(rows[ok], start[ok], pos[ok] + 1, at_u16(data, pos[ok] + 1))


def dns_payloads(
    pc: PacketColumns, udp_rows: I64, udp_l4: I64, tcp_rows: I64, tcp_l4: I64, end: I64
) -> None:
    """Locate DNS queries among UDP and TCP packets and decode them."""
    dport = pc.get("DestinationPort")
    u = dport[udp_rows] == DNS_PORT
    t = (dport[tcp_rows] == DNS_PORT) & (pc.get("TCPDataOffset")[tcp_rows] >= 20)
    t_payload = tcp_l4[t] + pc.get("TCPDataOffset")[tcp_rows[t]].astype(np.int64) + 2
    rows = np.concatenate([udp_rows[u], tcp_rows[t]])
    payload = np.concatenate([udp_l4[u] + 8, t_payload])
    if rows.size:
        decode_dns_queries(pc, rows, payload, end[rows])
