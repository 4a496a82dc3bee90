#!/usr/bin/env bash
# Manual check of real-time delivery with the real binaries: starts xchatd,
# provisions alice and bob, runs `xchat watch --json` for bob (Activity
# stream) and sends N messages from alice with `xchat send`, printing for
# each the time from starting the send to the line appearing on watch's
# stdout. Passphrase-protected keystores, as a user would have them.
#
#   scripts/watch-latency.sh [N]        (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
nopass=() # passphrase-protected keystores
work=$(mktemp -d "${TMPDIR:-/tmp}/xchat-latency.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. scripts/lib-xchatd.sh
build_binaries xchatd xchat
start_xchatd
make_users alice bob

mkfifo "$work/watch.out"
XCHAT_APP_TOKEN=$app_token "$work/xchat" --home "$work/bob" --token "${token[bob]}" watch --json \
  >"$work/watch.out" 2>"$work/watch.err" &
pids+=($!)
exec 3<"$work/watch.out"
for _ in $(seq 200); do grep -q 'stream: connected' "$work/watch.err" 2>/dev/null && break; sleep 0.05; done
grep -q 'stream: connected' "$work/watch.err" || { cat "$work/watch.err" >&2; exit 1; }

for i in $(seq "$n"); do
  text="latency check $i $RANDOM"
  start=$(date +%s%N)
  "$work/xchat" --home "$work/alice" --token "${token[alice]}" send --to "${id[bob]}" "$text" >/dev/null &
  while IFS= read -r line <&3; do
    case $line in *"$text"*) break ;; esac
  done
  shown=$(date +%s%N)
  wait $!
  case $line in *'"verified":true'*) ok=verified ;; *) ok="NOT VERIFIED: $line" ;; esac
  printf 'message %d: shown %d ms after starting xchat send (%s)\n' "$i" $(((shown - start) / 1000000)) "$ok"
done
grep -E 'error|polling' "$work/watch.err" >&2 || true
