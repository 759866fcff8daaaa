"""New settings for a running pipeline, without losing what the systems have learned.

A reload keeps every system object that stays enabled, so its state carries over: dosd's
active mitigations, rates and campaigns, flowtrackd's connection table and rate detectors.
Each kept system takes its new configuration through ``reconfigure`` (dosd and flowtrackd
have one; each says which of its own settings force a fresh start); magic-firewall is
stateless and is simply rebuilt. A system the new profile adds starts fresh; one it drops is
discarded, and so is its state. The samplers are kept too, with their random generators, so a
reload does not restart the random sequence (a seeded run stays reproducible); only their
policy changes. The chain's statistics go on counting.

Changes come from two places: the settings file (SIGHUP, ``netlogpush collect``) and the REST
shapes of ``rulesets.py`` and ``atp_api.py`` (through a ``SettingsStore``). Either way the
pipeline must not change in the middle of a batch, so a ``Reloader`` holds the newest settings
until the thread that runs the pipeline applies them between two batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from netlogpush.mitigation.sampling import Sampler
from netlogpush.mitigation.stage import SYSTEM_ORDER, MitigationSystem, Stage

if TYPE_CHECKING:
    from netlogpush.config import Settings
    from netlogpush.pipeline import Pipeline


@runtime_checkable
class Reconfigurable(Protocol):
    """A system that takes a new configuration in place and keeps its state (dosd, flowtrackd)."""

    def reconfigure(self, config: Any) -> None: ...


@dataclass(slots=True)
class ReloadReport:
    """What a reload did, per system."""

    added: list[str] = field(default_factory=list)  # started fresh
    removed: list[str] = field(default_factory=list)  # discarded with their state
    reconfigured: list[str] = field(default_factory=list)  # kept, state and all
    rebuilt: list[str] = field(default_factory=list)  # stateless, replaced
    unchanged: list[str] = field(default_factory=list)
    enricher: bool = False  # the enrichment (site, prefixes, databases) was rebuilt

    def summary(self) -> str:
        parts = [
            f"{what} {', '.join(systems)}"
            for what, systems in (
                ("added", self.added),
                ("removed", self.removed),
                ("reconfigured", self.reconfigured),
                ("rebuilt", self.rebuilt),
                ("unchanged", self.unchanged),
            )
            if systems
        ]
        if self.enricher:
            parts.append("enrichment rebuilt")
        return "; ".join(parts) or "no systems"


def _system_config(system: MitigationSystem, settings: Settings) -> object:
    m = settings.effective_mitigation()
    return {"dosd": m.dosd, "flowtrackd": m.flowtrackd, "magic-firewall": m.firewall}[system]


def _enrich_part(settings: Settings) -> dict[str, object]:
    from netlogpush.enrich.config import EnrichConfig

    return {name: getattr(settings, name) for name in EnrichConfig.model_fields}


def _new_rng(seed: int | None, system: MitigationSystem) -> np.random.Generator:
    # A system added by a reload gets its own stream, derived from the seed and its place in
    # Cloudflare's order, so that a seeded run with reloads is still reproducible.
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng(np.random.SeedSequence([seed, 1 + SYSTEM_ORDER.index(system)]))


def reload_pipeline(
    pipeline: Pipeline,
    settings: Settings,
    sample_interval: int | None = None,
    seed: int | None = None,
    previous: Settings | None = None,
) -> ReloadReport:
    """Apply ``settings`` to ``pipeline`` in place; call it between batches, never during one.

    ``sample_interval`` and ``seed`` mean what they mean for ``pipeline_from_settings`` (the
    command line's values win over the file's). ``previous``, the settings the pipeline runs
    with now, lets a reload keep the enrichment when its part of the settings did not change
    (without it, an enriching pipeline reopens its databases). Everything that can fail (opening
    databases, building new systems) happens before anything is changed, so a failed reload
    leaves the pipeline as it was.
    """
    from netlogpush.mitigation.dosd.system import DosdSystem
    from netlogpush.pipeline import build_stage, sampling_policy

    chain = pipeline.chain
    m = settings.effective_mitigation()
    report = ReloadReport()
    current: dict[str, Stage] = {stage.system: stage for stage in chain.stages}
    wanted = m.enabled_systems()

    enricher = pipeline.enricher
    if enricher is not None and (previous is None or _enrich_part(previous) != _enrich_part(settings)):
        from netlogpush.enrich import Enricher

        enricher = Enricher.from_config(settings)
        report.enricher = True

    # First everything that builds new objects (may raise), then the in-place changes.
    stages: list[Stage] = []
    keep: list[tuple[Reconfigurable, object]] = []
    for system in wanted:
        stage = current.get(system)
        config = _system_config(system, settings)
        if stage is None:
            stages.append(build_stage(system, m))
            report.added.append(system)
            continue
        lists_changed = isinstance(stage, DosdSystem) and stage.lists != m.firewall.lists
        if getattr(stage, "config", None) == config and not lists_changed:
            stages.append(stage)
            report.unchanged.append(system)
        elif isinstance(stage, Reconfigurable):
            stages.append(stage)
            keep.append((stage, config))  # applied below, once nothing can fail
            report.reconfigured.append(system)
        else:
            stages.append(build_stage(system, m))
            report.rebuilt.append(system)
    report.removed = [s for s in current if s not in wanted]

    for target, config in keep:
        if isinstance(target, DosdSystem):
            target.lists = m.firewall.lists  # override expressions may name the firewall's lists
        target.reconfigure(config)

    samplers: dict[str, Sampler] = {}
    for new in stages:
        policy = sampling_policy(settings, new.system, sample_interval)
        sampler = chain.samplers.get(new.system)
        if sampler is None:
            base = seed if seed is not None else settings.sampling.seed
            sampler = Sampler(policy, _new_rng(base, new.system))
        else:
            sampler.policy = policy  # the generator, and so the random sequence, carries on
        samplers[new.system] = sampler

    chain.stages = stages
    chain.samplers = samplers
    chain.mode = m.mode
    pipeline.enricher = enricher
    return report


class Reloader:
    """Hands new settings to a running pipeline between batches.

    ``request`` may be called from any thread (an API handler) or a signal handler; the thread
    that runs the pipeline calls ``apply_pending`` before each batch. Only the newest request
    counts: settings are whole, so an older one has nothing the newer lacks.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings | None = None,
        sample_interval: int | None = None,
        seed: int | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.settings = settings  # what the pipeline runs with now, when known
        self.sample_interval = sample_interval
        self.seed = seed
        self._pending: Settings | None = None
        self._lock = threading.Lock()

    def request(self, settings: Settings) -> None:
        with self._lock:
            self._pending = settings

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def apply_pending(self) -> ReloadReport | None:
        """Apply the newest requested settings, if any; returns what the reload did."""
        with self._lock:
            settings, self._pending = self._pending, None
        if settings is None:
            return None
        report = reload_pipeline(
            self.pipeline, settings, self.sample_interval, self.seed, previous=self.settings
        )
        self.settings = settings
        return report


class SettingsStore:
    """The running settings, which API changes and file reloads replace as a whole.

    Every change is a new, validated ``Settings``: ``update`` builds it from the current one
    under a lock (so two API calls cannot lose each other's change), stores it and passes it to
    each listener (``Reloader.request``, a writer that persists it, …), in order.
    """

    def __init__(self, settings: Settings, on_change: Callable[[Settings], None] | None = None) -> None:
        self._settings = settings
        self._listeners: list[Callable[[Settings], None]] = [] if on_change is None else [on_change]
        self._lock = threading.RLock()

    @property
    def current(self) -> Settings:
        return self._settings

    def subscribe(self, listener: Callable[[Settings], None]) -> None:
        self._listeners.append(listener)

    def update(self, change: Callable[[Settings], Settings]) -> Settings:
        """Replace the settings with ``change(current)``; an exception changes nothing."""
        with self._lock:
            new = change(self._settings)
            self._settings = new
            for listener in self._listeners:
                listener(new)
            return new

    def replace(self, settings: Settings) -> Settings:
        return self.update(lambda _: settings)
