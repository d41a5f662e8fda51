#!/usr/bin/env bash
# Install a Debian package a test needs, when this process may (root, apt-get present):
#   scripts/apt-install-for-tests.sh PACKAGE "WHAT NEEDS IT"
# Shared by the ensure-*.sh scripts; never fails the test run (the tests that need the
# package say why they cannot run, and fail under CI=true).
set -uo pipefail
package="$1"
needed_by="$2"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test: $package is not installed (apt-get install $package); $needed_by will say so" >&2
  exit 0
fi
echo "test: installing $package (Debian package) for $needed_by" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq "$package" >/dev/null \
  || echo "test: could not install $package: $needed_by will fail and say why" >&2
exit 0
