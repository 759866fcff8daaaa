"""The ``netlogpush`` command line, run as a user runs it."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import wrpcap
from typer.testing import CliRunner

from netlogpush.cli import app
from netlogpush.dataset.fields import FIELD_NAMES

MAC = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}
runner = CliRunner()


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    packets = [
        Ether(**MAC) / IP(src="198.51.100.7", dst="192.0.2.10", ttl=57) / TCP(sport=40000, dport=443, flags="S"),
        Ether(**MAC) / IP(src="198.51.100.8", dst="192.0.2.53") / UDP(sport=5000, dport=53)
        / DNS(qd=DNSQR(qname="example.org", qtype="MX")),
        Ether(**MAC) / ARP(),
    ]
    for i, p in enumerate(packets):
        p.time = 1_700_000_000 + i
    path = tmp_path / "small.pcap"
    wrpcap(str(path), packets)
    return path


def test_help_teaches_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("decode", "collect", "fields", "generate", "demo"):
        assert command in result.output


def test_fields_json_is_the_api_shape() -> None:
    result = runner.invoke(app, ["fields", "--json"])
    assert result.exit_code == 0
    fields = orjson.loads(result.stdout)
    assert list(fields) == list(FIELD_NAMES)
    assert fields["SampleInterval"].startswith("The sample interval is the inverse of the sample rate.")


@pytest.fixture
def firewall_only(tmp_path: Path) -> Path:
    """Settings for Magic WAN's profile: the firewall alone, so one sample per packet."""
    path = tmp_path / "wan.yaml"
    path.write_text("mitigation:\n  profile: magic_wan\n")
    return path


def test_decode_default_runs_the_three_systems_in_order(capture: Path) -> None:
    result = runner.invoke(app, ["decode", str(capture), "-f", "IPSourceAddress,MitigationSystem,Verdict,Outcome"])
    assert result.exit_code == 0, result.output
    # No customer prefixes are configured, so flowtrackd protects (and samples) nothing.
    assert [orjson.loads(line) for line in result.stdout.splitlines()] == [
        {"IPSourceAddress": src, "MitigationSystem": system, "Verdict": "pass", "Outcome": "pass"}
        for src in ("198.51.100.7", "198.51.100.8")
        for system in ("dosd", "magic-firewall")
    ]
    assert "magic-firewall: 2 packets, verdict drop 0, dropped 0, 2 samples" in result.stderr
    assert "flowtrackd: 0 packets" in result.stderr


def test_decode_flowtrackd_protects_the_customer_prefixes(capture: Path, tmp_path: Path) -> None:
    settings = tmp_path / "mt.yaml"
    settings.write_text("customer_prefixes: [192.0.2.0/24]\n")
    result = runner.invoke(app, ["decode", str(capture), "-c", str(settings), "-f", "IPProtocolName,MitigationSystem,ProtocolState"])
    assert result.exit_code == 0, result.output
    assert [orjson.loads(line) for line in result.stdout.splitlines()] == [
        {"IPProtocolName": "TCP", "MitigationSystem": "dosd", "ProtocolState": ""},
        {"IPProtocolName": "TCP", "MitigationSystem": "flowtrackd", "ProtocolState": "NEW"},
        {"IPProtocolName": "TCP", "MitigationSystem": "magic-firewall", "ProtocolState": ""},
        {"IPProtocolName": "UDP", "MitigationSystem": "dosd", "ProtocolState": ""},
        {"IPProtocolName": "UDP", "MitigationSystem": "magic-firewall", "ProtocolState": ""},
    ]


