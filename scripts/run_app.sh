#!/usr/bin/env bash
# Set up (first time only) and run the app: http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
# Your own machine: models may be loaded from local folders (a hosted server leaves this off).
export BERT_LENS_ALLOW_LOCAL_PATHS="${BERT_LENS_ALLOW_LOCAL_PATHS:-1}"
export BERT_LENS_MODELS="${BERT_LENS_MODELS:-any}"  # any hub id (a hosted server lists the ones it allows)
exec .venv/bin/python -m streamlit run app.py "$@"
