"""``PacketView``: the columns of a batch that rule expressions read.

Integer columns go by their ``network_analytics_logs`` names (``IPProtocol``,
``DestinationPort``, ``SourceASN``, …), string columns too (``SourceCountry``,
``ColoName``); addresses are the decoder's binary arrays. Raw bytes (for ``bit_slice``,
``sip``, ``ip.opt.type`` and ``contains`` on ``ip``/``tcp``/``udp``/``icmp``) come from the
frame buffer with per-packet offsets: ``l3`` (IP header), ``l4`` (transport header) and
``end`` (just past the IP packet's captured bytes). A view without them has no raw bytes:
those fields are missing values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from netlogpush.decode.columns import PacketColumns
from netlogpush.decode.frames import FrameBatch
from netlogpush.decode.link import decode_link

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
IntColumn = npt.NDArray[np.integer[Any]]
ObjectColumn = npt.NDArray[np.object_]


@dataclass(frozen=True, slots=True)
class StringColumn:
    """A string column as codes into its distinct values (``categories[codes[i]]``).

    Rules test each distinct value once and spread the answer with one ``take`` over the
    codes; a country or colo column has a few hundred distinct values per batch at most.
    """

    codes: I32
    categories: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __getitem__(self, i: int) -> str:
        return self.categories[int(self.codes[i])]

    @classmethod
    def constant(cls, value: str, n: int) -> StringColumn:
        return cls(np.zeros(n, np.int32), (value,))

    @classmethod
    def from_objects(cls, values: ObjectColumn) -> StringColumn:
        """Factorize an object array of ``str`` (the enricher's output).

        A site's colo fields are one value repeated; one comparison finds that (~20 ms per
        million rows). Otherwise pyarrow's hash-based ``dictionary_encode`` (~75 ms per
        million) beats ``np.unique``, which sorts Python strings.
        """
        n = int(values.shape[0])
        if n == 0:
            return cls(np.zeros(0, np.int32), ())
        first = values[0]
        if bool(np.all(values == first)):
            return cls.constant(str(first), n)
        encoded = pa.array(values, type=pa.string()).dictionary_encode()
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
        return cls(codes, tuple(encoded.dictionary.to_pylist()))


@dataclass(slots=True)
class PacketView:
    """What the rules see of a batch of ``n`` packets (all arrays have ``n`` rows)."""

    n: int
    ip_version: U8  # 4, 6, or 0 (no IP header: every field is missing)
    src4: U32  # meaningful where ip_version == 4
    dst4: U32
    src6: U8  # (n, 16)
    dst6: U8
    ints: Mapping[str, IntColumn] = field(default_factory=dict)
    strings: Mapping[str, StringColumn | ObjectColumn] = field(default_factory=dict)
    data: U8 | None = None  # the frame buffer the offsets point into
    l3: I64 | None = None  # offset of the IP header, -1 when unknown
    l4: I64 | None = None  # offset of the transport header, -1 when not decoded (fragments)
    end: I64 | None = None  # offset just past the IP packet's captured bytes
    _factorized: dict[str, StringColumn] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return self.n

    def int_column(self, name: str) -> IntColumn:
        """Integer column ``name``; zeros when the batch does not have it."""
        col = self.ints.get(name)
        return np.zeros(self.n, np.uint32) if col is None else col

    def string_column(self, name: str) -> StringColumn:
        """String column ``name`` as codes (factorized once per view); empty strings if absent."""
        col = self._factorized.get(name)
        if col is None:
            raw = self.strings.get(name)
            if raw is None:
                col = StringColumn.constant("", self.n)
            elif isinstance(raw, StringColumn):
                col = raw
            else:
                col = StringColumn.from_objects(raw)
            self._factorized[name] = col
        return col

    def rows(self, start: int, stop: int) -> PacketView:
        """Packets ``start:stop`` as a view sharing this one's arrays (and frame buffer)."""

        def cut(col: StringColumn | ObjectColumn) -> StringColumn | ObjectColumn:
            if isinstance(col, StringColumn):
                return StringColumn(col.codes[start:stop], col.categories)
            return col[start:stop]

        part = PacketView(
            n=len(range(start, stop)[: self.n]),
            ip_version=self.ip_version[start:stop],
            src4=self.src4[start:stop],
            dst4=self.dst4[start:stop],
            src6=self.src6[start:stop],
            dst6=self.dst6[start:stop],
            ints={k: v[start:stop] for k, v in self.ints.items()},
            strings={k: cut(v) for k, v in self.strings.items()},
            data=self.data,
            l3=None if self.l3 is None else self.l3[start:stop],
            l4=None if self.l4 is None else self.l4[start:stop],
            end=None if self.end is None else self.end[start:stop],
        )
        part.n = int(part.ip_version.shape[0])
        for name, col in self._factorized.items():
            part._factorized[name] = StringColumn(col.codes[start:stop], col.categories)
        return part

    def string_at(self, name: str, i: int) -> str:
        """One packet's value of a string column (for the reference evaluator and tests)."""
        raw = self.strings.get(name)
        if raw is None:
            return ""
        return raw[i] if isinstance(raw, StringColumn) else str(raw[i])

    @classmethod
    def from_columns(
        cls, pc: PacketColumns, extra: Mapping[str, npt.NDArray[Any] | StringColumn] | None = None
    ) -> PacketView:
        """The view of decoded packets plus enrichment columns (``Enricher.enrich``'s output).

        Integer arrays in ``extra`` join the integer columns (``SourceASN``, …), object
        arrays and ``StringColumn`` values the string columns (``SourceCountry``,
        ``ColoName``, …).
        """
        ints: dict[str, IntColumn] = dict(pc.fields)
        strings: dict[str, StringColumn | ObjectColumn] = {}
        for name, col in (extra or {}).items():
            if len(col) != len(pc):
                raise ValueError(f"column {name} has {len(col)} rows for a batch of {len(pc)}")
            if isinstance(col, StringColumn) or col.dtype == object:
                strings[name] = col
            elif np.issubdtype(col.dtype, np.integer):
                ints[name] = col
        l3, end = packet_extent(pc)
        return cls(
            n=len(pc),
            ip_version=pc.ip_version,
            src4=pc.src4,
            dst4=pc.dst4,
            src6=pc.src6,
            dst6=pc.dst6,
            ints=ints,
            strings=strings,
            data=pc.frames.data,
            l3=l3,
            l4=pc.l4,
            end=end,
        )


