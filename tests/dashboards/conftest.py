"""One set of pipeline records, loaded into DuckDB and chDB once for the dashboard tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from siem_support import Loaded, build


@pytest.fixture(scope="session")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    data = build(tmp_path_factory.mktemp("siem"))
    yield data
    data.store.close()
    data.ch.close()
