"""Out-of-state TCP protection: which out-of-state packets are dropped.

Cloudflare: "out-of-state TCP rules will drop out-of-state packets that do not belong to
existing (and tracked) TCP connections if their rates exceed the configured thresholds ...
Packets below the threshold will not be evaluated", and "the protection system will provide
some tolerance to out-of-state packets to accommodate for the natural randomness of Internet
routing". The tracker says which packets are out of state (``NOT_FOUND``,
``OUT_OF_SEQUENCE``, ``ALREADY_CLOSED``, ``UNEXPECTED``); each feeds its destination's rate
detector (per rule) when the component is not disabled for it, and is dropped while that
detector is over the rule's rate and burst. Below the thresholds it passes, unchanged.
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

TAG = 2


class OutOfStateProtection:
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

    def drop(
        self, out_of_state: Mask, mode: U8, rule: I64, dst_hi: U64, dst_lo: U64, ts: I64
    ) -> Mask:
        """Per packet: out of state, counted, and its destination over the thresholds."""
        counted = np.flatnonzero(out_of_state & (mode > 0))
        out = np.zeros(out_of_state.shape[0], np.bool_)
        if counted.size:
            r = rule[counted]
            keys = destination_keys(TAG, self.seed, r, dst_hi[counted], dst_lo[counted])
            out[counted] = self.detector.update(
                keys, ts[counted], self.policy.rate[r], self.policy.burst[r]
            )
        return out
