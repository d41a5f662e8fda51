#!/usr/bin/env bash
# Cron entry point: `dxa run ARGS...` with each output line stamped with the local time
# (ISO 8601 with the UTC offset), stdout and stderr in order, and dxa's own exit code
# (0 loaded or skipped, 2 inputs failed or none found, 1 the run could not complete).
# Paths in ARGS are read from the caller's folder, as `dxa run` itself reads them (and so
# is a dxa.toml there); dxa runs from this repository's .venv, found from the script's
# own place (through a symbolic link to it too).
set -uo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
stamp() {
  while IFS= read -r line; do printf '%s %s\n' "$(date '+%Y-%m-%dT%H:%M:%S%z')" "$line"; done
}
"$repo/.venv/bin/dxa" run "$@" 2>&1 | stamp
exit "${PIPESTATUS[0]}"
