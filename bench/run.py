"""Run every benchmark and print the figures the issues ask for, each beside its baseline.

    .venv/bin/python bench/run.py            # all of them
    .venv/bin/python bench/run.py decode     # only bench_decode.py

Each benchmark runs in its own process with ``MALLOC_TOP_PAD_`` set (docs/performance.md):
glibc's default trimming makes allocation-heavy Python several times slower and noisy here.
Timings on a shared 2-core machine are noisy; compare the ratios within one run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = (
    "capture",
    "decode",
    "sflow",
    "enrich",
    "dosd",
    "flowtrackd",
    "firewall",
    "pipeline",
    "detection",
    "stream",
    "logpush_format",
    "delivery",
    "logpush_jobs",
    "analytics",
)


def main(argv: list[str]) -> int:
    wanted = argv or list(BENCHES)
    env = {**os.environ, "MALLOC_TOP_PAD_": os.environ.get("MALLOC_TOP_PAD_", "268435456")}
    failed = 0
    for name in wanted:
        script = HERE / f"bench_{name}.py"
        print(f"\n=== {script.name} ===", flush=True)
        failed |= subprocess.call([sys.executable, str(script)], env=env) != 0
    return int(failed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
