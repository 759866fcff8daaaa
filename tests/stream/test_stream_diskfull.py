"""A full disk (a 1 MiB tmpfs): append fails with a clear error and leaves nothing corrupt."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from stream_support import drain, records

from netlogpush.stream import EmbeddedConfig, RetentionPolicy, StreamFullError, open_stream


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@pytest.mark.root
def test_append_on_a_full_disk(small_disk: Path) -> None:
    d = small_disk / "stream"
    cfg = EmbeddedConfig(
        compression="none",
        segment_bytes=256 * 1024,
        retention=RetentionPolicy(max_bytes=None, max_age_s=None),
    )
    head = 0
    with open_stream(d, cfg) as s:
        s.add_consumer("j")
        with pytest.raises(StreamFullError) as err:
            for _ in range(1000):
                head = s.append(records(head + 1, 100)).last_seq
        assert str(d) in str(err.value)
        assert "no space left" in str(err.value)
        assert 500 <= head < 100_000
        assert s.stats().head_seq == head
        with pytest.raises(StreamFullError):  # still full, still clean
            s.append(records(head + 1, 100))
        got = s.fetch("j", 150)
        assert got is not None
        s.ack("j", got.last_seq)  # a ledger entry is small enough to fit
    with open_stream(d, cfg) as s:
        st = s.stats()
        assert (st.head_seq, st.truncated_bytes, st.corrupt_frames) == (head, 0, 0)
        assert drain(s, "j") == list(range(151, head + 1))
    # With a size bound, old segments go and appending works again.
    bounded = EmbeddedConfig(
        compression="none",
        segment_bytes=256 * 1024,
        retention=RetentionPolicy(max_bytes=300 * 1024, max_age_s=None),
    )
    with open_stream(d, bounded) as s:
        r = s.append(records(head + 1, 100))
        assert r.first_seq == head + 1
        s.add_consumer("late")
        got_late = drain(s, "late")
        assert got_late[-1] == head + 100 and got_late == list(range(got_late[0], head + 101))
