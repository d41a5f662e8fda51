#!/usr/bin/env bash
# The DuckLake registry's tests need a real PostgreSQL server (the catalog): Debian's
# `postgresql` package, installed here when missing (as root, e.g. in CI). The tests
# start and stop their own server in a temporary folder (tests/registry/postgres_server.py);
# nothing here starts one. Without the package those tests skip with the reason (and fail
# under CI=true, where a skip would hide a broken backend).
set -uo pipefail
for bin in initdb pg_ctl; do
  if ! command -v "$bin" >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/"$bin" >/dev/null 2>&1; then
    missing=1
  fi
done
if [ -z "${missing:-}" ]; then
  exit 0
fi
exec "$(dirname "$0")/apt-install-for-tests.sh" postgresql "the DuckLake tests"
