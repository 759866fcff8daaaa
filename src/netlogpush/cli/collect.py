"""Long-running collection: sFlow and live capture, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from types import FrameType

import typer
from rich.console import Console

from netlogpush.cli.output import RecordWriter
from netlogpush.decode.frames import FrameBatch
from netlogpush.pipeline import Pipeline


def _drive(
    batches: Iterator[FrameBatch],
    stop: Callable[[], None],
    pipeline: Pipeline,
    writer: RecordWriter,
) -> None:
    """Feed batches through the pipeline until the source ends; SIGTERM stops it cleanly."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        for table in pipeline.run(batches):
            writer.write(table)
    except KeyboardInterrupt:
        stop()
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_sflow(
    host: str, port: int, pipeline: Pipeline, writer: RecordWriter, console: Console
) -> None:
    from netlogpush.sources.sflow import SflowCollector

    try:
        collector = SflowCollector(host, port)
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot listen on UDP {host} port {port}: {exc.strerror}")
        raise typer.Exit(2) from None
    with collector:
        bound_host, bound_port = collector.address
        console.print(f"listening for sFlow v5 on UDP [{bound_host}]:{bound_port}; Ctrl-C to stop")
        _drive(collector.batches(), collector.stop, pipeline, writer)
        stats = collector.stats
    decode = stats.decode.as_dict()
    console.print(
        f"{stats.datagrams:,} datagrams, kernel drops {stats.kernel_drops:,}; "
        + ", ".join(f"{k} {v}" for k, v in decode.items())
    )
    for agent in stats.agents:
        console.print(f"  agent {agent}")


def run_live(
    interface: str, bpf: str | None, pipeline: Pipeline, writer: RecordWriter, console: Console
) -> None:
    from netlogpush.sources.live import LiveCapture, LiveCaptureError

    try:
        capture = LiveCapture(interface, bpf)
    except LiveCaptureError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    with capture:
        console.print(
            f"capturing on {interface}"
            + (f" with filter {bpf!r}" if bpf else "")
            + "; Ctrl-C to stop"
        )
        _drive(capture.batches(), capture.stop, pipeline, writer)
