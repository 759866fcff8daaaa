"""``netlogpush demo``: the seed article's whole flow on one machine, with no other software.

1. generate traffic: benign, with an attack mixed in;
2. start ``netlogpush serve`` on the embedded defaults (stream, analytics store, dashboard),
   with HTTPS beside HTTP because Logpush only sends to HTTPS;
3. create the article's Logpush job through the API: ``network_analytics_logs`` to a Splunk
   HEC endpoint, here the built-in receiver, with an API token and a HEC token;
4. replay the traffic live (timestamps shifted to now) and open the dashboard, which fills
   from what the job delivers (the store is fed by the receiver only, so nothing counts twice).

In a terminal it keeps serving until Ctrl-C so the dashboard can be explored; otherwise (or
with ``--exit``) it stops once everything is delivered and prints what the store holds.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
import uuid
import webbrowser
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from netlogpush.config import AnalyticsSettings, SamplingConfig, Settings
from netlogpush.decode.frames import FrameBatch
from netlogpush.enrich import SiteConfig, find_ip_location_db
from netlogpush.mitigation.config import MitigationConfig
from netlogpush.pipeline import pipeline_from_settings
from netlogpush.scenarios.catalog import write_scenario
from netlogpush.scenarios.mixed import CUSTOMER_PREFIXES
from netlogpush.service import Running, TlsListen, serve
from netlogpush.sources.pcap import iter_batches
from netlogpush.sources.replay import replay_live

DEMO_SITE = SiteConfig(
    name="ams01", code="AMS", city="Amsterdam", country="NL", latitude=52.3105, longitude=4.7683
)
#: The account id of Cloudflare's API examples.
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
#: How long the demo waits for the job's last batch once the replay has ended.
DELIVERY_WAIT_S = 45.0


@dataclass(frozen=True)
class DemoOptions:
    scenario: str = "ntp-reflection"
    duration: float = 30.0
    sample_interval: int = 100
    port: int = 8080
    tls_port: int = 8443
    data_dir: Path | None = None
    keep_serving: bool | None = None  # None: while stdin is a terminal
    open_browser: bool = True


def _gated(start: threading.Event, stopped: threading.Event, capture: Path) -> Iterator[FrameBatch]:
    """The capture, replayed live once the job exists (a job reads only records after it)."""
    while not start.wait(0.2):
        if stopped.is_set():
            return
    yield from replay_live(iter_batches(capture), stopped=stopped.is_set)


def _job_body(hec_url: str, hec_token: str) -> dict[str, Any]:
    """The seed article's job: its dataset, a Splunk destination, enabled as a string."""
    destination = (
        f"splunk://{hec_url.removeprefix('https://')}/services/collector/raw"
        f"?channel={uuid.uuid4()}&insecure-skip-verify=true"
        f"&sourcetype=cloudflare:json&header_Authorization=Splunk%20{hec_token}"
    )
    return {
        "name": "network-analytics-to-splunk",
        "dataset": "network_analytics_logs",
        "destination_conf": destination,
        "enabled": "true",
        # Cloudflare's smallest batches, so the dashboard follows the attack closely.
        "max_upload_records": 1000,
        "max_upload_interval_seconds": 30,
    }


