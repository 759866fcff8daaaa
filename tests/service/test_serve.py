"""``netlogpush serve`` end to end: a capture in, a Logpush job created through the API,
every record delivered, a clean stop on SIGTERM."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from netlogpush.pipeline import decode_file
from netlogpush.scenarios.mixed import write_mixed_pcap

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netlogpush", *args], capture_output=True, text=True, check=True, cwd=cwd
    )


def _delivered(out: Path) -> list[dict[str, object]]:
    records = []
    for path in sorted(out.rglob("*.gz")):
        records += [orjson.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines() if line]
    return records


@pytest.mark.timeout(120)
def test_serve_delivers_every_record_of_a_capture_to_a_job(tmp_path: Path) -> None:
    capture = tmp_path / "mixed.pcap"
    write_mixed_pcap(capture, packets=3000, seed=3)
    expected = decode_file(capture).num_rows  # one magic-firewall sample per IP packet
    settings = tmp_path / "netlogpush.yaml"
    settings.write_text("sampling: {interval: 1}\nmitigation: {profile: magic_wan}\n")
    data = tmp_path / "data"
    token = _cli("tokens", "create", "--account", ACCOUNT, "--permission", "logs:write",
                 "--data-dir", str(data), cwd=tmp_path).stdout.strip().splitlines()[-1]  # fmt: skip
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "netlogpush", "serve", "--pcap", str(capture), "--listen", f"127.0.0.1:{port}",
         "--data-dir", str(data), "--config", str(settings)],
        stderr=subprocess.PIPE, text=True, cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    out = tmp_path / "delivered"
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        while "serving the Logpush API" not in proc.stderr.readline():
            assert time.monotonic() < deadline and proc.poll() is None, "the service did not start"
        base = f"http://127.0.0.1:{port}/client/v4"
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(100):  # uvicorn binds just after the line is printed
            try:
                httpx.get(f"{base}/user/tokens/verify", headers=headers)
                break
            except httpx.TransportError:
                time.sleep(0.05)
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
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    records = _delivered(out)  # the last, partial batch was flushed on SIGTERM
    assert len(records) == expected
    assert {r["MitigationSystem"] for r in records} == {"magic-firewall"}
    # The service is gone: read the job file it left behind.
    jobs = orjson.loads((data / "jobs.json").read_bytes())["jobs"]
    [stored] = [j for j in jobs if j["id"] == job_id]
    assert stored["last_complete"] is not None
    assert stored["error_message"] is None
