#!/usr/bin/env python3
"""Rewrite the golden files from the current code, for review with ``git diff``.

    python tests/golden/regenerate.py            # expected.ndjson of every case
    python tests/golden/regenerate.py tcp6 gre   # only these cases
    python tests/golden/regenerate.py --inputs   # also input.pcap and case.yaml (cases.py)

Inputs are rewritten only with ``--inputs``: the committed pcaps are what the decoder is
tested on, and a builder change must not alter them unnoticed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from cases import CASES, frame_times  # noqa: E402

from netlogpush.testing.packets import write_pcap  # noqa: E402
from test_golden import render  # noqa: E402


def write_inputs(name: str) -> None:
    case = CASES[name]
    d = HERE / name
    d.mkdir(exist_ok=True)
    items: list[tuple[bytes, int] | tuple[bytes, int, int]] = []
    for item, ts in zip(case.frames, frame_times(case), strict=True):
        items.append((item[0], ts, item[1]) if isinstance(item, tuple) else (item, ts))
    write_pcap(d / "input.pcap", items, case.linktype, nanosecond=case.nanosecond)
    yaml_path = d / "case.yaml"
    if case.options:
        yaml_path.write_text(yaml.safe_dump(case.options, sort_keys=True))
    elif yaml_path.exists():
        yaml_path.unlink()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    ap.add_argument("--inputs", action="store_true", help="rewrite input.pcap and case.yaml too")
    args = ap.parse_args()
    names = args.cases or sorted(CASES)
    for name in names:
        if name not in CASES:
            print(f"unknown case {name!r}", file=sys.stderr)
            return 2
        if args.inputs or not (HERE / name / "input.pcap").exists():
            write_inputs(name)
        out = render(HERE / name)
        path = HERE / name / "expected.ndjson"
        old = path.read_bytes() if path.exists() else None
        path.write_bytes(out)
        state = "new" if old is None else ("changed" if old != out else "same")
        records = len(out.splitlines())
        print(f"{name:24s} {records:3d} records  {state}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
