"""kill -9 a process that appends in a loop, at random moments; then check, on reopening,
that every append that returned is there, intact, once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stream_support import drain

from netlogpush.stream import EmbeddedConfig, open_stream

CHILD = r"""
import random, sys
from stream_support import records
from netlogpush.stream import EmbeddedConfig, open_stream
fsync, seed = sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
s = open_stream(sys.argv[1], EmbeddedConfig(fsync=fsync, segment_bytes=300_000))
s.add_consumer("c")
print("READY", flush=True)
while True:
    first = s.stats().head_seq + 1
    r = s.append(records(first, rng.randint(1, 300)))
    print("A", r.first_seq, r.last_seq, flush=True)
    if rng.random() < 0.3:
        got = s.fetch("c", rng.randint(1, 500))
        if got is not None:
            s.ack("c", got.last_seq)
            print("K", got.last_seq, flush=True)
"""


@pytest.mark.parametrize("fsync", ["always", "off"])
def test_kill_9_loses_no_returned_append(tmp_path: Path, fsync: str) -> None:
    rng = random.Random(fsync)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    appended: list[tuple[int, int]] = []
    acked = 0
    for round_ in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path), fsync, str(round_)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == "READY\n"
        time.sleep(rng.uniform(0.05, 0.6))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL
        for line in out.split("\n")[:-1]:  # a line the kill cut has no newline: not trusted
            parts = line.split()
            if parts[0] == "A" and len(parts) == 3:
                appended.append((int(parts[1]), int(parts[2])))
            elif parts[0] == "K" and len(parts) == 2:
                acked = max(acked, int(parts[1]))
        with open_stream(tmp_path, EmbeddedConfig(fsync=fsync)) as s:
            st = s.stats()
            assert st.head_seq >= max(last for _, last in appended)
            assert st.consumers["c"].cursor >= acked
            s.add_consumer(f"check{round_}")
            got = drain(s, f"check{round_}", 5000)  # drain checks each record's content
            assert got == list(range(1, st.head_seq + 1))  # all there, once, in order
            assert st.corrupt_frames == 0
            present = set(got)
            assert all(a in present and b in present for a, b in appended)
            s.delete_consumer(f"check{round_}")
    assert len(appended) > 20  # the child did get work done between kills
