"""Capture-file reader: pcap, pcapng, gzip; against hand-written bytes, real tools and fuzz."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import struct
import subprocess
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlogpush.decode.frames import PAD, FrameBatch
from netlogpush.sources.pcap import CaptureFormatError, CaptureReader, iter_batches

GOPACKET = Path("/usr/share/gocode/src/github.com/gopacket/gopacket")
NGTESTS = GOPACKET / "pcapgo" / "tests"
T0 = 1_700_000_000  # seconds

# --- writers: every byte spelled out, independent of the reader ------------------------------


@dataclass(frozen=True)
class Frame:
    data: bytes
    ts_ns: int
    linktype: int = 1
    wirelen: int | None = None

    @property
    def wire(self) -> int:
        return len(self.data) if self.wirelen is None else self.wirelen


def pcap_bytes(
    frames: Sequence[Frame], *, order: str = "<", nano: bool = False, linkfield: int = 1
) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144, linkfield)]
    for f in frames:
        sec, frac = divmod(f.ts_ns, 10**9)
        out.append(
            struct.pack(order + "IIII", sec, frac if nano else frac // 1000, len(f.data), f.wire)
        )
        out.append(f.data)
    return b"".join(out)


def block(btype: int, body: bytes, order: str = "<") -> bytes:
    body += bytes(-len(body) % 4)
    n = len(body) + 12
    return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)


def option(code: int, value: bytes, order: str = "<") -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + bytes(-len(value) % 4)


def shb(order: str = "<", major: int = 1) -> bytes:
    return block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, major, 0, -1), order)


def idb(linktype: int, snaplen: int = 0, opts: bytes = b"", order: str = "<") -> bytes:
    if opts:
        opts += option(0, b"", order)
    return block(1, struct.pack(order + "HHI", linktype, 0, snaplen) + opts, order)


def epb(ifid: int, ticks: int, data: bytes, wirelen: int | None = None, order: str = "<") -> bytes:
    wl = len(data) if wirelen is None else wirelen
    head = struct.pack(order + "IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF, len(data), wl)
    return block(6, head + data, order)


def spb(data: bytes, wirelen: int | None = None, order: str = "<") -> bytes:
    return block(
        3, struct.pack(order + "I", len(data) if wirelen is None else wirelen) + data, order
    )


def legacy_pb(ifid: int, ticks: int, data: bytes, order: str = "<") -> bytes:
    head = struct.pack(
        order + "HHIIII", ifid, 7, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)
    )
    return block(2, head + data, order)


def payload(i: int, n: int) -> bytes:
    return bytes((i * 7 + j) & 0xFF for j in range(n))


# --- reading helpers -------------------------------------------------------------------------


def check_batch(b: FrameBatch) -> None:
    """Invariants every batch must keep, whatever the input."""
    n = len(b)
    assert b.offsets.dtype == np.int64 and b.caplen.dtype == np.uint32
    assert b.wirelen.dtype == np.uint32 and b.ts_ns.dtype == np.int64
    assert b.linktype.dtype == np.uint16 and b.sample_interval.dtype == np.uint32
    assert all(a.shape == (n,) for a in (b.caplen, b.wirelen, b.ts_ns, b.linktype))
    assert (b.sample_interval == 1).all()
    assert b.data.dtype == np.uint8 and len(b.data) >= PAD
    assert not b.data[-PAD:].any()
    if n:
        assert (b.offsets >= 0).all()
        assert int((b.offsets + b.caplen).max()) <= len(b.data) - PAD


def read_all(source: object, **kw: int) -> tuple[list[Frame], CaptureReader]:
    reader = CaptureReader(source, **kw)  # type: ignore[arg-type]
    frames = []
    for b in reader:
        check_batch(b)
        for i in range(len(b)):
            frames.append(Frame(b.frame(i), int(b.ts_ns[i]), int(b.linktype[i]), int(b.wirelen[i])))
    return frames, reader


def norm(frames: Sequence[Frame]) -> list[Frame]:
    return [Frame(f.data, f.ts_ns, f.linktype, f.wire) for f in frames]


FRAMES = [
    Frame(payload(0, 60), T0 * 10**9 + 123_456_000),
    Frame(payload(1, 0), T0 * 10**9 + 999_999_000),  # an empty record is legal
    Frame(payload(2, 1514), (T0 + 1) * 10**9),
    Frame(payload(3, 96), (T0 + 2) * 10**9 + 1000, wirelen=1500),  # snapped
    Frame(payload(4, 61), 0),
]

# --- classic pcap ----------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_classic_exact_fields(order: str, nano: bool) -> None:
    frames = [*FRAMES, Frame(payload(5, 70), T0 * 10**9 + 123_456_789)]
    raw = pcap_bytes(frames, order=order, nano=nano)
    reader = CaptureReader(io.BytesIO(raw))
    batches = list(reader)
    assert reader.format == ("pcap-ns" if nano else "pcap")
    assert reader.compression is None and reader.problems == {}
    assert len(batches) == 1
    b = batches[0]
    check_batch(b)
    # offsets point at the record data inside the file image: 24-byte header, 16 per record
    expect_off, pos = [], 24
    for f in frames:
        expect_off.append(pos + 16)
        pos += 16 + len(f.data)
    assert b.offsets.tolist() == expect_off
    assert b.caplen.tolist() == [60, 0, 1514, 96, 61, 70]
    assert b.wirelen.tolist() == [60, 0, 1514, 1500, 61, 70]
    last = T0 * 10**9 + (123_456_789 if nano else 123_456_000)
    assert b.ts_ns.tolist() == [f.ts_ns for f in frames[:-1]] + [last]
    assert b.linktype.tolist() == [1] * 6
    assert [b.frame(i) for i in range(6)] == [f.data for f in frames]
    assert reader.frames == 6 and reader.bytes_consumed == len(raw)


def test_classic_linktype_ignores_fcs_bits() -> None:
    raw = pcap_bytes([Frame(b"\x45" + bytes(19), 0)], linkfield=(1 << 26) | (4 << 28) | 101)
    got, _ = read_all(io.BytesIO(raw))
    assert [f.linktype for f in got] == [101]


def test_batches_split_at_batch_frames_and_chunks() -> None:
    frames = [Frame(payload(i, i % 50), T0 * 10**9 + i * 1000) for i in range(10)]
    raw = pcap_bytes(frames)
    sizes = [len(b) for b in CaptureReader(io.BytesIO(raw), batch_frames=3)]
    assert sizes == [3, 3, 3, 1]
    got, reader = read_all(io.BytesIO(raw), batch_frames=4, chunk_bytes=37)
    assert got == norm(frames)
    assert reader.batches >= 4 and reader.problems == {}


@pytest.mark.parametrize("cut", range(0, 24 + 16 + 60 + 16 + 5))
def test_truncation_at_every_byte(cut: int) -> None:
    frames = [Frame(payload(0, 60), T0 * 10**9), Frame(payload(1, 5), T0 * 10**9 + 1000)]
    raw = pcap_bytes(frames)[:cut]
    if cut < 24:
        with pytest.raises(CaptureFormatError):
            read_all(io.BytesIO(raw))
        return
    got, reader = read_all(io.BytesIO(raw), chunk_bytes=16)
    complete = [n for n, end in ((1, 24 + 76), (2, 24 + 76 + 21)) if cut >= end]
    assert len(got) == (complete[-1] if complete else 0)
    boundary = cut in (24, 100, 121)
    assert reader.problems == ({} if boundary else {"truncated_tail": 1})


def test_bad_magic_and_short_files() -> None:
    with pytest.raises(CaptureFormatError, match="magic 00010203 at offset 0"):
        CaptureReader(io.BytesIO(bytes(range(64))))
    with pytest.raises(CaptureFormatError, match="too short"):
        CaptureReader(io.BytesIO(b""))
    with pytest.raises(CaptureFormatError, match="ends inside its header"):
        list(CaptureReader(io.BytesIO(pcap_bytes([])[:20])))
    with pytest.raises(CaptureFormatError, match="zstd"):
        CaptureReader(io.BytesIO(b"\x28\xb5\x2f\xfd" + bytes(60)))
    with pytest.raises(CaptureFormatError, match="modified"):
        CaptureReader(io.BytesIO(b"\x34\xcd\xb2\xa1" + bytes(60)))


@pytest.mark.parametrize("chunk", [8, 4096, 8 << 20])
def test_garbage_caplen_names_offset_after_good_frames(chunk: int) -> None:
    good = pcap_bytes(FRAMES[:2])
    bad = struct.pack("<IIII", T0, 0, 300_000, 300_000) + bytes(100)
    reader = CaptureReader(io.BytesIO(good + bad + pcap_bytes(FRAMES)[24:]), chunk_bytes=chunk)
    seen: list[bytes] = []
    with pytest.raises(CaptureFormatError, match=f"offset {len(good)} claims 300000") as ei:
        for b in reader:
            seen.extend(b.frame(i) for i in range(len(b)))
    assert ei.value.offset == len(good)
    assert seen == [f.data for f in FRAMES[:2]]


# --- pcapng ----------------------------------------------------------------------------------


def test_pcapng_sections_interfaces_and_resolutions() -> None:
    d = payload(9, 80)
    raw = b"".join(
        [
            shb("<"),
            idb(1, 0),  # default microseconds
            idb(101, 0, option(9, b"\x09")),  # nanoseconds, raw IP
            block(0x0BAD, b"custom block body"),  # skipped
            epb(0, T0 * 10**6 + 5, d),
            epb(1, T0 * 10**9 + 7, d[:40], wirelen=400),
            idb(113, 64, option(9, bytes([0x80 | 8])) + option(14, struct.pack("<q", -100))),
            epb(2, (T0 << 8) + 0x40, d),  # 2^-8 s ticks: 0x40/256 = 0.25 s; offset -100 s
            block(5, bytes(20)),  # interface statistics: skipped
            epb(7, 0, d),  # no interface 7: counted, dropped
            shb(">"),  # new section, big-endian, interfaces reset
            idb(1, 0, option(9, b"\x03", ">"), ">"),  # milliseconds
            epb(0, T0 * 1000 + 999, d[:10], order=">"),
            legacy_pb(0, T0 * 1000 + 1, d[:11], order=">"),
            spb(d, order=">"),  # no timestamp: the previous packet's is used
            shb("<", major=2),  # unknown major version: whole section skipped
            idb(1, 0),
            epb(0, 1, d),
        ]
    )
    got, reader = read_all(io.BytesIO(raw))
    assert reader.format == "pcapng"
    assert (
        [(f.data, f.ts_ns, f.linktype, f.wirelen) for f in got]
        == [
            (d, T0 * 10**9 + 5000, 1, 80),
            (d[:40], T0 * 10**9 + 7, 101, 400),
            (d, (T0 - 100) * 10**9 + 250_000_000, 113, 80),  # snaplen is not enforced on EPBs
            (d[:10], T0 * 10**9 + 999_000_000, 1, 10),
            (d[:11], T0 * 10**9 + 1_000_000, 1, 11),
            (d, T0 * 10**9 + 1_000_000, 1, 80),
        ]
    )
    assert reader.problems == {"unknown_interface": 1, "unsupported_section_version": 1}
    assert reader.blocks_skipped == 4  # custom, ISB, then the IDB and EPB of the v2 section


def test_pcapng_epb_snaplen_is_not_enforced_but_spb_uses_it() -> None:
    d = payload(1, 300)
    raw = shb() + idb(1, 100) + spb(d[:100], wirelen=300) + epb(0, 0, d)
    got, _ = read_all(io.BytesIO(raw))
    assert [(len(f.data), f.wirelen) for f in got] == [(100, 300), (300, 300)]


def test_pcapng_spb_caplen_is_bounded_by_block() -> None:
    # SPB whose original length exceeds what the block holds and no snaplen: cap at block room
    raw = shb() + idb(1, 0) + spb(b"abcdef", wirelen=1000)
    got, _ = read_all(io.BytesIO(raw))
    assert [(f.data, f.wirelen) for f in got] == [(b"abcdef\0\0", 1000)]


@pytest.mark.parametrize(
    ("resol", "ticks", "expect"),
    [
        (0, 17, 17 * 10**9),
        (9, 123, 123),
        (12, 12_345_678_901_234_567, 12_345_678_901_234),  # picoseconds, floored
        (0x80 | 0, 3, 3 * 10**9),
        (0x80 | 30, (5 << 30) + (1 << 29), 5_500_000_000),
        (0x80 | 40, (1_700_000 << 40) + 12_345_678_901, 1_700_000_011_228_329),
        (0x80 | 63, 1 << 62, 500_000_000),
    ],
)
def test_pcapng_timestamp_resolutions(resol: int, ticks: int, expect: int) -> None:
    raw = shb() + idb(1, 0, option(9, bytes([resol]))) + epb(0, ticks, b"x")
    got, reader = read_all(io.BytesIO(raw))
    assert [f.ts_ns for f in got] == [expect]
    assert reader.problems == {}


def test_pcapng_unsupported_resolution_falls_back_to_microseconds() -> None:
    raw = shb() + idb(1, 0, option(9, b"\x14")) + epb(0, 7, b"x")
    got, reader = read_all(io.BytesIO(raw))
    assert [f.ts_ns for f in got] == [7000]
    assert reader.problems == {"unsupported_tsresol": 1}


def test_pcapng_inconsistent_lengths_name_offset() -> None:
    head = shb() + idb(1, 0) + epb(0, 0, b"good")
    bad = bytearray(epb(0, 0, b"bad!"))
    bad[-4:] = struct.pack("<I", 999)
    reader = CaptureReader(io.BytesIO(head + bytes(bad) + epb(0, 0, b"more")))
    seen: list[bytes] = []
    with pytest.raises(CaptureFormatError, match=f"offset {len(head)} has inconsistent lengths"):
        for b in reader:
            seen.extend(b.frame(i) for i in range(len(b)))
    assert seen == [b"good"]


def test_pcapng_caplen_beyond_block_is_fatal() -> None:
    bad = bytearray(epb(0, 0, b"abcd"))
    bad[20:24] = struct.pack("<I", 5)  # claims 5 captured bytes in a 4-byte slot
    head = shb() + idb(1, 0)
    with pytest.raises(CaptureFormatError, match=f"offset {len(head)} claims 5"):
        list(CaptureReader(io.BytesIO(head + bytes(bad))))


def test_pcapng_bad_byte_order_magic() -> None:
    raw = bytearray(shb())
    raw[8:12] = b"ABCD"
    with pytest.raises(CaptureFormatError, match="byte-order magic 41424344"):
        list(CaptureReader(io.BytesIO(bytes(raw))))


@pytest.mark.parametrize("cut", range(0, 28 + 20 + 36 + 36 + 1, 3))
def test_pcapng_truncation(cut: int) -> None:
    raw = (shb() + idb(1, 0) + epb(0, 1, b"abcd") + epb(0, 2, b"efgh"))[: 28 + 20 + 36 + 36 - cut]
    if len(raw) < 28:
        with pytest.raises(CaptureFormatError):
            list(CaptureReader(io.BytesIO(raw)))
        return
    got, reader = read_all(io.BytesIO(raw), chunk_bytes=5)
    assert [f.data for f in got] == [b"abcd", b"efgh"][: max(0, (len(raw) - 48) // 36)]
    clean = len(raw) in (28, 48, 84, 120)
    assert reader.problems == ({} if clean else {"truncated_tail": 1})


def test_pcapng_many_small_sections_read_in_linear_time() -> None:
    # One SHB+IDB+EPB per section: a walk that ran to the chunk end for every section would
    # take minutes here (quadratic); the adaptive walk takes about a second.
    n = 10_000
    raw = b"".join(shb() + idb(1, 0) + epb(0, i, b"abcd") for i in range(n))
    t = time.perf_counter()
    got, _ = read_all(io.BytesIO(raw))
    assert [f.ts_ns for f in got] == [i * 1000 for i in range(n)]
    assert time.perf_counter() - t < 20


# --- gzip, file objects, pipes, memory -------------------------------------------------------


def test_gzip_detected_by_magic_not_name(tmp_path: Path) -> None:
    raw = pcap_bytes(FRAMES)
    path = tmp_path / "plain-looking.pcap"
    path.write_bytes(gzip.compress(raw[:100]) + gzip.compress(raw[100:]))  # two members
    got, reader = read_all(path, chunk_bytes=64)
    assert got == norm(FRAMES)
    assert reader.compression == "gzip" and reader.bytes_consumed == path.stat().st_size
    assert reader.bytes_total == path.stat().st_size
    notgz = tmp_path / "x.pcap.gz"
    notgz.write_bytes(raw)
    got, reader = read_all(notgz)
    assert got == norm(FRAMES) and reader.compression is None


def test_gzip_pcapng_and_truncated_gzip() -> None:
    raw = shb() + idb(1, 0) + b"".join(epb(0, i, payload(i, 200)) for i in range(50))
    z = gzip.compress(raw)
    got, reader = read_all(io.BytesIO(z))
    assert len(got) == 50 and reader.format == "pcapng"
    got, reader = read_all(io.BytesIO(z[: len(z) * 2 // 3]))
    assert 0 < len(got) < 50
    assert reader.problems["truncated_gzip"] == 1
    assert [f.data for f in got] == [payload(i, 200) for i in range(len(got))]


def test_corrupt_gzip_is_a_format_error() -> None:
    rng = np.random.default_rng(1)
    frames = [Frame(rng.bytes(1000), T0 * 10**9) for _ in range(600)]  # incompressible
    z = bytearray(gzip.compress(pcap_bytes(frames), compresslevel=1))
    z[-8] ^= 0xFF  # the CRC of the member's data
    reader = CaptureReader(io.BytesIO(bytes(z)), chunk_bytes=64 << 10)
    got: list[bytes] = []
    with pytest.raises(CaptureFormatError, match=r"corrupt gzip data .* incorrect data check"):
        for b in reader:
            got.extend(b.frame(i) for i in range(len(b)))
    # data decompressed before the bad CRC is delivered (zlib drops its last output block)
    assert 200 < len(got) < 600 and got == [f.data for f in frames[: len(got)]]
    with pytest.raises(CaptureFormatError, match="corrupt gzip"):
        CaptureReader(io.BytesIO(b"\x1f\x8b" + bytes(30)))


def test_pipe_source_and_iter_batches(tmp_path: Path) -> None:
    path = tmp_path / "a.pcap"
    path.write_bytes(pcap_bytes(FRAMES))
    with subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        reader = CaptureReader(proc.stdout, chunk_bytes=10)
        frames = [b.frame(i) for b in reader for i in range(len(b))]
        assert reader.bytes_total is None
    assert frames == [f.data for f in FRAMES]
    assert sum(len(b) for b in iter_batches(str(path), batch_frames=2)) == len(FRAMES)


class _Generated(io.RawIOBase):
    """A pcap stream of ``n`` 200-byte records, made on the fly (no disk, no big buffer)."""

    def __init__(self, n: int) -> None:
        self._rec = struct.pack("<IIII", T0, 0, 200, 200) + bytes(200)
        self._pending = pcap_bytes([])
        self._left = n

    def readable(self) -> bool:
        return True

    def readinto(self, buf: object) -> int:
        out = memoryview(buf).cast("B")  # type: ignore[arg-type]
        if not self._pending and self._left:
            k = min(max(len(out) // len(self._rec), 1), self._left)
            self._pending, self._left = self._rec * k, self._left - k
        n = min(len(out), len(self._pending))
        out[:n], self._pending = self._pending[:n], self._pending[n:]
        return n


def test_memory_stays_bounded_on_a_large_stream() -> None:
    n = 300_000  # 65 MB of capture
    tracemalloc.start()
    try:
        total = sum(len(b) for b in CaptureReader(_Generated(n), chunk_bytes=1 << 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == n
    assert peak < 12 << 20, peak


# --- property tests and fuzzing --------------------------------------------------------------

frame_st = st.builds(
    Frame,
    data=st.binary(max_size=300),
    ts_ns=st.integers(0, 2**32 - 1).map(lambda s: s * 10**9),
    wirelen=st.none() | st.integers(300, 2**32 - 1),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(frame_st, max_size=20),
    st.integers(1, 700),
    st.integers(1, 7),
    st.sampled_from("<>"),
    st.booleans(),
)
def test_roundtrip_any_chunking_pcap(
    frames: list[Frame], chunk: int, batch: int, order: str, nano: bool
) -> None:
    got, reader = read_all(
        io.BytesIO(pcap_bytes(frames, order=order, nano=nano)),
        chunk_bytes=chunk,
        batch_frames=batch,
    )
    assert got == norm(frames)
    assert reader.problems == {}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(frame_st, st.sampled_from(["epb", "spb", "pb", "other"])), max_size=20),
    st.integers(1, 700),
    st.sampled_from("<>"),
)
def test_roundtrip_any_chunking_pcapng(
    items: list[tuple[Frame, str]], chunk: int, order: str
) -> None:
    parts, expect, last = [shb(order), idb(1, 0, option(9, b"\x09", order), order)], [], 0
    for f, kind in items:
        if kind == "epb":
            parts.append(epb(0, f.ts_ns, f.data, f.wirelen, order))
            last = f.ts_ns
        elif kind == "pb":
            parts.append(legacy_pb(0, f.ts_ns, f.data, order))
            f = Frame(f.data, f.ts_ns)  # no wire length in this block
            last = f.ts_ns
        elif kind == "spb":
            # the block holds 0-3 padding bytes; wirelen = caplen keeps them out
            parts.append(spb(f.data, order=order))
            f = Frame(f.data, last)
        else:
            parts.append(block(0x40000BAD, f.data, order))
            continue
        expect.append(f)
    got, _ = read_all(io.BytesIO(b"".join(parts)), chunk_bytes=chunk)
    assert got == norm(expect)


def _valid_seeds() -> list[bytes]:
    d = payload(3, 50)
    return [
        pcap_bytes(FRAMES),
        pcap_bytes(FRAMES, order=">", nano=True),
        shb()
        + idb(1, 64, option(9, b"\x89"))
        + epb(0, 5, d)
        + spb(d)
        + legacy_pb(0, 1, d)
        + block(0xBAD, d)
        + shb(">")
        + idb(1, 0, order=">")
        + epb(0, 9, d, order=">"),
    ]


def _read_quietly(raw: bytes, chunk: int) -> None:
    try:
        reader = CaptureReader(io.BytesIO(raw), chunk_bytes=chunk, batch_frames=3)
        for b in reader:
            check_batch(b)
    except CaptureFormatError:
        pass


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        [
            b"",
            b"\xd4\xc3\xb2\xa1",
            b"\xa1\xb2\x3c\x4d",
            b"\x0a\x0d\x0d\x0a",
            b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00",
        ]
    ),
    st.binary(max_size=400),
    st.integers(1, 300),
)
def test_fuzz_random_bytes(prefix: bytes, body: bytes, chunk: int) -> None:
    _read_quietly(prefix + body, chunk)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 2),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    st.integers(0, 40),
    st.integers(1, 300),
    st.booleans(),
)
def test_fuzz_mutated_valid_files(
    seed: int, flips: list[tuple[int, int]], cut: int, chunk: int, zipped: bool
) -> None:
    raw = bytearray(_valid_seeds()[seed])
    for pos, value in flips:
        raw[pos % len(raw)] = value
    data = bytes(raw[: len(raw) - cut])
    _read_quietly(gzip.compress(data) if zipped else data, chunk)


# --- against real tools ----------------------------------------------------------------------

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
#: Wireshark encapsulation numbers (frame.encap_type) of the link types in these files.
WTAP_TO_LINKTYPE = {"1": 1, "15": 0, "7": 101}


def tshark_frames(path: Path) -> tuple[list[tuple[int, int, int | None, int | None]], int]:
    """(wirelen, caplen, ts_ns or None, linktype) per packet, as tshark reads ``path``."""
    proc = subprocess.run(
        [
            "tshark",
            "-r",
            str(path),
            "-T",
            "fields",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.interface_id",
            "-e",
            "frame.encap_type",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    rows = []
    for line in proc.stdout.splitlines():
        wl, cl, ts, ifid, encap = line.split("\t")
        if ifid == "" and encap == "":
            continue  # tshark lists name-resolution and custom blocks as records too
        t = None if ts == "" else int(Decimal(ts) * 10**9)
        rows.append((int(wl), int(cl), t, WTAP_TO_LINKTYPE.get(encap)))
    return rows, proc.returncode


def ours(path: Path) -> tuple[list[tuple[int, int, int, int]], CaptureReader]:
    reader = CaptureReader(path)
    rows: list[tuple[int, int, int, int]] = []
    for b in reader:
        check_batch(b)
        rows += zip(
            b.wirelen.tolist(),
            b.caplen.tolist(),
            b.ts_ns.tolist(),
            b.linktype.tolist(),
            strict=True,
        )
    return rows, reader


def assert_same_as_tshark(path: Path) -> CaptureReader:
    ref, rc = tshark_frames(path)
    assert rc == 0
    got, reader = ours(path)
    assert len(got) == len(ref)
    for (wl, cl, ts, lt), (rwl, rcl, rts, rlt) in zip(got, ref, strict=True):
        assert (wl, cl) == (rwl, rcl)
        assert rts is None or ts == rts  # tshark shows no time for Simple Packet Blocks
        assert rlt is None or lt == rlt
    return reader


NG_FILES = sorted(p for p in NGTESTS.glob("*/*.pcapng") if "test901" not in p.name)


@pytest.mark.tool
@needs_tshark
@pytest.mark.skipif(not NGTESTS.is_dir(), reason="golang-github-gopacket-gopacket-dev missing")
@pytest.mark.parametrize("path", NG_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_gopacket_pcapng_edge_cases_match_tshark(path: Path) -> None:
    reader = assert_same_as_tshark(path)
    assert reader.problems == {}


@pytest.mark.tool
@needs_tshark
@pytest.mark.skipif(not NGTESTS.is_dir(), reason="golang-github-gopacket-gopacket-dev missing")
@pytest.mark.parametrize("order", ["le", "be"])
def test_gopacket_unknown_section_version(order: str) -> None:
    path = NGTESTS / order / "test901.pcapng"
    ref, rc = tshark_frames(path)
    assert rc != 0 and len(ref) == 1  # tshark gives up at the version-2.0 section
    got, reader = ours(path)
    # we skip that section and go on with the third one (as gopacket's skipUnknownVersion)
    assert [(wl, cl, ts) for wl, cl, ts, _ in got] == [(314, 314, 1340954905298858000)] * 2
    assert reader.problems == {"unsupported_section_version": 1}


@pytest.mark.tool
@needs_tshark
@pytest.mark.parametrize("name", ["test_dns.pcap", "test_ethernet.pcap", "test_loopback.pcap"])
def test_gopacket_classic_pcaps_match_tshark(name: str) -> None:
    path = GOPACKET / "pcap" / name
    if not path.exists():
        pytest.skip("golang-github-gopacket-gopacket-dev missing")
    assert_same_as_tshark(path)


def _scapy_pcap(path: Path) -> None:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import EDecimal, wrpcap

    pkts = []
    for i in range(40):
        p = (
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src="192.0.2.1", dst="198.51.100.2")
            / UDP(sport=1000 + i, dport=53)
            / (b"x" * i * 7)
        )
        p.time = EDecimal(T0) + EDecimal(i) / 1000 + EDecimal("0.000001")
        pkts.append(p)
    wrpcap(str(path), pkts)


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


@pytest.mark.tool
@needs_tshark
def test_tool_written_files_match_tshark(tmp_path: Path) -> None:
    src = tmp_path / "scapy.pcap"
    _scapy_pcap(src)
    variants = {"scapy.pcap": src}
    for fmt in ("pcapng", "nsecpcap", "pcap"):
        out = tmp_path / f"editcap-{fmt}"
        _run("editcap", "-F", fmt, str(src), str(out))
        variants[out.name] = out
    ng_ns = tmp_path / "editcap-ns-pcapng"
    _run("editcap", "-F", "pcapng", str(variants["editcap-nsecpcap"]), str(ng_ns))
    variants[ng_ns.name] = ng_ns
    if shutil.which("tcpdump"):
        for prec in ("micro", "nano"):
            out = tmp_path / f"tcpdump-{prec}.pcap"
            _run(
                "tcpdump",
                "-Z",
                "root",
                "-r",
                str(src),
                f"--time-stamp-precision={prec}",
                "-w",
                str(out),
            )
            variants[out.name] = out
    formats = {}
    for name, path in variants.items():
        reader = assert_same_as_tshark(path)
        formats[name] = reader.format
        gz = tmp_path / f"{name}.gz"
        gz.write_bytes(gzip.compress(path.read_bytes()))
        assert ours(gz)[0] == ours(path)[0]
    assert formats["editcap-nsecpcap"] == "pcap-ns" and formats["editcap-pcapng"] == "pcapng"
    if "tcpdump-nano.pcap" in formats:
        assert formats["tcpdump-nano.pcap"] == "pcap-ns"
    rows, _ = ours(src)
    assert len(rows) == 40 and rows[3][2] == (T0 * 10**9 + 3_000_000 + 1000)


@pytest.mark.tool
def test_scapy_wrpcapng_roundtrip(tmp_path: Path) -> None:
    from scapy.layers.l2 import Ether
    from scapy.utils import EDecimal, wrpcapng

    pkts = []
    for i in range(10):
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x88B5) / (b"y" * i)
        p.time = EDecimal(T0 + i)
        pkts.append(p)
    wrpcapng(str(tmp_path / "s.pcapng"), pkts)
    got, reader = read_all(tmp_path / "s.pcapng")
    assert reader.format == "pcapng"
    assert [(f.data, f.ts_ns) for f in got] == [
        (bytes(p), (T0 + i) * 10**9) for i, p in enumerate(pkts)
    ]


def _chunks(it: Iterator[FrameBatch]) -> int:
    return sum(len(b) for b in it)


def test_reader_closes_owned_file(tmp_path: Path) -> None:
    path = tmp_path / "a.pcap"
    path.write_bytes(pcap_bytes(FRAMES))
    before = len(os.listdir("/proc/self/fd"))
    assert _chunks(iter(CaptureReader(path))) == len(FRAMES)
    with CaptureReader(path):
        pass
    assert len(os.listdir("/proc/self/fd")) == before
    reader = CaptureReader(path)
    list(reader)
    with pytest.raises(RuntimeError):
        list(reader)
