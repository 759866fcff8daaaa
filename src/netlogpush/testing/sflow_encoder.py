"""sFlow v5 datagram encoder, for tests and benchmarks.

It writes the XDR structures of sflow_version_5.txt (sflow.org) from plain dataclasses, so a
test can state what an exporter sent and check that the collector reads exactly that back.
It is deliberately separate from the parser: sharing code would let one bug cancel another.

No library on PyPI encodes sFlow v5 (the only one, ``pysflow``, parses), hence this module.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: header_protocol values of the raw packet header record (sflow_version_5.txt).
HEADER_PROTOCOL_ETHERNET = 1
HEADER_PROTOCOL_IPV4 = 11
HEADER_PROTOCOL_IPV6 = 12

#: Sample formats (enterprise 0).
FLOW_SAMPLE = 1
COUNTER_SAMPLE = 2
EXPANDED_FLOW_SAMPLE = 3
EXPANDED_COUNTER_SAMPLE = 4

#: Flow record formats (enterprise 0).
RAW_PACKET_HEADER = 1
EXTENDED_SWITCH = 1001

#: Counter record format of the generic interface counters (enterprise 0).
GENERIC_INTERFACE_COUNTERS = 1

_U32 = struct.Struct(">I")


def _u32(*values: int) -> bytes:
    return b"".join(_U32.pack(v & 0xFFFFFFFF) for v in values)


def _opaque(data: bytes) -> bytes:
    """XDR variable-length opaque: length, bytes, zero padding to a multiple of 4."""
    return _U32.pack(len(data)) + data + bytes(-len(data) % 4)


def data_format(enterprise: int, fmt: int) -> int:
    """The 32-bit ``data_format`` word: 20-bit enterprise, 12-bit format."""
    return ((enterprise & 0xFFFFF) << 12) | (fmt & 0xFFF)


@dataclass(frozen=True, slots=True)
class RawPacketHeader:
    """Flow record 0:1, the sampled packet's first bytes."""

    header: bytes
    header_protocol: int = HEADER_PROTOCOL_ETHERNET
    #: Original frame length; defaults to the header length plus ``stripped``.
    frame_length: int | None = None
    #: Bytes removed before the header was taken (4 = the Ethernet FCS).
    stripped: int = 4

    def encode(self) -> bytes:
        flen = len(self.header) + self.stripped if self.frame_length is None else self.frame_length
        body = _u32(self.header_protocol, flen, self.stripped) + _opaque(self.header)
        return _u32(RAW_PACKET_HEADER, len(body)) + body


@dataclass(frozen=True, slots=True)
class OpaqueRecord:
    """Any other flow or counter record, given as its body bytes."""

    fmt: int
    body: bytes = b""
    enterprise: int = 0

    def encode(self) -> bytes:
        return _u32(data_format(self.enterprise, self.fmt), len(self.body)) + self.body


def extended_switch(
    src_vlan: int = 0, src_priority: int = 0, dst_vlan: int = 0, dst_priority: int = 0
) -> OpaqueRecord:
    """Flow record 0:1001, as pmacct and most switches add to each flow sample."""
    return OpaqueRecord(EXTENDED_SWITCH, _u32(src_vlan, src_priority, dst_vlan, dst_priority))


def generic_interface_counters(if_index: int = 1) -> OpaqueRecord:
    """Counter record 0:1 (88 bytes), all counters zero except ifIndex/ifType/ifSpeed."""
    body = _u32(if_index, 6) + struct.pack(">Q", 10_000_000_000) + _u32(1, 3) + bytes(68)
    return OpaqueRecord(GENERIC_INTERFACE_COUNTERS, body)


Record = RawPacketHeader | OpaqueRecord


@dataclass(frozen=True, slots=True)
class FlowSample:
    """Flow sample 0:1, or 0:3 (expanded) when ``expanded`` is true."""

    sequence: int
    sampling_rate: int
    sample_pool: int = 0
    drops: int = 0
    source_id_type: int = 0
    source_id_index: int = 1
    input_if: int = 1
    output_if: int = 0
    records: Sequence[Record] = ()
    expanded: bool = False

    def encode(self) -> bytes:
        recs = b"".join(r.encode() for r in self.records)
        if self.expanded:
            head = _u32(
                self.sequence,
                self.source_id_type,
                self.source_id_index,
                self.sampling_rate,
                self.sample_pool,
                self.drops,
                0,
                self.input_if,
                0,
                self.output_if,
                len(self.records),
            )
            fmt = EXPANDED_FLOW_SAMPLE
        else:
            source_id = ((self.source_id_type & 0xFF) << 24) | (self.source_id_index & 0xFFFFFF)
            head = _u32(
                self.sequence,
                source_id,
                self.sampling_rate,
                self.sample_pool,
                self.drops,
                self.input_if & 0x3FFFFFFF,
                self.output_if & 0x3FFFFFFF,
                len(self.records),
            )
            fmt = FLOW_SAMPLE
        body = head + recs
        return _u32(fmt, len(body)) + body


