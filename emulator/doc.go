// Package emulator is a local, faithful server of the X API v2 chat surface:
// encrypted Chat conversations, user public keys, Chat media and the legacy
// Direct Messages endpoints described by x-api-chat-openapi.json, the
// Activity API (subscriptions and the stream) and webhooks of
// x-api-activity-openapi.json, plus the OAuth 2.0 (Authorization Code with
// PKCE) endpoints and an emulator-only provisioning endpoint.
//
// The emulator holds only what the real backend holds: public keys, wrapped
// conversation keys, signed ciphertext envelopes and encrypted media. It
// never decrypts anything. Like the backend it builds the Thrift
// MessageEvent envelopes, assigns sequence ids, checks membership, admin
// rights, stale conversation key versions and action signatures, paginates,
// rate-limits and answers failures with RFC 7807 problem documents.
//
// Use New to build a Server (an http.Handler) and serve it with net/http or
// httptest:
//
//	srv := emulator.New()
//	defer srv.Close()
//	ts := httptest.NewServer(srv)
//
// Provision accounts with POST /emulator/v1/users {"username":"alice"}; the
// answer carries a bearer token with every scope. Everything under /2/
// requires "Authorization: Bearer <token>".
//
// # Decisions where the specification is silent
//
//   - Conversation ids: REST paths accept a bare recipient id, "A-B" (also
//     "A:B") and "g<digits>". REST JSON bodies answer the hyphen form for 1:1
//     conversations; Thrift events and signed payloads use "min:max" with
//     numeric ordering.
//   - Event lists are newest first; next_token continues with older events.
//     Key changes are not in data but in meta.conversation_key_events
//     (base64 MessageEvents): those the page's messages need, plus the
//     latest on the first page.
//   - Spec-strict by default: every answer validates against the
//     specification (internal/contract checks it in make test). Fields are
//     answered only when requested, with default sets otherwise (events: id,
//     encoded_event; conversations: id, type; DM events: id, event_type,
//     text; users: id, name, username); admin/member/participant ids only
//     with their expansions. Next to id, previous_id and created_at an event
//     also carries sequence_id, previous_sequence_id and created_at_msec,
//     as seed 003 shows X doing (documented deviations). PublicKey has no
//     user_id unless WithPublicKeyUserIDs.
//   - Rejected messages (stale key version, not a member, bad signature,
//     contents too large) are problem documents (400/403) that change no
//     state; with WithFailureEvents they also carry
//     data.encoded_message_event: a MessageEvent whose detail is a
//     MessageFailureEvent with the Thrift failure type.
//   - Action signatures: GroupCreate, GroupMemberAddChange and
//     MessageDeleteEvent signatures are verified against the sender's
//     registered signing key (crypto payload builders, at the signed
//     signature_version). ConversationKeyChangeEvent signatures cannot be
//     verified by a server (from version 6 they sign the plaintext key), so
//     only their shape, version (2..7) and signing key version are checked,
//     plus agreement of the signed detail with the request. Message
//     signatures are required and verified.
//   - Retries: a message_id (or action message id) the sender already used
//     in the conversation answers the original result and stores nothing.
//   - Only group admins may add members (REQUESTER_NOT_ADMIN otherwise);
//     any member may rotate a group key; a new member sees a group from its
//     member-add event on.
//   - Typing indicators are accepted but not stored (they are live-only);
//     read marks append a MarkConversationReadEvent.
//   - Problem documents are the specification's Problem variants. 401 and
//     429 have no variant (X sends "about:blank" problems, outside the
//     document), so they use the document's Error schema with X's codes 89
//     and 88; a missing scope is 403 not-authorized-for-resource with
//     section "scopes"; bodies over the limit are 413, bodies that are not
//     application/json 415. Every answer carries x-rate-limit-* headers; the
//     three legacy DM POST operations share one bucket with a 24-hour cap
//     (seed 004).
//   - With a data file everything persists (bbolt, one bucket per record
//     kind, bearer tokens stored as SHA-256 digests) except unfinished media
//     upload sessions and pending OAuth authorization codes.
//   - Provisioning an existing username answers 200 with the same id and a
//     new token. Legacy DM media is
//     uploaded through the emulator-only POST /emulator/v1/media (X uses a
//     separate media endpoint); a DM may attach only media its sender
//     uploaded in the last 24 hours, and the DM media download serves it.
//   - addChatGroupMembers answers a Post (the specification's type) whose id
//     is the key change's sequence id.
//
// # Real-time delivery: guesses beyond X's documents
//
// The Activity API (subscriptions, GET /2/activity/stream) and the
// webhooks (/2/webhooks) follow x-api-activity-openapi.json and X's pages
// on activity, webhooks and disconnections. Where those are silent or do
// not fit a local server, the emulator decides:
//
//   - There is one developer app. Every provisioned account has authorised
//     it; provisioning answers its app-only bearer token, consumer secret
//     and OAuth 2.0 client secret (AppCredentials). One stream connection
//     receives every subscription's events (X delivers per app); there is
//     no limit on concurrent connections.
//   - Who is told what: a message goes to its sender as chat.sent and to
//     every other member as chat.received; a group change that adds
//     members goes to the newcomers as chat.conversation.join and to the
//     others as chat.conversation.member_added. Key changes are not pushed
//     on their own: the payload of an event carries the key change of its
//     key version (conversation_key_change_event, on chat.sent too, as in
//     X's samples). Deletes, read marks, other group changes and the
//     remaining chat.* types are never pushed (the reader's /events
//     reconciliation finds them).
//   - Payload: id is the message id; conversation_id is the event form
//     ("A:B", "g…"); conversation_token, created_at_msec,
//     conversation_key_version and message_event_signature (with the
//     sender's registered signing key) come from the stored event.
//     event_uuid is a 19-digit snowflake; backfill and replay repeat an
//     event's uuid. The envelope has no includes.
//   - Subscriptions: chat.* and dm.* need a user token with dm.read whose
//     user is filter.user_id; the app token may create public ones only.
//     A second subscription with the same event type, filter and webhook
//     is refused (409 DuplicateSubscription). Updates and deletes take the
//     app token. Listing with a user token shows that user's subscriptions
//     and needs the scopes the specification lists (like.read,
//     tweet.read). Answers follow the OpenAPI shapes (create:
//     data.subscription; update: data.subscription and
//     data.total_subscriptions; delete: data.deleted); the listing adds
//     meta (total_subscriptions, result_count, next_token), which the
//     OpenAPI document lacks but the quick start shows and pagination
//     needs.
//   - The stream keeps a heartbeat newline every 10 s
//     (WithStreamHeartbeat), so a client's 20 s watchdog never fires on a
//     healthy stream; X documents a 20 s heartbeat. A connection more than
//     4096 events behind is closed. start_time replays retained events;
//     with end_time the connection ends after the replay.
//   - Retention: 24 hours, at most DefaultRetainedEvents events, in memory
//     only, like the subscriptions and webhooks (nothing of the Activity
//     API survives a restart, even with a data file).
//   - Webhooks: see webhooks.go (loopback URLs with ports allowed, CRC on
//     create and PUT only, three delivery attempts, both signature
//     headers: x-twitter-webhooks-signature keyed with the consumer secret
//     and x-twitter-webhooks-signature-oauth2 with the client secret).
//   - Fault switches for tests (SetStreamFaults, DisconnectStreams,
//     StallStreams) act on every delivery path at once.
//
// # Juicebox realms
//
// Three realms like X's (package realm) are served under /juicebox/, and
// the public-key operations return juicebox_config to the account itself
// only (its tokens can spend the user's guesses). Realm state lives in
// memory, even with a data file (see juicebox.go).
package emulator
