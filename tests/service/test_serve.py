"""``netlogpush serve`` end to end: a capture in, a Logpush job created through the API,
every record delivered, a clean stop on SIGTERM."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from netlogpush.pipeline import decode_file

# The loopback receivers are shared with the delivery tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "logpush" / "delivery"))
from delivery_receivers import HEC_TOKEN, HecReceiver, make_cert

from netlogpush.scenarios.mixed import write_mixed_pcap
from netlogpush.testing.net import free_port

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netlogpush", *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )


def _delivered(out: Path) -> list[dict[str, object]]:
    records = []
    for path in sorted(out.rglob("*.gz")):
        records += [
            orjson.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines() if line
        ]
    return records


class Service:
    """``netlogpush serve`` in a subprocess, replaying one capture (or none: a restart on
    an existing data dir only delivers what its stream holds), with a fresh token."""

    def __init__(
        self, tmp_path: Path, capture: Path | None, capture_in_settings: bool = False
    ) -> None:
        settings = tmp_path / "netlogpush.yaml"
        text = "sampling: {interval: 1}\nmitigation: {profile: magic_wan}\n"
        if capture is not None and capture_in_settings:  # a path relative to the settings file
            text += f"sources: {{pcap: [{capture.relative_to(tmp_path)}]}}\n"
            capture = None
        settings.write_text(text)
        data = tmp_path / "data"
        self.data = data
        self.token = _cli("tokens", "create", "--account", ACCOUNT, "--permission", "logs:write",
                          "--data-dir", str(data), cwd=tmp_path).stdout.strip().splitlines()[-1]  # fmt: skip
        port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "netlogpush", "serve",
             *(["--pcap", str(capture)] if capture is not None else []), "--listen",
             f"127.0.0.1:{port}", "--data-dir", str(data), "--config", str(settings)],
            stderr=subprocess.PIPE, text=True, cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{port}/client/v4"
        self.headers = {"Authorization": f"Bearer {self.token}"}
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 30
        while "serving the Logpush API" not in self.proc.stderr.readline():
            assert time.monotonic() < deadline and self.proc.poll() is None, (
                "the service did not start"
            )
        for _ in range(100):  # uvicorn binds just after the line is printed
            try:
                httpx.get(f"{self.base}/user/tokens/verify", headers=self.headers)
                break
            except httpx.TransportError:
                time.sleep(0.05)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


@pytest.mark.timeout(120)
def test_serve_delivers_every_record_of_a_capture_to_a_job(tmp_path: Path) -> None:
    capture = tmp_path / "mixed.pcap"
    write_mixed_pcap(capture, packets=3000, seed=3)
    expected = decode_file(capture).num_rows  # one magic-firewall sample per IP packet
    service = Service(tmp_path, capture)
    base, headers, data = service.base, service.headers, service.data
    out = tmp_path / "delivered"
    try:
        created = httpx.post(
            f"{base}/accounts/{ACCOUNT}/logpush/jobs",
            headers=headers,
            json={"name": "local", "dataset": "network_analytics_logs", "enabled": "true",
                  "destination_conf": f"file://{out}/{{DATE}}", "max_upload_records": 1000},
        )  # fmt: skip
        assert created.status_code == 200, created.text
        job_id = created.json()["result"]["id"]
        deadline = time.monotonic() + 60
        while len(_delivered(out)) < expected - 1000:  # full batches go out at once
            assert time.monotonic() < deadline, f"{len(_delivered(out))} of {expected} delivered"
            time.sleep(0.2)
    finally:
        returncode = service.stop()
    assert returncode == 0
    records = _delivered(out)  # the last, partial batch was flushed on SIGTERM
    assert len(records) == expected
    assert {r["MitigationSystem"] for r in records} == {"magic-firewall"}
    # The service is gone: read the job file it left behind.
    jobs = orjson.loads((data / "jobs.json").read_bytes())["jobs"]
    [stored] = [j for j in jobs if j["id"] == job_id]
    assert stored["last_complete"] is not None
    assert stored["error_message"] is None


@pytest.mark.timeout(120)
def test_the_seed_articles_splunk_walkthrough(tmp_path: Path) -> None:
    """The seed article's steps with only the base URL changed: a token with Logs Write, a
    Splunk HEC endpoint and its token, POST the job with ``enabled: "true"``, GET it, and
    the records arrive at the HEC endpoint."""
    capture = tmp_path / "mixed.pcap"
    write_mixed_pcap(capture, packets=2000, seed=4)
    expected = decode_file(capture).num_rows
    hec = HecReceiver(tls=make_cert(tmp_path))
    hec.start()
    service = Service(tmp_path, capture, capture_in_settings=True)
    try:
        destination = (
            f"splunk://127.0.0.1:{hec.port}/services/collector/raw"
            "?channel=2f8f6d3a-0a6b-4d34-9c4b-8d6c0b4e7d61&insecure-skip-verify=true"
            f"&sourcetype=cloudflare:json&header_Authorization=Splunk%20{HEC_TOKEN}"
        )
        created = httpx.post(
            f"{service.base}/accounts/{ACCOUNT}/logpush/jobs",
            headers=service.headers,
            json={"name": "network-analytics-to-splunk", "dataset": "network_analytics_logs",
                  "destination_conf": destination, "enabled": "true", "max_upload_records": 1000},
        )  # fmt: skip
        assert created.status_code == 200, created.text
        job_id = created.json()["result"]["id"]
        got = httpx.get(
            f"{service.base}/accounts/{ACCOUNT}/logpush/jobs/{job_id}", headers=service.headers
        )
        job = got.json()["result"]
        for key in ("id", "dataset", "frequency", "kind", "enabled", "name", "logpull_options",
                    "destination_conf", "last_complete", "last_error", "error_message"):  # fmt: skip
            assert key in job
        assert (job["dataset"], job["enabled"], job["name"]) == (
            "network_analytics_logs", True, "network-analytics-to-splunk")  # fmt: skip

        def delivered() -> list[bytes]:
            with hec.lock:
                bodies = [r.body for r in hec.received]
            return [line for b in bodies for line in b.splitlines() if b"IPSourceAddress" in line]

        deadline = time.monotonic() + 60
        while len(delivered()) < expected - 1000:
            assert time.monotonic() < deadline, (
                f"{len(delivered())} of {expected} records at the HEC endpoint"
            )
            time.sleep(0.2)
    finally:
        returncode = service.stop()
        hec.stop()
    assert returncode == 0
    assert len(delivered()) == expected  # the rest was flushed on SIGTERM
