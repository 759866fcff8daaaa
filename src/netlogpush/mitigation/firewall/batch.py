"""Per-batch derived columns for the compiled rules, each computed at most once per batch.

Fifty rules that all test ``tcp.dstport`` share one "is this TCP with a header" mask, one
flags byte, one set of IPv6 keys; the ``Batch`` keeps them (and the results of
sub-expressions that several rules share) for as long as one batch is being evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.firewall.fields import (
    ICMP,
    ICMPV6,
    RAW_FIELDS,
    SIP_PREFIXES,
    TCP,
    UDP,
    FieldSpec,
    Guard,
    Source,
    protocol_name,
)
from netlogpush.mitigation.firewall.vectors import v6_keys
from netlogpush.mitigation.firewall.view import PacketView

Mask = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]
IntColumn = npt.NDArray[np.integer[Any]]
T = TypeVar("T")

_GUARD_PROTOCOLS = {Guard.TCP: (TCP,), Guard.UDP: (UDP,), Guard.ICMP: (ICMP, ICMPV6)}
_SIP_HEAD = 4  # candidates are found by their first four payload bytes
_SIP_WIDTH = max(len(p) for p in SIP_PREFIXES)
_UDP_SPEC = RAW_FIELDS["udp"]


class Batch:
    """A ``PacketView`` plus a cache of what has been computed from it."""

    def __init__(self, view: PacketView) -> None:
        self.view = view
        self.n = view.n
        self._cache: dict[Hashable, Any] = {}

    def cached(self, key: Hashable, make: Callable[[], T]) -> T:
        if key in self._cache:
            value: T = self._cache[key]
            return value
        value = self._cache[key] = make()
        return value

    # -- presence -----------------------------------------------------------------------

    def present(self, guard: Guard) -> Mask:
        return self.cached(("present", guard), lambda: self._present(guard))

    def _present(self, guard: Guard) -> Mask:
        v = self.view
        out: Mask
        if guard is Guard.IP:
            out = (v.ip_version == 4) | (v.ip_version == 6)
            return out
        if guard is Guard.IPV4:
            out = v.ip_version == 4
            return out
        if guard is Guard.IPV4_OPTIONS:
            if v.data is None or v.l3 is None or v.end is None:
                return np.zeros(self.n, np.bool_)
            hdr = v.int_column("IPHeaderLength")
            out = (v.ip_version == 4) & (hdr > 20) & (v.l3 >= 0) & (v.l3 + 20 < v.end)
            return out
        proto = v.int_column("IPProtocol")
        has = np.zeros(self.n, np.bool_)
        for number in _GUARD_PROTOCOLS[guard]:
            has |= proto == number
        has &= self.present(Guard.IP)
        if v.l4 is not None:
            has &= v.l4 >= 0
        return has

    # -- values -------------------------------------------------------------------------

    def ints(self, spec: FieldSpec) -> IntColumn:
        """The values of a Number field (meaningful where ``present(spec.guard)``)."""
        return self.cached(("ints", spec.name), lambda: self._ints(spec))

    def _ints(self, spec: FieldSpec) -> IntColumn:
        v = self.view
        if spec.source is Source.COLUMN:
            return v.int_column(spec.columns[0])
        if spec.source is Source.FLAGS_BYTE:
            flags: IntColumn = v.int_column("TCPFlags") & 0xFF
            return flags
        if spec.source is Source.HEADER_WORDS:
            words: IntColumn = v.int_column("IPHeaderLength") >> 2
            return words
        if spec.source is Source.OPTION_TYPE:
            out = np.zeros(self.n, np.uint32)
            rows = np.flatnonzero(self.present(Guard.IPV4_OPTIONS))
            if rows.size:
                assert v.data is not None and v.l3 is not None
                out[rows] = v.data[v.l3[rows] + 20]
            return out
        raise AssertionError(f"{spec.name} is not a Number field")

    def flag(self, spec: FieldSpec) -> Mask:
        """A Boolean field's value, already false where the field is missing."""
        if spec.source is Source.SIP:
            return self.cached("sip", self._sip)
        flags = self.view.int_column(spec.columns[0])
        out: Mask = self.present(spec.guard) & ((flags & (1 << spec.bit)) != 0)
        return out

    def protocol_numbers(self) -> IntColumn:
        return self.view.int_column("IPProtocol")

    @staticmethod
    def protocol_categories() -> tuple[bytes, ...]:
        """``ip.proto``'s value for protocol numbers 0..255."""
        return tuple(protocol_name(k).encode() for k in range(256))

    def string_codes(self, column: str) -> tuple[npt.NDArray[np.int32], tuple[bytes, ...]]:
        def make() -> tuple[npt.NDArray[np.int32], tuple[bytes, ...]]:
            col = self.view.string_column(column)
            return col.codes, tuple(c.encode("utf-8") for c in col.categories)

        return self.cached(("strings", column), make)

    def addresses(self, column: str) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint8]]:
        v = self.view
        return (v.src4, v.src6) if column == "src" else (v.dst4, v.dst6)

    def v6_pairs(self, column: str) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
        """IPv6 addresses as (high, low) 64-bit halves, for equality tests."""

        def make() -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
            _, six = self.addresses(column)
            halves = np.ascontiguousarray(six).reshape(-1, 16).view(">u8").astype(np.uint64)
            return halves[:, 0].copy(), halves[:, 1].copy()

        return self.cached(("v6pairs", column), make)

    def v6_rows(self) -> I64:
        return self.cached("v6rows", lambda: np.flatnonzero(self.view.ip_version == 6))

    def v6_keys(self, column: str) -> npt.NDArray[np.bytes_]:
        """``S16`` keys of the IPv6 packets' addresses (rows ``v6_rows()``)."""

        def make() -> npt.NDArray[np.bytes_]:
            _, six = self.addresses(column)
            return v6_keys(six[self.v6_rows()])

        return self.cached(("v6keys", column), make)

    # -- raw bytes ----------------------------------------------------------------------

    def raw_region(self, spec: FieldSpec) -> tuple[I64, I64, Mask]:
        """(start, end, present) of a raw field's bytes: the IP packet, or from its L4 header."""
        return self.cached(("raw", spec.name), lambda: self._raw_region(spec))

    def _raw_region(self, spec: FieldSpec) -> tuple[I64, I64, Mask]:
        v = self.view
        if v.data is None or v.end is None:
            z = np.zeros(self.n, np.int64)
            return z, z, np.zeros(self.n, np.bool_)
        base = v.l3 if spec.name == "ip" else v.l4
        if base is None:
            z = np.zeros(self.n, np.int64)
            return z, z, np.zeros(self.n, np.bool_)
        present = self.present(spec.guard) & (base >= 0) & (base <= v.end)
        return base, v.end, present

    def bit_slice(
        self, spec: FieldSpec, start: int, end: int
    ) -> tuple[npt.NDArray[np.uint64], Mask]:
        return self.cached(
            ("bits", spec.name, start, end), lambda: self._bit_slice(spec, start, end)
        )

    def _bit_slice(
        self, spec: FieldSpec, start: int, end: int
    ) -> tuple[npt.NDArray[np.uint64], Mask]:
        base, stop, present = self.raw_region(spec)
        first = start // 8
        nbytes = (end - 1) // 8 - first + 1  # at most 5: 7 leading bits + 32
        fits = present & (base + first + nbytes <= stop)
        values = np.zeros(self.n, np.uint64)
        rows = np.flatnonzero(fits)
        if rows.size:
            data = self.view.data
            assert data is not None
            pos = base[rows] + first
            word = np.zeros(rows.size, np.uint64)
            for k in range(nbytes):
                word = (word << np.uint64(8)) | data[pos + k].astype(np.uint64)
            shift = nbytes * 8 - (end - first * 8)
            values[rows] = (word >> np.uint64(shift)) & np.uint64((1 << (end - start)) - 1)
        return values, fits

    def _sip(self) -> Mask:
        """UDP payloads that start like a SIP message (see ``fields.SIP_PREFIXES``)."""
        base, stop, present = self.raw_region(_UDP_SPEC)
        out = np.zeros(self.n, np.bool_)
        payload = base + 8
        rows = np.flatnonzero(present & (payload + _SIP_HEAD <= stop))
        data = self.view.data
        if not rows.size or data is None:
            return out
        head = np.zeros(rows.size, np.uint32)
        for k in range(_SIP_HEAD):
            head = (head << np.uint32(8)) | data[payload[rows] + k].astype(np.uint32)
        heads = np.array([int.from_bytes(p[:_SIP_HEAD], "big") for p in SIP_PREFIXES], np.uint32)
        rows = rows[np.isin(head, heads)]
        if not rows.size:
            return out
        start, avail = payload[rows], stop[rows] - payload[rows]
        top = data.shape[0] - 1
        block = data[np.minimum(start[:, None] + np.arange(_SIP_WIDTH), top)]
        hit = np.zeros(rows.size, np.bool_)
        for prefix in SIP_PREFIXES:
            k = len(prefix)
            hit |= (avail >= k) & np.all(block[:, :k] == np.frombuffer(prefix, np.uint8), axis=1)
        out[rows] = hit
        return out