def test_decode_writes_cloudflare_records(capture: Path, firewall_only: Path) -> None:
    result = runner.invoke(app, ["decode", str(capture), "-t", "rfc3339", "-c", str(firewall_only)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2  # the ARP frame is not an IP packet
    syn, dns = (orjson.loads(line) for line in lines)
    assert list(syn) == list(FIELD_NAMES)
    assert syn["Datetime"] == "2023-11-14T22:13:20Z"
    assert (syn["IPSourceAddress"], syn["IPSourceSubnet"], syn["IPTTL"], syn["IPTTLBuckets"]) == (
        "198.51.100.7", "198.51.100.0/24", 57, 50)
    assert (syn["TCPFlags"], syn["TCPFlagsString"], syn["DestinationPort"]) == (2, "SYN", 443)
    assert (syn["MitigationSystem"], syn["Verdict"], syn["Outcome"], syn["SampleInterval"]) == (
        "magic-firewall", "pass", "pass", 1)
    assert (dns["DNSQueryName"], dns["DNSQueryType"], dns["IPProtocolName"]) == ("example.org", "MX", "UDP")
    assert "3 frames, 2 IP packets, 2 records" in result.stderr
    assert "not_ip 1" in result.stderr


def test_decode_fields_csv_and_output_file(capture: Path, tmp_path: Path, firewall_only: Path) -> None:
    gz = tmp_path / "small.pcap.gz"
    gz.write_bytes(gzip.compress(capture.read_bytes()))
    out = tmp_path / "out.csv"
    result = runner.invoke(
        app, ["decode", str(gz), "--fields", "IPDestinationAddress,DestinationPort,Datetime",
              "--format", "csv", "-t", "unix", "-o", str(out), "-c", str(firewall_only)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == (
        "IPDestinationAddress,DestinationPort,Datetime\n"
        "192.0.2.10,443,1700000000\n"
        "192.0.2.53,53,1700000001\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["decode", "/nonexistent.pcap"], "no such file: /nonexistent.pcap"),
        (["decode", "{capture}", "--fields", "IPSourceAddress,Bogus"], "unknown field(s): Bogus"),
        (["decode", "{capture}", "--timestamps", "iso"], "--timestamps must be one of"),
        (["decode", "{text}"], "not a pcap or pcapng file"),
    ],
)
def test_decode_errors_are_clear(capture: Path, tmp_path: Path, args: list[str], message: str) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a capture\n")
    argv = [a.format(capture=capture, text=text) for a in args]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def test_decode_sampling_is_seeded(tmp_path: Path, firewall_only: Path) -> None:
    packets = [Ether(**MAC) / IP(src="10.0.0.1", dst="10.0.0.2", id=i) / UDP(sport=1, dport=2) for i in range(2000)]
    path = tmp_path / "many.pcap"
    wrpcap(str(path), packets)
    runs = [runner.invoke(app, ["decode", str(path), "-n", "10", "--seed", "7", "-c", str(firewall_only),
                                "-f", "IPv4Identification,SampleInterval"])
            for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout
    records = [orjson.loads(line) for line in runs[0].stdout.splitlines()]
    assert 120 <= len(records) <= 280  # 200 expected; far outside 5 sigma otherwise
    assert {r["SampleInterval"] for r in records} == {10}


def test_bad_settings_file_names_the_key(capture: Path, tmp_path: Path) -> None:
    settings = tmp_path / "netlogpush.yaml"
    settings.write_text("sampling:\n  interval: 0\n")
    result = runner.invoke(app, ["decode", str(capture), "--config", str(settings)])
    assert result.exit_code == 2
    assert "sampling.interval" in result.stderr


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_collect_sflow_runs_until_sigterm_and_writes_records(tmp_path: Path, firewall_only: Path) -> None:
    from netlogpush.testing.sflow_encoder import FlowExporter

    port = _free_udp_port()
    out = tmp_path / "sflow.ndjson"
    proc = subprocess.Popen(
        [sys.executable, "-m", "netlogpush", "collect", "sflow", "--host", "127.0.0.1", "--port", str(port),
         "-o", str(out), "-f", "IPSourceAddress,DestinationPort,SampleInterval", "-c", str(firewall_only)],
        stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 20
        assert proc.stderr is not None
        while b"listening" not in proc.stderr.readline():
            assert time.monotonic() < deadline and proc.poll() is None
        frame = bytes(Ether(**MAC) / IP(src="203.0.113.9", dst="192.0.2.1") / TCP(sport=1, dport=22))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for datagram in FlowExporter(sampling_rate=512).export([(frame, len(frame) + 4)]):
                s.sendto(datagram, ("127.0.0.1", port))
        while not out.exists() or not out.read_bytes():
            assert time.monotonic() < deadline, "no record written"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()
    assert orjson.loads(out.read_bytes()) == {
        "IPSourceAddress": "203.0.113.9", "DestinationPort": 22, "SampleInterval": 512}


def test_tokens_create_prints_a_token_the_api_accepts(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from netlogpush.api.app import create_app

    account = "023e105f4ecef8ad9ca31a8372d0c353"
    result = runner.invoke(
        app, ["tokens", "create", "--account", account, "--permission", "logs:write", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    client = TestClient(create_app(tmp_path))
    verified = client.get("/client/v4/user/tokens/verify", headers={"Authorization": f"Bearer {token}"})
    assert verified.status_code == 200
    assert verified.json()["success"] is True
    jobs = client.get(f"/client/v4/accounts/{account}/logpush/jobs", headers={"Authorization": f"Bearer {token}"})
    assert (jobs.status_code, jobs.json()["result"]) == (200, [])
    bad = runner.invoke(app, ["tokens", "create", "--account", account, "--permission", "dns:edit",
                              "--data-dir", str(tmp_path)])  # fmt: skip
    assert bad.exit_code == 2
    assert "is not one of logs:read, logs:write" in bad.stderr
