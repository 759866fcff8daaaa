"""Our decoder against tshark, packet by packet, on a varied generated capture.

tshark is the reference: for every frame that produces a record, every field tshark decodes
must equal ours, and fields tshark finds absent (a TCP option that is not there) must be
empty in ours. The capture comes from ``netlogpush.scenarios.mixed`` and covers every
protocol the builder makes, on every link type (one file per link type), plus malformed
frames.

Where tshark and Cloudflare's conventions differ, the comparison converts, and says so:

- ``ip.frag_offset`` and ``ipv6.fraghdr.offset`` are in 8-byte units in tshark 4.0; we report
  ``IPFragmentOffset`` in bytes, so tshark's value is multiplied by 8.
- ``ipv6.plen`` excludes the fixed header; ``IPTotalLength`` is ``ipv6.plen + 40``.
- ``IPHeaderLength`` of IPv6 is 40 + the extension headers (their ``len_oct``, 8 for a
  fragment header); ``IPProtocol`` of IPv6 is the protocol the extension chain ends in.
- ``udp.length`` includes the header; ``UDPPayloadLength`` is ``udp.length - 8``.
- ``dns.qry.type`` is numeric; ``DNSQueryType`` is the mnemonic (``TYPE<n>`` if unknown).
- ``dns.qry.name`` shows the root as ``<Root>`` (ours ``""``) and prints label bytes
  unescaped, so a ``.`` inside a label or a space is ambiguous there; ours escapes them the
  way dig does (``\\.``, ``\\032``), and we compare after undoing those escapes.
- ``tcp.option_kind`` lists an EOL and, separately, each zero padding byte behind it as
  another EOL; ``TCPOptions`` stops at the EOL (the padding is not an option), so tshark's
  list is cut after its first ``0``.
- GRE: the record describes the outer packet (docs/dataset.md), so for GRE frames only the
  outer IP and the GRE header are compared; tshark's inner ``tcp``/``udp`` fields are not.
  Likewise the IP header quoted inside an ICMP error is not ours to report.
- ``GREHeaderLength`` has no tshark field; it is computed from tshark's GRE flag fields.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from netlogpush.decode import decode
from netlogpush.pipeline import Pipeline
from netlogpush.scenarios.mixed import LINKS, write_mixed_pcap
from netlogpush.sources.pcap import iter_batches
from netlogpush.testing.packets import QTYPES

pytestmark = [
    pytest.mark.tool,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed"),
]

TSHARK_FIELDS = (
    "frame.number", "frame.protocols",
    "ip.src", "ip.dst", "ip.proto", "ip.ttl", "ip.len", "ip.hdr_len", "ip.id",
    "ip.flags.df", "ip.flags.mf", "ip.frag_offset", "ip.dsfield.dscp", "ip.dsfield.ecn",
    "ip.checksum", "ip.opt.type",
    "ipv6.src", "ipv6.dst", "ipv6.nxt", "ipv6.hlim", "ipv6.plen", "ipv6.tclass.dscp",
    "ipv6.tclass.ecn", "ipv6.flow", "ipv6.hopopts.nxt", "ipv6.hopopts.len_oct",
    "ipv6.routing.nxt", "ipv6.routing.len_oct", "ipv6.dstopts.nxt", "ipv6.dstopts.len_oct",
    "ipv6.fraghdr.nxt", "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "ipv6.fraghdr.ident",
    "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.hdr_len", "tcp.flags",
    "tcp.window_size_value", "tcp.urgent_pointer", "tcp.checksum", "tcp.option_kind",
    "tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.sack_perm",
    "tcp.options.sack_le", "tcp.options.sack_re", "tcp.options.timestamp.tsval",
    "tcp.options.timestamp.tsecr",
    "udp.srcport", "udp.dstport", "udp.length", "udp.checksum",
    "icmp.type", "icmp.code", "icmp.checksum", "icmpv6.type", "icmpv6.code", "icmpv6.checksum",
    "gre.flags_and_version", "gre.flags.checksum", "gre.flags.routing", "gre.flags.key",
    "gre.flags.sequence_number", "gre.flags.ack", "gre.proto", "gre.key",
    "gre.sequence_number", "gre.checksum", "gre.key.payload_length", "gre.key.call_id",
    "dns.flags.response", "dns.qry.name", "dns.qry.type",
)  # fmt: skip

#: Preferences: raw sequence numbers, and no reassembly (a record is one packet).
TSHARK_PREFS = (
    "tcp.relative_sequence_numbers:FALSE",
    "tcp.analyze_sequence_numbers:FALSE",
    "tcp.desegment_tcp_streams:FALSE",
    "ip.defragment:FALSE",
    "ipv6.defragment:FALSE",
)

AGG = "\x1f"  # occurrence aggregator: a byte no field value here contains
EXT_LAYERS = {"ipv6.hopopts": 0, "ipv6.routing": 43, "ipv6.fraghdr": 44, "ipv6.dstopts": 60}
EXT_KINDS = {0, 43, 44, 50, 51, 60, 135, 139, 140, 253, 254}
QTYPE_NAMES = {v: k for k, v in QTYPES.items()}

T = dict[str, list[str]]


def run_tshark(path: Path) -> dict[int, T]:
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a",
           "-E", f"aggregator={AGG}", "-E", "separator=\t"]  # fmt: skip
    for pref in TSHARK_PREFS:
        cmd += ["-o", pref]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, check=True, timeout=120).stdout
    frames: dict[int, T] = {}
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        cols = line.split("\t")
        row = {
            name: (cols[i].split(AGG) if i < len(cols) and cols[i] else [])
            for i, name in enumerate(TSHARK_FIELDS)
        }
        frames[int(row["frame.number"][0])] = row
    return frames


def our_records(path: Path) -> dict[int, dict[str, Any]]:
    """Our records by 1-based frame number (frames without an IP header have none)."""
    pipeline = Pipeline(sample_interval=1)
    out: dict[int, dict[str, Any]] = {}
    base = 0
    for batch in iter_batches(path):
        rows = np.flatnonzero(decode(batch).recordable)
        table = pipeline.process(batch)
        assert table.num_rows == rows.size
        for r, rec in zip(rows.tolist(), table.to_pylist(), strict=True):
            out[base + r + 1] = rec
        base += len(batch)
    return out


def _int(v: str) -> int:
    if v in ("True", "False"):
        return int(v == "True")
    return int(v, 0)


def _first(t: T, name: str) -> int | None:
    vals = t[name]
    return _int(vals[0]) if vals else None


def _layers(t: T) -> list[str]:
    return t["frame.protocols"][0].split(":") if t["frame.protocols"] else []


def _unescape_dig(name: str) -> str:
    r"""Undo dig-style escapes (``\DDD``, ``\.``, ``\\``), as tshark prints raw label bytes."""
    raw = re.sub(rb"\\(\d{3})", lambda m: bytes([int(m.group(1))]),
                 name.encode("utf-8", "surrogateescape"))
    raw = re.sub(rb"\\(.)", rb"\1", raw)
    return raw.decode("utf-8", "surrogateescape")


def expected(t: T) -> dict[str, Any]:
    """The dataset fields tshark decodes for this frame, converted to our conventions."""
    layers = _layers(t)
    ip_layers = [i for i, name in enumerate(layers) if name in ("ip", "ipv6")]
    if not ip_layers:
        return {}
    at = ip_layers[0]
    e: dict[str, Any] = {}
    transport_at = at + 1
    if layers[at] == "ip":
        if not t["ip.src"] or not t["ip.dst"]:
            return {}
        e |= {
            "IPSourceAddress": t["ip.src"][0],
            "IPDestinationAddress": t["ip.dst"][0],
            "IPProtocol": _first(t, "ip.proto"),
            "IPTTL": _first(t, "ip.ttl"),
            "IPTotalLength": _first(t, "ip.len"),
            "IPHeaderLength": _first(t, "ip.hdr_len"),
            "IPv4Identification": _first(t, "ip.id"),
            "IPv4DontFragment": _first(t, "ip.flags.df"),
            "IPMoreFragments": _first(t, "ip.flags.mf"),
            "IPFragmentOffset": (_first(t, "ip.frag_offset") or 0) * 8,
            "IPv4DSCP": _first(t, "ip.dsfield.dscp"),
            "IPv4ECN": _first(t, "ip.dsfield.ecn"),
            "IPv4Checksum": _first(t, "ip.checksum"),
        }
        if layers.count("ip") == 1 and "ipv6" not in layers:
            opts = [str(_int(v)) for v in t["ip.opt.type"]]
            e["IPv4Options"] = ",".join(opts)
        fragmented = bool(e["IPFragmentOffset"])
    else:
        if not t["ipv6.src"] or not t["ipv6.dst"]:
            return {}
        exts: list[int] = []
        while transport_at < len(layers) and layers[transport_at] in EXT_LAYERS:
            exts.append(EXT_LAYERS[layers[transport_at]])
            transport_at += 1
        nxt = [
            _int(v)
            for name in ("ipv6.nxt", "ipv6.hopopts.nxt", "ipv6.routing.nxt", "ipv6.dstopts.nxt",
                         "ipv6.fraghdr.nxt")
            for v in t[name]
        ]
        upper = [v for v in nxt if v not in EXT_KINDS]
        ext_len = sum(_int(v) for name in ("ipv6.hopopts.len_oct", "ipv6.routing.len_oct",
                                           "ipv6.dstopts.len_oct") for v in t[name])
        ext_len += 8 * len(t["ipv6.fraghdr.nxt"])
        e |= {
            "IPSourceAddress": t["ipv6.src"][0],
            "IPDestinationAddress": t["ipv6.dst"][0],
            "IPTTL": _first(t, "ipv6.hlim"),
            "IPTotalLength": (_first(t, "ipv6.plen") or 0) + 40,
            "IPv6DSCP": _first(t, "ipv6.tclass.dscp"),
            "IPv6ECN": _first(t, "ipv6.tclass.ecn"),
            "IPv6FlowLabel": _first(t, "ipv6.flow"),
            "IPv6ExtensionHeaders": ",".join(map(str, exts)),
            "IPv6Identification": _first(t, "ipv6.fraghdr.ident") or 0,
            "IPFragmentOffset": (_first(t, "ipv6.fraghdr.offset") or 0) * 8,
            "IPMoreFragments": _first(t, "ipv6.fraghdr.more") or 0,
        }
        if 40 + ext_len > e["IPTotalLength"]:
            # The chain runs past the packet: tshark still lists the header that does not
            # fit, we stop before it (truncated_ipv6_extension); the golden case
            # ipv6-ext-truncated pins our values.
            del e["IPv6ExtensionHeaders"]
        else:
            if len(upper) == 1:
                e["IPProtocol"] = upper[0]
            if "ipv6" not in layers[at + 1 :] and "ip" not in layers[at + 1 :]:
                e["IPHeaderLength"] = 40 + ext_len
        fragmented = bool(e["IPFragmentOffset"])

    transport = layers[transport_at] if transport_at < len(layers) else ""
    if fragmented:
        return e
    if transport == "tcp":
        e |= _tcp(t)
        if t["dns.qry.name"] and e.get("DestinationPort") == 53:
            e |= _dns(t)
    elif transport == "udp":
        length = _first(t, "udp.length")
        e |= {
            "SourcePort": _first(t, "udp.srcport"),
            "DestinationPort": _first(t, "udp.dstport"),
            "UDPChecksum": _first(t, "udp.checksum"),
            "UDPPayloadLength": max((length or 0) - 8, 0),
        }
        if t["dns.qry.name"] and e["DestinationPort"] == 53:
            e |= _dns(t)
    elif transport in ("icmp", "icmpv6"):
        e |= {
            "ICMPType": _first(t, f"{transport}.type"),
            "ICMPCode": _first(t, f"{transport}.code"),
            "ICMPChecksum": _first(t, f"{transport}.checksum"),
        }
    elif transport == "gre":
        e |= _gre(t)
    return e


def _tcp(t: T) -> dict[str, Any]:
    kinds = [_int(v) for v in t["tcp.option_kind"]]
    if 0 in kinds:
        kinds = kinds[: kinds.index(0) + 1]
    le, re_ = t["tcp.options.sack_le"], t["tcp.options.sack_re"]
    edges = [x for pair in zip(le, re_, strict=False) for x in pair]
    return {
        "SourcePort": _first(t, "tcp.srcport"),
        "DestinationPort": _first(t, "tcp.dstport"),
        "TCPSequenceNumber": _first(t, "tcp.seq_raw"),
        "TCPAcknowledgementNumber": _first(t, "tcp.ack_raw"),
        "TCPDataOffset": _first(t, "tcp.hdr_len"),
        "TCPFlags": _first(t, "tcp.flags"),
        "TCPWindowSize": _first(t, "tcp.window_size_value"),
        "TCPUrgentPointer": _first(t, "tcp.urgent_pointer"),
        "TCPChecksum": _first(t, "tcp.checksum"),
        "TCPOptions": ",".join(map(str, kinds)),
        "TCPMSS": _first(t, "tcp.options.mss_val") or 0,
        "TCPWindowScale": _first(t, "tcp.options.wscale.shift") or 0,
        "TCPSACKPermitted": int(bool(t["tcp.options.sack_perm"])),
        "TCPSACKBlocks": ",".join(str(_int(x)) for x in edges),
        "TCPTimestampValue": _first(t, "tcp.options.timestamp.tsval") or 0,
        "TCPTimestampECR": _first(t, "tcp.options.timestamp.tsecr") or 0,
    }


def _dns(t: T) -> dict[str, Any]:
    if _first(t, "dns.flags.response"):
        return {"DNSQueryName": "", "DNSQueryType": ""}
    name = t["dns.qry.name"][0]
    if name.startswith("<") and name != "<Root>":
        # tshark's note on an unreadable name ("<Name contains a pointer that loops>"):
        # we have no name then (malformed_dns).
        return {"DNSQueryName": "", "DNSQueryType": ""}
    qtype = _first(t, "dns.qry.type") or 0
    return {
        "DNSQueryName": "" if name == "<Root>" else name,
        "DNSQueryType": QTYPE_NAMES.get(qtype, f"TYPE{qtype}"),
    }


def _gre(t: T) -> dict[str, Any]:
    fv = _first(t, "gre.flags_and_version") or 0
    version = fv & 7
    has_csum = _first(t, "gre.flags.checksum") or _first(t, "gre.flags.routing")
    has_key = _first(t, "gre.flags.key")
    has_seq = _first(t, "gre.flags.sequence_number")
    has_ack = version == 1 and _first(t, "gre.flags.ack")
    key = _first(t, "gre.key") or 0
    if version == 1 and t["gre.key.call_id"]:
        # PPTP's key is payload length and call ID; tshark shows only the halves.
        key = ((_first(t, "gre.key.payload_length") or 0) << 16) | (_first(t, "gre.key.call_id") or 0)
    return {
        "GREVersion": version,
        "GREEtherType": _first(t, "gre.proto"),
        "GREKey": key,
        "GRESequenceNumber": _first(t, "gre.sequence_number") or 0,
        "GREChecksum": _first(t, "gre.checksum") or 0,
        "GREHeaderLength": 4 + 4 * sum(bool(x) for x in (has_csum, has_key, has_seq, has_ack)),
    }


def _ours(field: str, value: Any) -> Any:
    if field == "DNSQueryName":
        return _unescape_dig(value)
    return value


def compare(path: Path) -> tuple[Counter[str], list[str], int]:
    """Mismatches by field, a few examples, and the number of fields compared."""
    theirs = run_tshark(path)
    ours = our_records(path)
    bad: Counter[str] = Counter()
    examples: list[str] = []
    compared = 0
    for no, t in theirs.items():
        exp = expected(t)
        rec = ours.get(no)
        if rec is None:
            if exp:
                bad["<no record>"] += 1
                examples.append(f"frame {no}: tshark decodes IP ({_layers(t)}), we made no record")
            continue
        if not exp and _layers(t)[-1:] == ["ip"]:
            # tshark stops at a bogus IHL or total length before showing the addresses; we
            # record what the header holds (bad_ip_header_length, docs/dataset.md).
            continue
        if not exp:
            bad["<extra record>"] += 1
            examples.append(f"frame {no}: a record, but tshark has no IP header ({_layers(t)})")
            continue
        for field, want in exp.items():
            if want is None:
                continue
            compared += 1
            got = _ours(field, rec[field])
            if got != want:
                bad[field] += 1
                if sum(1 for x in examples if f" {field}:" in x) < 3:
                    examples.append(
                        f"frame {no} {':'.join(_layers(t))} {field}: tshark {want!r}, ours {got!r}"
                    )
    return bad, examples, compared


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    d = tmp_path_factory.mktemp("tshark")
    paths: dict[str, Path] = {}
    for link in LINKS:
        n = 3000 if link == "ethernet" else 600
        paths[link] = d / f"mixed-{link}.pcap"
        write_mixed_pcap(paths[link], n, seed=7, link=link, malformed=0.05)
    paths["ethernet-ns"] = d / "mixed-ethernet-ns.pcap"
    write_mixed_pcap(paths["ethernet-ns"], 600, seed=8, nanosecond=True, malformed=0.05)
    yield paths


@pytest.mark.parametrize("link", [*LINKS, "ethernet-ns"])
def test_every_field_tshark_decodes_agrees(captures: dict[str, Path], link: str) -> None:
    bad, examples, compared = compare(captures[link])
    assert compared > 5000
    assert not bad, f"{dict(bad)}\n" + "\n".join(examples)


def test_records_exist_exactly_for_frames_with_an_ip_header(captures: dict[str, Path]) -> None:
    """Frame alignment: the frames we record are the frames tshark finds an IP header in."""
    theirs = run_tshark(captures["ethernet"])
    ours = our_records(captures["ethernet"])
    with_ip = {no for no, t in theirs.items() if expected(t)}
    gave_up = {no for no, t in theirs.items() if _layers(t)[-1:] == ["ip"]}
    assert with_ip <= set(ours)
    assert set(ours) - with_ip <= gave_up
    assert len(theirs) == 3000
    assert 0.9 * 3000 < len(ours) < 3000
