#!/usr/bin/env bash
# Install netlogpush into .venv and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --minimal
exec .venv/bin/netlogpush demo "$@"
