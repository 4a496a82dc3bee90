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
//	res, _ := e.Sync(ctx, peerID, nil)              // fetch, verify, decrypt, store
//	hist, _ := e.History(ctx, peerID, "", 0)        // read back, offline
//
// Everything the account sends goes through Send; an Outgoing says what:
//
//	e.Send(ctx, id, session.Outgoing{Text: "hi", ReplyTo: seq})          // a reply
//	e.Send(ctx, id, session.Outgoing{Text: "minutes", Media: &file})     // a file, with a caption
//	e.Send(ctx, id, session.Outgoing{Edit: seq, Text: "fixed"})          // an edit of one's message
//	e.Send(ctx, id, session.Outgoing{React: seq, Emoji: "👍"})           // a reaction (Unreact removes it)
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
// user has not verified (xchat.ErrUnverifiedPeer) or that changed since
// (xchat.ErrKeyChanged): a key another member made was wrapped by that member's
// pinned keys, which may be the server's. Compare SafetyNumber out of
// band, then pass the number compared to Verify, which refuses
// (xchat.ErrKeyChanged) when the server published other keys meanwhile.
// Every received event is verified against pinned keys before it is
// decrypted; conversation key versions only move forward (a replayed older
// key change never becomes the encryption key); transcripts are checked for
// gaps, forks, reorders and equivocation (SyncResult.Anomalies); a server
// response to a send must be the message sent. Events that fail a check are
// stored as failed, with the reason, and take no effect: malformed ids
// (xchat.ErrMalformed), authors outside the conversation or the group
// roster at that point of the transcript (xchat.ErrNotMember), group changes and
// deletes-for-all the author may not make (xchat.ErrNotAuthorized), group changes
// that do not fit the roster held (xchat.ErrRosterDivergence), and old events
// re-sequenced by the server (xchat.ErrReplayed: a signed message id held by a
// verified event stored before, or accepted earlier in the same page,
// under another sequence id). Only a verified event holds its message id:
// an unverified one (its ids are the server's word) makes no genuine
// event a replay, binds no reply preview and acknowledges no queued send.
// A key change's key is adopted on the screening's verdict, before its
// page is stored; a page whose storing would refuse a key change already
// adopted as usable is not stored (xchat.ErrServerResponse). A group's message
// decrypted under a key only key changes of its page bring, all of them
// refused, fails (xchat.ErrUnknownKeyVersion), as it does read before them.
// Endless pagination
// stops the sync with xchat.ErrServerResponse.
//
// What the server alone can make the engine keep is bounded. Failed events
// are kept up to an allowance per conversation and across all of them
// (WithMaxFailedEvents; the rest are handed over, not stored, and reported:
// event.AnomalyFailedNotKept); each verified event stored renews it by one
// event. Conversations a listing names are recorded while fewer than
// WithMaxListedConversations recorded ones hold nothing verified; the rest
// are not recorded (ErrListingNotKept), so a listing cannot make the engine
// keep, or SyncAll sync, conversations without end. A group change whose
// title or avatar URL passes 4 KiB is malformed (xchat.ErrMalformed), and
// a sync fetches each user's keys at most once.
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
// xchat.ErrReplayed. The transcript checks cover what the server does to this
// account's view over time, not whether two members were shown the same
// transcript: a dishonest member with the server's help can give two
// members two keys under one key version and seal one signed message that
// opens under both to different texts (the cipher does not commit to its
// key; the signature covers the ciphertext).
//
// # Sending
//
// Every message is encrypted under the conversation's newest verified key,
// signed (signature version 7) and stored in the outbox before the network
// call that posts it; a success removes it in the same store transaction that records the
// server's copy. Nothing in the outbox is lost or sent twice:
//
//   - A failure that is not a definite, content-related rejection leaves
//     the send queued (*xchat.QueuedError, xchat.ErrQueued): network failures, 401 and
//     403 (a token to renew), 429 and 5xx. A rejection removes it and says
//     what was not sent and why (*xchat.RejectedError, xchat.ErrRejected); a send
//     refused for a stale key is sealed again under the current one (up
//     to four times in one call, when rotations keep overtaking it; then
//     it stays queued). A queued group send retried in a later call is
//     not sealed again if the group gained members since it was written:
//     the server decides when a send fails and when a key is stale, so it
//     could hold a send in the outbox until an add; such a send is
//     rejected (xchat.ErrAudienceGrew) and its text given back, never shown to
//     the new members. A send refused within its own call goes to the
//     group as it is then (the add precedes it in the transcript).
//   - Before a send whose earlier attempt may have arrived is repeated, the
//     conversation is synced and searched for its message id: the spec
//     does not promise that the server de-duplicates. Only a verified copy
//     under this account's sender id counts as arrived; anything else
//     under the id is the server's word, and the send is repeated. A
//     repeated delete answered 404 has taken effect.
//   - A send that needs a new conversation key first (a conversation's
//     first message, or a key that must change: a member left, a peer's
//     keys changed, the key was said to be exposed) distributes it before
//     the message is sealed under it and queued. When that fails, nothing
//     is queued: the call returns the failure as it is (neither
//     *xchat.QueuedError nor *xchat.RejectedError), and the message is to be
//     sent again; a key change whose answer was lost is found on the
//     server before it is posted again.
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
// (a sync of several pages reads them oldest first, and stores none of
// them when the server cuts its fetch short: the next sync reads them
// with what lies below): the group's create,
// bound to the group by the key change made with it (the create itself does
// not sign the conversation id; a create read before that key change is
// handed over with a warning and not stored, so a later sync reads the two
// together), then member adds read against the roster
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
// establishes it (no key is wrapped: xchat.ErrRosterUnknown). Under TrustStrict
// no key is wrapped to an unconfirmed member (xchat.ErrRosterUnconfirmed). Group
// changes that do not fit the roster fail with xchat.ErrRosterDivergence and are
// reported (AnomalyRosterDivergence, AnomalyCreateRejected,
// AnomalyCreateReplayed). Sequence ids are not signed, so nothing signed
// orders an add of someone before a removal of them: a removal naming a
// non-member changes no membership but is reported
// (AnomalyRosterDivergence) and kept with the roster, as are the ids a
// removal read before any roster names (a title, avatar or settings change
// read before any roster fails with xchat.ErrRosterUnknown and sets
// nothing); a later add of an id so named is
// refused (xchat.ErrRosterDivergence) and starts no roster; an honest
// remove and re-add of a member still re-admits. A group holds nothing
// before its create, but the server chooses on which side of it an event
// lies: below the create only its signed members and its creator stand,
// above it only members of the roster it starts (xchat.ErrNotMember). What
// a sync read before the create was served (in an earlier page or sync, or
// with the create served below it) is judged again when the create is
// stored, and a sync of a group holding no roster holds what it stores
// from fn until one is held. A group whose create is never served holds
// no roster (RosterUnknown): what it reads verifies by signature alone,
// and its group changes fail. A removal or admin
// revocation stored below events already stored (the server withheld it,
// then served or pushed it) is read as taking effect at its place: what
// the removed member signed above it is marked failed (xchat.ErrNotMember)
// and a key she distributed there is no longer verified (and whom the key
// then current was wrapped to is recorded again from its own key change,
// as a fresh device has it, or, for a key this account made, counted to
// include her: the next send makes a new key rather than seal under one
// she held as a member); a group change
// the revoked admin made there that needs an admin is marked failed
// (xchat.ErrNotAuthorized); the members and admins such a failed change
// granted are taken back from the roster (AnomalyRosterDivergence each;
// not from those who held that place or right before it), what a member
// such a change let in signed above it is marked failed (xchat.ErrNotMember),
// so is what an admin it named did above it as an admin
// (xchat.ErrNotAuthorized), and the title, avatar or screen-capture
// setting it set is undone (each is the one verified changes set last:
// this account's member adds sign them as the group's); a failed edit the
// edit index names as its message's latest gives way to the newest edit
// that stands (a reply quotes that one), and a failed delete recorded
// pending for a target not stored yet erases nothing when it arrives. A
// delete for everyone stored before the walk fails it has erased the
// content of its author's own earlier messages for good (nothing else it
// can reach; a fresh device keeps them): a limit, as keeping deleted
// content until no late change can reach it would keep it for ever. A group change above it is read against the roster it leaves: a
// member add this account read as adding nobody (the member it removes
// still held) re-admits her, a signed list still naming whom it took as a
// member or an admin does not fit there (xchat.ErrRosterDivergence, as on a
// fresh device), and whom a verified add above it gives back is put back
// on the roster, unless a member add above that failed leaves them out
// (confirmed only when the add's author was a confirmed admin as it was
// stored: an author confirmed since vouches for nobody by it); should a
// later late change fail that add, whom it gave back is taken back, and a
// member add above it whose signed admin list leaves out one whose rights
// it gave back ends them (as it does a claimed admin's). A member
// add that, as stored, added as new one the change removes fails there
// (xchat.ErrRosterDivergence), unless the change was applied when it was
// stored (a removal and re-add the same sync brings): she held no place
// below it either way, so a fresh device reads the change as removing a
// non-member and refuses the add, which the server may have moved above
// it. A late change whose author lost her place or rights above it (say,
// an admin's removal of a member, withheld while another admin revoked
// hers) is judged at its place, as a backfill (below): it stands when the
// stored chain left its place open and the changes stored below it, read
// down from it, make its author an admin there; otherwise it is judged
// against the roster held when stored and fails, as it does on a device
// the server serves the two in the other order, which unsigned sequence
// ids let it do for any device. A sync re-judges once, after its last page, in transcript order,
// for all the late changes it stored (a push at once), so a signed re-add
// or admin add the same sync brings above a late change restores the
// member before her events are judged; each stored event is read once per
// sync however many late changes it brings. Once a late change is stored,
// the events the sync stores after it are held from fn until the walk has
// judged them again (at most 1,024: past that the walk runs at once), so
// fn never sees as verified an event the walk fails. A walk a sync did
// not finish (its process died, or its context ended, after the change was
// stored) runs before the next send or key change chooses or wraps a key
// (and with the next sync or push). What re-judging fails is what a
// fresh device served the same events would fail, and no more: the server
// places unsigned sequence ids, so it may serve a genuine removal below a
// member's honest events, or withhold a re-add until a later sync (what
// failed then stays failed, the safe direction), as it may reorder or
// withhold for any device; replays of a stored removal fail
// (xchat.ErrReplayed) and re-judge nothing, and removals of this account
// re-judge nothing of its own. An event the server withheld and serves
// later at its place, below a change already stored (a backfill), is
// judged at its place when it is a message, edit, reaction or delete whose
// author the roster no longer holds: it stands when the stored chain left
// its place open (the event above it names it, or one above it, as its
// predecessor), the group changes stored below it, read down from it,
// admit its author (the nearest one deciding her membership is a verified
// create or member add naming her, every one between leaving her alone: a
// failed one that could decide it, a create, an add or a removal naming
// her, decides against), and a message's key was distributed by a verified key
// change stored below it (a key this account made is placed by its key
// change as served back and verified, above the newest event it had
// stored verified when it made the key, never by the server's answer to
// the post that made it); so a removed member's honest message from
// before her removal stays verified, as on a fresh device. A backfilled
// key change whose author is no member now is judged there too, before
// its key is adopted: it stands when its author was a member at its place
// (as above) and the newest key older than it was distributed below its
// place (one signed after a key distributed above it was made later than
// its place claims); its key then opens the events sealed under it (see
// the messages stored before their key, below) but never encrypts
// (DecryptOnlyBackfilled: its author holds it); whom it lists is judged
// for exposure there too (AnomalyKeyWrappedToNonMember names only those
// no member at its place). A backfilled
// member removal or admin revocation whose author is no admin now stands
// when she was one at its place (the nearest change below deciding her
// rights, read down from it, grants them), takes what it takes from the
// roster held, and is re-judged above as a late change; a backfilled
// member or admin add whose author lacks the rights now stands when the
// group read again from its stored group changes (at most 64, every one
// stored verified, each stepped again from no roster), with the add at
// its place, gives the roster held without it: the roster with it is then
// held, as a fresh device holds it, and the group's title, avatar and
// screen-capture setting are read again from the changes that stand; so
// is a member add by an admin whose signed roster no longer fits the
// roster held because of changes stored above its place. A backfilled
// change of the group's title, avatar or screen-capture setting does not
// replace what a later stored change set: they are read again in
// transcript order. A
// member add's key must have been distributed below it, or by its author
// just above it. What remains judged against the roster held when stored
// (failing safe): group changes other than these; a grant in a group of more than 64 group
// changes or with one stored failed; an event whose place the stored
// chain closed (the server made it up after the fact), also when an
// event stored into that place since names it as its predecessor (an
// event stored into a closed place opens none below it); an author whose
// membership or rights are decided more than 64 group changes below; a
// conversation stored before the change index existed, or with more than
// 4,096 group changes. The honest events of a member a backfilled grant
// lets in, stored failed above it before it came, stay failed. The server that leaves the chain open
// for a removed member's later message under a key she held can place it
// below her removal for a fresh device too: the protocol limit above.
// A key is usable only once its key change is stored as served, at
// its sequence id. A message (a reaction or an edit too: all are sealed
// alike) stored failed for want of its key version
// alone (the server served it and withheld its key change) is opened
// when a sync is served a verified key change of that version
// (SyncResult.Reopened; reopen.go) and handed to the sync's or push's fn
// again, verified, with Event.Reopened set (the one stored event handed
// over twice: an application that acted on its failure learns it stands):
// decrypted and its signature checked
// again, it stands when that key change is stored verified below it, its
// author is a participant (one-to-one) or, read at its place as a
// backfill is, a member (a group with no group change stored below it,
// or no roster held, admits every author, as the roster step does, even
// one a removal read later names while no member; below a create that
// started the roster, only the authors it names), its
// message id is no replay, and the authorship checks pass; the verified
// entry then replaces the failed one, with a stored message's effects
// (pending edits and deletes, the edit index, reply previews). At most
// 256 messages are listed a key version (the rest stay failed) and 512
// judged a sync. What stays failed: a message whose key change is stored
// only above it (its author could not hold the key at its place; a fresh
// device served the page adopts every key first and keeps it), whose key
// change failed here, below which a group change that could decide its
// author's membership failed, or that failed for anything else as well.
// A key change pushed (Engine.Deliver) opens them as one synced does.
// A group create read before its paired key change is not stored; a
// sync that stores the pair later binds it and reads the group again
// from no roster, in transcript order, opening the group changes that
// failed as read before any roster when the roster step accepts them at
// their place; so does a sync whose batch starts the roster from a create
// served again (latebind.go). They too are handed to fn again with
// Event.Reopened set.
// Group titles are encrypted under the group's conversation key before
// they leave the engine (the REST group_name and the
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
// The engine's errors are package xchat's (the module root): one family
// of sentinels for the calls and for what an event can carry in Event.Err,
// with *xchat.QueuedError and *xchat.RejectedError for sends, documented in
// one table in that package's documentation (go doc github.com/xchat-go/xchat).
// Test them with errors.Is and errors.As. An event whose Err is set was
// stored as failed and took no effect.
//
// # Key backup
//
// The account's private keys can be backed up under a PIN with Juicebox,
// as X's apps do: see package session/backup. ExportBackup and
// ImportBackup move the same 64-byte key blob by hand (the XDK's
// exportKeys and importKeys).
package session
