"""UDP collector: binding, bursts, batching, stopping, receive buffer."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from netlogpush.decode.frames import FrameBatch
from netlogpush.sources.sflow import SflowCollector
from netlogpush.testing import sflow_encoder as enc

#: Flow samples the FlowExporter packs into one 1400-byte datagram with 90-byte headers.
PER_DATAGRAM = 7


def _datagrams(n_samples: int, rate: int = 1, agent: str = "192.0.2.1") -> list[bytes]:
    exporter = enc.FlowExporter(agent=agent, sampling_rate=rate)
    return exporter.export((bytes([i % 256]) * 90, 94) for i in range(n_samples))


def _send(payloads: list[bytes], addr: tuple[str, int], family: int = socket.AF_INET) -> None:
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        for p in payloads:
            s.sendto(p, addr)


def _collect(col: SflowCollector, until_frames: int, timeout: float = 10.0) -> list[FrameBatch]:
    out: list[FrameBatch] = []
    got = 0
    deadline = time.monotonic() + timeout

    def watchdog() -> None:
        while time.monotonic() < deadline and not done.is_set():
            time.sleep(0.05)
        col.stop()

    done = threading.Event()
    threading.Thread(target=watchdog, daemon=True).start()
    for batch in col.batches():
        out.append(batch)
        got += len(batch)
        if got >= until_frames:
            break
    done.set()
    return out


def test_ipv4_bind_receives_and_decodes() -> None:
    payloads = _datagrams(300, rate=8)
    with SflowCollector("127.0.0.1", 0, batch_ms=20) as col:
        _send(payloads, ("127.0.0.1", col.port))
        batches = _collect(col, 300)
        stats = col.stats
    frames = [b.frame(i) for b in batches for i in range(len(b))]
    assert frames == [bytes([i % 256]) * 90 for i in range(300)]
    assert {int(x) for b in batches for x in b.sample_interval} == {8}
    assert stats.datagrams == len(payloads)
    assert stats.decode.flow_samples == 300
    assert stats.decode.datagrams_lost == 0 and stats.decode.samples_lost == 0
    (agent,) = stats.agents
    assert (agent.address, agent.last_sequence, agent.flow_samples) == (
        "192.0.2.1",
        len(payloads),
        300,
    )
    assert stats.kernel_drops == 0
    # The receive time is the wall clock at arrival.
    ts = batches[0].ts_ns[0]
    assert abs(int(ts) - time.time_ns()) < 30e9


def test_ipv6_bind_receives() -> None:
    payloads = _datagrams(50, agent="2001:db8::1")
    with SflowCollector("::1", 0, batch_ms=20) as col:
        _send(payloads, ("::1", col.port), socket.AF_INET6)
        batches = _collect(col, 50)
        assert col.stats.agents[0].address == "2001:db8::1"
    assert sum(len(b) for b in batches) == 50


def test_dual_stack_default_bind_takes_ipv4_too() -> None:
    with SflowCollector("::", 0, batch_ms=20) as col:
        assert col.address[0] == "::"
        _send(_datagrams(20), ("127.0.0.1", col.port))
        _send(_datagrams(20, agent="198.51.100.7"), ("::1", col.port), socket.AF_INET6)
        batches = _collect(col, 40)
        agents = {a.address for a in col.stats.agents}
    assert sum(len(b) for b in batches) == 40
    assert agents == {"192.0.2.1", "198.51.100.7"}


@pytest.mark.root
def test_burst_is_not_lost() -> None:
    """A burst sent before the collector reads at all must fit in the receive buffer."""
    payloads = _datagrams(42_000)  # 6000 datagrams, 7.7 MB, back to back
    assert len(payloads) == 6000
    with SflowCollector("127.0.0.1", 0, batch_datagrams=512) as col:
        # 2x the requested bytes: the kernel reports its own bookkeeping too.
        assert col.stats.rcvbuf_bytes >= 32 * 1024 * 1024
        _send(payloads, ("127.0.0.1", col.port))
        batches = _collect(col, 42_000)
        stats = col.stats
    assert sum(len(b) for b in batches) == 42_000
    assert stats.kernel_drops == 0
    assert stats.decode.datagrams_lost == 0
    assert all(len(b) <= 512 * PER_DATAGRAM for b in batches)
    assert stats.batches == len(batches) >= 6000 // 512


def test_batches_close_on_datagram_count_and_time() -> None:
    payloads = _datagrams(PER_DATAGRAM * 25)
    assert len(payloads) == 25
    with SflowCollector("127.0.0.1", 0, batch_datagrams=10, batch_ms=50) as col:
        _send(payloads, ("127.0.0.1", col.port))
        batches = _collect(col, PER_DATAGRAM * 25)
    assert [len(b) for b in batches] == [70, 70, 35]
    # A lone datagram still comes out after batch_ms.
    with SflowCollector("127.0.0.1", 0, batch_ms=50) as col:
        _send(payloads[:1], ("127.0.0.1", col.port))
        t0 = time.monotonic()
        (batch,) = _collect(col, PER_DATAGRAM)
        assert time.monotonic() - t0 < 2
        assert len(batch) == PER_DATAGRAM


def test_stop_from_another_thread_ends_batches_and_drains() -> None:
    with SflowCollector("127.0.0.1", 0, batch_ms=10_000) as col:
        _send(_datagrams(21), ("127.0.0.1", col.port))
        time.sleep(0.2)
        timer = threading.Timer(0.3, col.stop)
        timer.start()
        t0 = time.monotonic()
        batches = list(col.batches())
        assert time.monotonic() - t0 < 3
    assert sum(len(b) for b in batches) == 21


def test_run_with_callback_and_stop_from_signal_handler() -> None:
    got: list[int] = []
    with SflowCollector("127.0.0.1", 0, batch_ms=20) as col:
        old = signal.signal(signal.SIGUSR1, lambda *_: col.stop())
        try:
            _send(_datagrams(7), ("127.0.0.1", col.port))
            threading.Timer(
                0.5, lambda: signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)
            ).start()
            col.run(lambda b: got.append(len(b)))
        finally:
            signal.signal(signal.SIGUSR1, old)
    assert got == [7]


def test_sigint_ends_a_collector_process(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent("""
        import sys
        from netlogpush.sources.sflow import SflowCollector
        col = SflowCollector("127.0.0.1", 0)
        print(col.port, flush=True)
        try:
            for _ in col.batches():
                pass
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
    """)
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert int(proc.stdout.readline()) > 0
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=5) == 3
    assert proc.stdout.read().strip() == "interrupted"


def test_capped_receive_buffer_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())
    want = rmem_max * 4
    with (
        caplog.at_level(logging.WARNING, logger="netlogpush.sources.sflow"),
        SflowCollector("127.0.0.1", 0, rcvbuf=want, rcvbuf_force=False) as col,
    ):
        assert col.stats.rcvbuf_bytes == 2 * rmem_max
    (msg,) = [r.getMessage() for r in caplog.records]
    assert f"granted {2 * rmem_max}" in msg
    assert f"sysctl -w net.core.rmem_max={want}" in msg


def test_garbage_on_the_port_is_counted_not_fatal() -> None:
    with SflowCollector("127.0.0.1", 0, batch_ms=20) as col:
        garbage = [b"hello, sflow?", b"\x00\x00\x00\x05" + bytes(3)]
        _send(garbage + _datagrams(7), ("127.0.0.1", col.port))
        batches = _collect(col, 7)
        stats = col.stats.decode
    assert sum(len(b) for b in batches) == 7
    assert stats.malformed == {"bad_version": 1, "truncated_header": 1}


def test_stop_ends_even_while_an_exporter_keeps_sending() -> None:
    payloads = _datagrams(70)
    with SflowCollector("127.0.0.1", 0, batch_datagrams=5, batch_ms=10) as col:
        sending = threading.Event()
        sending.set()

        def sender() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                while sending.is_set():
                    for p in payloads:
                        s.sendto(p, ("127.0.0.1", col.port))
                    time.sleep(0.001)

        thread = threading.Thread(target=sender)
        thread.start()
        try:
            n = 0
            for i, batch in enumerate(col.batches()):
                n += len(batch)
                if i == 3:
                    t0 = time.monotonic()
                    col.stop()
            assert time.monotonic() - t0 < 2
            assert n > 0
        finally:
            sending.clear()
            thread.join()
