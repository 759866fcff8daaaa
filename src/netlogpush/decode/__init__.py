"""Vectorised packet decoding: ``FrameBatch`` -> ``PacketColumns``."""

from netlogpush.decode.columns import PacketColumns
from netlogpush.decode.engine import decode
from netlogpush.decode.frames import FrameBatch, FrameBatchBuilder
from netlogpush.decode.status import DecodeStatus

__all__ = ["DecodeStatus", "FrameBatch", "FrameBatchBuilder", "PacketColumns", "decode"]
