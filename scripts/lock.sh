#!/usr/bin/env bash
# Re-compile pylock.toml from pyproject.toml (keeps existing pins where they still fit).
# Then ./scripts/bootstrap.sh installs the new lock.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
exec .venv/bin/uv pip compile pyproject.toml --extra dev --extra dask --python-version 3.11 \
  --quiet -o pylock.toml "$@"
