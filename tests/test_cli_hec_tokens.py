"""``netlogpush hec-tokens create|list|disable|enable|revoke``, checked by what a HEC sender gets.

Each command's effect is read back through ``list --json`` and through a real ``HecReceiver``
on the same data directory, which is what ``netlogpush serve`` runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from netlogpush.cli import app
from netlogpush.receiver import CODES, CollectingSink, HecTokenStore, create_hec_app

runner = CliRunner()
CHANNEL = "0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba"
RECORD = {"Datetime": 1_700_000_000_000_000_000, "ColoCode": "AMS"}


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative data dirs (short paths in messages), and no data dir from the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NETLOGPUSH_DATA_DIR", raising=False)


def run(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, ["hec-tokens", *args])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


def enabled() -> dict[str, bool]:
    return {t["id"]: t["enabled"] for t in listed()}


def listed(data_dir: str = "data") -> list[dict[str, Any]]:
    out = run("list", "--json", "--data-dir", data_dir).stdout
    return [orjson.loads(line) for line in out.splitlines()]


def hec_code(data_dir: str, secret: str) -> int:
    client = TestClient(create_hec_app(HecTokenStore(data_dir), CollectingSink()))
    r = client.post(
        f"/services/collector/raw?channel={CHANNEL}",
        content=orjson.dumps(RECORD),
        headers={"Authorization": f"Splunk {secret}"},
    )
    code = int(r.json()["code"])
    assert (r.status_code, r.json()) == (CODES[code][0], {"text": CODES[code][1], "code": code})
    return code


def create(*args: str) -> tuple[str, str]:
    """(secret, id) of a token made with ``create --data-dir data`` and ``args``."""
    result = run("create", "--data-dir", "data", *args)
    secret = result.stdout.splitlines()[-1]
    (token,) = [t for t in listed() if t["id"] in result.stderr]
    return secret, str(token["id"])


def test_create_prints_the_token_on_its_last_line() -> None:
    result = run("create", "--name", "cloudflare", "--index", "netlog", "--index", "main",
                 "--data-dir", "data")  # fmt: skip
    secret = result.stdout.splitlines()[-1]
    assert str(uuid.UUID(secret)) == secret
    (token,) = listed()
    assert (
        " ".join(result.stderr.split()) == f"HEC token {token['id']} (cloudflare); keep it secret:"
    )
    assert sorted(token) == ["account", "created", "enabled", "id", "indexes", "name"]
    assert (token["name"], token["enabled"], token["indexes"], token["account"]) == (
        "cloudflare", True, ["netlog", "main"], "",
    )  # fmt: skip
    assert hec_code("data", secret) == 0
    assert secret not in (Path("data") / "hec_tokens.json").read_text()  # stored hashed


def test_list_json_and_table_never_show_the_secret() -> None:
    secret_a, id_a = create("--name", "first")
    secret_b, id_b = create("--account", "0123456789abcdef0123456789abcdef")
    # Listed by creation time, to the second, then id: compared as a set.
    assert {(t["id"], t["name"], t["account"]) for t in listed()} == {
        (id_a, "first", ""), (id_b, "", "0123456789abcdef0123456789abcdef"),
    }  # fmt: skip
    table = run("list", "--data-dir", "data").stdout
    for text in (table, run("list", "--json", "--data-dir", "data").stdout):
        assert secret_a not in text and secret_b not in text
    assert id_a in table and id_b in table and "first" in table
    assert table.count(" any ") == 2  # no index restriction


def test_disable_enable_revoke() -> None:
    secret, token_id = create("--name", "splunk")
    other, other_id = create("--name", "untouched")

    result = run("disable", token_id, "--data-dir", "data")
    assert result.stderr.strip() == f"HEC token {token_id} disabled"
    assert enabled() == {token_id: False, other_id: True}
    assert (hec_code("data", secret), hec_code("data", other)) == (1, 0)

    assert (
        run("enable", token_id, "--data-dir", "data").stderr.strip()
        == f"HEC token {token_id} enabled"
    )
    assert enabled() == {token_id: True, other_id: True}
    assert hec_code("data", secret) == 0

    assert (
        run("revoke", token_id, "--data-dir", "data").stderr.strip()
        == f"HEC token {token_id} revoked"
    )
    assert [t["id"] for t in listed()] == [other_id]
    assert (hec_code("data", secret), hec_code("data", other)) == (4, 0)


@pytest.mark.parametrize("command", ["disable", "enable", "revoke"])
def test_unknown_id_exits_2_with_a_message(command: str) -> None:
    secret, token_id = create()
    result = run(command, "0123456789ab", "--data-dir", "data", code=2)
    assert " ".join(result.stderr.split()) == "error: no HEC token with id '0123456789ab' in data"
    assert result.stdout == ""
    assert enabled() == {token_id: True}
    assert hec_code("data", secret) == 0
    # Revoked once, a second revoke is an unknown id too.
    if command == "revoke":
        run("revoke", token_id, "--data-dir", "data")
        run("revoke", token_id, "--data-dir", "data", code=2)


def test_default_data_dir_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    run("create", "--name", "default")
    assert [t["name"] for t in listed("netlogpush-data")] == ["default"]
    monkeypatch.setenv("NETLOGPUSH_DATA_DIR", "elsewhere")
    run("create", "--name", "from env")
    assert [t["name"] for t in run_list_env()] == ["from env"]
    assert [t["name"] for t in listed("netlogpush-data")] == ["default"]


def run_list_env() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in run("list", "--json").stdout.splitlines()]


def test_list_of_an_empty_data_dir() -> None:
    assert run("list", "--json", "--data-dir", "nothing-here").stdout == ""
    assert not Path("nothing-here").exists()  # listing creates nothing


def test_as_a_user_runs_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NETLOGPUSH_DATA_DIR"}
    cmd = [sys.executable, "-m", "netlogpush", "hec-tokens"]
    made = subprocess.run([*cmd, "create", "--name", "proc", "--data-dir", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=60, env=env, check=True)  # fmt: skip
    secret = made.stdout.splitlines()[-1]
    out = subprocess.run([*cmd, "list", "--json", "--data-dir", str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=60, env=env, check=True)  # fmt: skip
    (token,) = [orjson.loads(line) for line in out.stdout.splitlines()]
    assert token["name"] == "proc"
    assert hec_code(str(tmp_path / "d"), secret) == 0
    bad = subprocess.run([*cmd, "revoke", "ffffffffffff", "--data-dir", str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert bad.returncode == 2
    assert "no HEC token with id 'ffffffffffff'" in " ".join(bad.stderr.split())
