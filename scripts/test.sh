#!/usr/bin/env bash
# Set up (first time), lint, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
./scripts/ensure-chromium.sh
./scripts/ensure-postgresql.sh
# The suite's Prefect state stays inside the checkout, away from the user's ~/.prefect.
export PREFECT_HOME="${PREFECT_HOME:-$PWD/.prefect}"
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
