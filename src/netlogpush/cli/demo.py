"""``netlogpush demo``: generate traffic, decode it, show the records.

Runs on the embedded defaults with no other software. Real ASN and country data is used when
the openly licensed @ip-location-db npm packages are installed (scripts/demo.sh does that).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from netlogpush.config import SamplingConfig, Settings
from netlogpush.dataset.formats import encode_ndjson
from netlogpush.enrich import SiteConfig, find_ip_location_db
from netlogpush.pipeline import pipeline_from_settings
from netlogpush.scenarios.catalog import write_scenario
from netlogpush.scenarios.mixed import CUSTOMER_PREFIXES
from netlogpush.sources.pcap import iter_batches

DEMO_SITE = SiteConfig(
    name="ams01", code="AMS", city="Amsterdam", country="NL", latitude=52.3105, longitude=4.7683
)


def _estimates(table: pa.Table, by: str, top: int, what: str) -> Table:
    """Packets and bytes on the wire per value of ``by``: Σ SampleInterval and Σ length × interval."""
    t = table.append_column("Bytes", pc.multiply(table["IPTotalLength"], table["SampleInterval"]))
    grouped = t.group_by(by).aggregate(
        [("SampleInterval", "sum"), ("Bytes", "sum"), ("SampleInterval", "count")]
    )
    grouped = grouped.sort_by([("SampleInterval_sum", "descending")]).slice(0, top)
    total = max(1, pc.sum(table["SampleInterval"]).as_py() or 1)
    out = Table(title=f"{what} by {by} (estimated from samples)", title_justify="left")
    for name in (by, "samples", "est. packets", "est. bytes", "share"):
        out.add_column(name, justify="left" if name == by else "right")
    for row in grouped.to_pylist():
        out.add_row(
            str(row[by]) or "(none)",
            f"{row['SampleInterval_count']:,}",
            f"{row['SampleInterval_sum']:,}",
            f"{row['Bytes_sum']:,}",
            f"{100 * row['SampleInterval_sum'] / total:.1f}%",
        )
    return out


def run_demo(
    scenario: str, duration: float, sample_interval: int, show: int, console: Console
) -> None:
    databases = find_ip_location_db([Path(".cache/ipdb"), Path.cwd()])
    settings = Settings(
        site=DEMO_SITE,
        customer_prefixes=list(CUSTOMER_PREFIXES),
        databases=databases,
        sampling=SamplingConfig(interval=sample_interval, seed=1),
    )
    with tempfile.TemporaryDirectory(prefix="netlogpush-demo-") as tmp:
        capture = Path(tmp) / "demo.pcap"
        started = time.perf_counter()
        made = write_scenario(
            scenario,
            capture,
            seed=1,
            duration_s=duration,
            attack_start_s=duration / 4,
            attack_duration_s=duration / 2,
        )
        console.print(
            f"[bold]1.[/bold] generated {made.packets:,} packets in "
            f"{time.perf_counter() - started:.1f} s: {duration:.0f} s of traffic, {made.description} "
            f"The attack starts {(made.attack_start_ns - made.start_ns) / 1e9:.1f} s in."
        )
        pipeline = pipeline_from_settings(settings)
        started = time.perf_counter()
        tables = list(pipeline.run(iter_batches(capture)))
        elapsed = time.perf_counter() - started
    records = pa.concat_tables(tables)
    stats = pipeline.stats
    console.print(
        f"[bold]2.[/bold] decoded {stats.frames:,} frames and ran dosd, flowtrackd and magic-firewall "
        f"(passive: a capture cannot drop) in {elapsed:.2f} s ({stats.frames / elapsed / 1e6:.2f} M packets/s); "
        f"each system sampled 1 in {sample_interval}: [bold]{stats.records:,} records[/bold]"
    )
    if stats.problems:
        console.print(
            "   packets decoded as far as their bytes allowed: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(stats.problems.items()))
        )
    console.print(
        "   ASN and country data: "
        + (
            ", ".join(p.name for p in databases)
            if databases
            else "none installed (scripts/demo.sh fetches @ip-location-db with npm)"
        )
    )
    console.print(_systems(records))
    attacks = records.filter(pc.not_equal(records["AttackID"], ""))
    if attacks.num_rows:
        console.print(_estimates(attacks, "RuleName", 5, "Attack traffic (dosd drops)"))
    last = records.filter(pc.equal(records["MitigationSystem"], "magic-firewall"))
    console.print(_estimates(last, "IPProtocolName", 6, "Traffic that passed every system"))
    if databases:
        dropped = records.filter(pc.equal(records["Verdict"], "drop"))
        console.print(_estimates(dropped, "SourceASNName", 5, "Attack traffic"))
    shown = _examples(records, show)
    for i, line in enumerate(shown, 1):
        console.print(
            Panel(
                orjson.dumps(orjson.loads(line), option=orjson.OPT_INDENT_2).decode(),
                title=f"record {i} of {records.num_rows:,} (NDJSON, rfc3339)",
                expand=False,
            )
        )
    console.print(
        "\nNext: [green]netlogpush decode your.pcap > records.ndjson[/green], "
        "[green]netlogpush collect sflow --port 6343[/green], [green]netlogpush fields[/green]."
    )


def _systems(records: pa.Table) -> Table:
    """What each system decided, in packets estimated from its samples."""
    grouped = records.group_by(["MitigationSystem", "Verdict", "Outcome"]).aggregate(
        [("SampleInterval", "sum")]
    )
    out = Table(title="What each system decided (estimated packets)", title_justify="left")
    for name in ("MitigationSystem", "Verdict", "Outcome", "est. packets"):
        out.add_column(name, justify="right" if name == "est. packets" else "left")
    order = {"dosd": 0, "flowtrackd": 1, "magic-firewall": 2}
    for row in sorted(
        grouped.to_pylist(), key=lambda r: (order[r["MitigationSystem"]], r["Verdict"])
    ):
        out.add_row(
            row["MitigationSystem"],
            row["Verdict"],
            row["Outcome"],
            f"{row['SampleInterval_sum']:,}",
        )
    return out


def _examples(records: pa.Table, count: int) -> list[bytes]:
    """A dosd drop, then a TCP record with options from the firewall, then whatever comes first."""
    picks: list[int] = []
    for mask in (
        pc.not_equal(records["AttackID"], ""),
        pc.and_(
            pc.not_equal(records["TCPOptions"], ""),
            pc.equal(records["MitigationSystem"], "magic-firewall"),
        ),
        pc.not_equal(records["DNSQueryName"], ""),
    ):
        hits = pc.indices_nonzero(mask).to_pylist()
        if hits and len(picks) < count:
            picks.append(hits[0])
    picks += [i for i in range(records.num_rows) if i not in picks][: max(0, count - len(picks))]
    lines = bytes(encode_ndjson(records.take(picks), timestamp_format="rfc3339")).splitlines()
    return lines[:count]
