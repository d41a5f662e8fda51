#!/usr/bin/env bash
# Cron entry point: `dxa run ARGS...` with each output line stamped with the local time
# (ISO 8601 with the UTC offset), stdout and stderr in order, and dxa's own exit code
# (0 loaded or skipped, 2 inputs failed or none found, 1 the run could not complete).
set -uo pipefail
cd "$(dirname "$0")/.."
stamp() {
  while IFS= read -r line; do printf '%s %s\n' "$(date '+%Y-%m-%dT%H:%M:%S%z')" "$line"; done
}
.venv/bin/dxa run "$@" 2>&1 | stamp
exit "${PIPESTATUS[0]}"