class Driver:
    """Runs beside the service: tokens, the job, the replay, progress, the way out."""

    def __init__(self, opts: DemoOptions, data_dir: Path, console: Console) -> None:
        self.opts = opts
        self.data_dir = data_dir
        self.console = console
        self.start_replay = threading.Event()
        self.stopped = threading.Event()
        self.job_id: int | None = None
        self.error: str | None = None
        self.keep = opts.keep_serving if opts.keep_serving is not None else sys.stdin.isatty()

    def on_ready(self, run: Running) -> None:
        threading.Thread(target=self._drive, args=(run,), name="demo", daemon=True).start()

    def _drive(self, run: Running) -> None:
        try:
            self._steps(run)
        except Exception as exc:  # the demo must end, and say why
            self.error = f"{type(exc).__name__}: {exc}"
            self.console.print(f"[red]demo failed:[/red] {self.error}")
            self.stopped.set()
            run.shutdown()

    def _steps(self, run: Running) -> None:
        from netlogpush.api.tokens_cli import create_token
        from netlogpush.receiver.tokens import HecTokenStore

        c = self.console
        api = f"{run.url}/client/v4"
        _wait_until_up(f"{run.url}/dashboard/api/meta")
        api_token = create_token(self.data_dir, ACCOUNT, ["logs:write"])
        hec_token, _ = HecTokenStore(self.data_dir).create("demo: Logpush job", account=ACCOUNT)
        c.print(
            f"[bold]2.[/bold] serving: dashboard [link]{run.url}/dashboard[/link] · "
            f"API {api} · Splunk HEC {run.tls_url}/services/collector"
        )
        body = _job_body(run.tls_url or run.url, hec_token)
        created = httpx.post(
            f"{api}/accounts/{ACCOUNT}/logpush/jobs",
            json=body,
            headers={"Authorization": f"Bearer {api_token}"},
            timeout=30.0,
        )
        if created.status_code != 200:
            raise RuntimeError(f"creating the job answered {created.status_code}: {created.text}")
        job = created.json()["result"]
        self.job_id = int(job["id"])
        c.print(
            f"[bold]3.[/bold] POST {api}/accounts/{ACCOUNT}/logpush/jobs → job {job['id']} "
            f"{job['name']!r}, dataset {job['dataset']}, enabled {job['enabled']}, "
            "destination the built-in HEC receiver (its test upload was accepted)"
        )
        dashboard = f"{run.url}/dashboard?range=15m"
        c.print(f"[bold]4.[/bold] replaying the traffic live; watch it on [link]{dashboard}[/link]")
        if self.opts.open_browser and _has_display():
            webbrowser.open(dashboard)
        self.start_replay.set()
        self._follow(run)

    def _follow(self, run: Running) -> None:
        """Progress every 5 s until the replay has ended and the job has delivered it all."""
        c, siem = self.console, run.siem
        replay_end: float | None = None
        last_line = 0.0
        while True:
            time.sleep(0.5)
            appended = run.ingest.appended
            snap = run.supervisor.metrics_snapshot(str(self.job_id)) or {}
            delivered = snap.get("records_delivered", 0)
            stored = siem.sink.stats()["inserted"] if siem is not None else 0
            now = time.monotonic()
            if now - last_line >= 5.0:
                last_line = now
                c.print(
                    f"   {run.ingest.pipeline.stats.frames:,} packets in · {appended:,} records "
                    f"in the stream · {delivered:,} delivered by the job · {stored:,} in the store"
                )
            if replay_end is None and run.ingest.finished():
                replay_end = now
                if not self.keep:
                    # Shutting down flushes the job's last batch while the receiver still answers.
                    run.shutdown()
                    return
            if replay_end is not None and (
                delivered >= appended or now - replay_end > DELIVERY_WAIT_S
            ):
                c.print(
                    f"   all {delivered:,} records delivered; the dashboard stays at "
                    f"[link]{run.url}/dashboard?range=15m[/link]. Ctrl-C to stop."
                )
                return


