#!/usr/bin/env bash
# Install netlogpush with its test tools (system packages too, as root) and run every test,
# then the linters. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Bursty sFlow exporters need a large socket receive buffer (docs/sources.md).
if [ "$(id -u)" = 0 ]; then sysctl -qw net.core.rmem_max=33554432 2>/dev/null || true; fi
.venv/bin/ruff check src tests bench
.venv/bin/mypy
exec .venv/bin/pytest -q "$@"
