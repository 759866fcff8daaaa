"""Dead-letter operations shared by the CLI (``netlogpush deadletters …``) and the API
(``…/logpush/jobs/{job_id}/deadletters``), so both list, replay and report the same way.

Everything here works on the data directory the service uses (``<data_dir>/deadletter``), so
it runs equally inside the service and from a separate CLI process: the store's entries are
files written atomically, and a replay deletes an entry only after its destination took it.
A replay goes to the job's *current* ``destination_conf`` (the caller reads it from the job
store): a batch refused because of a wrong token is replayed after the job is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from netlogpush.logpush.delivery.deadletter import DeadLetter, DeadLetterStore
from netlogpush.logpush.delivery.metrics import JobMetrics
from netlogpush.logpush.delivery.sender import Sender
from netlogpush.logpush.destinations import DestinationConfError, parse_destination_conf

#: Where the service keeps dead letters under its data directory (service.JobSupervisor).
SUBDIR = "deadletter"


class ReplayError(ValueError):
    """The job's destination cannot be replayed to (unparseable, or not a pushing one)."""


@dataclass(slots=True)
class ReplayReport:
    delivered: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # asked-for ids that are not held

    @property
    def delivered_records(self) -> int:
        return sum(int(d["records"]) for d in self.delivered)

    def as_dict(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "delivered_records": self.delivered_records,
            "failed": self.failed,
            "missing": self.missing,
        }


def store_root(data_dir: str | Path) -> Path:
    return Path(data_dir) / SUBDIR


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(letter: DeadLetter) -> dict[str, Any]:
    """One entry as the CLI table and the API show it."""
    return {
        "id": letter.entry_id,
        "time": _iso(letter.created_ns),
        "records": letter.records,
        "bytes": letter.body_bytes,
        "reason": letter.reason,
        "status": letter.status,
        "message": letter.message,
        "attempts": letter.attempts,
        "first_seq": letter.first_seq,
        "last_seq": letter.last_seq,
    }


def _store(data_dir: str | Path, job_id: int | str) -> DeadLetterStore | None:
    """The job's store, or None when it never had one (listing must not create directories)."""
    if not (store_root(data_dir) / str(job_id)).is_dir():
        return None
    return DeadLetterStore(store_root(data_dir), str(job_id))


def list_entries(data_dir: str | Path, job_id: int | str) -> list[dict[str, Any]]:
    """Every complete entry of the job, oldest first."""
    store = _store(data_dir, job_id)
    return [] if store is None else [describe(d) for d in store.entries()]


def held(data_dir: str | Path, job_id: int | str) -> tuple[int, int]:
    """``(batches, records)`` the job's store holds now."""
    store = _store(data_dir, job_id)
    return (0, 0) if store is None else store.count()


def sender_for(destination_conf: str) -> Sender:
    # Imported here: the package __init__ defines make_sender and must not import this module
    # back (the CLI imports only this one).
    from netlogpush.logpush.delivery import make_sender

    try:
        return make_sender(parse_destination_conf(destination_conf))
    except DestinationConfError as exc:
        raise ReplayError(f"destination_conf: {exc.parameter}: {exc.rule}") from None
    except ValueError as exc:
        raise ReplayError(str(exc)) from None


def replay(
    data_dir: str | Path,
    job_id: int | str,
    destination_conf: str,
    entry_ids: list[str] | None = None,
    *,
    sender: Sender | None = None,
) -> ReplayReport:
    """Send the job's entries (all, or ``entry_ids``) once each to its destination; the
    delivered ones are removed. A failed entry stays, with the receiver's answer reported.

    ``sender`` overrides the one built from ``destination_conf`` (tests, custom TLS roots).
    """
    report = ReplayReport()
    store = _store(data_dir, job_id)
    letters = [] if store is None else store.entries()
    if entry_ids is not None:
        known = {d.entry_id for d in letters}
        report.missing = [e for e in entry_ids if e not in known]
        wanted = set(entry_ids)
        letters = [d for d in letters if d.entry_id in wanted]
    if store is None or not letters:
        return report
    own = sender is None
    active = sender_for(destination_conf) if sender is None else sender
    try:
        for letter in letters:
            try:
                result = store.replay_one(active, letter)
            except (OSError, KeyError) as exc:  # removed meanwhile (another replay), unreadable
                report.failed.append({**describe(letter), "error": f"{type(exc).__name__}: {exc}"})
                continue
            if result.ok:
                report.delivered.append({**describe(letter), "location": result.location})
            else:
                report.failed.append({**describe(letter), "error": result.message})
    finally:
        if own:
            active.close()
    return report


def job_metrics(
    data_dir: str | Path, job_id: int | str, counters: dict[str, int] | None
) -> dict[str, Any]:
    """The API's metrics object: the running job's counters (zeros when it is not running in
    this process) and what its dead-letter store holds now."""
    batches, records = held(data_dir, job_id)
    return {
        "job_id": int(job_id) if str(job_id).isdigit() else job_id,
        "running": counters is not None,
        "counters": counters if counters is not None else JobMetrics().snapshot(),
        "deadletter": {"batches": batches, "records": records},
    }
