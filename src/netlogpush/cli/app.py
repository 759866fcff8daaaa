"""Commands: ``fields``, ``decode``, ``collect sflow``, ``collect live``, ``generate``, ``demo``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from netlogpush import __version__
from netlogpush._runtime import tune_allocator
from netlogpush.cli.deadletters import deadletters_app
from netlogpush.cli.hec_tokens import hec_tokens_app
from netlogpush.cli.output import OutputFormat, RecordWriter
from netlogpush.config import Settings, SettingsError, load_settings
from netlogpush.dataset.fields import FIELDS, FIELDS_BY_NAME, fields_api_result
from netlogpush.dataset.timestamps import TIMESTAMP_FORMATS
from netlogpush.pipeline import Pipeline, pipeline_from_settings
from netlogpush.sources.pcap import CaptureFormatError

if TYPE_CHECKING:
    from netlogpush.service import TlsListen

HELP = """\
netlogpush turns packets into Cloudflare-format [bold]Network Analytics Logs[/bold].

Every packet sample becomes a record of the [cyan]network_analytics_logs[/cyan] dataset, field
for field as Cloudflare documents it (see [green]netlogpush fields[/green]), from:

  • capture files (pcap, pcapng, gzip-compressed):  [green]netlogpush decode capture.pcap[/green]
  • sFlow v5 from routers and switches:             [green]netlogpush collect sflow --port 6343[/green]
  • a live interface (root):                        [green]netlogpush collect live --interface eth0[/green]

