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
from netlogpush.scenarios.mixed import CUSTOMER_PREFIXES, write_mixed_pcap
from netlogpush.sources.pcap import iter_batches

DEMO_SITE = SiteConfig(
    name="ams01", code="AMS", city="Amsterdam", country="NL", latitude=52.3105, longitude=4.7683
)


def _estimates(table: pa.Table, by: str, top: int) -> Table:
    """Packets and bytes on the wire per value of ``by``: Σ SampleInterval and Σ length × interval."""
    t = table.append_column("Bytes", pc.multiply(table["IPTotalLength"], table["SampleInterval"]))
    grouped = t.group_by(by).aggregate(
        [("SampleInterval", "sum"), ("Bytes", "sum"), ("SampleInterval", "count")]
    )
    grouped = grouped.sort_by([("SampleInterval_sum", "descending")]).slice(0, top)
    total = max(1, pc.sum(table["SampleInterval"]).as_py() or 1)
    out = Table(title=f"Traffic by {by} (estimated from samples)", title_justify="left")
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


def run_demo(packets: int, sample_interval: int, show: int, console: Console) -> None:
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
        write_mixed_pcap(capture, packets=packets, seed=1)
        console.print(
            f"[bold]1.[/bold] generated {packets:,} packets of mixed traffic into {capture.name} "
            f"({capture.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s"
        )
        pipeline = pipeline_from_settings(settings)
        started = time.perf_counter()
        tables = list(pipeline.run(iter_batches(capture)))
        elapsed = time.perf_counter() - started
    records = pa.concat_tables(tables)
    stats = pipeline.stats
    console.print(
        f"[bold]2.[/bold] decoded {stats.frames:,} frames in {elapsed:.2f} s "
        f"({stats.frames / elapsed / 1e6:.2f} M packets/s) and sampled 1 in {sample_interval}: "
        f"[bold]{stats.records:,} records[/bold]"
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
    console.print(_estimates(records, "IPProtocolName", 8))
    console.print(_estimates(records, "Direction", 3))
    if databases:
        console.print(_estimates(records, "SourceASNName", 5))
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


def _examples(records: pa.Table, count: int) -> list[bytes]:
    """A TCP record with options, then a DNS query, then whatever comes first."""
    picks: list[int] = []
    for mask in (
        pc.not_equal(records["TCPOptions"], ""),
        pc.not_equal(records["DNSQueryName"], ""),
        pc.equal(records["IPProtocol"], 17),
    ):
        hits = pc.indices_nonzero(mask).to_pylist()
        if hits and len(picks) < count:
            picks.append(hits[0])
    picks += [i for i in range(records.num_rows) if i not in picks][: max(0, count - len(picks))]
    lines = bytes(encode_ndjson(records.take(picks), timestamp_format="rfc3339")).splitlines()
    return lines[:count]
