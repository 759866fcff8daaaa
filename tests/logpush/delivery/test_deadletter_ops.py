"""deadletter_ops (shared by the CLI and the API) and ``netlogpush deadletters list|replay``,
replaying to a real local-directory destination."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netlogpush.api.jobs import JobStore
from netlogpush.cli.app import app
from netlogpush.logpush.compress import gzip_bytes
from netlogpush.logpush.delivery import BatchMeta, DeadLetterStore, SendResult
from netlogpush.logpush.delivery import deadletter_ops as ops

ACCOUNT = "0123456789abcdef0123456789abcdef"


def put(data_dir: Path, job: str, first: int, n: int, now: int, status: int = 400) -> str:
    raw = b"".join(b'{"TCPSequenceNumber":%d}\n' % i for i in range(first, first + n))
    meta = BatchMeta(job, raw, n, first, first + n - 1, 1_700_000_000 * 10**9, 6, 7)
    store = DeadLetterStore(ops.store_root(data_dir), job)
    letter = store.put(gzip_bytes(raw), meta, reason="rejected",
                       result=SendResult(False, False, status, f"HTTP {status}: bad token"),
                       attempts=1, now_ns=now)  # fmt: skip
    return letter.entry_id


def delivered_lines(root: Path) -> list[bytes]:
    return sorted(
        line
        for f in root.rglob("*.log.gz")
        for line in gzip.decompress(f.read_bytes()).splitlines()
    )


def test_list_describes_entries_without_creating_directories(tmp_path: Path) -> None:
    assert ops.list_entries(tmp_path, 7) == []
    assert not (tmp_path / "deadletter").exists()
    e1 = put(tmp_path, "7", 1, 3, 1_700_000_000_000_000_000)
    put(tmp_path, "7", 4, 2, 1_700_000_001_000_000_000, status=403)
    rows = ops.list_entries(tmp_path, 7)
    assert [(r["id"], r["time"], r["records"], r["reason"], r["status"]) for r in rows][:1] == [
        (e1, "2023-11-14T22:13:20Z", 3, "rejected", 400)]  # fmt: skip
    assert [(r["records"], r["status"], r["first_seq"], r["last_seq"]) for r in rows] == [
        (3, 400, 1, 3), (2, 403, 4, 5)]  # fmt: skip
    assert rows[0]["bytes"] == len(gzip_bytes(b"".join(
        b'{"TCPSequenceNumber":%d}\n' % i for i in range(1, 4))))  # fmt: skip
    assert ops.held(tmp_path, 7) == (2, 5)
    assert ops.job_metrics(tmp_path, 7, None)["deadletter"] == {"batches": 2, "records": 5}
    assert ops.job_metrics(tmp_path, 7, None)["running"] is False
    assert ops.job_metrics(tmp_path, 7, {"uploads": 3})["counters"] == {"uploads": 3}


def test_replay_all_then_one_to_a_local_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    conf = f"file://{out}/{{DATE}}"
    e1 = put(tmp_path, "7", 1, 3, 100)
    e2 = put(tmp_path, "7", 4, 2, 200)
    report = ops.replay(tmp_path, 7, conf, [e2, "1-2-3-4"])
    assert [d["id"] for d in report.delivered] == [e2]
    assert report.delivered_records == 2 and report.missing == ["1-2-3-4"] and not report.failed
    assert report.delivered[0]["location"].startswith(f"{out}/20231114/")
    assert delivered_lines(out) == [b'{"TCPSequenceNumber":4}', b'{"TCPSequenceNumber":5}']
    assert [r["id"] for r in ops.list_entries(tmp_path, 7)] == [e1]
    report = ops.replay(tmp_path, 7, conf)
    assert [d["id"] for d in report.delivered] == [e1]
    assert ops.list_entries(tmp_path, 7) == []
    assert len(delivered_lines(out)) == 5


def test_failed_replay_keeps_the_entry(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    e1 = put(tmp_path, "7", 1, 3, 100)
    report = ops.replay(tmp_path, 7, f"file://{blocker}/sub")
    assert not report.delivered and [f["id"] for f in report.failed] == [e1]
    assert "NotADirectoryError" in report.failed[0]["error"]
    assert ops.held(tmp_path, 7) == (1, 3)


def test_replay_refuses_destinations_without_a_sender(tmp_path: Path) -> None:
    put(tmp_path, "7", 1, 3, 100)
    with pytest.raises(ops.ReplayError, match="no pushing sender for websocket"):
        ops.replay(tmp_path, 7, "wss://logs.example.com/instant-logs/ws/sessions/" + "ab" * 16)
    assert ops.held(tmp_path, 7) == (1, 3)


def test_cli_list_and_replay(tmp_path: Path) -> None:
    out = tmp_path / "out"
    job = JobStore(tmp_path).create(ACCOUNT, {
        "dataset": "network_analytics_logs", "destination_conf": f"file://{out}", "enabled": True})  # fmt: skip
    jid = str(job["id"])
    e1 = put(tmp_path, jid, 1, 3, 1_700_000_000_000_000_000)
    e2 = put(tmp_path, jid, 4, 2, 1_700_000_001_000_000_000)
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path)]
    res = runner.invoke(app, ["deadletters", "list", "--job", jid, *base])
    assert res.exit_code == 0, res.output
    assert e1 in res.stdout and e2 in res.stdout and "rejected: HTTP 400: bad token" in res.stdout
    res = runner.invoke(app, ["deadletters", "list", "--job", jid, "--json", *base])
    assert [line.count('"id"') for line in res.stdout.splitlines()] == [1, 1]
    res = runner.invoke(app, ["deadletters", "replay", "--job", jid, "--entry", e1, *base])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(f"delivered {e1} (3 records) -> {out}/")
    assert [r["id"] for r in ops.list_entries(tmp_path, jid)] == [e2]
    res = runner.invoke(app, ["deadletters", "replay", "--job", jid, "--entry", "9-9-9-9", *base])
    assert res.exit_code == 1 and "not found: 9-9-9-9" in res.stderr
    res = runner.invoke(app, ["deadletters", "replay", "--job", "99", *base])
    assert res.exit_code == 2 and "no job 99" in res.stderr
    res = runner.invoke(app, ["deadletters", "replay", "--job", jid, *base])
    assert res.exit_code == 0 and ops.held(tmp_path, jid) == (0, 0)
    assert len(delivered_lines(out)) == 5