Start with [green]netlogpush demo[/green]. Settings come from [cyan]--config FILE[/cyan] (YAML) and
NETLOGPUSH_* environment variables; see docs/configuration.md.
"""

app = typer.Typer(help=HELP, rich_markup_mode="rich", no_args_is_help=True, add_completion=False)
collect_app = typer.Typer(
    help="Collect records from a live source until stopped (Ctrl-C).", no_args_is_help=True
)
app.add_typer(collect_app, name="collect")
tokens_app = typer.Typer(
    help="API tokens for the Cloudflare-compatible Logpush API (scoped to an account).",
    no_args_is_help=True,
)
app.add_typer(tokens_app, name="tokens")
app.add_typer(deadletters_app, name="deadletters")
app.add_typer(hec_tokens_app, name="hec-tokens")
DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir", envvar="NETLOGPUSH_DATA_DIR", help="Where netlogpush keeps its state."
    ),
]
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Settings file (YAML): site, prefixes, IP databases, sampling."
    ),
]
IntervalOption = Annotated[
    int | None,
    typer.Option(
        "--sample-interval",
        "-n",
        min=1,
        help="Keep 1 packet in N at random; SampleInterval says N. Default: from settings, else 1 (every packet).",
    ),
]
SeedOption = Annotated[
    int | None, typer.Option("--seed", help="Seed for sampling, to repeat a run exactly.")
]
FieldsOption = Annotated[
    str | None,
    typer.Option(
        "--fields", "-f", help="Comma-separated field names, in output order. Default: all 84."
    ),
]
TimestampsOption = Annotated[
    str,
    typer.Option("--timestamps", "-t", help=f"Datetime format: {', '.join(TIMESTAMP_FORMATS)}."),
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write records to FILE instead of stdout.")
]
FormatOption = Annotated[
    str, typer.Option("--format", help="Output format: ndjson (Cloudflare's default) or csv.")
]


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except SettingsError as exc:
        raise _fail(str(exc)) from None


def _field_list(fields: str | None) -> list[str] | None:
    if fields is None:
        return None
    names = [f.strip() for f in fields.split(",") if f.strip()]
    unknown = [f for f in names if f not in FIELDS_BY_NAME]
    if unknown:
        raise _fail(f"unknown field(s): {', '.join(unknown)} (see `netlogpush fields`)")
    return names


def _writer(output: Path | None, fields: str | None, timestamps: str, fmt: str) -> RecordWriter:
    if timestamps not in TIMESTAMP_FORMATS:
        raise _fail(
            f"--timestamps must be one of {', '.join(TIMESTAMP_FORMATS)}, not {timestamps!r}"
        )
    if fmt not in ("ndjson", "csv"):
        raise _fail(f"--format must be ndjson or csv, not {fmt!r}")
    output_format: OutputFormat = "csv" if fmt == "csv" else "ndjson"
    return RecordWriter(output, _field_list(fields), timestamps, output_format)


def _pipeline(config: Path | None, interval: int | None, seed: int | None) -> Pipeline:
    settings = _settings(config)
    if interval is None and not settings.sampling_configured():
        interval = 1  # the command line's default: every packet
    try:
        return pipeline_from_settings(settings, interval, seed)
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from None


def _summary(pipeline: Pipeline) -> None:
    stats = pipeline.stats
    problems = stats.problems
    err.print(
        f"[bold]{stats.frames:,}[/bold] frames, {stats.packets:,} IP packets, "
        f"[bold]{stats.records:,}[/bold] records"
    )
    if problems:
        err.print(
            "decoded as far as possible: " + ", ".join(f"{k} {v:,}" for k, v in problems.items())
        )
    for system, s in stats.systems.items():
        err.print(
            f"  {system}: {s.packets:,} packets, verdict drop {s.verdict_drops:,}, "
            f"dropped {s.dropped:,}, {s.samples:,} samples"
        )


@app.callback()
def main(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Log progress details (databases loaded, sockets opened)."
        ),
    ] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    tune_allocator()


@app.command()
def fields(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the API's shape: {name: description}.")
    ] = False,
) -> None:
    """List the 84 fields of network_analytics_logs: name, type, description, values."""
    if as_json:
        sys.stdout.buffer.write(
            orjson.dumps(fields_api_result(), option=orjson.OPT_INDENT_2) + b"\n"
        )
        return
    table = Table(title="network_analytics_logs", show_lines=False)
    for column in ("Field", "Type", "Description", "Values"):
        table.add_column(column, overflow="fold")
    for f in FIELDS:
        table.add_row(f.name, f.type, f.description, " | ".join(f.enum))
    Console().print(table)


@app.command()
def decode(
    capture: Annotated[
        Path, typer.Argument(help="pcap or pcapng file, optionally gzip-compressed; - for stdin.")
    ],
    sample_interval: IntervalOption = None,
    seed: SeedOption = None,
    fields: FieldsOption = None,
    timestamps: TimestampsOption = "unixnano",
    output: OutputOption = None,
    fmt: FormatOption = "ndjson",
    config: ConfigOption = None,
) -> None:
    """Decode a capture file into records (NDJSON on stdout by default).

    Example: [green]netlogpush decode capture.pcap.gz -n 100 -f Datetime,IPSourceAddress,IPProtocolName -t rfc3339[/green]
    """
    from netlogpush.cli.progress import capture_progress

    writer = _writer(output, fields, timestamps, fmt)
    pipeline = _pipeline(config, sample_interval, seed)
    try:
        with writer, capture_progress(capture, err) as batches:
            for table in pipeline.run(batches):
                writer.write(table)
    except CaptureFormatError as exc:  # the records before the damage are written already
        _summary(pipeline)
        raise _fail(str(exc)) from None
    _summary(pipeline)


@collect_app.command("sflow")
def collect_sflow(
    port: Annotated[int, typer.Option("--port", "-p", help="UDP port to listen on.")] = 6343,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (:: for all, IPv4 and IPv6).")
    ] = "::",
    sample_interval: IntervalOption = None,
    seed: SeedOption = None,
    fields: FieldsOption = None,
    timestamps: TimestampsOption = "unixnano",
    output: OutputOption = None,
    fmt: FormatOption = "ndjson",
    config: ConfigOption = None,
) -> None:
    """Receive sFlow v5 from exporters and write records until stopped.

    SampleInterval is the exporter's sampling rate times --sample-interval. SIGHUP re-reads
    the settings file; the mitigation systems keep their state (docs/mitigation-api.md).
    """
    from netlogpush.cli.collect import run_sflow, settings_reloader

    writer = _writer(output, fields, timestamps, fmt)
    pipeline = _pipeline(config, sample_interval, seed)
    reload = settings_reloader(pipeline, config, sample_interval, seed, err)
    with writer:
        run_sflow(host, port, pipeline, writer, err, reload)
    _summary(pipeline)


@collect_app.command("live")
def collect_live(
    interface: Annotated[
        str, typer.Option("--interface", "-i", help="Interface to capture on (needs root).")
    ],
    bpf: Annotated[
        str | None,
        typer.Option("--filter", help="BPF filter, as tcpdump takes it, e.g. 'not port 22'."),
    ] = None,
    sample_interval: IntervalOption = None,
    seed: SeedOption = None,
    fields: FieldsOption = None,
    timestamps: TimestampsOption = "unixnano",
    output: OutputOption = None,
    fmt: FormatOption = "ndjson",
    config: ConfigOption = None,
) -> None:
    """Capture packets on an interface and write records until stopped.

    SIGHUP re-reads the settings file; the mitigation systems keep their state.
    """
    from netlogpush.cli.collect import run_live, settings_reloader

    writer = _writer(output, fields, timestamps, fmt)
    pipeline = _pipeline(config, sample_interval, seed)
    reload = settings_reloader(pipeline, config, sample_interval, seed, err)
    with writer:
        run_live(interface, bpf, pipeline, writer, err, reload)
    _summary(pipeline)


@app.command()
def serve(
    pcap: Annotated[
        list[Path] | None,
        typer.Option("--pcap", help="Capture file(s) to replay into the stream once."),
    ] = None,
    replay: Annotated[
        str | None,
        typer.Option(
            "--replay",
            help="as-captured (default: original times, full speed) or live (times shifted to "
            "now, packets released at their time, as on an interface).",
        ),
    ] = None,
    sflow_port: Annotated[
        int | None, typer.Option("--sflow-port", help="Receive sFlow v5 on this UDP port.")
    ] = None,
    interface: Annotated[
        str | None, typer.Option("--interface", "-i", help="Capture live on this interface (root).")
    ] = None,
    bpf: Annotated[str | None, typer.Option("--filter", help="BPF filter for --interface.")] = None,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT of the API and /metrics.")
    ] = "127.0.0.1:8080",
    tls_listen: Annotated[
        str | None,
        typer.Option(
            "--tls-listen",
            help="HOST:PORT to serve the same API, receiver and dashboard over HTTPS "
            "(Logpush only sends to HTTPS).",
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="PEM certificate for --tls-listen.")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="PEM private key for --tls-listen.")
    ] = None,
    data_dir: DataDirOption = Path("netlogpush-data"),
    config: ConfigOption = None,
) -> None:
    """Run the service: sources -> the three systems -> the durable stream -> Logpush jobs,
    with the Cloudflare-compatible API at http://HOST:PORT/client/v4. Stops cleanly on SIGTERM.

    Example: [green]netlogpush serve --sflow-port 6343 --listen 0.0.0.0:8080[/green], then
    [green]netlogpush tokens create --account ID --permission logs:write[/green] and create jobs
    with curl or Cloudflare's SDK against that base URL.
    """
    from netlogpush.service import serve as run_service
    from netlogpush.sources.pcap import CaptureReader

    host, port_number = _hostport("--listen", listen)
    tls = None
    if tls_listen is not None:
        tls = _tls(tls_listen, tls_cert, tls_key, data_dir)
    elif tls_cert is not None or tls_key is not None:
        raise _fail("--tls-cert and --tls-key go with --tls-listen")
    settings = _settings(config)
    try:
        pipeline = pipeline_from_settings(settings)
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    # The settings file's sources, then the flags' (a flag replaces a single-valued source).
    configured = settings.sources
    sflow_port = sflow_port if sflow_port is not None else configured.sflow_port
    interface = interface if interface is not None else configured.interface
    bpf = bpf if bpf is not None else configured.filter
    replay = replay if replay is not None else configured.replay
    if replay not in ("as-captured", "live"):
        raise _fail(f"--replay must be as-captured or live, not {replay!r}")
    sources: list[tuple[str, Any, Any]] = []
    for path in [*configured.pcap, *(pcap or [])]:
        try:
            batches: Any = iter(CaptureReader(path))
        except (CaptureFormatError, OSError) as exc:
            raise _fail(str(exc)) from None
        if replay == "live":
            from netlogpush.sources.replay import replay_live

            batches = replay_live(batches)
        sources.append((path.name, batches, None))
    if sflow_port is not None:
        from netlogpush.sources.sflow import SflowCollector

        collector = SflowCollector("::", sflow_port)
        sources.append(("sflow", collector.batches(), collector.stop))
    if interface is not None:
        from netlogpush.sources.live import LiveCapture, LiveCaptureError

        try:
            capture = LiveCapture(interface, bpf)
        except LiveCaptureError as exc:
            raise _fail(str(exc)) from None
        sources.append((interface, capture.batches(), capture.stop))
    run_service(
        pipeline, data_dir, host, port_number, sources,
        on_ready=lambda run: err.print(
            f"serving the Logpush API at {run.url}/client/v4, the dashboard at "
            f"{run.url}/dashboard, Splunk HEC at {run.url}/services/collector; "
            "SIGTERM or Ctrl-C to stop"
        ),
        settings=settings, tls=tls,
    )  # fmt: skip


def _hostport(option: str, text: str) -> tuple[str, int]:
    host, _, port_text = text.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _fail(f"{option} must be HOST:PORT, e.g. 127.0.0.1:8080, not {text!r}")
    return host.strip("[]"), int(port_text)


def _tls(listen: str, cert: Path | None, key: Path | None, data_dir: Path) -> TlsListen:
    from netlogpush.service import TlsListen
    from netlogpush.tls import self_signed

    host, port = _hostport("--tls-listen", listen)
    if (cert is None) != (key is None):
        raise _fail("give both --tls-cert and --tls-key, or neither (a self-signed pair)")
    if cert is None or key is None:
        made = self_signed(data_dir / "tls")
        err.print(
            f"--tls-listen: no certificate given; using a self-signed one ({made.cert}). "
            "Jobs sending here need insecure-skip-verify=true."
        )
        cert, key = made.cert, made.key
    for path in (cert, key):
        if not path.is_file():
            raise _fail(f"no such file: {path}")
    return TlsListen(host, port, cert, key)


@tokens_app.command("create")
def tokens_create(
    account: Annotated[str, typer.Option("--account", help="The account id the token may reach.")],
    permission: Annotated[
        list[str],
        typer.Option(
            "--permission",
            help="logs:write (Logs Write, formerly Logs Edit) or logs:read; repeatable.",
        ),
    ],
    data_dir: DataDirOption = Path("netlogpush-data"),
) -> None:
    """Create an API token; the token is printed on the last line (shown once, stored hashed).

    Example: [green]netlogpush tokens create --account 023e105f4ecef8ad9ca31a8372d0c353 --permission logs:write[/green]
    """
    from netlogpush.api.auth import TokenError
    from netlogpush.api.tokens_cli import create_token

    try:
        token = create_token(data_dir, account, permission)
    except TokenError as exc:
        raise _fail(str(exc)) from None
    err.print(f"token for account {account} with {', '.join(permission)}; keep it secret:")
    typer.echo(token)


@app.command()
def generate(
    output: Annotated[
        Path, typer.Argument(help="The pcap file to write (ground truth goes beside it).")
    ],
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="What traffic: mixed (default), or see --list.")
    ] = "mixed",
    packets: Annotated[
        int, typer.Option("--packets", "-n", min=1, help="How many packets (mixed only).")
    ] = 100_000,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Seconds of traffic (scenarios).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same capture.")] = 1,
    list_scenarios: Annotated[
        bool, typer.Option("--list", help="List the scenarios and exit.")
    ] = False,
) -> None:
    """Write a realistic capture: benign mixes, or a named attack mixed with benign traffic.

    Examples: [green]netlogpush generate mixed.pcap -n 1000000[/green],
    [green]netlogpush generate ntp.pcap --scenario ntp-reflection[/green].
    """
    from netlogpush.scenarios.catalog import SCENARIOS, describe, write_scenario

    if list_scenarios:
        table = Table("scenario", "what it is")
        table.add_row("mixed", "every protocol the decoder knows, with a few malformed packets")
        for name, text in describe():
            table.add_row(name, text)
        Console().print(table)
        return
    if scenario == "mixed":
        from netlogpush.scenarios.mixed import write_mixed_pcap

        write_mixed_pcap(output, packets=packets, seed=seed)
        err.print(f"wrote {packets:,} packets to {output}")
        return
    if scenario not in SCENARIOS:
        raise _fail(f"unknown scenario {scenario!r}; `netlogpush generate x --list` shows them")
    summary = write_scenario(scenario, output, seed=seed, duration_s=duration)
    err.print(
        f"wrote {summary.packets:,} packets ({summary.attack_packets:,} attack) to {output}; "
        f"ground truth in {summary.truth_path}"
    )


@app.command()
def demo(
    scenario: Annotated[
        str, typer.Option("--scenario", help="Attack to mix in (netlogpush generate x --list).")
    ] = "ntp-reflection",
    duration: Annotated[
        float, typer.Option("--duration", min=4.0, help="Seconds of traffic, replayed live.")
    ] = 30.0,
    sample_interval: Annotated[
        int, typer.Option("--sample-interval", min=1, help="Each system keeps 1 packet in N.")
    ] = 100,
    port: Annotated[int, typer.Option("--port", help="HTTP port (dashboard, API).")] = 8080,
    tls_port: Annotated[
        int, typer.Option("--tls-port", help="HTTPS port (the job's HEC destination).")
    ] = 8443,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Keep the demo's state here (default: a temporary dir)."),
    ] = None,
    keep: Annotated[
        bool | None,
        typer.Option(
            "--keep/--exit",
            help="Keep serving after the replay (default in a terminal) or stop and print a summary.",
        ),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the dashboard in a browser.")
    ] = True,
) -> None:
    """The seed article's flow on one machine: traffic with an attack, the three systems, a
    Logpush job to the built-in Splunk HEC receiver, and the dashboard, in under a minute.

    Example: [green]netlogpush demo[/green], then open http://127.0.0.1:8080/dashboard.
    """
    from netlogpush.cli.demo import DemoOptions, run_demo

    opts = DemoOptions(
        scenario, duration, sample_interval, port, tls_port, data_dir, keep, open_browser
    )
    raise typer.Exit(run_demo(opts, Console()))
