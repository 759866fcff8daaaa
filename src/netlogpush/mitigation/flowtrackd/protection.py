"""ATP's two components: SYN flood protection and out-of-state TCP protection.

Both work the same way and differ only in which packets they count, so one class serves both.

SYN flood protection (Cloudflare: "In mitigation mode, SYN flood rules will challenge new
connection initiation requests (SYN, SYN-ACK) if they exceed the configured
packet-per-second thresholds ... Packets below the threshold will not be challenged"): every
SYN and SYN-ACK to a protected destination, for which the component is not disabled, feeds
that destination's rate detector (per rule); while the detector is over the rule's rate and
burst, a SYN or SYN-ACK that would open a connection from a 4-tuple that has not answered a
challenge is challenged (``CHALLENGE_NEEDED``). How a challenge is answered, and what
``CHALLENGE_PASSED`` means, is the tracker's part (tracker.py, docs/flowtrackd.md).

Out-of-state TCP protection (Cloudflare: "out-of-state TCP rules will drop out-of-state
packets that do not belong to existing (and tracked) TCP connections if their rates exceed
the configured thresholds ... Packets below the threshold will not be evaluated", and "the
protection system will provide some tolerance to out-of-state packets to accommodate for the
natural randomness of Internet routing"): the tracker says which packets are out of state
(``NOT_FOUND``, ``OUT_OF_SEQUENCE``, ``ALREADY_CLOSED``, ``UNEXPECTED``); each feeds its
destination's rate detector (per rule) when the component is not disabled for it, and is
dropped while that detector is over the rule's rate and burst. Below the thresholds it
passes, unchanged.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.firewall.batch import Batch
from netlogpush.mitigation.flowtrackd.config import ProtectionConfig, TrackerConfig
from netlogpush.mitigation.flowtrackd.policy import ComponentPolicy
from netlogpush.mitigation.flowtrackd.rate import RateDetector, destination_keys

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]

#: Keeps the two components' detector keys apart.
SYN_FLOOD_TAG, OUT_OF_STATE_TAG = 1, 2


class ProtectionComponent:
    def __init__(self, tag: int, config: ProtectionConfig, tracker: TrackerConfig) -> None:
        self.tag = tag
        self.detector = RateDetector(tracker.detector_capacity, tracker.hold_seconds)
        self.configure(ComponentPolicy(config), tracker)

    def configure(self, policy: ComponentPolicy, tracker: TrackerConfig) -> None:
        """New rules and filters; the detector's levels stay."""
        self.policy = policy
        self.detector.hold_seconds = tracker.hold_seconds
        self.seed = tracker.hash_seed

    def modes(self, batch: Batch) -> tuple[I64, U8]:
        return self.policy.resolve(batch)

    def over_threshold(
        self, counted: Mask, mode: U8, rule: I64, dst_hi: U64, dst_lo: U64, ts: I64
    ) -> Mask:
        """Per packet: one this component counts (``counted``) while its destination is over
        the rule's thresholds: a SYN to challenge, or an out-of-state packet to drop."""
        rows = np.flatnonzero(counted & (mode > 0))
        out = np.zeros(counted.shape[0], np.bool_)
        if rows.size:
            r = rule[rows]
            keys = destination_keys(self.tag, self.seed, r, dst_hi[rows], dst_lo[rows])
            out[rows] = self.detector.update(
                keys, ts[rows], self.policy.rate[r], self.policy.burst[r]
            )
        return out
