"""Type-length-value option lists, as IPv4 and TCP share them.

Kind 0 ends the list, kind 1 is a one-byte NOP, every other kind is followed by a length
byte that counts the kind and length bytes too. The walk advances every packet one option
per step, so the whole batch takes at most ``max_options`` vector steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from netlogpush.decode.frames import PAD
from netlogpush.decode.gather import I64, U8

#: 40 bytes of options hold at most 40 options (all NOPs).
MAX_OPTIONS = 40


@dataclass(slots=True)
class Options:
    """Options of ``m`` packets: ``kinds[k, : counts[k]]`` in header order."""

    kinds: npt.NDArray[np.uint8]  # (m, MAX_OPTIONS)
    where: I64  # (m, MAX_OPTIONS) absolute offset of each option's kind byte
    lengths: npt.NDArray[np.uint8]  # (m, MAX_OPTIONS) option length (1 for EOL and NOP)
    counts: npt.NDArray[np.int32]
    malformed: npt.NDArray[np.bool_]  # a length byte was missing, < 2, or ran past the end

    def first(self, kind: int, length: int) -> tuple[npt.NDArray[np.int64], I64]:
        """Packets (indices into the ``m``) whose first option ``kind`` has ``length``, and where it is."""
        valid = np.arange(self.kinds.shape[1]) < self.counts[:, None]
        hit = (self.kinds == kind) & valid & (self.lengths == length)
        rows = np.flatnonzero(hit.any(axis=1))
        cols = hit[rows].argmax(axis=1)
        return rows, self.where[rows, cols]

    def first_any_length(
        self, kind: int
    ) -> tuple[npt.NDArray[np.int64], I64, npt.NDArray[np.uint8]]:
        valid = np.arange(self.kinds.shape[1]) < self.counts[:, None]
        hit = (self.kinds == kind) & valid
        rows = np.flatnonzero(hit.any(axis=1))
        cols = hit[rows].argmax(axis=1)
        return rows, self.where[rows, cols], self.lengths[rows, cols]


def walk(data: U8, start: I64, end: I64) -> Options:
    """Walk the option lists in ``[start, end)`` of each packet."""
    m = start.shape[0]
    kinds = np.zeros((m, MAX_OPTIONS), np.uint8)
    where = np.zeros((m, MAX_OPTIONS), np.int64)
    lengths = np.zeros((m, MAX_OPTIONS), np.uint8)
    counts = np.zeros(m, np.int32)
    malformed = np.zeros(m, np.bool_)
    pos = start.copy()
    active = pos < end
    top = data.shape[0] - PAD
    for step in range(MAX_OPTIONS):
        idx = np.flatnonzero(active)
        if not idx.size:
            break
        p = pos[idx]
        e = end[idx]
        kind = data[np.minimum(p, top)]
        has_length = kind > 1
        length = np.where(has_length, data[np.minimum(p + 1, top)], 1).astype(np.int64)
        bad = has_length & ((p + 1 >= e) | (length < 2) | (p + length > e))
        good = idx[~bad]
        kinds[good, step] = kind[~bad]
        where[good, step] = p[~bad]
        lengths[good, step] = length[~bad]
        counts[good] += 1
        malformed[idx[bad]] = True
        pos[idx] = p + length
        active[idx] = ~bad & (kind != 0) & (pos[idx] < e)
    # Keep only the columns some packet used: later look-ups scan (m, width) arrays.
    width = max(1, int(counts.max(initial=0)))
    return Options(kinds[:, :width], where[:, :width], lengths[:, :width], counts, malformed)
