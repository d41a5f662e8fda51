#!/usr/bin/env bash
# Set up (first time), lint, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
export PREFECT_HOME
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
