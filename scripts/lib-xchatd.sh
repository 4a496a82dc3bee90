# Sourced by the latency scripts (not run on its own): the steps they share.
# The caller sets work (a scratch directory), pids (an array; cleanup
# interrupts them) and nopass (xchat's flags for the keystores: empty, or
# --no-passphrase) before calling these.

# build_binaries builds the named commands of ./cmd into $work.
build_binaries() {
  local b
  for b in "$@"; do go build -o "$work/$b" "./cmd/$b"; done
}

# start_xchatd starts xchatd on a free loopback port and exports XCHAT_API
# (also in $api), the test passphrase and XCHAT_NO_PROMPT.
start_xchatd() {
  "$work/xchatd" -addr 127.0.0.1:0 >"$work/xchatd.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q '^listening on ' "$work/xchatd.out" 2>/dev/null && break; sleep 0.05; done
  api=$(sed -n 's/^listening on //p' "$work/xchatd.out")
  [ -n "$api" ] || { echo "xchatd did not start" >&2; exit 1; }
  export XCHAT_API=$api XCHAT_PASSPHRASE='correct horse battery staple' XCHAT_NO_PROMPT=1
}

# field prints the string value of a JSON field of its input.
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

declare -A id token
# make_users provisions each named user on xchatd, then inits and registers
# their keystore in $work/<name>; ids and tokens land in id[] and token[],
# the app token in $app_token.
make_users() {
  local u resp
  for u in "$@"; do
    resp=$(curl -s -XPOST "$api/emulator/v1/users" -d "{\"username\":\"$u\"}")
    id[$u]=$(field id <<<"$resp")
    token[$u]=$(field access_token <<<"$resp")
    app_token=$(field app_bearer_token <<<"$resp")
    "$work/xchat" "${nopass[@]}" --home "$work/$u" --token "${token[$u]}" init --user-id "${id[$u]}" >/dev/null 2>&1
    "$work/xchat" "${nopass[@]}" --home "$work/$u" --token "${token[$u]}" keys register >/dev/null
  done
}
