#!/usr/bin/env bash
# Create .venv and install the pinned requirements file given (default requirements.txt).
# Re-installs only when a requirements file changed, so repeated runs start in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=${1:-requirements.txt}
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-${requirements%.txt}"
if [ ! -f "$stamp" ]; then
  # Few retries: where the PyTorch CPU index is unreachable, pip would otherwise wait on it for minutes
  # before taking torch from its other sources.
  .venv/bin/pip install --retries "${PIP_RETRIES:-1}" -r "$requirements"
  touch "$stamp"
fi
