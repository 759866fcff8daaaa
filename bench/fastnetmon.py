"""Run the real FastNetMon on a scenario capture, fed sFlow by pmacct, as a baseline detector.

    .venv/bin/python bench/fastnetmon.py CAPTURE [--threshold-pps 10000] [--json OUT]

The chain is the one a network would run (docs/scenarios.md, "The FastNetMon baseline"):

    capture --(paced by packet time)--> FIFO --> pmacctd (sfprobe, 1:N sampling)
            --sFlow v5, 127.0.0.1--> fastnetmon --ban--> notify script --> notify.log

*Pacing.* pmacctd reads a savefile as fast as it can and has no replay pacing
(``pcap_savefile_delay`` only sleeps before starting, ``pcap_savefile_replay`` repeats the
file). FastNetMon measures rates by wall clock, so the capture must arrive at its own
speed. ``pcap_savefile`` can name a FIFO (libpcap reads a savefile with stdio), so this
script writes the records into a FIFO at the times their timestamps say; pmacctd reads them
as they come. This is lighter and more exact than tcpreplay onto a veth with pmacctd
capturing live (no kernel path per packet, no capture drops at 100k pps), and it keeps
every packet on this machine.

pmacctd's sfprobe plugin starts about 2 s after pmacctd opens the savefile and exports what
it read meanwhile in one burst, so the script waits ``--warmup`` seconds after opening the
FIFO before it starts the clock.

Time to detect is the wall time of FastNetMon's first ``ban`` of the victim minus the wall
time the first attack packet was written. FastNetMon is configured as local-tools.md §1
says: sFlow on 127.0.0.1, the customer prefixes, ``threshold_pps``,
``average_calculation_time``, no API, no Prometheus, pid and stats files in a scratch
directory, and ``disable_usage_report = on`` (it reports usage to its vendor otherwise).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

FASTNETMON_CONF = Path("/etc/fastnetmon.conf")
NOTIFY_SCRIPT = """#!/bin/sh
# FastNetMon calls: <script> <ip> <incoming|outgoing> <pps> <ban|unban|attack_details>,
# with the attack details on stdin.
now=$(date +%s.%N)
{{ echo "NOTIFY $now $1 $2 $3 $4"; cat; echo "END"; }} >> {log}
"""


@dataclass
class Ban:
    ip: str
    direction: str
    pps: int
    action: str
    wall: float
    attack_type: str = ""
    protocol: str = ""


@dataclass
class FnmResult:
    """What FastNetMon did with one capture."""

    available: bool
    reason: str = ""  # why it did not run
    detected: bool = False  # the victim (or an address of the victim prefix) was banned
    attack_type: str = ""
    ttd_s: float | None = None  # wall seconds from the first attack packet to the ban
    false_bans: list[str] = field(default_factory=list)  # banned addresses that were no victim
    bans: list[Ban] = field(default_factory=list)
    wall_s: float = 0.0


def missing_tools() -> str:
    """Why the baseline cannot run here, or ``""``."""
    for tool in ("fastnetmon", "pmacctd"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install {tool.rstrip('d')})"
    if not FASTNETMON_CONF.exists():
        return f"{FASTNETMON_CONF} is missing (the fastnetmon package installs it)"
    return ""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fastnetmon_config(work: Path, port: int, threshold_pps: int, average_s: int) -> Path:
    """The packaged configuration with our settings put in place of (or after) its own."""
    settings = {
        "sflow": "on",
        "sflow_host": "127.0.0.1",
        "sflow_port": str(port),
        "networks_list_path": str(work / "networks"),
        "white_list_path": str(work / "whitelist"),
        "threshold_pps": str(threshold_pps),
        "average_calculation_time": str(average_s),
        "enable_api": "off",
        "prometheus": "off",
        "pid_path": str(work / "fastnetmon.pid"),
        "cli_stats_file_path": str(work / "stats.dat"),
        "cli_stats_ipv6_file_path": str(work / "stats6.dat"),
        "notify_script_path": str(work / "notify.sh"),
        "disable_usage_report": "on",
        # Our hosts' addresses are the monitored networks, not this machine's.
        "monitor_local_ip_addresses": "off",
        # Only attacks *on* the network count, as for the pipeline's detectors.
        "process_outgoing_traffic": "off",
    }
    lines: list[str] = []
    seen: set[str] = set()
    for line in FASTNETMON_CONF.read_text().splitlines():
        m = re.match(r"\s*([a-z0-9_]+)\s*=", line)
        if m and m.group(1) in settings:
            key = m.group(1)
            line = f"{key} = {settings[key]}"
            seen.add(key)
        lines.append(line)
    lines += [f"{k} = {v}" for k, v in settings.items() if k not in seen]
    path = work / "fastnetmon.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


def sfprobe_config(work: Path, fifo: Path, port: int, sampling_rate: int) -> Path:
    path = work / "sfprobe.conf"
    path.write_text(
        "daemonize: false\n"
        f"pcap_savefile: {fifo}\n"
        "pcap_savefile_wait: true\n"
        "plugins: sfprobe\n"
        f"sfprobe_receiver: 127.0.0.1:{port}\n"
        "sfprobe_agentip: 127.0.0.1\n"
        "plugin_pipe_size: 10240000\n"
        "plugin_buffer_size: 10240\n"
        f"sampling_rate: {sampling_rate}\n"
    )
    return path


def _wait_for(path: Path, text: str, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.05)
    return False


def pace(
    capture: Path, out: IO[bytes], attack_start_ns: int, warmup_s: float
) -> tuple[float, float]:
    """Write ``capture``'s records to ``out`` at packet-time pace.

    Returns the wall time of the first record and the wall time of ``attack_start_ns``
    (``0.0`` when there is no attack). Records are written in slices of 5 ms, so pacing
    costs a few hundred writes per second whatever the packet rate.
    """
    head = struct.Struct("<IIII")
    with capture.open("rb") as f:
        ghdr = f.read(24)
        magic = struct.unpack_from("<I", ghdr)[0]
        frac_ns = 1 if magic == 0xA1B23C4D else 1000
        out.write(ghdr)
        out.flush()
        time.sleep(warmup_s)
        first_ns: int | None = None
        mono0 = wall0 = 0.0
        pending: list[bytes] = []
        due_next = 0.0
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                break
            sec, frac, cap, _ = head.unpack(rh)
            ts = sec * 1_000_000_000 + frac * frac_ns
            if first_ns is None:
                first_ns = ts
                mono0, wall0 = time.monotonic(), time.time()
            due = mono0 + (ts - first_ns) / 1e9
            if due > due_next:
                if pending:
                    out.write(b"".join(pending))
                    out.flush()
                    pending = []
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                due_next = due + 0.005
            pending.append(rh + f.read(cap))
        if pending:
            out.write(b"".join(pending))
            out.flush()
    attack_wall = (
        wall0 + (attack_start_ns - first_ns) / 1e9 if attack_start_ns and first_ns else 0.0
    )
    return wall0, attack_wall


def parse_notify(text: str) -> list[Ban]:
    bans: list[Ban] = []
    current: Ban | None = None
    for line in text.splitlines():
        if line.startswith("NOTIFY "):
            _, wall, ip, direction, pps, action = (line.split() + [""] * 6)[:6]
            current = Ban(ip, direction, int(pps or 0), action, float(wall))
            bans.append(current)
        elif current is not None and line.startswith("Attack type:"):
            current.attack_type = line.split(":", 1)[1].strip()
        elif current is not None and line.startswith("Attack protocol:"):
            current.protocol = line.split(":", 1)[1].strip()
        elif line == "END":
            current = None
    return bans


def _in_victims(ip: str, victims: tuple[str, ...]) -> bool:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(a in ipaddress.ip_network(v, strict=False) for v in victims)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def run_fastnetmon(
    capture: Path,
    *,
    attack_start_ns: int = 0,
    victims: tuple[str, ...] = (),
    networks: tuple[str, ...] = ("203.0.113.0/24", "192.0.2.0/24"),
    threshold_pps: int = 10_000,
    average_s: int = 2,
    sampling_rate: int = 100,
    warmup_s: float = 2.5,
    tail_s: float = 3.0,
    workdir: Path | None = None,
) -> FnmResult:
    """Replay ``capture`` into pmacctd + FastNetMon in real time and report what it banned."""
    reason = missing_tools()
    if reason:
        return FnmResult(False, reason)
    t_begin = time.monotonic()
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="fnm-")) if workdir is None else workdir
    work.mkdir(parents=True, exist_ok=True)
    fnm = pm = None
    try:
        (work / "networks").write_text("\n".join(networks) + "\n")
        (work / "whitelist").write_text("")
        log = work / "notify.log"
        log.write_text("")
        script = work / "notify.sh"
        script.write_text(NOTIFY_SCRIPT.format(log=log))
        script.chmod(0o755)
        port = free_udp_port()
        conf = fastnetmon_config(work, port, threshold_pps, average_s)
        fnm_log = work / "fastnetmon.log"
        fnm = subprocess.Popen(
            ["fastnetmon", "--configuration_file", str(conf), "--log_file", str(fnm_log),
             "--disable_pid_logic"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if not _wait_for(fnm_log, "udp port", 15.0):
            return FnmResult(True, "fastnetmon did not start listening; see " + str(fnm_log))
        fifo = work / "capture.fifo"
        if fifo.exists():
            fifo.unlink()
        os.mkfifo(fifo)
        pm_out = (work / "pmacctd.log").open("wb")
        pm = subprocess.Popen(
            ["pmacctd", "-f", str(sfprobe_config(work, fifo, port, sampling_rate))],
            stdout=pm_out,
            stderr=subprocess.STDOUT,
        )
        with fifo.open("wb") as out:  # blocks until pmacctd opens it
            _, attack_wall = pace(capture, out, attack_start_ns, warmup_s)
        time.sleep(tail_s)
        _stop(pm)
        pm_out.close()
        _stop(fnm)
        bans = [b for b in parse_notify(log.read_text(errors="replace")) if b.action == "ban"]
        res = FnmResult(True, bans=bans)
        for b in bans:
            if victims and _in_victims(b.ip, victims):
                if not res.detected:
                    res.detected = True
                    res.attack_type = b.attack_type
                    res.ttd_s = b.wall - attack_wall if attack_wall else None
            else:
                res.false_bans.append(b.ip)
        res.wall_s = time.monotonic() - t_begin
        return res
    finally:
        _stop(pm)
        _stop(fnm)
        if own:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("capture", type=Path)
    ap.add_argument("--truth", type=Path, help="ground truth (default: <capture>.truth.npz)")
    ap.add_argument("--threshold-pps", type=int, default=10_000)
    ap.add_argument("--average-s", type=int, default=2)
    ap.add_argument("--sampling-rate", type=int, default=100)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--json", type=Path, help="write the result here as JSON")
    args = ap.parse_args(argv)
    truth_file = args.truth or args.capture.with_name(args.capture.name + ".truth.npz")
    attack_start = 0
    victims: tuple[str, ...] = ()
    if truth_file.exists():
        import numpy as np

        with np.load(truth_file, allow_pickle=False) as z:
            attack_start = int(z["attack_start_ns"])
            victims = tuple(str(v) for v in z["victims"])
    res = run_fastnetmon(
        args.capture, attack_start_ns=attack_start, victims=victims,
        threshold_pps=args.threshold_pps, average_s=args.average_s,
        sampling_rate=args.sampling_rate, workdir=args.workdir,
    )  # fmt: skip
    text = json.dumps(asdict(res), indent=1)
    if args.json:
        args.json.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
