"""From hot destinations to mitigations, and the life of a mitigation.

``Group``: one hot (destination, class). It keeps a rate of the traffic no mitigation
matched yet (an exponentially decayed pps, like the heavy hitters') and a sliding window of
sampled packets' header values. On each tick it is hot, it builds the candidate chain
(``fingerprints.candidates``) and scores every candidate as *group rate x share of the
window it matches*: a streaming estimate of the pps the fingerprint would drop. The most
specific candidate whose score reaches its rule's threshold becomes a ``Mitigation``; if no
signature does, the ``generic`` rule gets its chance at its higher threshold.

``Mitigation``: matches its fingerprint from the tick after it was created. Its own rate
(of the traffic it matches) decides when it ends: once that rate stayed below the release
rate for ``expiry_s``. All of that is computed per batch with whole-array operations.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.dosd.classes import TrafficClass
from netlogpush.mitigation.dosd.features import Features
from netlogpush.mitigation.dosd.fingerprints import (
    FIELDS_BY_CLASS,
    Candidate,
    Dest,
    Fingerprint,
    candidates,
)
from netlogpush.mitigation.dosd.overrides import CompiledOverrides, Setting
from netlogpush.mitigation.dosd.ruleset import (
    GENERIC,
    RULESET_ID,
    Rule,
    signature_rule,
)

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer[Any]]

_NS = uuid.UUID(RULESET_ID)
#: Old rates are forgotten (treated as 0) after this many time constants.
_FORGET = 40.0


def stable_id(*parts: object) -> str:
    """A deterministic 32-hex ID (attack and campaign IDs are functions of packet data)."""
    return uuid.uuid5(_NS, "/".join(str(p) for p in parts)).hex


@dataclass(frozen=True, slots=True)
class Clock:
    """Tick length and decay: the constants every rate in dosd shares."""

    tick_ns: int
    lam: float  # decay exponent per tick (tick / tau)

    @property
    def tick_s(self) -> float:
        return self.tick_ns / 1e9

    @property
    def gain(self) -> float:
        return float((1.0 - np.exp(-self.lam)) / self.tick_s)

    def decay(self, ticks: float) -> float:
        return float(np.exp(-self.lam * ticks))

    def scan(self, rate: float, rate_tick: int, ticks: I64, counts: F64) -> F64:
        """Rates after each of ``ticks`` (increasing) that adds ``counts``, from ``rate``."""
        if ticks.size == 0:
            return np.zeros(0)
        base = rate_tick
        if (int(ticks[0]) - base) * self.lam > _FORGET or base > int(ticks[0]):
            base, rate = int(ticks[0]), 0.0
        x = (ticks - base).astype(np.float64) * self.lam
        out: F64 = (rate + np.cumsum(self.gain * counts * np.exp(x))) * np.exp(-x)
        return out


def tick_sums(ticks: I64, weight: F64) -> tuple[I64, F64]:
    """Per distinct tick (``ticks`` sorted), the summed weight."""
    if ticks.size == 0:
        return ticks, weight
    first = np.ones(ticks.size, np.bool_)
    first[1:] = ticks[1:] != ticks[:-1]
    starts = np.flatnonzero(first)
    return ticks[starts], np.add.reduceat(weight, starts)


# --- samples ---------------------------------------------------------------------------


@dataclass(slots=True)
class Samples:
    """A sliding window of sampled packets: header values, weight, tick, override bits."""

    fields: tuple[str, ...]
    values: dict[str, IntArray] = field(default_factory=dict)
    weight: F64 = field(default_factory=lambda: np.zeros(0))
    tick: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    bits: U64 = field(default_factory=lambda: np.zeros(0, np.uint64))

    def __post_init__(self) -> None:
        for name in self.fields:
            self.values.setdefault(name, np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.weight.shape[0])

    def add(
        self, values: dict[str, IntArray], weight: F64, tick: I64, bits: U64,
        capacity: int, oldest: int,
    ) -> None:
        keep_old = self.tick >= oldest
        if not keep_old.all():
            self.keep(keep_old)
        for name in self.fields:
            self.values[name] = np.concatenate((self.values[name], values[name]))
        self.weight = np.concatenate((self.weight, weight))
        self.tick = np.concatenate((self.tick, tick))
        self.bits = np.concatenate((self.bits, bits))
        extra = len(self) - capacity
        if extra > 0:
            self.keep(np.arange(len(self)) >= extra)

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        for name in self.fields:
            self.values[name] = self.values[name][mask]
        self.weight, self.tick, self.bits = self.weight[mask], self.tick[mask], self.bits[mask]


# --- groups ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Activation:
    rule: Rule
    fingerprint: Fingerprint
    setting: Setting
    threshold: float
    score: float
    share: float  # of the group's window it matches


@dataclass(slots=True)
class Group:
    """One hot (destination, class): unmitigated rate and a window of samples."""

    key: int
    dest: Dest
    cls: TrafficClass
    factor: float  # threshold multiplier: 1 for a host, prefix_threshold_factor for a prefix
    min_specificity: float
    rate: float
    rate_tick: int
    samples: Samples
    last_tick: int

    def observe(
        self, clock: Clock, t: int, f: Features, pos: I64,
        bits: Callable[[I64], U64] | None, capacity: int, oldest: int,
    ) -> None:
        """Add the unmitigated packets ``pos`` of tick ``t`` (rate, and a stride sample)."""
        w = float(f.weight[pos].sum()) if pos.size else 0.0
        if t == self.rate_tick:
            self.rate += clock.gain * w
        else:
            self.rate = self.rate * clock.decay(t - self.rate_tick) + clock.gain * w
            self.rate_tick = t
        self.last_tick = t
        if pos.size == 0:
            return
        intake = max(1, capacity // 2)
        take = pos
        if pos.size > intake:
            # Evenly spaced, so the sample keeps the tick's time profile (deterministic too).
            take = pos[np.linspace(0, pos.size - 1, intake).astype(np.int64)]
        sw = f.weight[take]
        sw = sw * (w / float(sw.sum()))  # the sample stands for all of the tick's traffic
        values = {name: f.values(name, take) for name in self.samples.fields}
        b = np.zeros(take.size, np.uint64) if bits is None else bits(take)
        self.samples.add(values, sw, np.full(take.size, t, np.int64), b, capacity, oldest)

    def analyze(
        self, overrides: CompiledOverrides, min_samples: int, heavy_ratio: float, max_values: int,
    ) -> Activation | None:
        s = self.samples
        sig = signature_rule(self.cls)
        if len(s) < min_samples or self.rate <= 0:
            return None
        # The lowest threshold any setting could give: below it nothing can activate.
        floor_pps = min(
            (r.threshold(st.sensitivity) * self.factor)
            for r in ((sig,) if sig else ()) + (GENERIC,)
            for st in overrides.settings(r)
        )
        if self.rate < floor_pps:
            return None
        base_rule = sig or GENERIC
        base_pps = base_rule.threshold(overrides.default(base_rule).sensitivity) * self.factor
        chain = candidates(
            s.values, s.weight, self.cls, self.rate, chain_pps=floor_pps,
            heavy_pps=heavy_ratio * base_pps, max_values=max_values,
            min_value_samples=max(2, int(0.03 * len(s))),
        )
        for rule, min_spec in ((sig, self.min_specificity), (GENERIC, 0.0)):
            if rule is None:
                continue
            settings = overrides.settings(rule)
            codes = overrides.codes(rule, s.bits) if overrides.needs_bits(rule) else None
            for cand in reversed(chain):
                fp = Fingerprint(self.dest, self.cls, cand.constraints)
                if fp.specificity < min_spec:
                    continue
                setting = _plurality(settings, codes, cand, s.weight)
                threshold = rule.threshold(setting.sensitivity) * self.factor
                score = self.rate * cand.share
                if score >= threshold:
                    return Activation(rule, fp, setting, threshold, score, cand.share)
        return None

    def activated(self, act: Activation) -> None:
        """Forget the samples (and the rate) the new mitigation takes over."""
        hit = act.fingerprint.match_values(self.samples.values, len(self.samples))
        self.samples.keep(~hit)
        self.rate *= max(0.0, 1.0 - act.share)


def _plurality(settings: list[Setting], codes: npt.NDArray[np.int32] | None, cand: Candidate, weight: F64) -> Setting:
    """The setting that covers most of the candidate's samples (by weight)."""
    if codes is None:
        return settings[-1]
    votes = np.bincount(codes[cand.mask], weight[cand.mask], len(settings))
    return settings[int(np.argmax(votes))]


