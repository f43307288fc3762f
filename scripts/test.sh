#!/usr/bin/env bash
# Set up (first time only) and run every test, browser tests included. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt
if ! command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "Browser tests need Chromium: sudo apt-get install -y chromium (or set CHROMIUM=/path/to/chromium)." >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
