"""The per-job dead-letter store: batches that were refused (4xx) or ran out of retries.

Layout, one directory per job: ``<root>/<job_id>/<entry>.log.gz`` (the exact body that was
sent) and ``<entry>.json`` (why, when, how many records, which stream sequences). The JSON
is written last, by rename, after the body is synced: an entry exists only once both are
durable, so the runner may acknowledge the stream right after ``put`` returns. Leftover
``.tmp`` files from a crash are ignored and removed by ``put``'s next call.

Entries are inspectable (``entries``, ``body``, ``raw``) and replayable (``replay`` and
``replay_one`` re-send through a sender and delete on success); deadletter_ops.py builds the
CLI's and the API's operations on these.
"""

from __future__ import annotations

import gzip
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from netlogpush.logpush.delivery.sender import BatchMeta, Sender, SendResult

_JOB = re.compile(r"[A-Za-z0-9_-]{1,128}\Z")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    entry_id: str
    job_id: str
    records: int
    first_seq: int
    last_seq: int
    first_record_ns: int
    start_ns: int
    end_ns: int
    content_type: str
    reason: str  # "rejected" (a final answer) or "exhausted" (retry window used up)
    status: int | None
    message: str
    attempts: int
    created_ns: int
    body_bytes: int


@dataclass(frozen=True, slots=True)
class ReplayResult:
    replayed: int
    replayed_records: int
    failed: int
    last_error: str


def _write_synced(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class DeadLetterStore:
    """Dead letters of one job under ``root/<job_id>``."""

    def __init__(self, root: str | os.PathLike[str], job_id: str) -> None:
        if not _JOB.match(job_id):
            raise ValueError(f"job id {job_id!r} is not a safe directory name")
        self.job_id = job_id
        self.dir = Path(root) / job_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._counter = 0

    def put(
        self,
        body: bytes,
        meta: BatchMeta,
        *,
        reason: str,
        result: SendResult,
        attempts: int,
        now_ns: int,
    ) -> DeadLetter:
        """Store a batch durably; raises ``OSError`` if it could not (then do not ack)."""
        with self._lock:
            self._counter += 1
            entry_id = f"{now_ns:020d}-{meta.first_seq}-{meta.last_seq}-{self._counter}"
        letter = DeadLetter(
            entry_id=entry_id,
            job_id=self.job_id,
            records=meta.records,
            first_seq=meta.first_seq,
            last_seq=meta.last_seq,
            first_record_ns=meta.first_record_ns,
            start_ns=meta.start_ns,
            end_ns=meta.end_ns,
            content_type=meta.content_type,
            reason=reason,
            status=result.status,
            message=result.message,
            attempts=attempts,
            created_ns=now_ns,
            body_bytes=len(body),
        )
        for stale in self.dir.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        _write_synced(self.dir / f"{entry_id}.log.gz", body)
        _write_synced(self.dir / f"{entry_id}.json", orjson.dumps(asdict(letter)))
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)  # make both renames durable
        finally:
            os.close(dfd)
        return letter

    def entries(self) -> list[DeadLetter]:
        """Every complete entry, oldest first."""
        out = []
        for meta_path in sorted(self.dir.glob("*.json")):
            try:
                out.append(DeadLetter(**orjson.loads(meta_path.read_bytes())))
            except (OSError, orjson.JSONDecodeError, TypeError):
                continue  # unreadable metadata: left on disk for a human, not served
        return out

    def __iter__(self) -> Iterator[DeadLetter]:
        return iter(self.entries())

    def count(self) -> tuple[int, int]:
        """``(batches, records)`` currently held."""
        letters = self.entries()
        return len(letters), sum(d.records for d in letters)

    def body(self, entry_id: str) -> bytes:
        """The gzipped body exactly as it was sent."""
        return (self.dir / f"{self._checked(entry_id)}.log.gz").read_bytes()

    def raw(self, entry_id: str) -> bytes:
        """The uncompressed body, for inspection."""
        return gzip.decompress(self.body(entry_id))

    def delete(self, entry_id: str) -> None:
        entry_id = self._checked(entry_id)
        # metadata first: an entry without it is incomplete and no longer listed
        (self.dir / f"{entry_id}.json").unlink(missing_ok=True)
        (self.dir / f"{entry_id}.log.gz").unlink(missing_ok=True)

    def replay_one(self, sender: Sender, letter: DeadLetter) -> SendResult:
        """Send one entry again (one attempt); it is deleted once delivered."""
        body = self.body(letter.entry_id)
        meta = BatchMeta(
            job_id=letter.job_id,
            raw=gzip.decompress(body),
            records=letter.records,
            first_seq=letter.first_seq,
            last_seq=letter.last_seq,
            first_record_ns=letter.first_record_ns,
            start_ns=letter.start_ns,
            end_ns=letter.end_ns,
            content_type=letter.content_type,
        )
        result = sender.send(body, meta)
        if result.ok:
            self.delete(letter.entry_id)
        return result

    def replay(self, sender: Sender, entry_ids: list[str] | None = None) -> ReplayResult:
        """Send entries again (one attempt each); delivered ones are deleted."""
        done = records = failed = 0
        last_error = ""
        for letter in self.entries():
            if entry_ids is not None and letter.entry_id not in entry_ids:
                continue
            result = self.replay_one(sender, letter)
            if result.ok:
                done += 1
                records += letter.records
            else:
                failed += 1
                last_error = result.message
        return ReplayResult(done, records, failed, last_error)

    @staticmethod
    def _checked(entry_id: str) -> str:
        if not re.fullmatch(r"[0-9]+-[0-9]+-[0-9]+-[0-9]+", entry_id):
            raise KeyError(entry_id)
        return entry_id