def packet_extent(pc: PacketColumns) -> tuple[I64, I64]:
    """Where each packet's IP header starts, and where its captured IP packet ends.

    ``PacketColumns`` keeps the transport offset, and the IP header sits ``IPHeaderLength``
    bytes before it. Packets without a decoded transport header (fragments, bad headers)
    get their link layer decoded again to find it; those are few.
    The end is the frame's captured end, or the end the IP length field gives when that is
    sooner, so Ethernet padding after a short packet is not read as payload.
    """
    n = len(pc)
    frames = pc.frames
    frame_end = frames.offsets + frames.caplen.astype(np.int64)
    header_len = pc.get("IPHeaderLength").astype(np.int64)
    is_ip = pc.ip_version != 0
    l3 = np.where((pc.l4 >= 0) & is_ip, pc.l4 - header_len, -1)
    again = np.flatnonzero(is_ip & (l3 < 0))
    if again.size:
        sub = FrameBatch(
            data=frames.data,
            offsets=frames.offsets[again],
            caplen=frames.caplen[again],
            wirelen=frames.wirelen[again],
            ts_ns=frames.ts_ns[again],
            linktype=frames.linktype[again],
            sample_interval=frames.sample_interval[again],
        )
        l3[again], _ = decode_link(sub, np.zeros(again.size, np.uint8))
    total = pc.get("IPTotalLength").astype(np.int64)
    bounded = (l3 >= 0) & (total >= header_len) & (header_len > 0)
    end = np.where(bounded, np.minimum(frame_end, l3 + total), frame_end)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return l3.astype(np.int64), end.astype(np.int64)
