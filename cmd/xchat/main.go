// Command xchat is the reference command-line client of xchat-go: end-to-end
// encrypted X Chat from the terminal.
//
//	xchat [--home DIR] [--api URL] [--token T] [--no-passphrase] COMMAND …
//
// Global flags come before the command. --home (env XCHAT_HOME) is the
// account directory holding the encrypted keystore; --api (env XCHAT_API)
// the API base URL, remembered from init or login; --token (env XCHAT_TOKEN)
// a bearer token, otherwise the token stored by "xchat login" is used and
// refreshed. The keystore passphrase comes from XCHAT_PASSPHRASE or a prompt
// on the terminal; XCHAT_NO_PROMPT=1 forbids prompts.
//
// Commands:
//
//	init --user-id ID [--new-keys]         create the keystore and keys (offers restore
//	                                       when the account already has keys)
//	login --client-id ID                   OAuth 2.0 PKCE sign-in; stores the token
//	keys register | show [USER_ID] | verify USER_ID
//	send --to USER_ID | --conversation ID [--reply-to SEQ] [--file PATH] TEXT
//	react | edit | delete                  reactions, edits, deletions by sequence id
//	read --conversation ID [--json] [--strict]
//	watch [--conversation ID] [--interval D]
//	conversations [--json]
//	group create --members IDS [--admins IDS] [--name N] | add | rotate
//	media get --conversation ID SEQ [-o FILE]
//	export-keys [-o FILE] | import-keys --user-id ID FILE
//	backup setup | status | change-pin | delete   PIN-protected key backup (Juicebox;
//	                                       PIN from XCHAT_PIN / XCHAT_NEW_PIN or the terminal)
//	restore --user-id ID                   recover the keys from the PIN backup (new home)
//	passphrase change
//	outbox [--flush]
//	dm send --to USER_ID TEXT | dm list     legacy DMs, NOT end-to-end encrypted
//
// Results go to stdout (one JSON object per line with --json); prompts go
// to the terminal, progress and warnings to stderr, errors to stderr as
// "xchat: error: …". Exit status: 0 success, 1 failure, 2 usage error.
// "read" exits 0 when the conversation was read even if some events failed
// verification (they are marked ✗ and reported on stderr); with --strict it
// exits 1 in that case.
//
// "xchat COMMAND --help" describes each command with an example. The
// implementation lives in internal/cli (flags and output) and session (the
// engine).
package main

import (
	"os"

	"github.com/xchat-go/xchat/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
