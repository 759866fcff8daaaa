"""The one place the data path is wired: frames -> decode -> enrich -> sample -> records.

The CLI, the tests and (later) the service all drive ``Pipeline``; no other module chains
the stages. Until the mitigation stages exist, every sample is what Cloudflare logs for
traffic that passes Magic Firewall without matching a rule: ``MitigationSystem`` is
``magic-firewall``, ``Verdict`` and ``Outcome`` are ``pass`` and ``RulesetID`` is empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from netlogpush.config import Settings
from netlogpush.dataset.records import empty_table, make_table
from netlogpush.decode import FrameBatch, decode
from netlogpush.decode.materialize import header_columns
from netlogpush.mitigation.sampling import Sampler

PASSTHROUGH_SAMPLE = {"MitigationSystem": "magic-firewall", "Verdict": "pass", "Outcome": "pass"}


class EnrichStage(Protocol):
    def enrich(
        self,
        ip_version: npt.NDArray[np.uint8],
        src4: npt.NDArray[np.uint32],
        dst4: npt.NDArray[np.uint32],
        src6: npt.NDArray[np.uint8],
        dst6: npt.NDArray[np.uint8],
    ) -> Mapping[str, npt.NDArray[Any]]: ...


@dataclass(slots=True)
class PipelineStats:
    frames: int = 0
    packets: int = 0  # frames with an IP header
    records: int = 0
    problems: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "frames": self.frames,
            "ip_packets": self.packets,
            "records": self.records,
            "problems": dict(sorted(self.problems.items())),
        }


class Pipeline:
    def __init__(
        self,
        sample_interval: int = 1,
        seed: int | None = None,
        enricher: EnrichStage | None = None,
    ) -> None:
        self.sampler = Sampler(sample_interval, seed)
        self.enricher = enricher
        self.stats = PipelineStats()

    def process(self, frames: FrameBatch) -> pa.Table:
        """Decode a batch and return the records of the packets sampled from it."""
        pc = decode(frames)
        recordable = pc.recordable
        rows = np.flatnonzero(recordable & self.sampler.select(len(pc)))
        self.stats.frames += len(pc)
        self.stats.packets += int(np.count_nonzero(recordable))
        self.stats.problems.update(pc.problems())
        self.stats.records += int(rows.size)
        if not rows.size:
            return empty_table()
        columns: dict[str, object] = dict(header_columns(pc, rows))
        columns["SampleInterval"] = (
            frames.sample_interval[rows].astype(np.int64) * self.sampler.interval
        )
        columns.update(PASSTHROUGH_SAMPLE)
        if self.enricher is not None:
            columns.update(
                self.enricher.enrich(
                    pc.ip_version[rows], pc.src4[rows], pc.dst4[rows], pc.src6[rows], pc.dst6[rows]
                )
            )
        return make_table(columns, int(rows.size))

    def run(self, batches: Iterable[FrameBatch]) -> Iterator[pa.Table]:
        for frames in batches:
            table = self.process(frames)
            if table.num_rows:
                yield table


def pipeline_from_settings(
    settings: Settings, sample_interval: int | None = None, seed: int | None = None
) -> Pipeline:
    """A pipeline as the settings describe it; explicit arguments win over the settings."""
    from netlogpush.enrich import Enricher

    return Pipeline(
        sample_interval if sample_interval is not None else settings.sampling.interval,
        seed if seed is not None else settings.sampling.seed,
        Enricher.from_config(settings),
    )


def decode_file(
    path: str | Path,
    sample_interval: int = 1,
    seed: int | None = None,
    enricher: EnrichStage | None = None,
) -> pa.Table:
    """All records of a capture file in one table (for tests and small files)."""
    from netlogpush.sources.pcap import iter_batches

    pipeline = Pipeline(sample_interval, seed, enricher)
    tables = list(pipeline.run(iter_batches(path)))
    return pa.concat_tables(tables) if tables else empty_table()
