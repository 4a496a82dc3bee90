#!/usr/bin/env bash
# Runs every fuzz target in the module for the given budget each (default 60s).
set -euo pipefail
budget=${1:-60s}
cd "$(dirname "$0")/.."
fail=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort -u); do
    echo "fuzz: $pkg $target ($budget)"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" "$pkg"; then
      echo "fuzz: $pkg $target FAILED (see above; a crasher, if one was found, is saved under $dir/testdata/fuzz/$target)"
      fail=1
    fi
  done
done
exit $fail
