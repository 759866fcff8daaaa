"""Reading a capture with a progress bar on stderr for large files."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from netlogpush.decode.frames import FrameBatch
from netlogpush.sources.pcap import CaptureFormatError, CaptureReader

#: Below this size a run takes about a second and a bar would only flicker.
PROGRESS_MIN_BYTES = 32 << 20


@contextmanager
def capture_progress(capture: Path, console: Console) -> Iterator[Iterator[FrameBatch]]:
    try:
        reader = CaptureReader(sys.stdin.buffer if str(capture) == "-" else capture)
    except FileNotFoundError:
        console.print(f"[red]error:[/red] no such file: {capture}")
        raise typer.Exit(2) from None
    except (CaptureFormatError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    total = reader.bytes_total
    if total is None or total < PROGRESS_MIN_BYTES:
        yield iter(reader)
    else:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(f"decoding {capture.name}", total=total)

            def batches() -> Iterator[FrameBatch]:
                for batch in reader:
                    bar.update(task, completed=reader.bytes_consumed)
                    yield batch

            yield batches()
    if reader.problems:
        console.print(
            "capture file: " + ", ".join(f"{k} {v:,}" for k, v in sorted(reader.problems.items()))
        )
