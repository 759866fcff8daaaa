"""``netlogpush serve`` as a SIEM: the analytics store fed from the stream or through the
built-in receiver (a Logpush job to our own HEC endpoint over HTTPS), the dashboard's numbers,
the receiver's metrics, and ``netlogpush demo`` end to end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import orjson
import pyarrow as pa
import pytest

from netlogpush.analytics import AnalyticsStore
from netlogpush.config import load_settings
from netlogpush.dataset.records import SCHEMA
from netlogpush.pipeline import pipeline_from_settings
from netlogpush.scenarios.catalog import write_scenario
from netlogpush.sources.pcap import iter_batches
from netlogpush.stream import open_stream
from netlogpush.testing.net import free_port

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
SETTINGS = "sampling: {interval: 10, seed: 7}\nmitigation: {mode: inline}\n"


def _cli(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "netlogpush", *args], capture_output=True, text=True, cwd=cwd
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _expected(capture: Path, settings: Path) -> pa.Table:
    """What the service's pipeline makes of the capture: the same settings, the same seed."""
    pipeline = pipeline_from_settings(load_settings(settings, environ={}))
    return pa.concat_tables([pipeline.process(b) for b in iter_batches(capture)])


def _counted(records: pa.Table) -> tuple[int, int]:
    """(packets, dropped packets) under the no-double-counting rule (docs/analytics.md)."""
    system = np.asarray(records["MitigationSystem"].to_pylist())
    dropped = np.asarray(records["Outcome"].to_pylist()) == "drop"
    interval = records["SampleInterval"].to_numpy()
    counted = dropped | (system == "magic-firewall")
    return int(interval[counted].sum()), int(interval[dropped].sum())


class Serve:
    def __init__(self, tmp: Path, capture: Path, extra_settings: str = "") -> None:
        self.settings = tmp / "netlogpush.yaml"
        self.settings.write_text(SETTINGS + extra_settings)
        self.data = tmp / "data"
        self.port, self.tls_port = free_port(), free_port()
        self.token = _cli("tokens", "create", "--account", ACCOUNT, "--permission",
                          "logs:write", "--data-dir", str(self.data), cwd=tmp)  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "netlogpush", "serve", "--pcap", str(capture),
             "--listen", f"127.0.0.1:{self.port}", "--tls-listen", f"127.0.0.1:{self.tls_port}",
             "--data-dir", str(self.data), "--config", str(self.settings)],
            stderr=subprocess.PIPE, text=True, cwd=tmp, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.base}/dashboard/api/meta").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and self.proc.poll() is None, "serve did not start"
            time.sleep(0.1)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=90)


def _received(base: str) -> int:
    """Records the receiver wrote to the store, from ``/metrics``."""
    line = 'netlogpush_analytics_records_total{source="receiver",result="inserted"} '
    for text in httpx.get(f"{base}/metrics").text.splitlines():
        if text.startswith(line):
            return int(text[len(line) :])
    raise AssertionError("no receiver counter on /metrics")


def _summary(base: str, start_ns: int, end_ns: int) -> dict[str, object]:
    got = httpx.get(f"{base}/dashboard/api/summary", params={"start": start_ns, "end": end_ns})
    assert got.status_code == 200, got.text
    body: dict[str, object] = got.json()
    return body


