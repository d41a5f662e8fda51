#!/usr/bin/env bash
# The HTML report's browser test needs Chromium: Debian's `chromium` package, installed
# here when missing (as root, e.g. in CI). Without it the browser test skips with the
# reason (and fails under CI=true, where a skip would hide a broken page).
set -uo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test: chromium is not installed (apt-get install chromium); the browser test will say so" >&2
  exit 0
fi
echo "test: installing chromium (Debian package) for the HTML report test" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq chromium >/dev/null \
  || echo "test: could not install chromium: the browser test will fail and say why" >&2
exit 0
