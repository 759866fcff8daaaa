"""sFlow v5 decode speed: samples/s for our decoder beside a naive decoder, in one process.

    .venv/bin/python bench/bench_sflow.py [--samples 300000] [--repeat 5]

Figures (best of ``--repeat`` runs, one core):
  * ``decoder``: ``parse_datagrams`` -> ``FrameBatch`` (the goal is >= 200,000 samples/s;
    goflow publishes 10k-40k samples/s per core).
  * ``naive``: the baseline; what a straightforward decoder does, one dict per sample with
    sliced bytes, then ``FrameBatchBuilder`` (neither dpkt nor scapy decodes sFlow).
  * ``pipeline``: decoder + ``netlogpush.pipeline.Pipeline`` all the way to records.
  * ``collector``: ``SflowCollector`` receiving and decoding datagrams that a burst left in
    its socket buffer (UDP over loopback), and how many were lost.

The script re-executes itself with ``MALLOC_TOP_PAD_`` set (see docs/sources.md): glibc's
default heap trimming makes allocation-heavy Python loops several times slower and noisy.
"""

from __future__ import annotations

import argparse
import os
import random
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

if os.environ.get("MALLOC_TOP_PAD_") is None:
    os.environ["MALLOC_TOP_PAD_"] = "268435456"
    os.execv(sys.executable, [sys.executable, *sys.argv])

from netlogpush.decode.frames import LINKTYPE_ETHERNET, FrameBatch, FrameBatchBuilder
from netlogpush.sources.sflow import SflowCollector, SflowDecoder, parse_datagrams
from netlogpush.testing import sflow_encoder as enc


