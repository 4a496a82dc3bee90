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
// Three packages beside this one complete it: session/event is what the
// engine hands an app (Event, a received event decoded; Entry, its stored
// form; their contents; transcript anomalies), session/realtime follows
// pushed events (Activity stream, webhooks) with a Follower, and
// session/backup keeps the account's keys under a PIN with Juicebox.
//
// # Trust
//
// The server is untrusted. Peer keys are fetched from it but each key set's
// binding signature is checked and the keys are pinned on first use
// (TrustOnFirstUse, the default); a later change is pinned too but reported
// loudly (KeyChanged, WithKeyChangeHandler) and the next send rotates the
// conversation key to it. Under TrustStrict nothing is wrapped to a key the
// user has not verified, and nothing is encrypted for a conversation while
// one of its members (the other user, or the group's roster) has keys the
// user has not verified (ErrUnverifiedPeer) or that changed since
// (ErrKeyChanged): a key another member made was wrapped by that member's
// pinned keys, which may be the server's. Compare SafetyNumber out of
// band, then pass the number compared to Verify, which refuses
// (ErrKeyChanged) when the server published other keys meanwhile.
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
// re-sequenced by the server (ErrReplayed: a signed message id held by a
// verified event stored before, or accepted earlier in the same page,
// under another sequence id). Only a verified event holds its message id:
// an unverified one (its ids are the server's word) makes no genuine
// event a replay, binds no reply preview and acknowledges no queued send.
// A key change's key is adopted on the screening's verdict, before its
// page is stored; a page whose storing would refuse a key change already
// adopted as usable is not stored (ErrServerResponse). Endless pagination
// stops the sync with ErrServerResponse.
//
// What the protocol cannot give, the engine cannot either: there is no
// forward secrecy and no post-compromise security (conversation keys are
// long-lived and wrapped to long-term identity keys), unsigned envelope
// fields (sequence ids, timestamps, TTL, notify flags, group admin lists in
// a group create) are server assertions, and a media blob is bound to its
// message only by its hash key and size (the server can swap in another
// blob of the same size sealed under the same conversation key: see
// DownloadMedia). Nothing signed orders an author's edits of one message,
// so which edit a message shows as its latest is the server's word (the
// one it sequences last), as long as this account has not stored them in
// another order: an edit replayed under a newer sequence id fails as
// ErrReplayed. The transcript checks cover what the server does to this
// account's view over time, not whether two members were shown the same
// transcript: a dishonest member with the server's help can give two
// members two keys under one key version and seal one signed message that
// opens under both to different texts (the cipher does not commit to its
// key; the signature covers the ciphertext).
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
//     refused for a stale key is sealed again under the current one (up
//     to four times in one call, when rotations keep overtaking it; then
//     it stays queued). A queued group send retried in a later call is
//     not sealed again if the group gained members since it was written:
//     the server decides when a send fails and when a key is stale, so it
//     could hold a send in the outbox until an add; such a send is
//     rejected (ErrAudienceGrew) and its text given back, never shown to
//     the new members. A send refused within its own call goes to the
//     group as it is then (the add precedes it in the transcript).
//   - Before a send whose earlier attempt may have arrived is repeated, the
//     conversation is synced and searched for its message id: the spec
//     does not promise that the server de-duplicates. Only a verified copy
//     under this account's sender id counts as arrived; anything else
//     under the id is the server's word, and the send is repeated. A
//     repeated delete answered 404 has taken effect.
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
// roster only. A verified key change said to be wrapped to anyone outside
// the conversation (off the roster where it stands, or a third user of a
// one-to-one conversation) is reported (AnomalyKeyWrappedToNonMember) and
// its key treated as exposed: the next send makes a new key for the
// members before encrypting anything. Where XChat signs too little, Conversation.Roster and
// SyncResult.Roster say so: RosterUnconfirmed when the roster starts after
// the group's creation (this account joined later: RosterSince) or an
// admin's rights rest on the create's unsigned admin list
// (ClaimedAdmins, UnconfirmedMembers), RosterUnknown when no signed change
// establishes it (no key is wrapped: ErrRosterUnknown). Under TrustStrict
// no key is wrapped to an unconfirmed member (ErrRosterUnconfirmed). Group
// changes that do not fit the roster fail with ErrRosterDivergence and are
// reported (AnomalyRosterDivergence, AnomalyCreateRejected,
// AnomalyCreateReplayed). Sequence ids are not signed, so nothing signed
// orders an add of someone before a removal of them: a removal naming a
// non-member changes no membership but is reported
// (AnomalyRosterDivergence) and kept with the roster, as are the ids a
// removal read before any roster names; a later add of an id so named is
// refused (ErrRosterDivergence) and starts no roster; an honest remove and
// re-add of a member still re-admits. A removal or admin revocation stored
// below events already stored (the server withheld it, then served or
// pushed it) is read as taking effect at its place: what the removed
// member signed above it is marked failed (ErrNotMember) and a key she
// distributed there is no longer verified; a group change the revoked
// admin made there that needs an admin is marked failed
// (ErrNotAuthorized); the members and admins such a failed change granted
// are taken back from the roster (AnomalyRosterDivergence each), and a
// title it set is undone (the title is the one verified changes set
// last). A key
// is usable only once its key change is stored as served, at its sequence
// id. Group titles are encrypted under the group's
// conversation key before they leave the engine (the REST group_name and the
// signed GroupCreate title carry the same ciphertext), the SDK's
// encrypt(text, key) form that its documentation prescribes for group_name;
// a title another client signed in plaintext is shown as it is. The
// server's group_name is signed by nobody: it fills in an unknown title only
// when it opens under the key new content goes under, made by a member the
// roster vouches for and wrapped to nobody off the roster (no older key,
// which a removed member or an outsider may hold, authenticates it).
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
//	ErrMediaTooLarge        media above MaxMediaBytes                        send something smaller
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
// # Key backup
//
// The account's private keys can be backed up under a PIN with Juicebox,
// as X's apps do: see package session/backup. ExportBackup and
// ImportBackup move the same 64-byte key blob by hand (the XDK's
// exportKeys and importKeys).
package session
