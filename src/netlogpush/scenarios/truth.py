"""Ground truth of a generated scenario: which packet is attack traffic, and when it ran.

It is written beside the capture as ``<capture>.truth.npz`` (numpy's own format, so
loading a million labels is one read and no parsing): one entry per packet *in file
order*, so the n-th frame a reader yields is labelled by ``stream[n]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

#: Stream codes in ``Truth.stream``; ``ATTACK`` marks attack packets.
STREAMS: tuple[str, ...] = ("mixed", "web", "dns", "victim-web", "attack")
MIXED, WEB, DNS, VICTIM_WEB, ATTACK = range(len(STREAMS))


def truth_path(pcap: str | Path) -> Path:
    p = Path(pcap)
    return p.with_name(p.name + ".truth.npz")


@dataclass(slots=True)
class Truth:
    """Labels per packet and what the attack was."""

    scenario: str
    stream: npt.NDArray[np.int8]  # per packet, file order: an index into ``STREAMS``
    ts_ns: npt.NDArray[np.int64]  # per packet, as written (microsecond resolution)
    vector: str  # Cloudflare's name for the attack vector; "" for a benign scenario
    attack_start_ns: int  # first attack packet; 0 when there is none
    attack_end_ns: int  # just after the last attack packet; 0 when there is none
    victims: tuple[str, ...]  # the attacked addresses (or prefix)
    seed: int

    @property
    def attack(self) -> npt.NDArray[np.bool_]:
        a: npt.NDArray[np.bool_] = self.stream == ATTACK
        return a

    def __len__(self) -> int:
        return int(self.stream.shape[0])

    def save(self, path: Path) -> None:
        # np.savez appends ".npz" to names without it; write to an open file to keep ours.
        with path.open("wb") as f:
            np.savez(
                f,
                scenario=np.str_(self.scenario),
                stream=self.stream,
                ts_ns=self.ts_ns,
                vector=np.str_(self.vector),
                attack_start_ns=np.int64(self.attack_start_ns),
                attack_end_ns=np.int64(self.attack_end_ns),
                victims=np.asarray(self.victims, dtype=np.str_),
                seed=np.int64(self.seed),
            )

    @classmethod
    def load(cls, path: str | Path) -> Truth:
        """Load a truth file, or the one beside a capture file."""
        p = Path(path)
        if not p.name.endswith(".truth.npz"):
            p = truth_path(p)
        with np.load(p, allow_pickle=False) as z:
            return cls(
                scenario=str(z["scenario"]),
                stream=z["stream"].astype(np.int8),
                ts_ns=z["ts_ns"].astype(np.int64),
                vector=str(z["vector"]),
                attack_start_ns=int(z["attack_start_ns"]),
                attack_end_ns=int(z["attack_end_ns"]),
                victims=tuple(str(v) for v in z["victims"]),
                seed=int(z["seed"]),
            )
