"""``DosdSystem``: the dosd stage (heavy hitters -> fingerprints -> mitigations -> verdicts).

Per batch:

1. The IP packets that reached dosd get a tick (``ts_ns // tick``), a weight (the sFlow
   sampling rate, 1 for pcap), a traffic class and two destination keys: the host and its
   prefix (/24, /64), each combined with the class.
2. ``HeavyHitters`` returns the (key, tick) entries whose rate reached the watch rate.
3. Active mitigations are matched over the batch, each from its start tick to its end.
4. Hot entries are analysed in tick order (hosts before prefixes; a prefix sees only the
   packets of hosts that are not hot themselves, which is what makes carpet bombing show
   up at the prefix). A new mitigation starts at the next tick and is matched right away
   over the rest of the batch, so later ticks see only what it leaves.
5. Matched packets get their verdict, enforcement and label; the override rules decide the
   action per packet.

Time is packet time only, so the same capture gives the same mitigations, attack IDs and
verdicts every run. Late packets (timestamps going backwards) count in the current tick.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.dosd.baseline import Baseline
from netlogpush.mitigation.dosd.classes import N_CLASSES, TrafficClass
from netlogpush.mitigation.dosd.config import DosdConfig
from netlogpush.mitigation.dosd.detector import (
    Activation,
    Campaigns,
    Clock,
    Group,
    Mitigation,
    new_group,
    stable_id,
)
from netlogpush.mitigation.dosd.features import Features
from netlogpush.mitigation.dosd.fingerprints import Fingerprint
from netlogpush.mitigation.dosd.heavy_hitters import HeavyHitters, Watched
from netlogpush.mitigation.dosd.overrides import CompiledOverrides, Setting
from netlogpush.mitigation.dosd.ruleset import (
    DYNAMIC_BLOCK_SPECIFICITY,
    GENERIC,
    RULES_BY_ID,
    RULESET_ID,
    signature_rule,
)
from netlogpush.mitigation.stage import Decision, MitigationSystem, StageInput

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

#: Active mitigations at most; more would make every batch pay for matching them all.
MAX_MITIGATIONS = 1024
#: Hot groups kept at most (each holds a window of samples).
MAX_GROUPS = 4096
#: Evidence a signature fingerprint needs: one field for a host; two for a whole prefix,
#: whose aggregate of many servers' normal traffic concentrates on common values more easily.
HOST_MIN_SPECIFICITY, PREFIX_MIN_SPECIFICITY = 1.0, 2.0


@dataclass(slots=True)
class _Labels:
    """Distinct label dicts of one batch, by (attack, override, reason)."""

    items: list[dict[str, str]] = field(default_factory=list)
    index: dict[tuple[str, int, str], int] = field(default_factory=dict)

    def get(self, m: Mitigation, setting: Setting, reason: str, override_ids: list[str]) -> int:
        key = (m.attack_id, setting.override, reason)
        at = self.index.get(key)
        if at is None:
            at = self.index[key] = len(self.items)
            self.items.append({
                "AttackCampaignID": m.campaign_id,
                "AttackID": m.attack_id,
                "AttackVector": m.rule.vector,
                "MitigationReason": reason,
                "MitigationScope": m.scope,
                "ProtocolState": "",
                "RuleID": m.rule.id,
                "RuleName": m.rule.name,
                "RulesetID": RULESET_ID,
                "RulesetOverrideID": override_ids[setting.override] if setting.override >= 0 else "",
            })
        return at


@dataclass(slots=True)
class DosdStats:
    activated: int = 0
    imported: int = 0
    ended: int = 0
    skipped_full: int = 0  # activations refused because MAX_MITIGATIONS were active
    analysed: int = 0  # group analyses run


class DosdSystem:
    """The DDoS managed ruleset as a mitigation stage."""

    system: MitigationSystem = "dosd"

    def __init__(self, config: DosdConfig | None = None, lists: Any = None) -> None:
        self.lists = lists
        self.active: list[Mitigation] = []
        self.ended: list[Mitigation] = []  # the latest ended mitigations, newest last
        self.stats = DosdStats()
        self._last_tick: int | None = None
        self._setup(config or DosdConfig(), fresh=True)

    # --- configuration ----------------------------------------------------------------

    def reconfigure(self, config: DosdConfig) -> None:
        """Apply a new configuration, keeping active mitigations and campaigns.

        Rates and hot groups are kept too unless the tick, time constant or sketch size
        changed (their numbers would mean something else then).
        """
        old = self.config
        fresh = (
            config.tick_ms != old.tick_ms
            or config.rate_window_s != old.rate_window_s
            or config.heavy_hitters != old.heavy_hitters
        )
        self._setup(config, fresh=fresh)

    def _setup(self, config: DosdConfig, fresh: bool) -> None:
        self.config = config
        hh = config.heavy_hitters
        tick_s = config.tick_ms / 1000.0
        self.clock = Clock(config.tick_ms * 1_000_000, tick_s / config.rate_window_s)
        self.overrides = CompiledOverrides(config, self.lists)
        self.expiry_ticks = max(1, math.ceil(config.expiry_s / tick_s))
        self.window_ticks = max(1, math.ceil(config.sample_window_s / tick_s))
        watch = np.full(N_CLASSES, np.inf)
        for cls in TrafficClass.watched():
            rules = [r for r in (signature_rule(cls), GENERIC) if r is not None]
            lowest = min(r.threshold(s.sensitivity) for r in rules for s in self.overrides.settings(r))
            watch[cls] = hh.watch_ratio * lowest
        self._watch = watch
        baseline_ticks = (
            math.ceil(config.baseline_window_s / tick_s),
            math.ceil(config.baseline_delay_s / tick_s),
            math.ceil(config.baseline_maturity_s / tick_s),
        )
        if fresh or not hasattr(self, "hh"):
            self.hh = HeavyHitters(hh.sketch_width, hh.table_capacity, tick_s, config.rate_window_s)
            self.groups: dict[int, Group] = {}
            self.baseline = Baseline(*baseline_ticks)
            # Tick numbers of the old clock mean nothing under the new one: mitigations and
            # campaigns re-form from the traffic.
            self.active = []
            self._last_tick = None
        else:
            self.baseline.window, self.baseline.delay, self.baseline.maturity = baseline_ticks
        gap = max(1, math.ceil(config.campaign_gap_s / tick_s))
        old = getattr(self, "campaigns", None)
        self.campaigns = Campaigns(gap, hh.prefix_length_v4, hh.prefix_length_v6, config.collector_id)
        if old is not None and not fresh:
            self.campaigns.carry(old)

    # --- the stage --------------------------------------------------------------------

    def process(self, batch: StageInput) -> Decision:
        pc = batch.packets
        n = len(pc)
        out = Decision.passing(n)
        if not self.config.enabled or n == 0:
            return out
        rows = np.flatnonzero(batch.active & (pc.ip_version != 0)).astype(np.int64)
        if rows.size == 0:
            return out
        tick = pc.frames.ts_ns[rows] // self.clock.tick_ns
        if self._last_tick is not None:
            tick = np.maximum(tick, self._last_tick)
        tick = np.maximum.accumulate(tick)
        self._last_tick = int(tick[-1])
        labels = _Labels()
        span = self.hh.max_span
        a = 0
        while a < rows.size:
            b = int(np.searchsorted(tick, tick[a] + span, "left"))
            self._chunk(batch, rows[a:b], tick[a:b], out, labels)
            a = b
        out.labels = labels.items
        return out

    def _chunk(self, batch: StageInput, rows: I64, tick: I64, out: Decision, labels: _Labels) -> None:
        f = Features.build(batch.packets, rows, tick)
        hh = self.config.heavy_hitters
        watch = self._watch[f.cls]
        host_keys = f.keys(32, 128)
        prefix_keys = f.keys(hh.prefix_length_v4, hh.prefix_length_v6)
        w_host, w_prefix = self.hh.update(
            [(host_keys, watch), (prefix_keys, watch * hh.prefix_threshold_factor)], f.weight, f.tick
        )
        for w in (w_host, w_prefix):
            self.baseline.hot(w.key, w.tick)
        self.baseline.commit(int(f.tick[-1]))
        matched = np.zeros(len(f), np.bool_)
        claimed = np.zeros(len(f), np.bool_)
        applied: list[tuple[Mitigation, I64]] = []
        for m in self.active:
            self._apply(m, f, matched, claimed, applied)
        if len(w_host) or len(w_prefix):
            self._analyse(batch, f, w_host, w_prefix, matched, claimed, applied)
        self._enforce(batch, f, applied, out, labels)
        self.baseline.add(f, ~matched, (host_keys, prefix_keys))
        for m in self.active:
            if not m.judged:
                self._judge(m)
        self._housekeeping(int(f.tick[-1]))

    def _apply(
        self, m: Mitigation, f: Features, matched: npt.NDArray[np.bool_],
        claimed: npt.NDArray[np.bool_], applied: list[tuple[Mitigation, I64]],
    ) -> None:
        lo = int(np.searchsorted(f.tick, m.start_tick, "left"))
        pos = m.fingerprint.match(f, lo)
        release = self.config.release_ratio * m.threshold
        pos = m.track(self.clock, f, pos, release, self.expiry_ticks)
        matched[pos] = True
        mine = pos[~claimed[pos]]  # an earlier mitigation labels a packet both match
        claimed[mine] = True
        applied.append((m, mine))

    def _analyse(
        self, batch: StageInput, f: Features, w_host: Watched, w_prefix: Watched,
        matched: npt.NDArray[np.bool_], claimed: npt.NDArray[np.bool_],
        applied: list[tuple[Mitigation, I64]],
    ) -> None:
        cfg = self.config
        hh = cfg.heavy_hitters
        levels = (w_host, w_prefix)
        e_tick = np.concatenate((w_host.tick, w_prefix.tick))
        e_level = np.concatenate((np.zeros(len(w_host), np.int64), np.ones(len(w_prefix), np.int64)))
        e_index = np.concatenate((np.arange(len(w_host)), np.arange(len(w_prefix))))
        order = np.lexsort((e_level, e_tick))
        host_handled = np.zeros(len(f), np.bool_)
        oldest_gap = self.window_ticks
        bits_fn = self._bits_fn(batch, f)
        for e in order.tolist():
            level = int(e_level[e])
            w = levels[level]
            i = int(e_index[e])
            t = int(w.tick[i])
            pos = w.pos[int(w.start[i]) : int(w.end[i])]
            if level == 0:
                host_handled[pos] = True
                mine = pos
            else:
                mine = pos[~host_handled[pos]]
            if mine.size == 0:
                continue
            fresh = mine[~matched[mine]]
            key = int(w.key[i])
            group = self.groups.get(key)
            if group is None:
                if fresh.size == 0:
                    continue
                total = float(f.weight[pos].sum())
                before = max(0.0, float(w.rate[i]) - self.clock.gain * total)
                share = float(f.weight[fresh].sum()) / total if total > 0 else 0.0
                factor = 1.0 if level == 0 else hh.prefix_threshold_factor
                plens = (32, 128) if level == 0 else (hh.prefix_length_v4, hh.prefix_length_v6)
                min_spec = HOST_MIN_SPECIFICITY if level == 0 else PREFIX_MIN_SPECIFICITY
                group = new_group(key, f, fresh, plens, factor, min_spec, before * share, t)
                self.groups[key] = group
            group.observe(self.clock, t, f, fresh, bits_fn, cfg.analysis_samples, t - oldest_gap)
            self.stats.analysed += 1
            act = group.analyze(self.overrides, cfg.min_samples, cfg.heavy_value_ratio, cfg.max_values)
            if act is None:
                continue
            m = self._activate(group, act, t)
            if m is not None:
                self._apply(m, f, matched, claimed, applied)

    def _bits_fn(self, batch: StageInput, f: Features) -> Callable[[I64], U64] | None:
        if not len(self.overrides):
            return None

        def bits(pos: I64) -> U64:
            return self.overrides.bits(batch.view, f.rows[pos])

        return bits

    def _activate(self, group: Group, act: Activation, t: int) -> Mitigation | None:
        if len(self.active) >= MAX_MITIGATIONS:
            self.stats.skipped_full += 1
            return None
        start = t + 1
        cfg = self.config
        fp = act.fingerprint
        m = Mitigation(
            fingerprint=fp,
            rule=act.rule,
            attack_id=stable_id("attack", cfg.collector_id, act.rule.id, fp.canonical(), start),
            campaign_id=self.campaigns.assign(fp.dest, start),
            scope="local",
            origin=cfg.collector_id,
            start_tick=start,
            setting=act.setting,
            threshold=act.threshold,
            factor=group.factor,
            score=act.score,
            rate=act.score,
            rate_tick=t,
            peak=act.score,
            last_above=t,
        )
        self._judge(m)
        group.activated(act)
        self.active.append(m)
        self.stats.activated += 1
        return m

    def _judge(self, m: Mitigation) -> None:
        """Is ``m`` very selective (``ddos_dynamic`` blocks it)?

        Against the baseline of normal traffic of its class when there is enough of it; a
        class still without enough samples once the baseline is mature is rare, so any
        fingerprint of it is selective. Before that (cold start) the fingerprint's
        specificity decides, and the mitigation is judged again as the baseline fills.
        """
        fp = m.fingerprint
        if self.baseline.trusted(fp.cls):
            m.normal_share = self.baseline.share(fp.cls, fp.constraints)
            m.selective = m.normal_share <= self.config.dynamic_max_share
            m.judged = True
        elif self.baseline.mature:
            m.normal_share, m.selective, m.judged = 0.0, True, True
        else:
            m.selective = fp.specificity >= DYNAMIC_BLOCK_SPECIFICITY

    def _enforce(
        self, batch: StageInput, f: Features, applied: list[tuple[Mitigation, I64]],
        out: Decision, labels: _Labels,
    ) -> None:
        ov = self.overrides
        for m, pos in applied:
            if pos.size == 0:
                continue
            settings = ov.settings(m.rule)
            if ov.needs_bits(m.rule):
                codes = ov.codes(m.rule, ov.bits(batch.view, f.rows[pos]))
            else:
                codes = np.full(pos.size, len(settings) - 1, np.int32)
            thr = np.array([m.rule.threshold(s.sensitivity) * m.factor for s in settings])
            actions = [m.enforced_action(s.action) for s in settings]
            # A scope whose sensitivity puts the threshold above this attack's peak rate is
            # not mitigated. A global mitigation was decided by its origin's thresholds:
            # only the local action applies to it.
            eligible = (m.peak >= thr[codes]) | (m.scope == "global")
            limited = np.array([a[0] for a in actions])[codes] & eligible
            drop = eligible.copy()
            if limited.any():
                lim = np.flatnonzero(limited)
                allowed = self._rate_limit(m, f, pos[lim])
                drop[lim[allowed]] = False
            for k in np.unique(codes[drop]).tolist():
                sel = pos[drop & (codes == k)]
                _rl, enforce, reason = actions[k]
                at = labels.get(m, settings[k], reason, ov.ids)
                r = f.rows[sel]
                out.drop[r] = True
                out.enforce[r] = enforce
                out.label[r] = at

    def _rate_limit(self, m: Mitigation, f: Features, pos: I64) -> npt.NDArray[np.bool_]:
        """Which of ``pos`` (time order) fit the per-tick budget of ``m``'s threshold rate."""
        budget = m.threshold * self.clock.tick_s
        ticks = f.tick[pos]
        w = f.weight[pos]
        cs = np.cumsum(w)
        first = np.ones(pos.size, np.bool_)
        first[1:] = ticks[1:] != ticks[:-1]
        seg = np.cumsum(first) - 1
        base = (cs - w)[first][seg]
        used = cs - base
        used[ticks == m.budget_tick] += m.budget_used
        m.budget_tick = int(ticks[-1])
        m.budget_used = float(used[-1])
        out: npt.NDArray[np.bool_] = used <= budget + 1e-9
        return out

    def _housekeeping(self, now: int) -> None:
        still: list[Mitigation] = []
        for m in self.active:
            if m.end_tick is not None and m.end_tick <= now:
                self.ended.append(m)
                self.stats.ended += 1
                self.campaigns.touch(m.fingerprint.dest, m.end_tick)
            else:
                still.append(m)
                self.campaigns.touch(m.fingerprint.dest, now)
        self.active = still
        del self.ended[:-256]
        self.campaigns.prune(now)
        horizon = now - self.window_ticks - self.expiry_ticks
        stale = [k for k, g in self.groups.items() if g.last_tick < horizon]
        for k in stale:
            del self.groups[k]
        if len(self.groups) > MAX_GROUPS:
            keep = sorted(self.groups.values(), key=lambda g: g.last_tick)[-MAX_GROUPS:]
            self.groups = {g.key: g for g in keep}

    # --- sharing mitigations between collectors ---------------------------------------

    def export_mitigations(self, include_global: bool = False) -> list[dict[str, Any]]:
        """The active mitigations as JSON objects, for other collectors to import."""
        return [m.to_json(self.clock) for m in self.active if include_global or m.scope == "local"]

    def import_mitigations(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Apply mitigations another collector exported; they carry ``MitigationScope=global``.

        An item whose attack ID is already active refreshes it. Returns how many were new.
        Malformed items raise ``ValueError`` (the shared stream is trusted configuration,
        not packet input).
        """
        known = {m.attack_id: m for m in self.active}
        new = 0
        tick_ns = self.clock.tick_ns
        for item in items:
            try:
                attack_id = str(item["attack_id"])
                rule = RULES_BY_ID[str(item["rule_id"])]
                fp = Fingerprint.from_json(item["fingerprint"])
                start = int(item["started_ns"]) // tick_ns
                last_above = int(item.get("last_above_ns", item["started_ns"])) // tick_ns
                score = float(item.get("score_pps", 0.0))
                campaign = str(item.get("campaign_id", "")) or stable_id("campaign", attack_id)
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"bad exported mitigation {item!r}: {err}") from err
            have = known.get(attack_id)
            if have is not None:
                have.last_above = max(have.last_above, last_above)
                continue
            hh = self.config.heavy_hitters
            factor = 1.0 if fp.dest.is_host else hh.prefix_threshold_factor
            setting = self.overrides.default(rule)
            m = Mitigation(
                fingerprint=fp, rule=rule, attack_id=attack_id, campaign_id=campaign,
                scope="global", origin=str(item.get("origin", "")), start_tick=start,
                setting=setting, threshold=rule.threshold(setting.sensitivity) * factor,
                factor=factor, score=score, rate=score, rate_tick=last_above,
                peak=score, last_above=last_above,
            )
            self._judge(m)
            self.campaigns.adopt(fp.dest, campaign, last_above)
            self.active.append(m)
            known[attack_id] = m
            new += 1
            self.stats.imported += 1
        return new

    def mitigations(self) -> list[dict[str, Any]]:
        """Active mitigations, readable (for the API, the CLI and debugging)."""
        return [
            {
                **m.to_json(self.clock),
                "rule": m.rule.slug,
                "scope": m.scope,
                "expression": m.fingerprint.describe(),
                "specificity": m.specificity,
                "selective": m.selective,
                "action": m.setting.action,
                "sensitivity_level": m.setting.sensitivity,
                "threshold_pps": m.threshold,
            }
            for m in self.active
        ]
