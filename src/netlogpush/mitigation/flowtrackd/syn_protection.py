"""SYN flood protection: which SYN and SYN-ACK packets are challenged.

Cloudflare: "In mitigation mode, SYN flood rules will challenge new connection initiation
requests (SYN, SYN-ACK) if they exceed the configured packet-per-second thresholds ...
Packets below the threshold will not be challenged." Every SYN and SYN-ACK to a protected
destination, for which the component is not disabled, feeds that destination's rate
detector (per rule); while the detector is over the rule's rate and burst, a SYN or SYN-ACK
that would open a connection from a 4-tuple that has not answered a challenge is
challenged (``CHALLENGE_NEEDED``). How a challenge is answered, and what
``CHALLENGE_PASSED`` means, is the tracker's part (tracker.py, docs/flowtrackd.md).
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

TAG = 1


class SynFloodProtection:
    def __init__(self, config: ProtectionConfig, tracker: TrackerConfig) -> None:
        self.detector = RateDetector(tracker.detector_capacity, tracker.hold_seconds)
        self.configure(ComponentPolicy(config), tracker)

    def configure(self, policy: ComponentPolicy, tracker: TrackerConfig) -> None:
        """New rules and filters; the detector's levels stay."""
        self.policy = policy
        self.detector.hold_seconds = tracker.hold_seconds
        self.seed = tracker.hash_seed

    def modes(self, batch: Batch) -> tuple[I64, U8]:
        return self.policy.resolve(batch)

    def challenge(
        self, starts: Mask, mode: U8, rule: I64, dst_hi: U64, dst_lo: U64, ts: I64
    ) -> Mask:
        """Per packet: a SYN/SYN-ACK (``starts``) arriving while its destination is flooded."""
        counted = np.flatnonzero(starts & (mode > 0))
        out = np.zeros(starts.shape[0], np.bool_)
        if counted.size:
            r = rule[counted]
            keys = destination_keys(TAG, self.seed, r, dst_hi[counted], dst_lo[counted])
            out[counted] = self.detector.update(
                keys, ts[counted], self.policy.rate[r], self.policy.burst[r]
            )
        return out
