"""A local directory (``file:///var/log/netlogpush/{DATE}``): the same objects, with the
same names, as on S3 or R2, written atomically (temporary file, fsync, rename) so a reader
never sees half a batch and a retried batch replaces its own file."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from netlogpush.logpush.delivery.sender import BatchMeta, SendResult
from netlogpush.logpush.destinations import LocalDestination, object_key

# Errors a human must fix (permissions, a file where a directory should be): retrying
# cannot help, so the batch is dead-lettered at once instead of after the whole window.
_FINAL = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR}


class LocalSender:
    def __init__(self, destination: LocalDestination, *, fsync: bool = True) -> None:
        self.destination = destination
        self.fsync = fsync

    def close(self) -> None:
        return None

    def path(self, meta: BatchMeta) -> Path:
        key = object_key(
            self.destination.template, meta.first_record_ns, meta.start_ns, meta.end_ns, meta.raw
        )
        return Path("/") / key

    def send(self, body: bytes, meta: BatchMeta) -> SendResult:
        target = self.path(meta)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(body)
                if self.fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, target)
            if self.fsync:
                dfd = os.open(target.parent, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return SendResult(False, exc.errno not in _FINAL, None,
                              f"{type(exc).__name__}: {exc.strerror or exc}",
                              location=str(target))
        return SendResult(True, False, None, "", location=str(target))
