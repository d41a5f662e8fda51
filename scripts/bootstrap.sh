#!/usr/bin/env bash
# Create .venv and install the locked dependencies plus this package (editable).
# Idempotent: re-installs only when pylock.toml or pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $($PYTHON --version 2>&1)" >&2
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.dxa-installed
want="$(cat pylock.toml pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing locked dependencies (pylock.toml, hash-checked)..." >&2
  pins="$(mktemp)"
  .venv/bin/python scripts/pylock_requirements.py pylock.toml > "$pins"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$pins" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2
  rm -f "$pins"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e . 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2
  echo "$want" > "$stamp"
fi
# Prefect keeps its local state (ephemeral API database) inside the project.
export PREFECT_HOME="${PREFECT_HOME:-$PWD/.prefect}"
