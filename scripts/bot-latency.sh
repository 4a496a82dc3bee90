#!/usr/bin/env bash
# Manual check of the bot with the real binaries: starts xchatd, makes the
# accounts alice and echobot with xchat (passphrase-protected keystores),
# runs xchat-bot for echobot on the Activity stream, and has alice send
# "!echo hi N" with `xchat send` N times. For each it prints the time from
# starting `xchat send` to the server accepting the bot's answer (the
# answer's created_at), and the bot's own turnaround (from the command's
# created_at to the answer's), after checking with `xchat read` that alice
# reads the answer verified. Most of the first figure is xchat send's own
# start-up: opening a passphrase-protected keystore runs Argon2id; with
# --no-passphrase (keystores NOT protected at rest) that cost goes away.
#
#   scripts/bot-latency.sh [N] [--no-passphrase]       (default N=5)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
nopass=()
[ "${2:-}" = --no-passphrase ] && nopass=(--no-passphrase)
work=$(mktemp -d "${TMPDIR:-/tmp}/xchat-bot-latency.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. scripts/lib-xchatd.sh
build_binaries xchatd xchat xchat-bot
start_xchatd
make_users alice echobot

XCHAT_APP_TOKEN=$app_token "$work/xchat-bot" "${nopass[@]}" --home "$work/echobot" --token "${token[echobot]}" --name echobot \
  >"$work/bot.out" 2>"$work/bot.err" &
pids+=($!)
for _ in $(seq 200); do grep -q 'msg="bot: ready"' "$work/bot.err" 2>/dev/null && break; sleep 0.05; done
grep -q 'msg="bot: ready"' "$work/bot.err" || { cat "$work/bot.err" >&2; exit 1; }

ms() { echo $(( $(date -d "$1" +%s%N) / 1000000 )); }
alice() { "$work/xchat" "${nopass[@]}" --home "$work/alice" --token "${token[alice]}" "$@"; }
for i in $(seq "$n"); do
  start=$(( $(date +%s%N) / 1000000 ))
  alice send --to "${id[echobot]}" "!echo hi $i" >/dev/null
  reply=""
  for _ in $(seq 100); do
    reply=$(alice read --conversation "${id[echobot]}" --json | grep -E "^\{[^{]*\"sender_id\":\"${id[echobot]}\",[^{]*\"text\":\"hi $i\"" || true)
    [ -n "$reply" ] && break
    sleep 0.1
  done
  [ -n "$reply" ] || { echo "no answer to message $i" >&2; cat "$work/bot.err" >&2; exit 1; }
  command=$(alice read --conversation "${id[echobot]}" --json | grep -E "^\{[^{]*\"sender_id\":\"${id[alice]}\",[^{]*\"text\":\"!echo hi $i\"")
  case $reply in *'"verified":true'*) ok=verified ;; *) ok="NOT VERIFIED: $reply" ;; esac
  answered=$(ms "$(field created_at <<<"$reply")")
  sent=$(ms "$(field created_at <<<"$command")")
  printf 'message %d: answered %d ms after starting xchat send (the send reached the server after %d ms; bot turnaround %d ms) (%s)\n' \
    "$i" $((answered - start)) $((sent - start)) $((answered - sent)) "$ok"
done
grep -E 'level=(WARN|ERROR)' "$work/bot.err" >&2 || true
