#!/usr/bin/env bash
# Create .venv and install the locked dependencies plus this package (editable).
# Idempotent: re-installs only when pylock.toml or pyproject.toml changed.
#
# uv installs straight from pylock.toml (PEP 751) and checks every artifact against the
# lock's sha256; pip only installs uv itself (the version the lock pins) on first use.
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
  uv_pin="$(sed -n '/^name = "uv"$/{n;s/^version = "\(.*\)"$/\1/p}' pylock.toml)"
  if [ ! -x .venv/bin/uv ] || [ "$(.venv/bin/uv --version | cut -d' ' -f2)" != "$uv_pin" ]; then
    echo "bootstrap: installing uv $uv_pin" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$uv_pin" 2>&1 \
      | { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2
  fi
  echo "bootstrap: installing locked dependencies (pylock.toml, hash-checked)..." >&2
  # bytecode compiled here: a `dxa run` then imports Prefect's server without compiling
  # it (several seconds of each run's fixed cost where __pycache__ cannot be written)
  .venv/bin/uv pip sync --quiet --compile-bytecode --python .venv/bin/python pylock.toml
  .venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps -e .
  .venv/bin/python -m compileall -q pipelines schemas sources transforms samplegen >/dev/null
  echo "$want" > "$stamp"
fi
