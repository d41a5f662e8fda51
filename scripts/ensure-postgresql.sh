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
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test: postgresql is not installed (apt-get install postgresql); the DuckLake tests will say so" >&2
  exit 0
fi
echo "test: installing postgresql (Debian package) for the DuckLake registry tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq postgresql >/dev/null \
  || echo "test: could not install postgresql: the DuckLake tests will fail and say why" >&2
exit 0