def _wait_until_up(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the service did not answer at {url}")
        time.sleep(0.1)


def _has_display() -> bool:
    # webbrowser would start a text-mode browser on a headless machine and wait on it.
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def run_demo(opts: DemoOptions, console: Console) -> int:
    with tempfile.TemporaryDirectory(prefix="netlogpush-demo-") as tmp:
        data_dir = opts.data_dir or Path(tmp) / "data"
        capture = Path(tmp) / "demo.pcap"
        started = time.perf_counter()
        made = write_scenario(
            opts.scenario,
            capture,
            seed=1,
            duration_s=opts.duration,
            attack_start_s=opts.duration / 4,
            attack_duration_s=opts.duration / 2,
        )
        console.print(
            f"[bold]1.[/bold] generated {made.packets:,} packets in "
            f"{time.perf_counter() - started:.1f} s: {opts.duration:.0f} s of traffic, "
            f"{made.description} The attack starts "
            f"{(made.attack_start_ns - made.start_ns) / 1e9:.1f} s in."
        )
        databases = find_ip_location_db([Path(".cache/ipdb"), Path.cwd()])
        settings = Settings(
            site=DEMO_SITE,
            customer_prefixes=list(CUSTOMER_PREFIXES),
            databases=databases,
            sampling=SamplingConfig(interval=opts.sample_interval, seed=1),
            # Inline: the replay stands for traffic crossing netlogpush, so drops are enforced.
            mitigation=MitigationConfig(mode="inline"),
            # The job brings the records to the store through the receiver, as the article's
            # Splunk would get them; feeding the stream in too would count them twice.
            analytics=AnalyticsSettings(from_stream=False),
        )
        driver = Driver(opts, data_dir, console)
        source = _gated(driver.start_replay, driver.stopped, capture)
        serve(
            pipeline_from_settings(settings),
            data_dir,
            "127.0.0.1",
            opts.port,
            [("demo", source, driver.stopped.set)],
            on_ready=driver.on_ready,
            settings=settings,
            tls=_tls(data_dir, opts.tls_port),
        )
        if driver.error is not None:
            return 1
        _print_store(data_dir / "analytics.duckdb", console)
    return 0


def _tls(data_dir: Path, port: int) -> TlsListen:
    from netlogpush.tls import self_signed

    cert = self_signed(data_dir / "tls")
    return TlsListen("127.0.0.1", port, cert.cert, cert.key)


def _print_store(path: Path, console: Console) -> None:
    """What the dashboard showed, read back from the store the service left."""
    from netlogpush.analytics import AnalyticsStore, Queries, View
    from netlogpush.dataset.formats import encode_ndjson
    from netlogpush.dataset.records import SCHEMA

    with AnalyticsStore(path) as store:
        [(first, last)] = store.read("SELECT min(Datetime), max(Datetime) FROM records")
        if not first:
            console.print("[red]the store holds no records[/red]")
            return
        view = View(int(first), int(last) + 1)
        q = Queries(store)
        s = q.summary(view, bucket_s=1)
        console.print(
            f"[bold]5.[/bold] the analytics store holds what the job delivered: "
            f"{s.packets:,} packets ({s.bytes * 8 / 1e6:,.1f} Mbit) estimated from the samples, "
            f"{s.dropped_packets:,} dropped ({s.mitigated_pct:.1f} % mitigated), "
            f"{s.attacks} attack(s), largest {s.largest_attack_pps:,.0f} pps / "
            f"{s.largest_attack_bps / 1e6:,.1f} Mbps, top source {s.top_source or '-'}"
        )
        attacks = Table("attack", "vector", "target", "peak pps", "packets", "top sources",
                        title="Attacks (dosd)", title_justify="left")  # fmt: skip
        for a in q.attacks(view, bucket_s=1, limit=5):
            attacks.add_row(
                a.attack_id[:12], a.vector, a.target, f"{a.peak_pps:,.0f}", f"{a.packets:,}",
                ", ".join(a.top_sources),
            )  # fmt: skip
        console.print(attacks)
        top = Table("source ASN", "packets", title="Top source ASNs", title_justify="left")
        for key, value in q.top(view, "source_asn", n=5):
            top.add_row(key, f"{value:,}")
        console.print(top)
        names = ", ".join(f'"{f.name}"' for f in SCHEMA)
        sample = (
            store.con.cursor()
            .sql(f"SELECT {names} FROM records WHERE AttackID <> '' ORDER BY Datetime LIMIT 1")
            .to_arrow_table()
        )
        if sample.num_rows:
            record = orjson.loads(bytes(encode_ndjson(sample, timestamp_format="rfc3339")))
            shown = {k: v for k, v in record.items() if v not in ("", 0)}
            console.print("One attack sample as the HEC receiver got it (non-empty fields):")
            console.print_json(data=shown)