def new_group(
    key: int, f: Features, pos: I64, level_plen: tuple[int, int], factor: float,
    min_spec: float, rate: float, t: int,
) -> Group:
    p0 = int(pos[0])
    version = int(f.version[p0])
    hi, lo = f.dest_words(np.array([p0]))
    plen = level_plen[0] if version == 4 else level_plen[1]
    dest = Dest.of(version, int(hi[0]), int(lo[0]), plen)
    cls = TrafficClass(int(f.cls[p0]))
    return Group(key, dest, cls, factor, min_spec, rate, t, Samples(FIELDS_BY_CLASS[cls]), t)


# --- mitigations -----------------------------------------------------------------------


@dataclass(slots=True)
class Mitigation:
    """An active fingerprint: what it drops, why, and how long it stays."""

    fingerprint: Fingerprint
    rule: Rule
    attack_id: str
    campaign_id: str
    scope: str  # "local": detected here; "global": imported from the shared stream
    origin: str  # collector that detected it
    start_tick: int
    setting: Setting
    threshold: float  # pps, at activation
    factor: float
    score: float  # pps at activation
    rate: float  # decayed rate of the traffic it matches
    rate_tick: int
    peak: float
    last_above: int
    selective: bool = True  # very selective: ddos_dynamic blocks it
    judged: bool = False  # selectivity decided against a baseline (not the cold-start guess)
    normal_share: float = 0.0  # estimated share of normal traffic of its class it matches
    end_tick: int | None = None  # first tick it no longer applies (once known)
    budget_tick: int = -1
    budget_used: float = 0.0
    matched: float = 0.0  # packets (weighted) matched so far

    @property
    def specificity(self) -> float:
        return self.fingerprint.specificity

    def enforced_action(self, action: str) -> tuple[bool, bool, str]:
        """(rate_limited, enforce, reason) for this mitigation under ``action``."""
        if self.rule.generic:
            if action == "block":
                return False, True, "BLOCKED"
            return True, action == "ddos_dynamic", "RATE_LIMITED"
        if action == "ddos_dynamic":
            return False, self.selective, "BLOCKED"
        return False, action == "block", "BLOCKED"

    def track(self, clock: Clock, f: Features, pos: I64, release_pps: float, expiry_ticks: int) -> I64:
        """Account the packets ``pos`` it matched in this batch; return those before its end.

        Sets ``end_tick`` when the matching rate stays under ``release_pps`` for
        ``expiry_ticks`` (possibly beyond this batch: it then only ends once packet time
        gets there).
        """
        ticks, sums = tick_sums(f.tick[pos], f.weight[pos])
        rates = clock.scan(self.rate, self.rate_tick, ticks, sums)
        above = ticks[rates >= release_pps]
        marks = np.concatenate(([self.last_above], above))
        gaps = np.flatnonzero(np.diff(marks) >= expiry_ticks)
        cut = int(marks[gaps[0]] + expiry_ticks) if gaps.size else int(marks[-1] + expiry_ticks)
        live = ticks < cut
        if live.any():
            last = int(np.flatnonzero(live)[-1])
            self.rate, self.rate_tick = float(rates[last]), int(ticks[last])
            self.peak = max(self.peak, float(rates[live].max()))
            self.matched += float(sums[live].sum())
        self.last_above = int(marks[marks < cut].max())
        self.end_tick = cut
        kept: I64 = pos[f.tick[pos] < cut]
        return kept

    def to_json(self, clock: Clock) -> dict[str, Any]:
        return {
            "attack_id": self.attack_id,
            "campaign_id": self.campaign_id,
            "rule_id": self.rule.id,
            "origin": self.origin,
            "fingerprint": self.fingerprint.to_json(),
            "started_ns": self.start_tick * clock.tick_ns,
            "last_above_ns": self.last_above * clock.tick_ns,
            "score_pps": round(self.score, 3),
            "normal_share": self.normal_share,
            "rate_pps": round(self.rate, 3),
        }


