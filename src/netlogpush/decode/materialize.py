"""Turn decoded columns into record values for the packets that were sampled.

Strings (addresses, subnets, names, lists) are costly to build, so they are built here, for
the sampled rows only, after the stages have decided what to sample.
"""

from __future__ import annotations

import socket
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc_

from netlogpush.decode.columns import ListColumn, PacketColumns
from netlogpush.decode.names import IP_PROTOCOL_NAMES, dns_query_type_name, tcp_flags_string

I64 = npt.NDArray[np.int64]
_OCTETS = pa.array([str(i) for i in range(256)])
_PROTOCOL_NAMES = np.array([IP_PROTOCOL_NAMES.get(i, "") for i in range(256)], dtype=object)
_FLAG_STRINGS = np.array([tcp_flags_string(i) for i in range(1 << 12)], dtype=object)


def ipv4_strings(addr: npt.NDArray[np.integer[Any]]) -> pa.StringArray:
    """Dotted quads, built with four table look-ups and one vectorised join."""
    parts = [_OCTETS.take(pa.array((addr >> s) & 0xFF)) for s in (24, 16, 8, 0)]
    return pc_.binary_join_element_wise(*parts, ".")  # type: ignore[no-any-return]


def _ipv6_strings(addr: npt.NDArray[np.uint8]) -> list[str]:
    # inet_ntop gives RFC 5952 text; nothing vectorised does, and only IPv6 samples pay for it.
    return [socket.inet_ntop(socket.AF_INET6, row.tobytes()) for row in addr]


def address_columns(pc: PacketColumns, rows: I64) -> dict[str, pa.Array]:
    """IPSourceAddress, IPDestinationAddress and their /24 or /64 subnets for ``rows``."""
    v6 = pc.ip_version[rows] == 6
    any_v6 = bool(v6.any())
    v6_rows = rows[v6]
    out: dict[str, pa.Array] = {}
    for field, subnet_field, a4, a6 in (
        ("IPSourceAddress", "IPSourceSubnet", pc.src4, pc.src6),
        ("IPDestinationAddress", "IPDestinationSubnet", pc.dst4, pc.dst6),
    ):
        addr4 = a4[rows]
        text = ipv4_strings(addr4)
        subnet = pc_.binary_join_element_wise(ipv4_strings(addr4 & 0xFFFFFF00), "/24", "")
        if any_v6:
            a = a6[v6_rows]
            net = a.copy()
            net[:, 8:] = 0
            text = _merge(text, v6, _ipv6_strings(a))
            subnet = _merge(subnet, v6, [s + "/64" for s in _ipv6_strings(net)])
        out[field], out[subnet_field] = text, subnet
    return out


def _merge(base: pa.Array, where: npt.NDArray[np.bool_], values: list[str]) -> pa.Array:
    """``base`` with the rows marked in ``where`` replaced by ``values``, in order."""
    merged = base.to_numpy(zero_copy_only=False).astype(object)
    merged[where] = values
    return pa.array(merged, pa.string())


def list_strings(col: ListColumn | None, rows: I64) -> pa.Array:
    """Comma-separated decimals for the list field ``col`` at ``rows`` ("" where empty).

    Vectorised: the j-th elements of all lists form one column of text (with its leading
    comma, and empty past a list's end), and one join builds every string at once.
    """
    if col is None or not col.rows.size:
        return pa.repeat(pa.scalar("", pa.string()), rows.size)
    slot = np.minimum(np.searchsorted(col.rows, rows), col.rows.size - 1)
    hit = col.rows[slot] == rows
    counts = np.where(hit, col.counts[slot], 0)
    width = int(counts.max(initial=0))
    if width == 0:
        return pa.repeat(pa.scalar("", pa.string()), rows.size)
    values = col.values[slot]
    parts = []
    for j in range(width):
        text = pc_.cast(pa.array(values[:, j]), pa.string())
        if j:
            text = pc_.binary_join_element_wise(",", text, "")
        parts.append(pc_.if_else(pa.array(counts > j), text, ""))
    return pc_.binary_join_element_wise(*parts, "")


#: Bytes a DNS label may hold and still be printed as they are.
_PLAIN_LABEL_BYTES = bytes(b for b in range(0x21, 0x7F) if b not in (0x2E, 0x5C))


def _label_text(label: bytes) -> str:
    # Presentation format as dig prints it: printable ASCII kept, '.' and '\' escaped,
    # other bytes as \DDD. Keeps record text valid UTF-8 and free of control characters.
    out = []
    for b in label:
        if b in (0x2E, 0x5C):
            out.append("\\" + chr(b))
        elif 0x21 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    return "".join(out)


def dns_name(wire: bytes) -> str:
    """A question name in wire format (labels, then a zero byte) as text, without the root dot."""
    labels, i = [], 0
    while i < len(wire) and wire[i]:
        n = wire[i]
        label = wire[i + 1 : i + 1 + n]
        plain = not label.translate(None, _PLAIN_LABEL_BYTES)
        labels.append(label.decode("ascii") if plain else _label_text(label))
        i += 1 + n
    return ".".join(labels)


def dns_columns(pc: PacketColumns, rows: I64) -> dict[str, pa.Array]:
    names = np.full(rows.size, "", dtype=object)
    types = np.full(rows.size, "", dtype=object)
    q = pc.dns
    if q.rows.size:
        order = np.argsort(q.rows)
        qrows = q.rows[order]
        slot = np.minimum(np.searchsorted(qrows, rows), qrows.size - 1)
        hit = np.flatnonzero(qrows[slot] == rows)
        data = pc.frames.data
        for k, s in zip(hit.tolist(), order[slot[hit]].tolist(), strict=True):
            names[k] = dns_name(data[q.name_start[s] : q.name_end[s]].tobytes())
            types[k] = dns_query_type_name(int(q.qtype[s]))
    return {
        "DNSQueryName": pa.array(names, pa.string()),
        "DNSQueryType": pa.array(types, pa.string()),
    }


def header_columns(pc: PacketColumns, rows: I64) -> dict[str, pa.Array | npt.NDArray[np.int64]]:
    """Every dataset field the decoder knows, for ``rows`` (which must have an IP header)."""
    out: dict[str, pa.Array | npt.NDArray[np.int64]] = {
        name: col[rows].astype(np.int64) for name, col in pc.fields.items()
    }
    out["Datetime"] = pc.frames.ts_ns[rows]
    ttl = pc.get("IPTTL")[rows].astype(np.int64)
    total = pc.get("IPTotalLength")[rows].astype(np.int64)
    out["IPTTLBuckets"] = ttl // 10 * 10
    out["IPTotalLengthBuckets"] = total // 100 * 100
    proto = pc.get("IPProtocol")[rows]
    out["IPProtocolName"] = pa.array(_PROTOCOL_NAMES[proto], pa.string())
    is_tcp = proto == 6
    flags_text = np.where(is_tcp, _FLAG_STRINGS[pc.get("TCPFlags")[rows] & 0xFFF], "")
    out["TCPFlagsString"] = pa.array(flags_text, pa.string())
    out.update(address_columns(pc, rows))
    for name in ("TCPOptions", "TCPSACKBlocks", "IPv4Options", "IPv6ExtensionHeaders"):
        out[name] = list_strings(pc.lists.get(name), rows)
    out.update(dns_columns(pc, rows))
    return out