@dataclass(frozen=True, slots=True)
class CounterSample:
    """Counter sample 0:2, or 0:4 (expanded)."""

    sequence: int
    source_id_type: int = 0
    source_id_index: int = 1
    records: Sequence[OpaqueRecord] = ()
    expanded: bool = False

    def encode(self) -> bytes:
        recs = b"".join(r.encode() for r in self.records)
        if self.expanded:
            head = _u32(self.sequence, self.source_id_type, self.source_id_index)
            fmt = EXPANDED_COUNTER_SAMPLE
        else:
            source_id = ((self.source_id_type & 0xFF) << 24) | (self.source_id_index & 0xFFFFFF)
            head = _u32(self.sequence, source_id)
            fmt = COUNTER_SAMPLE
        body = head + _u32(len(self.records)) + recs
        return _u32(fmt, len(body)) + body


@dataclass(frozen=True, slots=True)
class OpaqueSample:
    """A sample of any (enterprise, format), given as its body bytes."""

    fmt: int
    body: bytes = b""
    enterprise: int = 0

    def encode(self) -> bytes:
        return _u32(data_format(self.enterprise, self.fmt), len(self.body)) + self.body


Sample = FlowSample | CounterSample | OpaqueSample


@dataclass(frozen=True, slots=True)
class Datagram:
    """One sFlow v5 datagram."""

    agent: str = "192.0.2.1"
    sub_agent_id: int = 0
    sequence: int = 1
    uptime_ms: int = 1000
    samples: Sequence[Sample] = field(default_factory=tuple)
    version: int = 5

    def encode(self) -> bytes:
        addr = ipaddress.ip_address(self.agent)
        addr_type = 1 if addr.version == 4 else 2
        head = _u32(self.version, addr_type) + addr.packed
        head += _u32(self.sub_agent_id, self.sequence, self.uptime_ms, len(self.samples))
        return head + b"".join(s.encode() for s in self.samples)


def encode_datagram(datagram: Datagram) -> bytes:
    return datagram.encode()


@dataclass(slots=True)
class FlowExporter:
    """Packs sampled headers into datagrams the way an agent does (one source, one agent).

    Keeps the datagram and flow-sample sequence numbers and the sample pool running across
    calls, so a test can produce a long, gap-free export and then cut holes into it.
    """

    agent: str = "192.0.2.1"
    sub_agent_id: int = 0
    sampling_rate: int = 1
    source_id_index: int = 1
    max_datagram_bytes: int = 1400
    with_switch_record: bool = True
    datagram_sequence: int = 0
    sample_sequence: int = 0
    sample_pool: int = 0
    uptime_ms: int = 1000

    def export(self, headers: Iterable[tuple[bytes, int]], header_protocol: int = 1) -> list[bytes]:
        """Encode ``(header, frame_length)`` pairs as flow samples; return the datagrams."""
        out: list[bytes] = []
        pending: list[Sample] = []
        size = 28 if ":" not in self.agent else 40
        for header, frame_length in headers:
            self.sample_sequence += 1
            self.sample_pool += self.sampling_rate
            records: list[Record] = [RawPacketHeader(header, header_protocol, frame_length)]
            if self.with_switch_record:
                records.append(extended_switch())
            sample = FlowSample(
                self.sample_sequence,
                self.sampling_rate,
                self.sample_pool,
                source_id_index=self.source_id_index,
                records=records,
            )
            sample_size = 8 + 32 + 8 + 16 + len(header) + (-len(header) % 4)
            sample_size += 24 if self.with_switch_record else 0
            if pending and size + sample_size > self.max_datagram_bytes:
                out.append(self._flush(pending))
                pending, size = [], 28 if ":" not in self.agent else 40
            pending.append(sample)
            size += sample_size
        if pending:
            out.append(self._flush(pending))
        return out

    def _flush(self, samples: list[Sample]) -> bytes:
        self.datagram_sequence += 1
        self.uptime_ms += 10
        return Datagram(
            self.agent, self.sub_agent_id, self.datagram_sequence, self.uptime_ms, samples
        ).encode()
