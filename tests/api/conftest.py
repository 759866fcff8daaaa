"""Fixtures: a data dir with accounts A and B and tokens of each kind, and a TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import ACCOUNT_A, ACCOUNT_B, Env
from fastapi.testclient import TestClient

from netlogpush.api import create_app, create_token


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    write_a = create_token(tmp_path, ACCOUNT_A, ["logs:write"])
    read_a = create_token(tmp_path, ACCOUNT_A, ["logs:read"])
    write_b = create_token(tmp_path, ACCOUNT_B, ["Logs Edit"])
    with TestClient(create_app(tmp_path)) as client:
        yield Env(tmp_path, client, write_a, read_a, write_b)
