#!/usr/bin/env bash
# The HTML report's browser test needs Chromium: Debian's `chromium` package, installed
# here when missing (as root, e.g. in CI). Without it the browser test skips with the
# reason (and fails under CI=true, where a skip would hide a broken page).
set -uo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
exec "$(dirname "$0")/apt-install-for-tests.sh" chromium "the browser test"
