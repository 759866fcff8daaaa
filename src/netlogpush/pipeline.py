"""The one place the data path is wired: frames -> decode -> enrich -> mitigation -> records.

The CLI, the tests and (later) the service all drive ``Pipeline``; no other module chains
the stages. The mitigation chain runs dosd, flowtrackd and magic-firewall (those the
settings enable) and samples each on its own; every sample becomes a record.

``Pipeline()`` with no chain runs magic-firewall alone with no rules: every packet then
passes and is logged the way Cloudflare logs traffic that matches no firewall rule
(``MitigationSystem`` ``magic-firewall``, ``Verdict``/``Outcome`` ``pass``, empty ``RulesetID``).
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
from netlogpush.mitigation.chain import MitigationChain, StageSamples, SystemStats
from netlogpush.mitigation.config import MitigationConfig
from netlogpush.mitigation.firewall.config import FirewallConfig
from netlogpush.mitigation.firewall.system import FirewallSystem
from netlogpush.mitigation.firewall.view import PacketView
from netlogpush.mitigation.sampling import Sampler, SamplingPolicy
from netlogpush.mitigation.stage import MitigationSystem, Stage


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
    systems: dict[str, SystemStats] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The decode counters (per-system counters are in ``systems``)."""
        return {
            "frames": self.frames,
            "ip_packets": self.packets,
            "records": self.records,
            "problems": dict(sorted(self.problems.items())),
        }


def passthrough_chain(sample_interval: int = 1, seed: int | None = None) -> MitigationChain:
    """magic-firewall with no rules, sampling 1 in ``sample_interval``."""
    return MitigationChain(
        stages=[FirewallSystem(FirewallConfig())],
        samplers={"magic-firewall": Sampler(sample_interval, seed)},
    )


class Pipeline:
    def __init__(
        self,
        sample_interval: int = 1,
        seed: int | None = None,
        enricher: EnrichStage | None = None,
        chain: MitigationChain | None = None,
    ) -> None:
        self.chain = chain or passthrough_chain(sample_interval, seed)
        self.enricher = enricher
        self.stats = PipelineStats(systems=self.chain.stats)

    def process(self, frames: FrameBatch) -> pa.Table:
        """Decode a batch, run the mitigation systems, and return the records of their samples."""
        pc = decode(frames)
        recordable = pc.recordable
        self.stats.frames += len(pc)
        self.stats.packets += int(np.count_nonzero(recordable))
        self.stats.problems.update(pc.problems())
        enriched: Mapping[str, npt.NDArray[Any]] | None = None
        if self.enricher is not None and self.chain.needs_enrichment:
            enriched = self.enricher.enrich(pc.ip_version, pc.src4, pc.dst4, pc.src6, pc.dst6)
        view = PacketView.from_columns(pc, dict(enriched) if enriched else None)
        samples = self.chain.run(pc, view, recordable)
        table = self._records(pc, frames, samples, enriched)
        self.stats.records += table.num_rows
        return table

    def _records(
        self,
        pc: Any,
        frames: FrameBatch,
        samples: list[StageSamples],
        enriched: Mapping[str, npt.NDArray[Any]] | None,
    ) -> pa.Table:
        rows = np.concatenate([s.rows for s in samples]) if samples else np.zeros(0, np.int64)
        if not rows.size:
            return empty_table()
        # Records in packet order; a packet's samples in system order (a stable sort keeps it).
        order = np.argsort(rows, kind="stable")
        rows = rows[order]

        def per_sample(values: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
            return np.concatenate(values)[order]

        columns: dict[str, object] = dict(header_columns(pc, rows))
        columns["MitigationSystem"] = per_sample([np.full(s.rows.size, s.system, object) for s in samples])
        verdict = per_sample([s.verdict_drop for s in samples])
        outcome = per_sample([s.outcome_drop for s in samples])
        columns["Verdict"] = np.where(verdict, "drop", "pass").astype(object)
        columns["Outcome"] = np.where(outcome, "drop", "pass").astype(object)
        interval = per_sample([np.full(s.rows.size, s.interval, np.int64) for s in samples])
        columns["SampleInterval"] = frames.sample_interval[rows].astype(np.int64) * interval
        for name in samples[0].labels:
            columns[name] = per_sample([s.labels[name] for s in samples])
        if self.enricher is not None:
            if enriched is not None:
                columns.update({name: col[rows] for name, col in enriched.items()})
            else:
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


def build_stage(system: MitigationSystem, mitigation: MitigationConfig) -> Stage:
    """One mitigation system, fresh, as ``mitigation`` configures it."""
    from netlogpush.mitigation.dosd.system import DosdSystem
    from netlogpush.mitigation.flowtrackd.system import FlowtrackdSystem

    if system == "dosd":
        return DosdSystem(mitigation.dosd, mitigation.firewall.lists)
    if system == "flowtrackd":
        return FlowtrackdSystem(mitigation.flowtrackd)
    return FirewallSystem(mitigation.firewall)


def build_stages(settings: Settings) -> list[Stage]:
    """The enabled mitigation systems, in Cloudflare's order."""
    m = settings.effective_mitigation()
    return [build_stage(system, m) for system in m.enabled_systems()]


def sampling_policy(
    settings: Settings, system: MitigationSystem, sample_interval: int | None = None
) -> SamplingPolicy:
    """How ``system`` samples: ``sample_interval``, else ``sampling.interval`` (both fix every
    system's interval), else the system's policy in ``mitigation.sampling``."""
    fixed = sample_interval if sample_interval is not None else settings.sampling.interval
    if fixed is not None:
        return SamplingPolicy(interval=fixed)
    return settings.mitigation.sampling.policy(system)


def pipeline_from_settings(
    settings: Settings, sample_interval: int | None = None, seed: int | None = None
) -> Pipeline:
    """A pipeline as the settings describe it; explicit arguments win over the settings.

    The sample interval is, in order: ``sample_interval``; the settings' ``sampling.interval``
    (every system); else each system's policy in ``mitigation.sampling`` (dynamic within its
    documented range unless fixed there).
    """
    from netlogpush.enrich import Enricher

    stages = build_stages(settings)
    seed = seed if seed is not None else settings.sampling.seed
    streams = np.random.SeedSequence(seed).spawn(len(stages)) if stages else []
    samplers: dict[str, Sampler] = {
        stage.system: Sampler(
            sampling_policy(settings, stage.system, sample_interval), np.random.default_rng(stream)
        )
        for stage, stream in zip(stages, streams, strict=True)
    }
    chain = MitigationChain(stages, samplers, settings.mitigation.mode)
    return Pipeline(enricher=Enricher.from_config(settings), chain=chain)


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
