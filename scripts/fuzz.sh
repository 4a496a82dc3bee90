#!/usr/bin/env bash
# Runs every fuzz target in the module (or in the packages given after the
# budget) for the given budget each (default 60s):
#   scripts/fuzz.sh [BUDGET] [PACKAGE…]
# Fails when a target finds a crasher, fails to build, or skips (a fuzz target
# that skips has fuzzed nothing: its reference data or setup is missing).
set -euo pipefail
budget=${1:-60s}
shift || true
[ $# -gt 0 ] || set -- ./...
cd "$(dirname "$0")/.."
log=$(mktemp "${TMPDIR:-/tmp}/xchat-fuzz.XXXXXX")
trap 'rm -f "$log"' EXIT
fail=0
targets=0
for pkg in $(go list "$@"); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort -u); do
    targets=$((targets + 1))
    echo "fuzz: $pkg $target ($budget)"
    if ! go test -v -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" "$pkg" >"$log" 2>&1; then
      grep -avE '^fuzz: elapsed' "$log" | tail -40
      if grep -aq -- "--- FAIL: ${target}" "$log"; then
        echo "fuzz: $pkg $target FAILED (a crasher, if one was found, is saved under $dir/testdata/fuzz/$target)"
      else
        echo "fuzz: $pkg $target FAILED to build or run (see above)"
      fi
      fail=1
    elif grep -aq -- "--- SKIP: ${target}" "$log"; then
      grep -aB3 -- "--- SKIP: ${target}" "$log" | head -8
      echo "fuzz: $pkg $target SKIPPED: it fuzzed nothing"
      fail=1
    else
      grep -aE '^fuzz: elapsed' "$log" | tail -1 || true
    fi
  done
done
if [ "$targets" -eq 0 ]; then
  echo "fuzz: no fuzz targets found"
  exit 1
fi
if [ $fail -ne 0 ]; then
  echo "fuzz: FAILED ($targets targets)"
else
  echo "fuzz: $targets targets ran for $budget each, none skipped, no crashers"
fi
exit $fail
