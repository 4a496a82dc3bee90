#!/usr/bin/env bash
# check-generate.sh — fail if the committed thriftgen/ differs from what
# scripts/generate.sh produces from idl/*.thrift.
#
# Without a thrift compiler the check is skipped (exit 0) unless
# REQUIRE_THRIFT=1 is set, in which case it fails.
set -euo pipefail

script_dir="${BASH_SOURCE[0]%/*}"
[ "$script_dir" = "${BASH_SOURCE[0]}" ] && script_dir=.
root="$(cd "$script_dir/.." && pwd)"

if ! command -v thrift >/dev/null 2>&1; then
	if [ "${REQUIRE_THRIFT:-0}" = "1" ]; then
		echo "check-generate: FAIL: thrift compiler not installed and REQUIRE_THRIFT=1" >&2
		exit 1
	fi
	echo "check-generate: skipped: thrift compiler not installed"
	exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$root/scripts/generate.sh" "$tmp/thriftgen" >/dev/null

status=0
for pkg in trees event product; do
	if ! diff -ru "$root/thriftgen/$pkg" "$tmp/thriftgen/$pkg" >"$tmp/$pkg.diff" 2>&1; then
		status=1
		echo "check-generate: thriftgen/$pkg is out of date with idl/ (diff below)" >&2
		head -n 40 "$tmp/$pkg.diff" >&2
	fi
done
if [ "$status" -ne 0 ]; then
	echo "check-generate: FAIL: run scripts/generate.sh and commit the result" >&2
	exit 1
fi
echo "check-generate: ok: thriftgen/ matches idl/"
