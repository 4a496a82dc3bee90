// Command xchat-bot is an example XChat bot built on package bot: it
// answers !echo, !help (generated from its commands), !whoami (the
// safety number of the sender and the bot) and !file (a file sent with
// that caption comes back, decrypted and re-encrypted, with its SHA-256),
// in one-to-one conversations and in the groups it is added to.
//
//	xchat-bot [--home DIR] [--api URL] [--token T] [--no-passphrase] [flags]
//
// The account is one made with "xchat init" and "xchat keys register",
// opened as xchat opens it (same flags, XCHAT_HOME, XCHAT_API,
// XCHAT_TOKEN, XCHAT_PASSPHRASE). Events arrive by the Activity stream
// (--app-token or XCHAT_APP_TOKEN), a webhook (--transport webhook) or
// polling; every flag also reads an environment variable (see --help).
// --health ADDR serves /healthz, /readyz and /metrics. Logs (log/slog) go
// to stderr. SIGINT and SIGTERM stop it after the handlers in flight.
// The implementation is in internal/botcli.
package main

import (
	"os"

	"github.com/xchat-go/xchat/internal/botcli"
)

func main() {
	os.Exit(botcli.Main(os.Args[1:]))
}
