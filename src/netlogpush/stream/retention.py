"""Retention: which old segments to delete, and what a consumer that retention passes skips.

Pure functions over small summaries, so the rules are tested apart from any file handling.
Only whole *sealed* segments are deleted (the one being written is never deleted), oldest
first, while the stream is over its size bound or the segment's newest record is older than
the age bound. The stream rolls to a new segment at ``segment_bytes`` and, when an age bound
is set, once a segment's first record is an eighth of the age bound old, so the age bound
holds to within that eighth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NS = 1_000_000_000


@dataclass(frozen=True)
class RetentionPolicy:
    """Bounds on what the stream keeps; ``None`` means unbounded."""

    max_bytes: int | None = 10 * 1024**3
    max_age_s: float | None = 72 * 3600.0

    def __post_init__(self) -> None:
        if self.max_bytes is not None and self.max_bytes <= 0:
            raise ValueError(f"retention max_bytes must be positive, not {self.max_bytes}")
        if self.max_age_s is not None and self.max_age_s <= 0:
            raise ValueError(f"retention max_age_s must be positive, not {self.max_age_s}")

    def segment_roll_age_ns(self) -> int | None:
        """How old a segment's first record may get before the stream starts a new one."""
        return None if self.max_age_s is None else max(1, int(self.max_age_s * NS / 8))


@dataclass(frozen=True)
class SegmentSummary:
    size: int  # bytes on disk
    last_append_ns: int | None  # newest record's append time; None if it holds none


def segments_to_delete(
    segments: Sequence[SegmentSummary], policy: RetentionPolicy, now_ns: int
) -> int:
    """How many of the oldest segments to delete. The last (active) one is always kept."""
    total = sum(s.size for s in segments)
    cutoff = None if policy.max_age_s is None else now_ns - int(policy.max_age_s * NS)
    n = 0
    for seg in segments[:-1]:
        over_size = policy.max_bytes is not None and total > policy.max_bytes
        too_old = cutoff is not None and (seg.last_append_ns is None or seg.last_append_ns < cutoff)
        if not (over_size or too_old):
            break
        total -= seg.size
        n += 1
    return n


def pass_consumer(cursor: int, delivered: int, first_seq: int) -> tuple[int, int]:
    """A consumer's new cursor and the records it skips once the oldest retained record is
    ``first_seq``.

    Records already handed out (``delivered``) are in the job's hands, not skipped: the job
    still acks them (a no-op then, the cursor is past them).
    """
    floor = first_seq - 1
    if cursor >= floor:
        return cursor, 0
    return floor, floor - max(cursor, min(delivered, floor))
