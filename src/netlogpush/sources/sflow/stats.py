"""Counters of the sFlow decoder, and rate-limited logging of malformed input."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, fields

# Reasons a datagram is malformed. Decoding of that datagram stops at the first problem;
# samples before it are kept.
TRUNCATED_HEADER = "truncated_header"
BAD_VERSION = "bad_version"
BAD_ADDRESS_TYPE = "bad_address_type"
TRUNCATED_SAMPLE = "truncated_sample"  # fewer bytes left than the sample count promises
SAMPLE_LENGTH_OVERFLOW = "sample_length_overflow"
FLOW_SAMPLE_TOO_SHORT = "flow_sample_too_short"
TRUNCATED_RECORD = "truncated_record"  # fewer bytes left in the sample than records promised
RECORD_LENGTH_OVERFLOW = "record_length_overflow"
RAW_HEADER_TOO_SHORT = "raw_header_too_short"
HEADER_LENGTH_OVERFLOW = "header_length_overflow"

MALFORMED_REASONS = (
    TRUNCATED_HEADER,
    BAD_VERSION,
    BAD_ADDRESS_TYPE,
    TRUNCATED_SAMPLE,
    SAMPLE_LENGTH_OVERFLOW,
    FLOW_SAMPLE_TOO_SHORT,
    TRUNCATED_RECORD,
    RECORD_LENGTH_OVERFLOW,
    RAW_HEADER_TOO_SHORT,
    HEADER_LENGTH_OVERFLOW,
)


@dataclass(slots=True)
class SflowStats:
    """What the decoder saw. Per call of ``SflowDecoder.decode`` and cumulative."""

    datagrams: int = 0
    bytes: int = 0
    #: Flow samples (formats 0:1 and 0:3) that decoded completely.
    flow_samples: int = 0
    #: Counter samples (0:2, 0:4): counted and skipped.
    counter_samples: int = 0
    #: Samples of any other (enterprise, format): skipped by their length.
    unknown_samples: int = 0
    #: Frames put into the FrameBatch (one per raw packet header record).
    frames: int = 0
    #: Flow records other than the raw packet header (e.g. 0:1001 extended switch): skipped.
    skipped_records: int = 0
    #: Raw packet headers whose header_protocol is not Ethernet, IPv4 or IPv6: skipped.
    unsupported_header_protocol: int = 0
    #: Raw packet headers with zero header bytes: skipped.
    empty_headers: int = 0
    #: Flow samples with sampling_rate 0 (treated as 1).
    zero_sampling_rate: int = 0
    #: Datagrams that had at least one problem, and the problems by reason.
    malformed_datagrams: int = 0
    malformed: dict[str, int] = field(default_factory=dict)
    #: From datagram sequence numbers per (agent, sub-agent).
    datagrams_lost: int = 0
    datagrams_reordered: int = 0
    datagrams_duplicated: int = 0
    agent_restarts: int = 0
    #: From flow sample sequence numbers per (agent, sub-agent, source_id).
    samples_lost: int = 0
    samples_reordered: int = 0
    source_resets: int = 0
    #: Samples the agents report they dropped themselves (flow sample ``drops``).
    agent_drops: int = 0

    def add(self, other: SflowStats) -> None:
        for f in fields(self):
            if f.name == "malformed":
                for reason, n in other.malformed.items():
                    self.malformed[reason] = self.malformed.get(reason, 0) + n
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int | dict[str, int]]:
        out: dict[str, int | dict[str, int]] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = dict(value) if isinstance(value, dict) else value
        return out


class RateLimitedLog:
    """Logs a warning per reason at most once every ``interval_s`` seconds.

    A flood of bad datagrams (a misconfigured exporter, a port scan) must not flood the log;
    the message says how many were suppressed since the last one.
    """

    def __init__(self, logger: logging.Logger, interval_s: float = 60.0) -> None:
        self._logger = logger
        self._interval = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warn(self, reason: str, detail: str) -> None:
        now = time.monotonic()
        last = self._last.get(reason)
        if last is not None and now - last < self._interval:
            self._suppressed[reason] = self._suppressed.get(reason, 0) + 1
            return
        self._last[reason] = now
        suppressed = self._suppressed.pop(reason, 0)
        more = f" ({suppressed} more since last report)" if suppressed else ""
        self._logger.warning("sFlow: %s: %s%s", reason, detail, more)
