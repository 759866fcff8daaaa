#!/usr/bin/env bash
# Install netlogpush into .venv and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --minimal
# Real, openly licensed ASN and country data for the demo, when npm is at hand.
if command -v npm >/dev/null && [ ! -d .cache/ipdb/node_modules/@ip-location-db/asn ]; then
  mkdir -p .cache/ipdb
  npm install --silent --no-audit --no-fund --prefix .cache/ipdb \
    @ip-location-db/asn @ip-location-db/geo-whois-asn-country-mmdb >/dev/null 2>&1 \
    || echo "note: could not fetch IP databases with npm; ASN and country fields stay empty." >&2
fi
exec .venv/bin/netlogpush demo "$@"
