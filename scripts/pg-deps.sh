#!/usr/bin/env bash
# Makes sure PostgreSQL's server binaries (Debian's postgresql package) are
# installed: the keystore/pgstore and multi-replica tests start a throwaway
# cluster from them (internal/pgtest) and fail, never skip, without them.
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "pg-deps: PostgreSQL is required by the tests: sudo apt-get install postgresql" >&2
  exit 1
fi
echo "pg-deps: installing postgresql (for the PostgreSQL keystore tests)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
