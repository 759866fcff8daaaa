"""Golden cases (suricata-verify style): each ``tests/golden/<case>/`` holds ``input.pcap``,
``expected.ndjson`` and optionally ``case.yaml`` (decode/encode options). The records the
decoder writes for the input must equal the expected file byte for byte.

``python tests/golden/regenerate.py`` rewrites the expected files from the current decoder;
review the diff before committing it. ``tests/golden/test_golden_reviewed.py`` checks some
cases field by field against what the builder put in, so the expected files are not merely
whatever the decoder printed once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from netlogpush.dataset.formats import encode_ndjson
from netlogpush.pipeline import decode_file

GOLDEN = Path(__file__).parent / "golden"
OPTIONS = {"description", "field_names", "timestamp_format"}


def case_dirs() -> list[Path]:
    return sorted(p for p in GOLDEN.iterdir() if (p / "input.pcap").is_file())


def case_options(case: Path) -> dict[str, Any]:
    path = case / "case.yaml"
    opts: dict[str, Any] = yaml.safe_load(path.read_text()) if path.is_file() else {}
    unknown = set(opts) - OPTIONS
    if unknown:
        raise ValueError(f"{path}: unknown option(s) {sorted(unknown)}")
    return opts


def render(case: Path) -> bytes:
    """The NDJSON the current decoder writes for a case."""
    opts = case_options(case)
    table = decode_file(case / "input.pcap")
    kwargs: dict[str, Any] = {}
    if "timestamp_format" in opts:
        kwargs["timestamp_format"] = opts["timestamp_format"]
    return bytes(encode_ndjson(table, opts.get("field_names"), **kwargs))


def test_there_are_golden_cases() -> None:
    assert len(case_dirs()) >= 25


@pytest.mark.parametrize("case", case_dirs(), ids=lambda p: p.name)
def test_golden(case: Path) -> None:
    expected = (case / "expected.ndjson").read_bytes()
    got = render(case)
    if got != expected:
        exp_lines, got_lines = expected.splitlines(), got.splitlines()
        assert len(got_lines) == len(exp_lines), "record count differs"
        for i, (g, e) in enumerate(zip(got_lines, exp_lines, strict=True)):
            assert g == e, f"record {i} differs"
    assert got == expected
