#!/usr/bin/env bash
# Set up netlogpush on a fresh clone: system packages (when run as root), then a virtualenv
# in .venv with netlogpush and its development tools. Safe to run again.
#   scripts/setup.sh            # what the tests need
#   scripts/setup.sh --minimal  # only what the demo needs (no system packages)
set -euo pipefail
cd "$(dirname "$0")/.."

minimal=0
[ "${1:-}" = "--minimal" ] && minimal=1

# Tools the tests run for real: tshark (reference decoder), pmacct (sFlow exporter), fastnetmon
# (the DDoS detector the detection bench compares against),
# tcpreplay/tcpdump/iproute2 (live capture on a veth pair), gopacket's test vectors (sFlow
# datagrams from real switches), chromium (the dashboard's browser tests, through Playwright).
SYSTEM_PACKAGES="python3-venv python3-dev tshark tcpdump tcpreplay pmacct fastnetmon iproute2 libcap2-bin libpcap0.8 golang-github-gopacket-gopacket-dev chromium fonts-liberation"

if [ "$minimal" = 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=""
    for p in $SYSTEM_PACKAGES; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
      echo "installing system packages:$missing"
      export DEBIAN_FRONTEND=noninteractive
      echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
  else
    echo "note: not root, so system packages were not installed; tests that need them are skipped." >&2
    echo "      as root: apt-get install $SYSTEM_PACKAGES" >&2
  fi
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
extras=$([ "$minimal" = 1 ] && echo "" || echo "[dev]")
# Reinstall only when pyproject.toml changed since the last install of the same extras.
stamp=".venv/.netlogpush-installed$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing netlogpush$extras into .venv (log: .venv/pip.log)"
  if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e ".$extras"; } >.venv/pip.log 2>&1; then
    tail -30 .venv/pip.log >&2
    exit 1
  fi
  touch "$stamp"
fi

# Real, openly licensed ASN and country data (CC-BY-4.0 / CC0) for the demo and the real-data
# tests, when npm is at hand. Without it those fields stay empty and those tests are skipped.
if command -v npm >/dev/null && [ ! -d .cache/ipdb/node_modules/@ip-location-db/asn ]; then
  mkdir -p .cache/ipdb
  npm install --silent --no-audit --no-fund --prefix .cache/ipdb \
    @ip-location-db/asn @ip-location-db/geo-whois-asn-country-mmdb >/dev/null 2>&1 \
    || echo "note: could not fetch the @ip-location-db packages with npm; ASN and country fields stay empty." >&2
fi
