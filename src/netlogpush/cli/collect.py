"""Long-running collection: sFlow and live capture, until Ctrl-C or SIGTERM; SIGHUP reloads."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

from netlogpush.cli.output import RecordWriter
from netlogpush.decode.frames import FrameBatch
from netlogpush.pipeline import Pipeline


def settings_reloader(
    pipeline: Pipeline,
    config: Path | None,
    sample_interval: int | None,
    seed: int | None,
    console: Console,
) -> Callable[[], None]:
    """Read the settings file again and apply it to ``pipeline``, keeping the systems' state.

    A file that no longer loads is reported and the pipeline keeps its settings. The command
    line's ``--sample-interval`` and ``--seed`` keep winning over the file, as at start.
    """
    from netlogpush.config import load_settings
    from netlogpush.mitigation.reload import reload_pipeline

    def reload() -> None:
        try:
            settings = load_settings(config)
            interval = sample_interval
            if interval is None and not settings.sampling_configured():
                interval = 1  # as at start (cli.app._pipeline): every packet
            report = reload_pipeline(pipeline, settings, interval, seed)
        except Exception as exc:
            # Anything: a failed reload must never stop collection (this may run inside the
            # signal handler, i.e. inside the source's generator).
            console.print(f"[red]reload failed, settings unchanged:[/red] {exc}", highlight=False)
            return
        console.print(f"reloaded settings from {config or 'the environment'}: {report.summary()}")

    return reload


def _drive(
    batches: Iterator[FrameBatch],
    stop: Callable[[], None],
    pipeline: Pipeline,
    writer: RecordWriter,
    reload: Callable[[], None] | None = None,
) -> None:
    """Feed batches through the pipeline until the source ends; SIGTERM stops it cleanly.

    SIGHUP calls ``reload`` (re-read the settings file). The pipeline must not change in the
    middle of a batch, and a signal handler runs between any two bytecodes of the main
    thread: so a SIGHUP that arrives while a batch is processed is applied before the next
    one, and one that arrives while the source waits for traffic is applied at once.
    """

    busy = False
    due = False

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        nonlocal due
        if reload is None:
            return
        if busy:
            due = True
        else:
            reload()

    previous = signal.signal(signal.SIGTERM, on_term)
    previous_hup = signal.signal(signal.SIGHUP, on_hup)
    try:
        for frames in batches:
            if due:
                due = False
                if reload is not None:
                    reload()
            busy = True
            table = pipeline.process(frames)
            busy = False
            if table.num_rows:
                writer.write(table)
    except KeyboardInterrupt:
        stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGHUP, previous_hup)


def run_sflow(
    host: str,
    port: int,
    pipeline: Pipeline,
    writer: RecordWriter,
    console: Console,
    reload: Callable[[], None] | None = None,
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
        _drive(collector.batches(), collector.stop, pipeline, writer, reload)
        stats = collector.stats
    decode = stats.decode.as_dict()
    console.print(
        f"{stats.datagrams:,} datagrams, kernel drops {stats.kernel_drops:,}; "
        + ", ".join(f"{k} {v}" for k, v in decode.items())
    )
    for agent in stats.agents:
        console.print(f"  agent {agent}")


def run_live(
    interface: str,
    bpf: str | None,
    pipeline: Pipeline,
    writer: RecordWriter,
    console: Console,
    reload: Callable[[], None] | None = None,
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
        _drive(capture.batches(), capture.stop, pipeline, writer, reload)
