"""``/accounts/{account_id}/receiver/hec_tokens``: tokens of the built-in receiver, per account.

The secret the API hands out is tried against a real ``HecReceiver`` reading the same data
directory, so create, disable, enable and revoke are checked by what a sender gets back.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from api_support import ACCOUNT_A, ACCOUNT_B, FORBIDDEN, MISSING, Env, error_body
from starlette.testclient import TestClient

from netlogpush.api import create_token
from netlogpush.receiver import CODES, CollectingSink, HecTokenStore, create_hec_app

CHANNEL = "0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba"
RAW = f"/services/collector/raw?channel={CHANNEL}"
RECORD = {"Datetime": 1_700_000_000_000_000_000, "ColoCode": "AMS"}


def url(account: str = ACCOUNT_A, token_id: str | None = None) -> str:
    base = f"/client/v4/accounts/{account}/receiver/hec_tokens"
    return base if token_id is None else f"{base}/{token_id}"


def failure(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, error_body((code, message))


def answer(r: Any) -> tuple[int, Any]:
    return r.status_code, r.json()


class Sender:
    """A HEC sender against the receiver that ``netlogpush serve`` would run on this data dir."""

    def __init__(self, env: Env) -> None:
        self.sink = CollectingSink()
        self.client = TestClient(create_hec_app(HecTokenStore(env.data_dir), self.sink))

    def code(self, secret: str) -> int:
        r = self.client.post(
            RAW, content=orjson.dumps(RECORD), headers={"Authorization": f"Splunk {secret}"}
        )
        code = int(r.json()["code"])
        assert (r.status_code, r.json()) == (CODES[code][0], {"text": CODES[code][1], "code": code})
        return code


def create(env: Env, **body: Any) -> dict[str, Any]:
    r = env.client.post(url(), json=body, headers=env.h(env.write_a))
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["result"]
    return result


def test_create_returns_the_secret_once_and_it_works(env: Env) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    r = env.client.post(
        url(), json={"name": "splunk", "indexes": ["netlog"]}, headers=env.h(env.write_a)
    )
    after = datetime.now(UTC)
    assert r.status_code == 200
    body = r.json()
    assert (body["success"], body["errors"], body["messages"]) == (True, [], [])
    made = body["result"]
    assert sorted(made) == ["created", "enabled", "id", "indexes", "name", "token"]
    assert re.fullmatch(r"[0-9a-f]{12}", made["id"])
    assert str(uuid.UUID(made["token"])) == made["token"]  # Splunk's GUID shape
    assert (made["name"], made["enabled"], made["indexes"]) == ("splunk", True, ["netlog"])
    created = datetime.fromisoformat(made["created"])
    assert made["created"].endswith("Z") and before <= created <= after
    sender = Sender(env)
    assert sender.code(made["token"]) == 0
    assert sender.sink.records == [RECORD]
    # Stored hashed: the secret is nowhere in the data directory.
    assert made["token"] not in (env.data_dir / "hec_tokens.json").read_text()


def test_list_shows_it_without_the_secret(env: Env) -> None:
    made = create(env, name="splunk")
    expected = [{k: v for k, v in made.items() if k != "token"}]
    for token in (env.write_a, env.read_a):  # Logs Read may list
        r = env.client.get(url(), headers=env.h(token))
        assert answer(r) == (
            200,
            {"errors": [], "messages": [], "result": expected, "success": True},
        )
        assert made["token"] not in r.text


def test_two_tokens_are_listed_in_creation_order(env: Env) -> None:
    first, second = create(env, name="one"), create(env, name="two")
    r = env.client.get(url(), headers=env.h(env.read_a))
    listed = r.json()["result"]
    assert {t["id"] for t in listed} == {first["id"], second["id"]}
    assert [t["created"] for t in listed] == sorted(t["created"] for t in listed)


def test_logs_read_cannot_change_anything(env: Env) -> None:
    made = create(env)
    h = env.h(env.read_a)
    assert answer(env.client.post(url(), json={"name": "x"}, headers=h)) == (403, FORBIDDEN)
    assert answer(
        env.client.patch(url(token_id=made["id"]), json={"enabled": False}, headers=h)
    ) == (403, FORBIDDEN)
    assert answer(env.client.delete(url(token_id=made["id"]), headers=h)) == (403, FORBIDDEN)
    # Refused before the body is read: a bad body does not teach the body rules.
    assert answer(env.client.post(url(), json={"bogus": 1}, headers=h)) == (403, FORBIDDEN)
    assert answer(env.client.post(url(), json={"bogus": 1})) == (401, MISSING)
    assert Sender(env).code(made["token"]) == 0
    assert len(HecTokenStore(env.data_dir).list_tokens()) == 1


def test_another_account_cannot_see_patch_or_revoke_it(env: Env) -> None:
    made = create(env, name="a's")
    h = env.h(env.write_b)
    # B's own account: A's token is not there.
    r = env.client.get(url(ACCOUNT_B), headers=h)
    assert answer(r) == (200, {"errors": [], "messages": [], "result": [], "success": True})
    not_found = failure(404, 1004, f"no HEC token {made['id']} in this account")
    assert (
        answer(env.client.patch(url(ACCOUNT_B, made["id"]), json={"enabled": False}, headers=h))
        == not_found
    )
    assert answer(env.client.delete(url(ACCOUNT_B, made["id"]), headers=h)) == not_found
    # A's account with B's token: refused outright.
    assert answer(env.client.get(url(ACCOUNT_A), headers=h)) == (403, FORBIDDEN)
    assert answer(env.client.delete(url(ACCOUNT_A, made["id"]), headers=h)) == (403, FORBIDDEN)
    # Nothing changed.
    assert Sender(env).code(made["token"]) == 0
    assert [t.enabled for t in HecTokenStore(env.data_dir).list_tokens()] == [True]


def test_tokens_made_without_an_account_are_not_listed(env: Env) -> None:
    HecTokenStore(env.data_dir).create("from the CLI")
    HecTokenStore(env.data_dir).create("B's", account=ACCOUNT_B)
    assert env.client.get(url(), headers=env.h(env.read_a)).json()["result"] == []
    listed = env.client.get(url(ACCOUNT_B), headers=env.h(env.write_b)).json()["result"]
    assert [t["name"] for t in listed] == ["B's"]


def test_disable_enable_revoke(env: Env) -> None:
    made = create(env, name="splunk")
    sender = Sender(env)
    h = env.h(env.write_a)
    public = {k: v for k, v in made.items() if k != "token"}

    r = env.client.patch(url(token_id=made["id"]), json={"enabled": False}, headers=h)
    assert answer(r) == (200, {"errors": [], "messages": [], "result": {**public, "enabled": False},
                               "success": True})  # fmt: skip
    assert sender.code(made["token"]) == 1  # Token disabled

    r = env.client.patch(url(token_id=made["id"]), json={"enabled": True}, headers=h)
    assert r.json()["result"] == public
    assert sender.code(made["token"]) == 0

    r = env.client.delete(url(token_id=made["id"]), headers=h)
    assert answer(r) == (
        200,
        {"errors": [], "messages": [], "result": {"id": made["id"]}, "success": True},
    )
    assert sender.code(made["token"]) == 4  # Invalid token
    assert env.client.get(url(), headers=h).json()["result"] == []
    gone = failure(404, 1004, f"no HEC token {made['id']} in this account")
    assert answer(env.client.delete(url(token_id=made["id"]), headers=h)) == gone
    assert (
        answer(env.client.patch(url(token_id=made["id"]), json={"enabled": True}, headers=h))
        == gone
    )
    assert sender.code(made["token"]) == 4
    assert sender.sink.records == [RECORD]  # only while enabled


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "bogus": 1}, "bogus: extra inputs are not permitted"),
        ({"name": "x" * 257}, "name: string should have at most 256 characters"),
        ({"name": 5}, "name: input should be a valid string"),
        ({"indexes": [""]}, "indexes[0]: string should have at least 1 character"),
        ({"indexes": ["a" * 81]}, "indexes[0]: string should have at most 80 characters"),
        ({"indexes": "main"}, "indexes: input should be a valid list"),
        (
            {"indexes": [f"i{n}" for n in range(101)]},
            "indexes: list should have at most 100 items after validation, not 101",
        ),
        ([1], "body: must be a JSON object"),
    ],
)
def test_bad_create_body_names_the_field(env: Env, body: Any, message: str) -> None:
    r = env.client.post(url(), json=body, headers=env.h(env.write_a))
    assert answer(r) == failure(400, 1001, message)
    assert HecTokenStore(env.data_dir).list_tokens() == []


def test_longest_name_and_most_indexes_are_accepted(env: Env) -> None:
    made = create(env, name="x" * 256, indexes=[f"i{n}" for n in range(100)])
    assert (len(made["name"]), len(made["indexes"])) == (256, 100)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "enabled: is required"),
        (
            {"enabled": "maybe"},
            "enabled: input should be a valid boolean, unable to interpret input",
        ),
        ({"enabled": False, "name": "x"}, "name: extra inputs are not permitted"),
    ],
)
def test_bad_patch_body_names_the_field(env: Env, body: Any, message: str) -> None:
    made = create(env)
    r = env.client.patch(url(token_id=made["id"]), json=body, headers=env.h(env.write_a))
    assert answer(r) == failure(400, 1001, message)
    assert Sender(env).code(made["token"]) == 0


def test_malformed_json_and_token_id(env: Env) -> None:
    h = {**env.h(env.write_a), "Content-Type": "application/json"}
    assert answer(env.client.post(url(), content=b"{nope", headers=h)) == failure(
        400, 1005, "body: is not valid JSON"
    )
    path = url(token_id="NOT-AN-ID")
    r = env.client.patch(path, json={"enabled": False}, headers=h)
    message = f"Could not route to {path}, perhaps your object identifier is invalid?"
    assert answer(r) == failure(400, 7003, message)


def test_an_unknown_api_token_and_no_token_are_refused(env: Env) -> None:
    assert answer(env.client.get(url(), headers=env.h("x" * 40))) == failure(
        401, 9109, "Invalid access token"
    )
    assert answer(env.client.get(url())) == (401, MISSING)
    # A Logs Write token of A made after the app started is seen at once.
    write = create_token(env.data_dir, ACCOUNT_A, ["Logs Edit"])
    made = create(env)
    listed = env.client.get(url(), headers=env.h(write)).json()["result"]
    assert [t["id"] for t in listed] == [made["id"]]
