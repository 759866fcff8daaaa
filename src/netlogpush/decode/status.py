"""Why a packet could not be decoded in full.

Every packet gets exactly one status: ``OK`` or the first problem the decoder met. Packets
whose IP header is present still become records (decoded as far as their bytes allow);
the others are only counted.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt


class DecodeStatus(IntEnum):
    OK = 0
    # The packet yields no record: there is no IP header to describe.
    TRUNCATED_LINK = 1
    UNSUPPORTED_LINKTYPE = 2
    NOT_IP = 3
    TRUNCATED_IP = 4
    BAD_IP_VERSION = 5
    # The packet yields a record; the fields past the problem stay empty.
    BAD_IP_HEADER_LENGTH = 10
    BAD_IP_OPTIONS = 11
    TRUNCATED_IPV6_EXTENSION = 12
    TRUNCATED_TRANSPORT = 13
    BAD_TCP_DATA_OFFSET = 14
    BAD_TCP_OPTIONS = 15
    TRUNCATED_GRE = 16
    MALFORMED_DNS = 17
    BAD_IP_TOTAL_LENGTH = 18
    IPV6_EXTENSION_CHAIN_TOO_LONG = 19

    @property
    def reason(self) -> str:
        """The name used in counters and logs, e.g. ``truncated_transport``."""
        return self.name.lower()


#: Statuses below this value mean the packet has no IP header and yields no record.
FIRST_RECORDABLE = DecodeStatus.BAD_IP_HEADER_LENGTH


def count_by_reason(status: npt.NDArray[np.uint8]) -> dict[str, int]:
    """Counts of every non-OK status in ``status``, keyed by reason name."""
    counts = np.bincount(status, minlength=max(DecodeStatus) + 1)
    return {s.reason: int(counts[s]) for s in DecodeStatus if s != DecodeStatus.OK and counts[s]}


def set_first(
    status: npt.NDArray[np.uint8], rows: npt.NDArray[np.int64], value: DecodeStatus
) -> None:
    """Mark ``rows`` with ``value`` unless they already carry an earlier problem."""
    if rows.size:
        sub = status[rows]
        status[rows] = np.where(sub == DecodeStatus.OK, np.uint8(value), sub)
