"""Detection quality: our mitigation stages and the real FastNetMon on the same attacks.

    .venv/bin/python bench/bench_detection.py                 # every scenario (~8 minutes)
    .venv/bin/python bench/bench_detection.py syn-flood ntp-reflection benign-web
    .venv/bin/python bench/bench_detection.py --no-fastnetmon # ours only (~1 minute)

For each scenario of ``netlogpush.scenarios.catalog`` the script writes the capture and its
ground truth, runs it through the pipeline built from settings (``pipeline_from_settings``:
the Magic Transit profile, inline, so dosd, flowtrackd and magic-firewall in turn, a packet
dropped by one never reaching the next), records every packet's verdict from wrappers around
the stages, and scores it against the truth:

* ``TTD``: time to detect, the packet time of the first attack packet dropped minus the
  attack's start (target: within 3 s);
* ``after``: share of attack packets dropped from that moment on (target: >= 99 %);
* ``benign``: share of benign packets dropped (target: < 0.1 %); flowtrackd's SYN
  challenges of legitimate clients are counted apart (``chall``), since a real client
  answers the challenge and gets through;
* ``FP``: mitigations (dosd attack IDs) whose dropped packets are mostly benign. On a
  benign-only run every mitigation is a false positive (target: zero).

Beside ours, FastNetMon (bench/fastnetmon.py) gets the same capture as sFlow from pmacct at
packet-time pace, so each scenario costs its duration in wall time: did it ban the victim,
with which attack type, how long after the attack began (wall clock), and did it ban
anything else. Both run at once: FastNetMon of one scenario while we generate and score the
next.

Captures are cut to 256 bytes (``snaplen``; wire lengths kept) to keep them small: headers
and the first payload bytes are all that either side reads.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if os.environ.get("MALLOC_TOP_PAD_") is None:
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import numpy as np
import numpy.typing as npt

from netlogpush.config import Settings
from netlogpush.mitigation.stage import Decision, Stage, StageInput
from netlogpush.pipeline import pipeline_from_settings
from netlogpush.scenarios.catalog import (
    ATTACK_SCENARIOS,
    BENIGN_SCENARIOS,
    SCENARIOS,
    write_scenario,
)
from netlogpush.scenarios.mixed import CUSTOMER_PREFIXES
from netlogpush.scenarios.truth import Truth
from netlogpush.sources.pcap import iter_batches

HERE = Path(__file__).resolve().parent
NS = 1_000_000_000
CHALLENGES = ("CHALLENGE_NEEDED", "CHALLENGE_PASSED")
Mask = npt.NDArray[np.bool_]


# --- our stages ---------------------------------------------------------------------------


def bench_settings() -> Settings:
    """A Magic Transit customer under attack: all three systems inline, dosd with its
    defaults, flowtrackd protecting the customer prefixes with both components enabled
    (Cloudflare's default rule only monitors), the firewall without user rules."""
    enabled = {"rules": [{"mode": "enabled"}]}
    return Settings.model_validate(
        {
            "customer_prefixes": list(CUSTOMER_PREFIXES),
            "mitigation": {
                "profile": "magic_transit",
                "mode": "inline",
                "flowtrackd": {
                    "prefixes": [{"prefix": p} for p in CUSTOMER_PREFIXES],
                    "syn_protection": enabled,
                    "tcp_flow_protection": enabled,
                },
            },
        }
    )


@dataclass(slots=True)
class Recorder:
    """Wraps a stage and keeps its last decision; the pipeline runs unchanged."""

    inner: Stage
    last: tuple[Mask, Decision] | None = None

    @property
    def system(self) -> Any:
        return self.inner.system

    @property
    def needs_enrichment(self) -> bool:
        return bool(getattr(self.inner, "needs_enrichment", False))

    def process(self, batch: StageInput) -> Decision:
        decision = self.inner.process(batch)
        self.last = (batch.active.copy(), decision)
        return decision


@dataclass(slots=True)
class Verdicts:
    """Per packet, file order: dropped (enforced), and what dropped it."""

    dropped: Mask
    challenged: Mask  # dropped by a flowtrackd SYN challenge
    mitigation: npt.NDArray[np.int32]  # index into ``keys``; -1 when not dropped
    keys: list[tuple[str, str]]  # (system, attack ID or reason)
    vectors: dict[tuple[str, str], str]  # key -> AttackVector (dosd) or reason
    seconds: float


def run_ours(capture: Path) -> Verdicts:
    """Run the pipeline that ``netlogpush decode --config`` would build, batch by batch."""
    # No ASN/geo databases on purpose (no stage needs them); do not warn once per scenario.
    logging.getLogger("netlogpush.enrich").setLevel(logging.ERROR)
    # Sampling is the chain's business, not the score's: one sample in a million keeps it
    # out of the way, and the recorders see every verdict.
    pipeline = pipeline_from_settings(bench_settings(), sample_interval=1_000_000, seed=1)
    recorders = [Recorder(s) for s in pipeline.chain.stages]
    pipeline.chain.stages = recorders  # type: ignore[assignment]
    dropped, challenged, mitigation = [], [], []
    keys: list[tuple[str, str]] = []
    index: dict[tuple[str, str], int] = {}
    vectors: dict[tuple[str, str], str] = {}
    t0 = time.perf_counter()
    for frames in iter_batches(capture):
        pipeline.process(frames)
        n = len(frames)
        d = np.zeros(n, np.bool_)
        ch = np.zeros(n, np.bool_)
        mit = np.full(n, -1, np.int32)
        for rec in recorders:
            if rec.last is None:
                continue
            active, dec = rec.last
            hit = active & dec.drop & dec.enforce & ~d
            rows = np.flatnonzero(hit)
            codes = dec.label[rows]
            for code in np.unique(codes).tolist():
                lab = dec.labels[code] if code >= 0 else {}
                reason = lab.get("MitigationReason", "")
                key = (str(rec.system), lab.get("AttackID") or reason or lab.get("RuleID", ""))
                if key not in index:
                    index[key] = len(keys)
                    keys.append(key)
                    vectors[key] = lab.get("AttackVector") or reason or lab.get("RuleName", "")
                sel = rows[codes == code]
                mit[sel] = index[key]
                if rec.system == "flowtrackd" and reason in CHALLENGES:
                    ch[sel] = True
            d |= hit
            rec.last = None
        dropped.append(d)
        challenged.append(ch)
        mitigation.append(mit)
    return Verdicts(
        np.concatenate(dropped), np.concatenate(challenged), np.concatenate(mitigation),
        keys, vectors, time.perf_counter() - t0,
    )  # fmt: skip


@dataclass
class Score:
    scenario: str
    vector: str
    packets: int
    attack_packets: int
    ttd_s: float | None = None
    rate_at_detection: float | None = None  # attack pps over the second before detection
    attack_dropped_after: float | None = None
    attack_dropped_all: float | None = None
    benign_dropped: float = 0.0  # excluding flowtrackd challenges
    benign_challenged: float = 0.0
    activations: int = 0
    false_activations: int = 0
    our_vectors: list[str] = field(default_factory=list)
    pps: float = 0.0  # our stages' speed on this capture, packets/s
    fastnetmon: dict[str, Any] | None = None


def attack_rate(truth: Truth, at_ns: int) -> float:
    """The attack's packets per second just before ``at_ns``: over the last second, or since
    the attack began if that is sooner (at least 10 ms)."""
    ts = truth.ts_ns[truth.attack]
    window = max(10_000_000, min(NS, at_ns - truth.attack_start_ns))
    lo, hi = np.searchsorted(ts, [at_ns - window, at_ns])
    return float(hi - lo) * NS / window


def score(truth: Truth, v: Verdicts) -> Score:
    a = truth.attack
    b = ~a
    s = Score(truth.scenario, truth.vector, len(truth), int(a.sum()), pps=len(truth) / v.seconds)
    s.benign_dropped = float((v.dropped & b & ~v.challenged).sum() / max(1, b.sum()))
    s.benign_challenged = float((v.challenged & b).sum() / max(1, b.sum()))
    per_key_attack = np.bincount(v.mitigation[v.dropped & a], minlength=len(v.keys))
    per_key_benign = np.bincount(v.mitigation[v.dropped & b], minlength=len(v.keys))
    dosd = [i for i, k in enumerate(v.keys) if k[0] == "dosd"]
    s.activations = len(dosd)
    s.false_activations = sum(1 for i in dosd if per_key_benign[i] >= per_key_attack[i])
    if a.any():
        hits = np.flatnonzero(v.dropped & a)
        top = Counter({v.vectors[v.keys[i]]: int(per_key_attack[i]) for i in range(len(v.keys))})
        s.our_vectors = [name for name, c in top.most_common(2) if c]
        s.attack_dropped_all = float(v.dropped[a].mean())
        if hits.size:
            first = int(truth.ts_ns[hits[0]])
            s.ttd_s = (first - truth.attack_start_ns) / NS
            s.rate_at_detection = attack_rate(truth, first)
            after = a & (truth.ts_ns >= first)
            s.attack_dropped_after = float(v.dropped[after].mean())
    return s


# --- FastNetMon, in a subprocess so that its pacing has its own interpreter ----------------


def start_fastnetmon(capture: Path, out: Path, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, str(HERE / "fastnetmon.py"), str(capture), "--json", str(out),
           "--threshold-pps", str(args.fnm_threshold_pps),
           "--sampling-rate", str(args.fnm_sampling_rate)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL)


def finish_fastnetmon(proc: subprocess.Popen[bytes], out: Path, truth: Truth) -> dict[str, Any]:
    proc.wait()
    if not out.exists():
        return {"available": False, "reason": f"bench/fastnetmon.py exited {proc.returncode}"}
    res: dict[str, Any] = json.loads(out.read_text())
    if res.get("ttd_s") is not None:
        res["rate_at_detection"] = attack_rate(
            truth, truth.attack_start_ns + int(res["ttd_s"] * NS)
        )
    return res


# --- the table ---------------------------------------------------------------------------


def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def _sec(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}s"


def _kpps(x: float | None) -> str:
    return "-" if x is None else f"{x / 1000:.0f}k"


def print_table(scores: list[Score], fnm: bool) -> None:
    head = (f"{'scenario':22} {'TTD':>6} {'@pps':>5} {'after':>7} {'benign':>7} {'chall':>6} "
            f"{'FP':>3} {'ok':>3}  {'our vector':28}")  # fmt: skip
    if fnm:
        head += f" | {'FNM':4} {'type':16} {'TTD':>6} {'@pps':>5} {'FP':>3}"
    print(head)
    print("-" * len(head))
    for s in scores:
        attack = bool(s.vector)
        ok = (
            s.ttd_s is not None and s.ttd_s <= 3.0 and (s.attack_dropped_after or 0) >= 0.99
            and s.benign_dropped < 0.001 and s.false_activations == 0
        ) if attack else (s.activations == 0 and s.benign_dropped < 0.001)  # fmt: skip
        line = (f"{s.scenario:22} {_sec(s.ttd_s):>6} {_kpps(s.rate_at_detection):>5} "
                f"{_pct(s.attack_dropped_after, 2):>7} "
                f"{_pct(s.benign_dropped, 3):>7} {_pct(s.benign_challenged):>6} "
                f"{s.false_activations if attack else s.activations:>3} {'yes' if ok else 'NO':>3}  "
                f"{', '.join(s.our_vectors)[:28]:28}")  # fmt: skip
        if fnm:
            f = s.fastnetmon or {}
            if not f.get("available"):
                line += f" | n/a  {str(f.get('reason', ''))[:30]}"
            else:
                det = "yes" if f.get("detected") else ("-" if not attack else "no")
                line += (f" | {det:4} {f.get('attack_type', '')[:16]:16} {_sec(f.get('ttd_s')):>6} "
                         f"{_kpps(f.get('rate_at_detection')):>5} "
                         f"{len(set(f.get('false_bans', []))):>3}")  # fmt: skip
        print(line)
    print()
    print(
        "TTD: first attack packet dropped minus attack start (packet time for ours, wall time "
        "for FastNetMon); @pps: the attack's rate just before detection; after: attack packets dropped from then on; benign: benign packets "
        "dropped (flowtrackd SYN challenges apart, in chall); FP: mitigations that hit mostly "
        "benign packets (benign runs: every mitigation); ok: all four targets met "
        "(TTD <= 3 s, after >= 99 %, benign < 0.1 %, FP = 0)."
    )


# --- main --------------------------------------------------------------------------------


def scenario_kwargs(name: str, args: argparse.Namespace) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "seed": args.seed, "duration_s": args.duration, "attack_start_s": args.attack_start,
        "attack_duration_s": args.duration - args.attack_start - 2.0,
        "benign_pps": args.benign_pps, "snaplen": 256,
    }  # fmt: skip
    if name == "slow-ramp":
        # the ramp needs room: 20 s of rise, then a few seconds at the top
        kw |= {
            "duration_s": args.duration + 16,
            "attack_duration_s": args.duration + 11,
            "ramp_s": 20.0,
        }
    return kw


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenarios", nargs="*", help=f"names (default: all): {', '.join(SCENARIOS)}")
    ap.add_argument("--no-fastnetmon", action="store_true", help="skip the FastNetMon baseline")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=12.0, help="seconds per scenario")
    ap.add_argument("--attack-start", type=float, default=3.0)
    ap.add_argument("--benign-pps", type=float, default=10_000.0)
    ap.add_argument("--fnm-threshold-pps", type=int, default=10_000)
    ap.add_argument("--fnm-sampling-rate", type=int, default=100)
    ap.add_argument("--workdir", type=Path, help="keep captures and results here")
    ap.add_argument("--json", type=Path, help="write every score here")
    args = ap.parse_args(argv)
    names = args.scenarios or [*ATTACK_SCENARIOS, *BENIGN_SCENARIOS]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    from fastnetmon import missing_tools  # bench/ is on sys.path: it is the script's folder

    use_fnm = not args.no_fastnetmon
    why = missing_tools() if use_fnm else ""
    if why:
        print(f"FastNetMon baseline skipped: {why}")
        use_fnm = False
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-detection-"))
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    scores: list[Score] = []
    pending: tuple[Score, subprocess.Popen[bytes], Path, Truth, Path] | None = None
    try:
        for name in names:
            summary = write_scenario(name, work / f"{name}.pcap", **scenario_kwargs(name, args))
            truth = Truth.load(summary.path)
            s = score(truth, run_ours(summary.path))
            scores.append(s)
            print(f"  {name}: {summary.packets:,} packets, ours {s.pps / 1e3:.0f}k pps"
                  f"{' (FastNetMon running)' if use_fnm else ''}", flush=True)  # fmt: skip
            if pending is not None:
                prev, proc, out, prev_truth, prev_cap = pending
                prev.fastnetmon = finish_fastnetmon(proc, out, prev_truth)
                if args.workdir is None:
                    prev_cap.unlink(missing_ok=True)
                pending = None
            if use_fnm:
                out = work / f"{name}.fastnetmon.json"
                pending = (s, start_fastnetmon(summary.path, out, args), out, truth, summary.path)
            elif args.workdir is None:
                summary.path.unlink(missing_ok=True)
        if pending is not None:
            prev, proc, out, prev_truth, _ = pending
            prev.fastnetmon = finish_fastnetmon(proc, out, prev_truth)
            pending = None
    finally:
        if pending is not None:
            pending[1].terminate()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print_table(scores, use_fnm)
    print(f"\n{len(scores)} scenarios in {time.monotonic() - t_start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in scores], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
