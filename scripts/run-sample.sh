#!/usr/bin/env bash
# Set up (first time) and run the nightly flow on sample_data/ into registry.duckdb.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
exec .venv/bin/dxa run sample_data --db "${DXA_DB:-registry.duckdb}" "$@"
