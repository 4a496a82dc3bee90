#!/usr/bin/env bash
# Runs every Go test once, verbosely into a log, and prints what a reader needs:
# the per-suite summary lines (vector counts, interop matrix, attack and fault
# figures), one line per package, and on failure the failing tests' output.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp "${TMPDIR:-/tmp}/xchat-test.XXXXXX")
rec=$(mktemp -d "${TMPDIR:-/tmp}/xchat-exchanges.XXXXXX")
trap 'rm -rf "$log" "$rec"' EXIT
# Every emulator the suites start (in process or as xchatd) records its
# exchanges; the contract test then validates them all against the OpenAPI
# documents (internal/contract).
XCHAT_CONTRACT_RECORD="$rec" go test -count=1 -v "$@" ./... >"$log" 2>&1
rc=$?
XCHAT_CONTRACT_REPLAY="$rec" go test -count=1 -v -run '^TestContractRecorded$' ./internal/contract >>"$log" 2>&1 || rc=1
grep -aE '^[[:space:]]*[a-z_./-]+_test\.go:[0-9]+: (wycheproof |xchat\.json:|official |juicebox [a-z]+: |testref: |readme: |keystore damage: )' "$log" | sed -E 's/^[[:space:]]*[^ ]+ //' | sort -u
grep -aE '^(interop|attacks|mutations|mutations-strict|mutations-dm|mutations-dm-ext|mutations-ext|rejudge-cost|faults|crash|keylookups|realtime|juicebox|replicas|bot): ' "$log" | sort -u
grep -aE '^contract: ' "$log" | tail -1
grep -aE '^(ok|FAIL|\?)[[:space:]]' "$log" | grep -v 'no test files'
if [ $rc -ne 0 ]; then
  echo "---- failures ----"
  grep -aE -B2 -A25 '^[[:space:]]*--- FAIL|^panic:' "$log" | head -400
fi
exit $rc
