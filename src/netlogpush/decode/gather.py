"""Vectorised reads of big-endian header fields out of a ``FrameBatch`` buffer.

Hand-written because no library gathers fixed-layout headers for many packets at once:
dpkt and scapy build a Python object per packet (about 7 µs each), which is 10x too slow
for the decode target. Here one fancy-index gathers a ``(rows, width)`` block of header
bytes, and each field is a couple of vector operations on that block's columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from netlogpush.decode.frames import PAD

U8 = npt.NDArray[np.uint8]
#: Integer columns: numpy's stubs widen uint32 arithmetic to signedinteger, hence the bound.
U32 = npt.NDArray[np.integer[Any]]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


def block(data: U8, pos: I64, width: int) -> U8:
    """The ``width`` bytes at each position, as a ``(len(pos), width)`` array.

    Positions are clipped so every read stays inside ``data`` (which ends with ``PAD`` zero
    bytes); bytes past a frame's end are garbage and callers mask them with ``avail``.
    """
    assert width <= PAD
    p = np.clip(pos, 0, data.shape[0] - PAD)
    # Indexing rows of a sliding-window view copies ``width`` bytes per packet, without the
    # (rows, width) index array that ``data[p[:, None] + arange(width)]`` would build.
    windows = np.lib.stride_tricks.sliding_window_view(data, width)
    out: U8 = windows[p]
    return out


def u8(blk: U8, i: int) -> U32:
    return blk[:, i].astype(np.uint32)


def u16(blk: U8, i: int) -> U32:
    return (blk[:, i].astype(np.uint32) << 8) | blk[:, i + 1]


def u32(blk: U8, i: int) -> U32:
    b = blk[:, i : i + 4].astype(np.uint32)
    return (b[:, 0] << 24) | (b[:, 1] << 16) | (b[:, 2] << 8) | b[:, 3]


def at_u8(data: U8, pos: I64) -> U32:
    """One byte at each position (clipped like ``block``)."""
    return data[np.clip(pos, 0, data.shape[0] - PAD)].astype(np.uint32)


def at_u16(data: U8, pos: I64) -> U32:
    p = np.clip(pos, 0, data.shape[0] - PAD)
    return (data[p].astype(np.uint32) << 8) | data[p + 1]


def at_u32(data: U8, pos: I64) -> U32:
    p = np.clip(pos, 0, data.shape[0] - PAD)
    return (
        (data[p].astype(np.uint32) << 24)
        | (data[p + 1].astype(np.uint32) << 16)
        | (data[p + 2].astype(np.uint32) << 8)
        | data[p + 3]
    )


def masked(values: U32, ok: Mask) -> U32:
    """``values`` where ``ok``, else 0: a field the packet's bytes do not reach stays empty."""
    return np.where(ok, values, np.uint32(0))
