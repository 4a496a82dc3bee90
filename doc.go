// Package xchat is the root of xchat-go, a pure-Go engine for X's
// end-to-end encrypted Chat (XChat), byte-compatible with X's official Chat
// XDK. It holds what every layer of the module shares: the errors an app
// tells apart. The work is done in the packages below it:
//
//   - session: the Engine apps embed (one account's keys, peers,
//     conversations and groups, sending and syncing), with session/event
//     (what the engine hands an app), session/realtime (pushed events) and
//     session/backup (PIN backup with Juicebox);
//   - bot: a bot SDK on the engine;
//   - keystore and its backends: durable, encrypted-at-rest state;
//   - api: a typed X API v2 client; emulator: a local server of the same
//     API, for tests, demos and offline development;
//   - crypto and wire: the primitives, the signed strings and the Thrift
//     codec.
//
// # Errors
//
// One family of sentinel errors covers the calls and what an event can
// carry in Event.Err (Entry.Error holds its text). They come wrapped with
// detail: test with errors.Is, and errors.As for *QueuedError and
// *RejectedError. The receive pipeline tells some of them apart more finely
// for diagnostics (the text says which signature check failed, say); every
// such error matches the sentinel of its row.
//
//	Error                   Meaning                                          What the app should do
//	----------------------  -----------------------------------------------  ----------------------------------------
//	Opening an account
//	ErrNoAccount            the store holds no account                       CreateAccount (or ImportBackup,
//	                                                                         backup.Restore), then Open
//	ErrAccountExists        the store already holds an account               Open it
//	ErrNotRegistered        the account's keys are not published yet         Register
//	ErrClosed               the engine was closed                            Open the store again
//	ErrOffline              the engine was opened without a server           Open it with one for network calls
//	ErrInvalidArgument      a malformed argument or option                   fix the call; retrying cannot help
//	Peers and trust
//	ErrNoPeerKeys           the peer published no usable keys                wait until the peer registers
//	ErrKeyBinding           the peer's published keys are not bound by       treat as an attack; do not message
//	                        their signature: a forged key set                the peer until it is resolved
//	ErrKeyChanged           TrustStrict: the peer's keys changed since       compare SafetyNumber out of band,
//	                        they were verified (Verify: since the number     then Verify
//	                        was shown)
//	ErrUnverifiedPeer       TrustStrict: the peer was never verified         compare SafetyNumber, then Verify
//	Conversations and groups
//	ErrUnknownConversation  the engine holds nothing of that conversation    RefreshConversations or Sync first
//	ErrNoConversationKey    no conversation key is held                      Sync (the key change may arrive), or
//	                                                                         send, which sets a 1:1 key up
//	ErrNotMember            this account, or a user named, is not a member;  operations: check the ids; events: show
//	                        as Event.Err: the author was not a member at     as failed, never as from the author
//	                        that point of the transcript (or the 1:1's)
//	ErrRosterUnknown        no signed group change establishes the roster    Sync the group; no key is wrapped to a
//	                        (Conversation.Roster is RosterUnknown)           roster the engine cannot confirm
//	ErrRosterUnconfirmed    TrustStrict: members' place rests on trust on    confirm them (see Conversation.
//	                        first use                                        UnconfirmedMembers) or use TOFU
//	Sending
//	ErrQueued               not delivered; kept in the outbox, encrypted,    show as pending; FlushOutbox later (the
//	                        with its message id (*QueuedError)               same message id is reused)
//	ErrRejected             refused for good by the server and dropped       tell the user what was not sent and why
//	                        from the outbox (*RejectedError)
//	ErrAudienceGrew         a queued group send refused for a stale key,     show its text (RejectedError.Text); the
//	                        not sealed again: the group gained members       user sends it again if the new members
//	                        since it was written (cause inside               should read it
//	                        *RejectedError)
//	ErrOutboxBusy           another replica is delivering this               nothing: that replica sends them
//	                        conversation's pending sends
//	ErrMediaTooLarge        media above the upload limit (512 MiB)           send something smaller
//	ErrKeyReplaced          a media send's key was replaced while the file   send it again (nothing was sent)
//	                        uploaded: not sealed under the old key
//	The server's answers
//	ErrServerResponse       an answer that is malformed or does not match    retry later; report if it persists
//	                        the request (endless paging, a wrong echo)
//	ErrMediaTruncated       downloaded media shorter than announced          download again; do not show it
//	ErrDeliveryRejected     Delivered.Err: a pushed event that cannot be     nothing: the next reconciliation
//	                        routed, or held back (no roster of its group     fetches the conversation from /events
//	                        yet: with ErrRosterUnknown)
//	Events (Event.Err)
//	ErrMalformed            not a well-formed event (bytes, ids, bounds)     show as failed
//	ErrSignature            no valid signature by the sender's pinned key    show as failed, never as the sender's
//	ErrUnknownKeyVersion    sealed under a key version this account does     show as not readable yet; a later Sync
//	                        not hold (see AnomalyMissingKey)                 may bring the key change
//	ErrDecrypt              verified, but the contents do not decrypt        show as failed
//	ErrNotAuthorized        a member doing what only an admin, or the        show as failed; it was not applied
//	                        message's author, may do
//	ErrRosterDivergence     a group change that does not fit the roster      show as failed; the transcripts differ
//	                        held (AnomalyRosterDivergence and others)        (see SyncResult.Anomalies)
//	ErrReplayed             a genuine event served again out of place (new   ignore it: the original keeps its place
//	                        sequence id, or another conversation)
//	ErrKeyConflict          a second, different key for a key version held   show as failed; the held key is kept
//	                                                                         and its author equivocates
//
// An event whose Err is set was stored as failed and took no effect. The
// same sentinels describe KeyChange.KeyErr (why a key change gave this
// account no key) and Event.Warnings; the Reason of an invalid reply
// preview explains PreviewValidation.Status, which is what to act on.
//
// Names in the table without a package are package session's
// (CreateAccount, ImportBackup, Open, the Engine's methods, Conversation,
// SyncResult, Delivered, the trust policies) or session/event's (Event,
// Entry, KeyChange, PreviewValidation, the anomaly kinds); backup.Restore
// is package session/backup's.
package xchat
