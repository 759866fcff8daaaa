"""The ``netlogpush`` command line.

Each command is a thin shell over ``netlogpush.pipeline``: the same code path runs in the
tests, the CLI and the service.
"""

from __future__ import annotations

from netlogpush.cli.app import app

__all__ = ["app"]
