"""Capture-file reading speed: frames/s from a 1M-packet file into FrameBatches, one core.

    .venv/bin/python bench/bench_capture.py [--packets 1000000] [--repeat 3] [--live]

Files (generated in a temp dir, page-cached before timing):
  * ``mixed.pcap``: sizes 54-1514 B (avg ~400 B), 420 MB for 1M packets;
  * ``syn.pcap``: 60 B frames, the DDoS-flood case;
  * ``mixed.pcapng``: the same frames as Enhanced Packet Blocks;
  * ``mixed.pcap.gz``: gzip level 1 of a 200k-packet slice (decompression dominates).

Figures: ``netlogpush.sources.pcap.iter_batches`` beside, in the same process and on the same
file, the straightforward way: ``dpkt.pcap.Reader`` / ``dpkt.pcapng.Reader`` feeding
``FrameBatchBuilder.append`` per packet. With ``--live`` (root, tcpreplay): packets/s that
``LiveCapture`` keeps up with while tcpreplay --topspeed replays syn.pcap onto a veth.

Re-executes itself with ``MALLOC_TOP_PAD_`` set (docs/performance.md).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import os
import random
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

if os.environ.get("MALLOC_TOP_PAD_") is None:
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import dpkt

from netlogpush.decode.frames import FrameBatchBuilder
from netlogpush.sources.pcap import iter_batches

SIZES = (54, 60, 74, 154, 566, 1514)


def write_files(d: Path, n: int) -> dict[str, Path]:
    rnd = random.Random(1)
    sizes = [rnd.choice(SIZES) for _ in range(n)]
    bodies = {s: bytes(range(256)) * (s // 256) + bytes(range(s % 256)) for s in SIZES}
    rec = struct.Struct("<IIII")
    hdr = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    paths = {k: d / k for k in ("mixed.pcap", "syn.pcap", "mixed.pcapng", "mixed.pcap.gz")}
    with open(paths["mixed.pcap"], "wb") as f:
        f.write(hdr)
        for i0 in range(0, n, 50_000):
            f.write(
                b"".join(
                    rec.pack(1_700_000_000 + i // 1000, i % 1000 * 1000, s, s) + bodies[s]
                    for i, s in enumerate(sizes[i0 : i0 + 50_000], i0)
                )
            )
    with open(paths["syn.pcap"], "wb") as f:
        f.write(hdr)
        one = bodies[60]
        for i0 in range(0, n, 50_000):
            f.write(
                b"".join(
                    rec.pack(1_700_000_000, i, 60, 60) + one for i in range(i0, min(n, i0 + 50_000))
                )
            )
    shb = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    idb = struct.pack("<IIHHII", 1, 20, 1, 0, 0, 20)
    with open(paths["mixed.pcapng"], "wb") as f:
        f.write(shb + idb)
        for i0 in range(0, n, 50_000):
            parts = []
            for i, s in enumerate(sizes[i0 : i0 + 50_000], i0):
                pad = -s % 4
                blen = 32 + s + pad
                ts = 1_700_000_000_000_000 + i
                parts.append(
                    struct.pack("<IIIIIII", 6, blen, 0, ts >> 32, ts & 0xFFFFFFFF, s, s)
                    + bodies[s]
                    + bytes(pad)
                    + struct.pack("<I", blen)
                )
            f.write(b"".join(parts))
    with open(paths["mixed.pcap"], "rb") as f:
        head = f.read(24 + sum(s + 16 for s in sizes[: n // 5]))
    paths["mixed.pcap.gz"].write_bytes(gzip.compress(head, compresslevel=1))
    return paths


def ours(path: Path) -> int:
    return sum(len(b) for b in iter_batches(path))


def baseline(path: Path) -> int:
    """dpkt reader + FrameBatchBuilder, one Python append per packet."""
    n = 0
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        reader = (
            dpkt.pcapng.Reader(f)  # type: ignore[no-untyped-call]
            if path.suffix == ".pcapng"
            else dpkt.pcap.Reader(f)  # type: ignore[no-untyped-call]
        )
        b = FrameBatchBuilder()
        for ts, frame in reader:
            b.append(frame, int(ts * 1e9), 1)
            if len(b) == 65536:
                n += len(b.build())
        n += len(b.build())
    return n


def best(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - t)
    return min(times), count


def live_bench(syn: Path) -> None:
    from netlogpush.sources.live import LiveCapture

    pid = os.getpid()
    host, peer, ns = f"nlb{pid}a"[-15:], f"nlb{pid}b"[-15:], f"netlogpush-bench-{pid}"

    def run(*cmd: str) -> None:
        subprocess.run(cmd, check=True, capture_output=True)

    try:
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns)
        run("sysctl", "-qw", f"net.ipv6.conf.{host}.disable_ipv6=1")
        run("ip", "link", "set", host, "up")
        run("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{peer}.disable_ipv6=1")
        run("ip", "-n", ns, "link", "set", peer, "up")
        with LiveCapture(host, block_count=64) as cap:
            got = [0]

            def collect() -> None:
                for b in cap.batches(duration_s=120):
                    got[0] += len(b)

            t = threading.Thread(target=collect)
            t.start()
            t0 = time.perf_counter()
            out = subprocess.run(
                ["tcpreplay", "-i", host, "--topspeed", str(syn)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            dt = time.perf_counter() - t0
            time.sleep(0.5)
            cap.stop()
            t.join()
        sent = next(line for line in out.splitlines() if "Actual" in line).strip()
        print(f"live: tcpreplay {sent}")
        print(
            f"live: captured {got[0]} frames while tcpreplay ran {dt:.2f} s "
            f"({got[0] / dt / 1e6:.2f} M frames/s); kernel drops {cap.kernel_drops}"
        )
    finally:
        subprocess.run(["ip", "link", "del", host], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--live", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        paths = write_files(Path(tmp), args.packets)
        print(f"wrote test files in {time.perf_counter() - t:.1f} s")
        print(
            f"{'file':16} {'MB':>6} {'frames':>8} {'ours M/s':>9} {'dpkt+builder M/s':>17} "
            f"{'speedup':>7}"
        )
        for name, path in paths.items():
            for _ in range(2):  # warm the page cache
                with open(path, "rb") as f:
                    while f.read(1 << 24):
                        pass
            t_ours, n = best(functools.partial(ours, path), args.repeat)
            t_base, n2 = best(functools.partial(baseline, path), 1)
            assert n == n2, (name, n, n2)
            mb = path.stat().st_size / 1e6
            print(
                f"{name:16} {mb:6.0f} {n:8d} {n / t_ours / 1e6:9.2f} {n / t_base / 1e6:17.2f} "
                f"{t_base / t_ours:6.1f}x"
            )
        if args.live:
            live_bench(paths["syn.pcap"])


if __name__ == "__main__":
    main()
