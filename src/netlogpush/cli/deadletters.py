"""``netlogpush deadletters list|replay``: thin commands over logpush/delivery/deadletter_ops.py
(the API's …/deadletters routes use the same functions)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

deadletters_app = typer.Typer(
    help="Inspect and replay a Logpush job's dead letters (batches its destination refused "
    "or that ran out of retries).",
    no_args_is_help=True,
)
JobOption = Annotated[int, typer.Option("--job", min=1, help="The Logpush job id.")]
DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir", envvar="NETLOGPUSH_DATA_DIR", help="Where netlogpush keeps its state."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line instead.")]
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


def _job(data_dir: Path, job_id: int) -> dict[str, Any]:
    from netlogpush.api.jobs import JobStore

    for job in JobStore(data_dir).all():
        if int(job["id"]) == job_id:
            return job
    raise _fail(f"--job: no job {job_id} in {data_dir}")


@deadletters_app.command("list")
def deadletters_list(job: JobOption, data_dir: DataDirOption = Path("netlogpush-data"),
                     as_json: JsonOption = False) -> None:  # fmt: skip
    """List the job's dead letters, oldest first: id, time, records, bytes and reason.

    Example: [green]netlogpush deadletters list --job 1[/green]
    """
    from netlogpush.logpush.delivery.deadletter_ops import list_entries

    rows = list_entries(data_dir, job)
    if as_json:
        for row in rows:
            typer.echo(orjson.dumps(row).decode())
        return
    table = Table("id", "time", "records", "bytes", "reason", title=f"job {job}: dead letters")
    for row in rows:
        why = f"{row['reason']}: {row['message']}" if row["message"] else row["reason"]
        table.add_row(row["id"], row["time"], str(row["records"]), str(row["bytes"]), why)
    Console(width=200).print(table)
    err.print(f"{len(rows)} batches, {sum(r['records'] for r in rows)} records")


@deadletters_app.command("replay")
def deadletters_replay(
    job: JobOption,
    entry: Annotated[
        list[str] | None, typer.Option("--entry", help="Only this entry id; repeatable.")
    ] = None,
    data_dir: DataDirOption = Path("netlogpush-data"),
) -> None:
    """Send dead letters again to the job's current destination; delivered ones are removed.
    Exits 1 if any entry failed again or was not found.

    Example: [green]netlogpush deadletters replay --job 1[/green]
    """
    from netlogpush.logpush.delivery.deadletter_ops import ReplayError, replay

    conf = _job(data_dir, job)["destination_conf"]
    try:
        report = replay(data_dir, job, conf, entry or None)
    except ReplayError as exc:
        raise _fail(str(exc)) from None
    for row in report.delivered:
        typer.echo(f"delivered {row['id']} ({row['records']} records) -> {row['location']}")
    for row in report.failed:
        err.print(f"failed {row['id']}: {row['error']}", highlight=False)
    for missing in report.missing:
        err.print(f"not found: {missing}", highlight=False)
    err.print(
        f"{len(report.delivered)} delivered ({report.delivered_records} records), "
        f"{len(report.failed)} failed, {len(report.missing)} not found"
    )
    if report.failed or report.missing:
        raise typer.Exit(1)