def make_headers(n: int, seed: int = 1) -> list[tuple[bytes, int]]:
    """Sampled headers as a switch sends them: the first 128 bytes of mixed IPv4/IPv6 traffic."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        v6 = rng.random() < 0.2
        proto = rng.choice([6, 6, 17])
        l4 = struct.pack(">HH", rng.randint(1024, 65535), rng.choice([80, 443, 53]))
        l4 += bytes(16 if proto == 6 else 4)
        payload = bytes(rng.choice([0, 0, 200, 1400]))
        if v6:
            ip = struct.pack(">IHBB", 6 << 28, len(l4) + len(payload), proto, 64)
            ip += rng.randbytes(32)
            eth = b"\x02" * 12 + b"\x86\xdd"
        else:
            ip = struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(l4) + len(payload), 0, 0, 64, proto, 0)
            ip += rng.randbytes(8)
            eth = b"\x02" * 12 + b"\x08\x00"
        frame = eth + ip + l4 + payload
        out.append((frame[:128], len(frame) + 4))
    return out


def make_datagrams(n_samples: int) -> list[bytes]:
    exporters = [enc.FlowExporter(agent=f"10.0.0.{i}", sampling_rate=1000) for i in range(1, 9)]
    headers = make_headers(n_samples)
    out: list[bytes] = []
    chunk = 6000
    for i in range(0, n_samples, chunk):
        out += exporters[(i // chunk) % len(exporters)].export(headers[i : i + chunk])
    return out


def naive_parse(datagrams: list[tuple[bytes, int]]) -> FrameBatch:
    """The baseline: decode each sample into a dict, then build the batch from the dicts."""
    samples: list[dict[str, Any]] = []
    for payload, ts in datagrams:
        _version, addr_type = struct.unpack(">II", payload[:8])
        alen = 4 if addr_type == 1 else 16
        sub_id, seq, _uptime, n = struct.unpack(">IIII", payload[8 + alen : 24 + alen])
        pos = 24 + alen
        for _ in range(n):
            fmt, length = struct.unpack(">II", payload[pos : pos + 8])
            body = payload[pos + 8 : pos + 8 + length]
            pos += 8 + length
            if fmt != 1:
                continue
            fields = struct.unpack(">8I", body[:32])
            sample: dict[str, Any] = {
                "agent": payload[8 : 8 + alen],
                "sub_agent_id": sub_id,
                "datagram_seq": seq,
                "sequence": fields[0],
                "source_id": fields[1],
                "rate": fields[2],
                "pool": fields[3],
                "drops": fields[4],
                "ts": ts,
                "records": [],
            }
            rpos = 32
            for _ in range(fields[7]):
                rfmt, rlen = struct.unpack(">II", body[rpos : rpos + 8])
                rbody = body[rpos + 8 : rpos + 8 + rlen]
                rpos += 8 + rlen
                if rfmt == 1:
                    proto, flen, _stripped, hlen = struct.unpack(">IIII", rbody[:16])
                    sample["records"].append(
                        {"protocol": proto, "frame_length": flen, "header": rbody[16 : 16 + hlen]}
                    )
            samples.append(sample)
    builder = FrameBatchBuilder()
    for s in samples:
        for r in s["records"]:
            builder.append(r["header"], s["ts"], LINKTYPE_ETHERNET, r["frame_length"], s["rate"])
    return builder.build()


def best(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    """Best wall time of ``repeat`` runs, and what fn returned (samples)."""
    times, n = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - t0)
    return min(times), n


def collector_drain_rate(datagrams: list[bytes]) -> tuple[float, int, int]:
    """Fill the collector's socket buffer first, then time receiving and decoding it all.

    Timing a live sender would measure the sender (Python's sendto is slower than our
    receive path); a full buffer is what the collector faces after a burst anyway.
    """
    import socket

    want = len(parse_datagrams((d, 0) for d in datagrams)[0])
    with SflowCollector("127.0.0.1", 0, batch_ms=20) as col:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for d in datagrams:
                s.sendto(d, ("127.0.0.1", col.port))
        samples = 0
        t0 = time.perf_counter()
        for batch in col.batches():
            samples += len(batch)
            if samples >= want:
                break
        elapsed = time.perf_counter() - t0
        lost = col.stats.decode.datagrams_lost + col.stats.kernel_drops
    return samples / elapsed, samples, lost


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    datagrams = make_datagrams(args.samples)
    items = [(d, 1_700_000_000_000_000_000 + i) for i, d in enumerate(datagrams)]
    size = sum(map(len, datagrams))
    print(
        f"{args.samples:,} samples in {len(datagrams):,} datagrams ({size / 1e6:.1f} MB), "
        f"8 agents, 128-byte headers + extended switch record; best of {args.repeat}"
    )

    # The collector decodes batches of up to 4096 datagrams; do the same here.
    step = 4096

    def ours() -> int:
        dec = SflowDecoder()
        return sum(len(dec.decode(items[i : i + step])[0]) for i in range(0, len(items), step))

    def naive() -> int:
        return sum(len(naive_parse(items[i : i + step])) for i in range(0, len(items), step))

    t_ours, n = best(ours, args.repeat)
    t_naive, n_naive = best(naive, args.repeat)
    assert n == n_naive == args.samples, (n, n_naive)
    # Same frames from both.
    a, _ = parse_datagrams(items[:50])
    b = naive_parse(items[:50])
    assert [a.frame(i) for i in range(len(a))] == [b.frame(i) for i in range(len(b))]
    print(f"  decoder   {n / t_ours:>12,.0f} samples/s   ({t_ours * 1e9 / n:,.0f} ns/sample)")
    print(
        f"  naive     {n / t_naive:>12,.0f} samples/s   ({t_naive * 1e9 / n:,.0f} ns/sample)"
        f"   -> decoder is {t_naive / t_ours:.1f}x faster"
    )

    try:
        from netlogpush.pipeline import Pipeline
    except ImportError as exc:  # the lead's pipeline may not exist yet
        print(f"  pipeline  (not available: {exc})")
    else:

        def full() -> int:
            dec = SflowDecoder()
            pipe = Pipeline()
            rows = 0
            for i in range(0, len(items), step):
                rows += pipe.process(dec.decode(items[i : i + step])[0]).num_rows
            return rows

        t_full, rows = best(full, max(1, args.repeat // 2))
        print(f"  pipeline  {n / t_full:>12,.0f} samples/s to records ({rows:,} records)")

    rate, got, lost = max(collector_drain_rate(datagrams[:12_000]) for _ in range(3))
    print(
        f"  collector {rate:>12,.0f} samples/s   (recv_into + decode of a full socket buffer, "
        f"{got:,} samples, {lost} datagrams lost)"
    )


if __name__ == "__main__":
    main()
