// Package session is the XChat engine that applications embed: one
// account's keys, its peers, conversations and groups, sending and syncing,
// with every check a careful client makes. It speaks the wire protocol of
// X's official Chat XDK byte for byte (request bodies, Thrift encodings and
// signed strings are reproduced exactly; see interop_test.go).
//
// # Lifecycle
//
//	store := keystore.NewMemory()                   // or boltstore.Open(path, ...)
//	session.CreateAccount(ctx, store, userID, nil)  // once: fresh keys
//	e, _ := session.Open(ctx, store, session.NewAPIServer(client))
//	e.Register(ctx)                                 // publish the public keys
//	e.SendText(ctx, peerID, "hello")                // keys the 1:1 on first use
//	res, _ := e.Sync(ctx, peerID)                   // fetch, verify, decrypt, store
//	hist, _ := e.History(ctx, peerID, "", 0)        // read back, offline
//
// The engine talks to the server only through the Server interface
// (NewAPIServer adapts *api.Client) and stores everything through
// keystore.Store. An Engine is safe for concurrent use; operations on one
// conversation are serialised.
//
// # Trust
//
// The server is untrusted. Peer keys are fetched from it but each key set's
// binding signature is checked and the keys are pinned on first use
// (TrustOnFirstUse, the default); a later change is pinned too but reported
// loudly (KeyChanged, WithKeyChangeHandler) and the next send rotates the
// conversation key to it. Under TrustStrict nothing is wrapped to a key the
// user has not verified with Verify (compare SafetyNumber out of band).
// Every received event is verified against pinned keys before it is
// decrypted; conversation key versions only move forward (a replayed older
// key change never becomes the encryption key); transcripts are checked for
// gaps, forks, reorders and equivocation (SyncResult.Anomalies); a server
// response to a send must be the message sent. Events that fail a check are
// stored as failed, with the reason, and take no effect: malformed ids
// (ErrMalformed), authors outside the conversation or the group
// roster at that point of the transcript (ErrNotMember), group changes and
// deletes-for-all the author may not make (ErrNotAuthorized), group changes
// that do not fit the roster held (ErrRosterDivergence), and old events
// re-sequenced by the server (ErrReplayed). Endless pagination stops the
// sync with ErrServerResponse.
//
// What the protocol cannot give, the engine cannot either: there is no
// forward secrecy and no post-compromise security (conversation keys are
// long-lived and wrapped to long-term identity keys), and unsigned envelope
// fields (sequence ids, timestamps, TTL, notify flags, group admin lists in
// a group create) are server assertions.
//
// # Sending
//
// Every message is encrypted under the conversation's newest verified key,
// signed (signature version 7) and stored in the outbox before any network
// call; a success removes it in the same store transaction that records the
// server's copy. Nothing in the outbox is lost or sent twice:
//
//   - A failure that is not a definite, content-related rejection leaves
//     the send queued (*QueuedError, ErrQueued): network failures, 401 and
//     403 (a token to renew), 429 and 5xx. A rejection removes it and says
//     what was not sent and why (*RejectedError, ErrRejected); a send
//     refused for a stale key is sealed again under the current one.
//   - Before a send whose earlier attempt may have arrived is repeated, the
//     conversation is synced and searched for its message id: the spec
//     does not promise that the server de-duplicates. A repeated delete
//     answered 404 has taken effect.
//   - A conversation's sends go out in order: each send first delivers the
//     older pending ones (Sent.Flushed) or waits behind them; sending text
//     identical to a pending send (a resend by hand) delivers the pending
//     one (Sent.Duplicate). FlushOutbox retries everything pending.
//
// Replies embed the original's signed event (and its edit and key change
// when needed) so recipients can validate the quoted preview.
//
// # Groups
//
// CreateGroup and AddMembers send the key change and the group change as
// the two action signatures the server requires; AddMembers rotates the
// key to the enlarged roster.
//
// A group's roster follows signed group changes only, in transcript order
// (a sync of several pages reads them oldest first): the group's create,
// bound to the group by the key change made with it (the create itself does
// not sign the conversation id), then member adds read against the roster
// held (their new, current and admin lists are signed as one sequence),
// removals and admin changes by admins. The server's listing and key-change
// participant lists never decide who is a member; keys are wrapped to the
// roster only. Where XChat signs too little, Conversation.Roster and
// SyncResult.Roster say so: RosterUnconfirmed when the roster starts after
// the group's creation (this account joined later: RosterSince) or an
// admin's rights rest on the create's unsigned admin list
// (ClaimedAdmins, UnconfirmedMembers), RosterUnknown when no signed change
// establishes it (no key is wrapped: ErrRosterUnknown). Under TrustStrict
// no key is wrapped to an unconfirmed member (ErrRosterUnconfirmed). Group
// changes that do not fit the roster fail with ErrRosterDivergence and are
// reported (AnomalyRosterDivergence, AnomalyCreateRejected,
// AnomalyCreateReplayed). Group titles are encrypted under the group's
// conversation key before they leave the engine (the REST group_name and the
// signed GroupCreate title carry the same ciphertext), the SDK's
// encrypt(text, key) form that its documentation prescribes for group_name;
// a title another client signed in plaintext is shown as it is.
//
// # Key backup
//
// The account's private keys can be backed up under a PIN with Juicebox,
// as X's apps do (package juicebox; realms and tokens come from the
// juicebox_config the X API returns to the account): SetupBackup,
// BackupStatus, ChangeBackupPIN and DeleteBackup on an Engine, and
// RestoreAccount on a new device, which stores the recovered keys only
// after checking they are the account's newest registered keys. X's PIN
// rules (CheckNewPIN) apply to new PINs; a wrong PIN costs one of the
// account's guesses (InvalidPINError), and the limit locks the backup for
// good (ErrBackupLocked). The server chooses the realms: a server that
// controls them all could brute-force the PIN offline; the engine refuses
// configurations that would weaken the PIN stretch or the realms' majority.
package session
