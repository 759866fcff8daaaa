"""The cursor ledger: each durable consumer's ack floor and skipped count, in one file.

An append-only log of small checksummed entries, replayed on open (the last entry per
consumer wins). Appending one entry per ack is a single write (+ fdatasync), cheaper than
rewriting a file and renaming it per ack. When the log grows past ``compact_bytes`` it is
rewritten with one entry per consumer (temp file, fsync, rename, fsync directory). A torn
last entry (kill -9 mid-write) fails its checksum and is cut off: that ack is then simply
not durable and its records are delivered again, which at-least-once allows.

Entry: ``len u32 | crc32 u32 | JSON``, JSON being
``{"op": "set", "name", "cursor", "skipped", "created_ns"}`` or ``{"op": "del", "name"}``.
"""

from __future__ import annotations

import errno
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import orjson

from netlogpush.stream.interface import StreamError, StreamFullError

log = logging.getLogger(__name__)
_ENTRY = struct.Struct("<II")


@dataclass
class CursorState:
    cursor: int
    skipped: int
    created_ns: int


def write_all(fd: int, data: bytes | memoryview, where: Path) -> None:
    """``os.write`` until everything is written; ENOSPC becomes ``StreamFullError``."""
    view = memoryview(data)
    try:
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StreamFullError(
                e.errno, f"no space left in the stream's data directory {where.parent}"
            ) from e
        raise StreamError(f"cannot write {where}: {e}") from e


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Ledger:
    def __init__(self, path: Path, sync: bool, compact_bytes: int = 1 << 20) -> None:
        self.path = path
        self.sync = sync
        self.compact_bytes = compact_bytes
        self.dirty = False
        self.state: dict[str, CursorState] = {}
        self.truncated_bytes = 0
        self._load()
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self.fd).st_size

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        pos = 0
        while pos < len(data):
            if len(data) - pos < _ENTRY.size:
                break
            length, crc = _ENTRY.unpack_from(data, pos)
            body = data[pos + _ENTRY.size : pos + _ENTRY.size + length]
            if len(body) != length or zlib.crc32(body) != crc:
                break
            try:
                entry = orjson.loads(body)
                name = str(entry["name"])
                if entry["op"] == "set":
                    self.state[name] = CursorState(
                        int(entry["cursor"]), int(entry["skipped"]), int(entry["created_ns"])
                    )
                else:
                    self.state.pop(name, None)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                break
            pos += _ENTRY.size + length
        if pos < len(data):
            self.truncated_bytes = len(data) - pos
            log.warning(
                "cursor ledger %s: cut off %d bytes of a torn or corrupt entry at byte %d; "
                "the acks in it were not durable, so their records are delivered again",
                self.path,
                self.truncated_bytes,
                pos,
            )
            os.truncate(self.path, pos)

    @staticmethod
    def _entry(name: str, st: CursorState | None) -> bytes:
        if st is None:
            body = orjson.dumps({"op": "del", "name": name})
        else:
            body = orjson.dumps(
                {
                    "op": "set",
                    "name": name,
                    "cursor": st.cursor,
                    "skipped": st.skipped,
                    "created_ns": st.created_ns,
                }
            )
        return _ENTRY.pack(len(body), zlib.crc32(body)) + body

    def put(self, name: str, st: CursorState | None) -> None:
        """Record ``name``'s new state (``None``: deleted). On failure nothing changes."""
        data = self._entry(name, st)
        try:
            write_all(self.fd, data, self.path)
        except StreamError:
            os.ftruncate(self.fd, self.size)
            raise
        self.size += len(data)
        if st is None:
            self.state.pop(name, None)
        else:
            self.state[name] = CursorState(st.cursor, st.skipped, st.created_ns)
        if self.sync:
            os.fdatasync(self.fd)
        else:
            self.dirty = True
        if self.size > self.compact_bytes:
            self._compact()

    def _compact(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        data = b"".join(self._entry(n, s) for n, s in self.state.items())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, data, tmp)
            os.fsync(fd)
        except StreamError:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            return  # keep the long log; it is still correct
        os.close(fd)
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self.size = len(data)

    def flush(self) -> None:
        if self.dirty:
            os.fdatasync(self.fd)
            self.dirty = False

    def close(self) -> None:
        os.close(self.fd)
