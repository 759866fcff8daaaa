"""IP-range text databases: iptoasn.com TSV and ip-location-db CSV, loaded into numpy ranges.

Supported layouts (detected from the first data line, see docs/enrichment.md):

=====================  ==========================================================  =============
kind                   columns                                                     fills
=====================  ==========================================================  =============
``iptoasn-tsv``        ``start<TAB>end<TAB>asn<TAB>country<TAB>description``       ASN, name,
                       (ip2asn-v4/v6/combined.tsv; ``-u32`` numeric variant)       country
``ip-location-db-asn``  ``start,end,asn,"name"`` (asn-ipv4[-num].csv, asn-ipv6...)  ASN, name
``ip-location-db-country``  ``start,end,CC`` (e.g. geo-whois-asn-country-ipv4.csv)  country
``ip-location-db-city``  ``start,end,CC,state1,state2,city,postcode,lat,lon,tz``    country, geo
=====================  ==========================================================  =============

Addresses are textual (IPv4 and IPv6 may be mixed) or decimal integers. A decimal file is
IPv6 when its name says so (``v6``) or a value exceeds 2**32-1. Rows with AS number 0
(iptoasn's "Not routed") carry no ASN. Bad rows are skipped and counted by reason.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import logging
import re
import socket
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from netlogpush.enrich.ranges import V6_DTYPE, Family, RangeIndex, build_range_index
from netlogpush.enrich.result import DatabaseError, LookupResult

log = logging.getLogger(__name__)

_SNIFF_BYTES = 65536
_GZIP_MAGIC = b"\x1f\x8b"
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_MAX_ASN = 2**32 - 1


@dataclass(frozen=True, slots=True)
class _Layout:
    kind: str
    delimiter: str
    columns: tuple[str, ...]  # names; "" = ignored column
    numeric: bool  # decimal-integer addresses
    header_rows: int


@dataclass(slots=True)
class _Table:
    """Per-range payload columns, shared by the IPv4 and IPv6 indexes (``rows`` point here)."""

    asn: npt.NDArray[np.int64]
    name_code: npt.NDArray[np.int64]
    names: npt.NDArray[np.object_]  # names[0] == ""
    country_code: npt.NDArray[np.int64]
    countries: npt.NDArray[np.object_]  # countries[0] == ""
    latitude: npt.NDArray[np.float64]
    longitude: npt.NDArray[np.float64]


@dataclass(slots=True)
class RangeDatabase:
    """A range file loaded into sorted numpy arrays."""

    path: Path
    kind: str
    v4: RangeIndex
    v6: RangeIndex
    table: _Table
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def description(self) -> str:
        return f"{self.kind}: {len(self.v4)} IPv4 + {len(self.v6)} IPv6 ranges"

    def lookup(self, keys: npt.NDArray[np.generic], family: Family) -> LookupResult:
        rows = (self.v4 if family == 4 else self.v6).find(keys)
        hit = rows >= 0
        r = np.where(hit, rows, 0)
        t = self.table
        if len(t.asn) == 0:
            return LookupResult.empty(len(keys))
        asn = np.where(hit, t.asn[r], 0)
        name = t.names[np.where(hit, t.name_code[r], 0)]
        country = t.countries[np.where(hit, t.country_code[r], 0)]
        lat = np.where(hit, t.latitude[r], np.nan)
        lon = np.where(hit, t.longitude[r], np.nan)
        return LookupResult(asn, name, country, lat, lon)


def is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _head(path: Path) -> str:
    if is_gzip(path):
        with gzip.open(path, "rb") as g:
            raw = g.read(_SNIFF_BYTES)
    else:
        with path.open("rb") as f:
            raw = f.read(_SNIFF_BYTES)
    return raw.decode("utf-8", errors="replace")


def _is_address(text: str) -> bool:
    text = text.strip()
    if text.isdigit():
        return True
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except OSError:
        return False
    return True


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def sniff(path: Path) -> _Layout | None:
    """Recognise a range file from its first data line; ``None`` if it is none of ours."""
    lines = [ln for ln in _head(path).splitlines() if ln.strip()]
    header_rows = 0
    for line in lines[:2]:
        delimiter = "\t" if "\t" in line else ","
        cells = next(csv.reader([line], delimiter=delimiter))
        if len(cells) < 3 or not _is_address(cells[0]):
            header_rows += 1  # a header line, or garbage that the next line will tell apart
            continue
        numeric = cells[0].strip().isdigit()
        if not _is_address(cells[1]):
            return None
        if delimiter == "\t" and len(cells) == 5 and cells[2].strip().isdigit():
            return _Layout("iptoasn-tsv", "\t", ("start", "end", "asn", "country", "name"),
                           numeric, header_rows)
        if delimiter == "," and len(cells) == 4 and cells[2].strip().isdigit():
            return _Layout("ip-location-db-asn", ",", ("start", "end", "asn", "name"),
                           numeric, header_rows)
        if delimiter == "," and len(cells) == 3 and _COUNTRY.fullmatch(cells[2].strip()):
            return _Layout("ip-location-db-country", ",", ("start", "end", "country"),
                           numeric, header_rows)
        if (delimiter == "," and len(cells) == 10 and _is_number(cells[7])
                and _is_number(cells[8])):
            cols = ("start", "end", "country", "", "", "", "", "latitude", "longitude", "")
            return _Layout("ip-location-db-city", ",", cols, numeric, header_rows)
        return None
    return None


def _read(path: Path, layout: _Layout, skipped: Counter[str]) -> pa.Table:
    names = [c or f"_ignored{i}" for i, c in enumerate(layout.columns)]

    def on_invalid(row: pacsv.InvalidRow) -> str:
        skipped["wrong number of columns"] += 1
        return "skip"

    source: pa.NativeFile = pa.OSFile(str(path))
    if is_gzip(path):
        source = pa.CompressedInputStream(source, "gzip")
    with source:
        return pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=layout.header_rows),
            parse_options=pacsv.ParseOptions(
                delimiter=layout.delimiter,
                # iptoasn descriptions are raw text that may contain a stray '"'.
                quote_char='"' if layout.delimiter == "," else False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                include_columns=[n for n in names if not n.startswith("_ignored")],
                strings_can_be_null=False,
            ),
        )


def _uints(column: pa.ChunkedArray) -> npt.NDArray[np.uint64] | None:
    """Decimal strings -> uint64 in one vectorised cast; ``None`` if any cell is not one."""
    try:
        out: npt.NDArray[np.uint64] = (
            pc.cast(pc.utf8_trim_whitespace(column), pa.uint64()).to_numpy().astype(np.uint64)
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # a bad cell, or a value beyond 64 bits (IPv6): caller goes row by row
    return out


def _ints(column: pa.ChunkedArray) -> list[int | None]:
    """Decimal strings -> Python ints below 2**128 (None where bad), row by row."""
    out: list[int | None] = []
    for text in column.to_pylist():
        try:
            v: int | None = int(text.strip())
        except ValueError:
            v = None
        out.append(v if v is not None and 0 <= v < 2**128 else None)
    return out


def _addresses(
    path: Path, layout: _Layout, starts: pa.ChunkedArray, ends: pa.ChunkedArray,
    skipped: Counter[str],
) -> tuple[list[int], list[bytes], list[bytes], list[bytes], list[bytes], list[int]]:
    """Parse start/end columns -> (v4 rows, v4 starts, v4 ends, v6 starts, v6 ends, v6 rows).

    Addresses come back as big-endian bytes (4 or 16) so that numpy can view them as keys.
    """
    v4_rows: list[int] = []
    v6_rows: list[int] = []
    s4: list[bytes] = []
    e4: list[bytes] = []
    s6: list[bytes] = []
    e6: list[bytes] = []
    if layout.numeric:
        return _numeric_addresses(path, starts, ends, skipped)
    pton = socket.inet_pton
    af4, af6 = socket.AF_INET, socket.AF_INET6
    for row, (a, b) in enumerate(zip(starts.to_pylist(), ends.to_pylist(), strict=True)):
        a, b = a.strip(), b.strip()
        six = ":" in a
        if six != (":" in b):
            skipped["start and end of different families"] += 1
            continue
        try:
            pa_, pb_ = (pton(af6, a), pton(af6, b)) if six else (pton(af4, a), pton(af4, b))
        except OSError:
            skipped["bad address"] += 1
            continue
        if pa_ > pb_:
            skipped["start after end"] += 1
        elif six:
            s6.append(pa_)
            e6.append(pb_)
            v6_rows.append(row)
        else:
            s4.append(pa_)
            e4.append(pb_)
            v4_rows.append(row)
    return v4_rows, s4, e4, s6, e6, v6_rows


def _numeric_addresses(
    path: Path, starts: pa.ChunkedArray, ends: pa.ChunkedArray, skipped: Counter[str]
) -> tuple[list[int], list[bytes], list[bytes], list[bytes], list[bytes], list[int]]:
    us, ue = _uints(starts), _uints(ends)
    hint_v6 = "v6" in path.name.lower()
    if (us is not None and ue is not None and not hint_v6
            and us.max(initial=0) <= 0xFFFFFFFF and ue.max(initial=0) <= 0xFFFFFFFF):
        # The common case (asn-ipv4-num.csv, ip2asn-v4-u32.tsv): fully vectorised.
        ok = us <= ue
        skipped["start after end"] += int((~ok).sum())
        rows = np.flatnonzero(ok)
        return (rows.tolist(), [us[rows].astype(">u4").tobytes()],
                [ue[rows].astype(">u4").tobytes()], [], [], [])
    si, ei = _ints(starts), _ints(ends)
    is_v6 = hint_v6 or any(v is not None and v > 0xFFFFFFFF for v in (*si, *ei))
    width = 16 if is_v6 else 4
    bs: list[bytes] = []
    be: list[bytes] = []
    br: list[int] = []
    for row, (a, b) in enumerate(zip(si, ei, strict=True)):
        if a is None or b is None:
            skipped["bad address"] += 1
        elif a > b:
            skipped["start after end"] += 1
        else:
            bs.append(a.to_bytes(width, "big"))
            be.append(b.to_bytes(width, "big"))
            br.append(row)
    return ([], [], [], bs, be, br) if is_v6 else (br, bs, be, [], [], [])


def _codes(values: pa.ChunkedArray) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """Strings -> (code per row, table of distinct strings with "" at code 0)."""
    enc = pc.dictionary_encode(values).combine_chunks()
    dictionary = [""] + [str(s) for s in enc.dictionary.to_pylist()]
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64) + 1
    table = np.array(dictionary, dtype=object)
    # Map every spelling of "nothing" to code 0 so lookups return a plain "".
    empty = np.array([s == "" for s in dictionary])
    codes[empty[codes]] = 0
    return codes, table


def _country_column(values: pa.ChunkedArray) -> pa.ChunkedArray:
    up = pc.utf8_upper(pc.utf8_trim_whitespace(values))
    ok = pc.match_substring_regex(up, r"^[A-Z]{2}$")
    # iptoasn writes "None" / "Unknown" for unallocated space: not a country.
    return pc.if_else(ok, up, pa.scalar("", pa.string()))


def _floats(values: pa.ChunkedArray) -> npt.NDArray[np.float64]:
    trimmed = pc.utf8_trim_whitespace(values)
    try:
        fast: npt.NDArray[np.float64] = (
            pc.cast(pc.if_else(pc.equal(trimmed, ""), None, trimmed), pa.float64())
            .to_numpy(zero_copy_only=False).astype(np.float64)
        )
        return fast  # empty cells became NaN
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass  # a bad cell somewhere: go row by row
    out = np.full(len(values), np.nan)
    for i, text in enumerate(values.to_pylist()):
        with contextlib.suppress(ValueError):
            out[i] = float(text)
    return out


def load_range_file(path: Path) -> RangeDatabase | None:
    """Load ``path`` if it is a range file we know; ``None`` if it is not one."""
    layout = sniff(path)
    if layout is None:
        return None
    skipped: Counter[str] = Counter()
    try:
        table = _read(path, layout, skipped)
    except (pa.ArrowInvalid, OSError, EOFError, UnicodeDecodeError) as exc:
        raise DatabaseError(f"{path}: cannot parse as {layout.kind}: {exc}") from exc
    n = table.num_rows
    cols = set(table.column_names)
    empty_strings = pa.chunked_array([pa.repeat(pa.scalar("", pa.string()), n)])

    if "asn" in cols:
        fast = _uints(table.column("asn"))
        if fast is not None:
            asn = np.where(fast <= _MAX_ASN, fast, 2**63 - 1).astype(np.int64)
            asn[asn > _MAX_ASN] = -1
        else:
            asn = np.array([-1 if a is None or a > _MAX_ASN else a
                            for a in _ints(table.column("asn"))], dtype=np.int64)
    else:
        asn = np.zeros(n, dtype=np.int64)
    bad_asn = asn < 0
    skipped["bad AS number"] += int(bad_asn.sum())
    name_col = pc.utf8_trim_whitespace(table.column("name")) if "name" in cols else empty_strings
    name_code, names = _codes(name_col)
    name_code[asn == 0] = 0  # "Not routed" is not an AS name
    country_code, countries = _codes(
        _country_column(table.column("country")) if "country" in cols else empty_strings
    )
    if "latitude" in cols:
        lat, lon = _floats(table.column("latitude")), _floats(table.column("longitude"))
        bad = ~((np.abs(lat) <= 90) & (np.abs(lon) <= 180))
        lat[bad] = np.nan
        lon[bad] = np.nan
    else:
        lat = np.full(n, np.nan)
        lon = np.full(n, np.nan)

    v4_rows, s4, e4, s6, e6, v6_rows = _addresses(
        path, layout, table.column("start"), table.column("end"), skipped
    )
    # Rows with nothing useful (AS 0 in an ASN file, a bad AS number) are left out of the
    # index entirely so that a later database can answer for those addresses.
    useful = ~bad_asn & ((asn > 0) | (country_code > 0) | ~np.isnan(lat))
    v4 = _index(4, s4, e4, v4_rows, useful)
    v6 = _index(6, s6, e6, v6_rows, useful)
    skipped = +skipped  # drop zero counts
    if n and not (len(v4_rows) or len(v6_rows)):
        raise DatabaseError(f"{path}: no valid rows in {layout.kind} file ({dict(skipped)})")
    if skipped:
        log.warning("%s: skipped %d bad rows: %s", path, sum(skipped.values()), dict(skipped))
    payload = _Table(asn.clip(0), name_code, names, country_code, countries, lat, lon)
    return RangeDatabase(path, layout.kind, v4, v6, payload, skipped)


def _index(
    family: Family, starts: list[bytes], ends: list[bytes], rows: list[int],
    useful: npt.NDArray[np.bool_],
) -> RangeIndex:
    dtype = np.dtype(">u4") if family == 4 else V6_DTYPE
    s = np.frombuffer(b"".join(starts), dtype=dtype)
    e = np.frombuffer(b"".join(ends), dtype=dtype)
    r = np.array(rows, dtype=np.int64)
    keep = useful[r] if len(r) else np.zeros(0, dtype=bool)
    if family == 4:
        s, e = s.astype(np.uint32), e.astype(np.uint32)
    return build_range_index(family, s[keep], e[keep], r[keep])