@pytest.mark.timeout(150)
def test_a_job_to_the_built_in_hec_receiver_fills_the_dashboard(tmp_path: Path) -> None:
    capture = tmp_path / "syn.pcap"
    write_scenario("syn-flood", capture, seed=2, duration_s=4, attack_start_s=1,
                   attack_duration_s=2)  # fmt: skip
    service = Serve(tmp_path, capture, "analytics: {from_stream: false}\n")
    try:
        hec = _cli("hec-tokens", "create", "--name", "self", "--data-dir", str(service.data),
                   cwd=tmp_path)  # fmt: skip
        destination = (
            f"splunk://127.0.0.1:{service.tls_port}/services/collector/raw"
            "?channel=2f8f6d3a-0a6b-4d34-9c4b-8d6c0b4e7d61&insecure-skip-verify=true"
            f"&sourcetype=cloudflare:json&header_Authorization=Splunk%20{hec}"
        )
        created = httpx.post(
            f"{service.base}/client/v4/accounts/{ACCOUNT}/logpush/jobs",
            headers={"Authorization": f"Bearer {service.token}"},
            json={"name": "self", "dataset": "network_analytics_logs", "enabled": True,
                  "destination_conf": destination, "max_upload_records": 1000},
            timeout=30,
        )  # fmt: skip
        assert created.status_code == 200, created.text
        home = httpx.get(f"{service.base}/", follow_redirects=False)
        assert (home.status_code, home.headers["location"]) == (307, "/dashboard")
        page = httpx.get(f"{service.base}/dashboard")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        expected = _expected(capture, service.settings)
        deadline = time.monotonic() + 60
        while (got := _received(service.base)) < expected.num_rows - 1000:  # full batches
            assert time.monotonic() < deadline, f"{got} of {expected.num_rows} received"
            time.sleep(0.3)
    finally:
        assert service.stop() == 0  # the job's last batch is flushed while the receiver answers
    with AnalyticsStore(service.data / "analytics.duckdb") as store:
        names = ", ".join(f'"{f.name}"' for f in SCHEMA)
        stored = store.con.sql(f"SELECT {names} FROM records").to_arrow_table()
    # Every record the pipeline made went through the job and the receiver, once.
    assert stored.num_rows == expected.num_rows
    assert sorted(stored["Datetime"].to_pylist()) == sorted(expected["Datetime"].to_pylist())
    assert _counted(stored) == _counted(expected)


@pytest.mark.timeout(150)
def test_the_store_fed_from_the_stream_answers_the_dashboard(tmp_path: Path) -> None:
    capture = tmp_path / "udp.pcap"
    write_scenario("udp-flood", capture, seed=3, duration_s=4, attack_start_s=1,
                   attack_duration_s=2)  # fmt: skip
    service = Serve(tmp_path, capture)
    expected = _expected(capture, service.settings)
    start = int(pa.compute.min(expected["Datetime"]).as_py())
    end = int(pa.compute.max(expected["Datetime"]).as_py()) + 1
    packets, dropped = _counted(expected)
    try:
        deadline = time.monotonic() + 60
        while (got := _summary(service.base, start, end))["packets"] != packets:
            assert time.monotonic() < deadline, f"{got['packets']} of {packets} packets"
            time.sleep(0.3)
        assert got["dropped_packets"] == dropped
        metrics = httpx.get(f"{service.base}/metrics").text
        assert (
            f'netlogpush_analytics_records_total{{source="stream",result="inserted"}} '
            f"{expected.num_rows}" in metrics
        )
    finally:
        assert service.stop() == 0


@pytest.mark.timeout(150)
def test_demo_runs_the_articles_flow_and_exits(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    done = subprocess.run(
        [sys.executable, "-m", "netlogpush", "demo", "--exit", "--no-open", "--duration", "6",
         "--port", str(free_port()), "--tls-port", str(free_port()), "--data-dir", str(data)],
        capture_output=True, text=True, cwd=tmp_path, timeout=140,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for step in ("1. generated", "2. serving", "3. POST", "4. replaying", "5. the analytics store"):
        assert step in out, out
    with AnalyticsStore(data / "analytics.duckdb") as store:
        (rows,) = store.con.execute("SELECT count(*) FROM records").fetchone() or (0,)
        (attacks,) = store.con.execute(
            "SELECT count(DISTINCT AttackID) FROM records WHERE AttackID <> ''"
        ).fetchone() or (0,)
    assert attacks >= 1
    # The job delivered every record of the stream, and each is in the store once.
    stream = open_stream(data / "stream")
    try:
        assert rows == stream.stats().head_seq > 0
    finally:
        stream.close()
    jobs = orjson.loads((data / "jobs.json").read_bytes())["jobs"]
    assert [j["error_message"] for j in jobs] == [None]
