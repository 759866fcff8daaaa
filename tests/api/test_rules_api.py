"""The mitigation rules over HTTP: a PUT reaches the running systems between two batches."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from netlogpush.api.app import ApiState, create_app
from netlogpush.api.tokens_cli import create_token
from netlogpush.config import Settings
from netlogpush.decode.frames import FrameBatchBuilder
from netlogpush.mitigation.atp_api import AdvancedTcpProtection
from netlogpush.mitigation.reload import Reloader, SettingsStore
from netlogpush.mitigation.rulesets import PhaseEntrypoints
from netlogpush.pipeline import pipeline_from_settings
from netlogpush.testing import packets as P

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"


def _batch() -> FrameBatchBuilder:
    b = FrameBatchBuilder()
    for i, dport in enumerate((22, 443)):
        frame = P.ethernet(
            P.ipv4(P.tcp(sport=40000 + i, dport=dport, flags=P.SYN), src="198.51.100.7", dst="192.0.2.10"),
            ethertype=P.ETH_IPV4,
        )
        b.append(frame, 1_767_225_600_000_000_000 + i, P.LINKTYPE_ETHERNET)
    return b


def test_put_a_firewall_rule_and_the_running_pipeline_drops_with_it(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {"sampling": {"interval": 1}, "mitigation": {"profile": "magic_wan", "mode": "inline"}}
    )
    pipeline = pipeline_from_settings(settings)
    reloader = Reloader(pipeline, settings)
    store = SettingsStore(settings, reloader.request)
    state = ApiState(tmp_path)
    state.rules, state.atp = PhaseEntrypoints(store), AdvancedTcpProtection(store)
    client = TestClient(create_app(state))
    rules_token = create_token(tmp_path, ACCOUNT, ["rulesets:write"])
    logs_token = create_token(tmp_path, ACCOUNT, ["logs:write"])
    url = f"/client/v4/accounts/{ACCOUNT}/rulesets/phases/magic_transit/entrypoint"

    refused = client.put(url, headers={"Authorization": f"Bearer {logs_token}"}, json={"rules": []})
    assert refused.status_code == 403  # Logs Write does not reach the rules

    headers = {"Authorization": f"Bearer {rules_token}"}
    bad = client.put(url, headers=headers, json={"rules": [{"expression": "tcp.dstport eq", "action": "block"}]})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["source"]["pointer"] == "/rules/0/expression"

    put = client.put(url, headers=headers, json={"rules": [{"expression": "tcp.dstport eq 22", "action": "block"}]})
    assert put.status_code == 200, put.text
    rule_id = put.json()["result"]["rules"][0]["id"]
    assert client.get(url, headers=headers).json()["result"]["rules"][0]["id"] == rule_id

    reloader.apply_pending()  # what the service's ingest thread does before each batch
    table = pipeline.process(_batch().build())
    got = table.select(["DestinationPort", "Verdict", "Outcome", "RuleID"]).to_pylist()
    assert got == [
        {"DestinationPort": 22, "Verdict": "drop", "Outcome": "drop", "RuleID": rule_id},
        {"DestinationPort": 443, "Verdict": "pass", "Outcome": "pass", "RuleID": ""},
    ]

    status = client.get(
        f"/client/v4/accounts/{ACCOUNT}/magic/advanced_tcp_protection/configs/tcp_protection_status",
        headers=headers,
    )
    assert status.status_code == 200, status.text
    assert status.json()["success"] is True


def test_rules_are_not_served_without_the_service(tmp_path: Path) -> None:
    client = TestClient(create_app(ApiState(tmp_path)))
    token = create_token(tmp_path, ACCOUNT, ["rulesets:write"])
    answer = client.get(
        f"/client/v4/accounts/{ACCOUNT}/rulesets/phases/magic_transit/entrypoint",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 404
    assert "netlogpush serve" in answer.json()["errors"][0]["message"]
