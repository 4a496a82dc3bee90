// Command xchat is the reference command-line client of xchat-go: end-to-end
// encrypted X Chat from the terminal.
//
//	xchat [--home DIR] [--api URL] [--token T] [--no-passphrase] COMMAND …
//
// Global flags may come before or after the command. --home (env
// XCHAT_HOME, default $XDG_CONFIG_HOME/xchat) is the account directory
// holding the encrypted keystore; --api (env XCHAT_API) the API base URL,
// remembered from init or login; --token (env XCHAT_TOKEN) a bearer token,
// otherwise the token stored by "xchat login" is used and refreshed. The
// keystore passphrase comes from XCHAT_PASSPHRASE or a prompt on the
// terminal; XCHAT_NO_PROMPT=1 forbids prompts. "xchat help environment"
// lists every variable; "xchat --version" prints the version.
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
//	media get --conversation ID SEQ [-o FILE [--force]]
//	export-keys [-o FILE] | import-keys --user-id ID FILE
//	backup setup | status | change-pin | delete   PIN-protected key backup (Juicebox;
//	                                       PIN from XCHAT_PIN / XCHAT_NEW_PIN or the terminal)
//	restore --user-id ID                   recover the keys from the PIN backup (new home)
//	passphrase change
//	outbox [--flush | --drop MESSAGE_ID]
//	dm send --to USER_ID TEXT | dm list     legacy DMs, NOT end-to-end encrypted
//
// Results go to stdout (--json: one JSON object per line, on every command
// that prints a result); prompts go to the terminal, progress and warnings
// to stderr, errors to stderr as "xchat: error: …". Exit status: 0 success,
// 1 failure, 2 usage error, 4 authentication needed (token refused or
// missing, wrong passphrase). "read" exits 0 when the conversation was read
// even if some events failed verification (they are marked ✗ and reported
// on stderr); with --strict it exits 1 in that case.
//
// A send that is not delivered stays, encrypted and signed, in the outbox
// (the error says so); "xchat outbox --flush" or the next send to the
// conversation delivers it, and sending the same text again delivers the
// queued copy instead of a second one.
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