@dataclass(slots=True)
class Campaign:
    id: str
    last_tick: int


class Campaigns:
    """Mitigations for the same prefix, close in time, share one AttackCampaignID."""

    def __init__(self, gap_ticks: int, plen4: int, plen6: int, collector: str) -> None:
        self.gap = gap_ticks
        self.plen = (plen4, plen6)
        self.collector = collector
        self._open: dict[Dest, Campaign] = {}

    def assign(self, dest: Dest, t: int) -> str:
        prefix = dest.campaign_prefix(*self.plen)
        c = self._open.get(prefix)
        if c is None or t - c.last_tick > self.gap:
            c = Campaign(stable_id("campaign", self.collector, prefix.cidr(), t), t)
            self._open[prefix] = c
        c.last_tick = max(c.last_tick, t)
        return c.id

    def touch(self, dest: Dest, t: int) -> None:
        c = self._open.get(dest.campaign_prefix(*self.plen))
        if c is not None:
            c.last_tick = max(c.last_tick, t)

    def adopt(self, dest: Dest, campaign_id: str, t: int) -> None:
        """An imported mitigation's campaign becomes the open one for its prefix."""
        prefix = dest.campaign_prefix(*self.plen)
        c = self._open.get(prefix)
        if c is None or t - c.last_tick > self.gap:
            self._open[prefix] = Campaign(campaign_id, t)

    def carry(self, other: Campaigns) -> None:
        """Keep ``other``'s open campaigns (after a configuration change)."""
        self._open = dict(other._open)

    def prune(self, now: int) -> None:
        for k in [k for k, c in self._open.items() if now - c.last_tick > self.gap]:
            del self._open[k]

    def __len__(self) -> int:
        return len(self._open)
