#!/usr/bin/env bash
# generate.sh — regenerate the Go Thrift bindings in thriftgen/ from idl/*.thrift.
#
# Usage: scripts/generate.sh [OUTDIR]
#   OUTDIR defaults to <repo>/thriftgen. The output is deterministic for a given
#   compiler version, so scripts/check-generate.sh can diff it.
#
# Requires the Apache Thrift compiler 0.17.x (Debian: apt-get install thrift-compiler),
# matching github.com/apache/thrift v0.17.0 in go.mod.
set -euo pipefail

script_dir="${BASH_SOURCE[0]%/*}"
[ "$script_dir" = "${BASH_SOURCE[0]}" ] && script_dir=.
root="$(cd "$script_dir/.." && pwd)"
out="${1:-$root/thriftgen}"
want_version="0.17."

if ! command -v thrift >/dev/null 2>&1; then
	echo "generate: thrift compiler not found (install thrift-compiler 0.17)" >&2
	exit 1
fi
version="$(thrift --version | awk '{print $3}')"
case "$version" in
"$want_version"*) ;;
*)
	echo "generate: need thrift ${want_version}x, found ${version}" >&2
	exit 1
	;;
esac

gen_opts="package_prefix=github.com/xchat-go/xchat/thriftgen/"
gen_opts+=",thrift_import=github.com/apache/thrift/lib/go/thrift"
gen_opts+=",skip_remote"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# One run per IDL file (no -r): every file we own is generated exactly once,
# in a fixed order.
for idl in trees event product; do
	thrift -I "$root/idl" -out "$tmp" --gen "go:${gen_opts}" "$root/idl/${idl}.thrift"
done
gofmt -w "$tmp"

# Replace only the generated package directories, keeping anything else
# (e.g. a hand-written doc.go) in OUTDIR untouched.
mkdir -p "$out"
for pkg in trees event product; do
	rm -rf "${out:?}/$pkg"
	cp -R "$tmp/$pkg" "$out/$pkg"
done
echo "generate: wrote $(find "$out" -name '*.go' | wc -l | tr -d ' ') files to $out"
