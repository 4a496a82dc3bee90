// Package bot is the XChat bot SDK: commands, event handlers and
// middleware on top of the session engine, fed by the Activity stream or
// webhooks, with the engine's verification between the wire and every
// handler.
//
//	b := bot.New(engine, bot.WithName("echobot"))
//	b.Command("echo", func(c *bot.Context) error {
//		_, err := c.Reply(c.RawArgs())
//		return err
//	}, "say").Usage("TEXT").Describe("repeats TEXT")
//	err := b.Run(ctx, bot.Stream(appClient, userClient))
//
// # Safety
//
// Handlers see verified events only: the engine checked the signature
// against the sender's pinned key, decrypted the content and applied the
// transcript and roster rules (see package session). Context.Sender is the
// signer, never a server claim. Everything else (events that failed
// verification or decryption, kinds the protocol does not sign, events
// without a sequence id) goes to OnUnverified with the reason and to no
// handler. The bot never handles its own events. WithAllowList restricts
// every handler to chosen senders.
//
// Which messages are commands is decided by Addressing: by default a
// message is a command when it starts with the prefix ("!echo hi") or
// mentions the bot first ("@echobot echo hi"); MentionOnly requires the
// mention (for groups shared with other bots), Bare takes every message
// (for one-to-one conversations). Other messages go to OnMessage.
//
// # Delivery guarantees
//
// The keystore is the bot's inbox. The engine stores every event it
// accepts before reporting it, and the bot keeps, per conversation, a
// durable cursor in the same keystore: the sequence id up to which every
// stored event has been settled (handed to its handler, or refused by the
// rules above), with the signed message ids of the last 256 verified events
// settled. A worker hands the stored events after the cursor to the handlers and moves
// the cursor past each one when its handler returns, writing it at once.
// What this gives:
//
//   - At least once: every verified event of another user that the engine
//     stores while the bot runs, or stored before and not yet settled,
//     reaches its handler, across restarts and crashes. Events stored by
//     paths that report nothing (a handler's own Sync, a send that catches
//     up with a rotated key) are found the same way.
//   - No replays: a restart does not hand settled events to handlers
//     again. The exceptions: a crash between a handler's return and the
//     cursor write, and a handler that returns an error after a shutdown
//     cancelled its Context (WithDrain ran out); either event is handled
//     again by the next run. Handlers with effects outside XChat should be
//     idempotent.
//   - De-duplication: an event is handed over once per stored sequence id,
//     and an event whose signed message id was settled recently is not
//     handed over again (the engine itself refuses a message id replayed
//     under a new sequence id: ErrReplayed, see OnUnverified).
//   - Order: the events of one conversation reach handlers one at a time,
//     in sequence order. An event whose claimed predecessor is missing (a
//     push overtook a lost one) waits until the predecessor is stored, a
//     reconciliation with /events shows there is none to fetch, or
//     WithMaxHold passes; only in the last case can an older event be
//     stored later, and it is then handled late, out of order (counted in
//     Stats.Late; a crash before it is settled loses it).
//   - Opened late: a message stored failed for want of its key alone
//     (the server withheld the key change that distributes it) goes to
//     OnUnverified; when a later sync or push brings that key change, the
//     engine opens it (session.Engine.Sync, event.Event.Reopened) and it
//     is handed to its handler once, verified, late (Entry().Reopened
//     set; counted in Stats.Reopened). The cursor remembers the last 256
//     such messages it refused (session.AwaitsKey), so an opening while
//     the bot is down is handled by the next run; an older one stays
//     refused unless its opening is reported while the bot runs. So is
//     handled, once, whatever else the engine reports opened at or below
//     the cursor while the bot runs: a group change, or a message refused
//     for its author's membership, that a group create bound late opened.
//   - Completeness: push is never trusted to be complete. Run reconciles
//     every conversation with /events at start, after each burst of
//     deliveries, after reconnections and periodically (WithReconcile).
//   - Backlog: at its first run in a keystore the bot records the time;
//     events the server dates more than WithBacklog before it are settled
//     without handlers, so a new bot does not answer old commands. The
//     dates are the server's (unsigned), so the rule applies only to the
//     history the bot finds in a conversation: once a pass has read all
//     that is stored there (the cursor records it), every later event is
//     handled whatever its date.
//
// A handler's error or panic is reported (OnHandlerError); the event is
// settled all the same and not retried.
//
// # Concurrency and shutdown
//
// Different conversations are handled in parallel by at most
// WithConcurrency workers. When Run's context ends, the transport stops,
// no new event is started, and the handlers in flight finish (their
// Context stays valid for WithDrain, then is cancelled); events not
// started stay unsettled for the next run.
//
// # Replicas
//
// Several processes may run the same bot account on one keystore in
// PostgreSQL (keystore/pgstore, xchat's --store): each conversation's
// worker holds the store's lease on it while it hands events over and
// moves the cursor, so the replicas take turns per conversation and the
// guarantees above hold across them. A replica that dies loses its leases
// when they expire; another takes its conversations over from the cursor.
// A replica that lost its lease while it could not write its cursor (its
// database away) and another moved the cursor on meanwhile takes the two
// together when it holds the lease again, never its own further back.
//
// A replica can also stall (a GC pause, a frozen VM, a partition from the
// database) longer than its lease lasts, in the middle of a handler; the
// replica that takes the conversation over reads the cursor, which has
// not moved past the event, and hands the event to its own handler again.
// The lease is fenced (keystore.FencedLeaser): the handler's Context
// carries it, so what the stalled handler then does through the engine
// with its Context (Reply, Send, React, Edit, SendFile, and any engine
// call given the Context) and the cursor write fail with an error
// wrapping keystore.ErrLeaseLost, store nothing and post nothing; the
// replica drops the cursor it moved and leaves the conversation to the
// other. Before each handler call the lease is checked too, so a replica
// that stalled between reading an event and calling its handler does not
// call it. The answers seen in XChat are then those of the replica that
// holds the conversation: exactly once, except in two windows no store
// can fence, where they are at least once:
//
//   - a post already on its way to the server when the replica stalled
//     (the lease is checked just before each post, not during it);
//   - an answer queued in the outbox before the stall and not yet posted:
//     it is delivered by whichever replica next delivers that
//     conversation's outbox, besides the new holder's own answer.
//
// What a handler does outside the engine (a payment, a call to another
// service, a write to another database) cannot be fenced by the keystore
// and is at least once across a takeover, as across a crash. Make it
// idempotent, keyed by Context.MessageID (the signed message id, the same
// on every replica), or have it check Context.CheckLease just before the
// effect (which narrows the window to the effect itself) and, for exactly
// once, fence it in its own store: do it in a transaction that also
// records the message id as done, refusing one recorded already.
//
// # Operations
//
// Logs go to a log/slog logger (WithLogger) with ids and outcomes, never
// message text. Stats and HealthHandler expose the counters (handled,
// failed, latency…), liveness, readiness and Prometheus-style metrics.
// cmd/xchat-bot is a complete bot binary configured by flags and
// environment variables.
//
// # Compared with XChatBot
//
// X's Python helper (xchat-bot-python) dispatches "!command" messages of
// the Activity stream to decorated functions with a Context carrying the
// conversation, text, command and args. This package has the same shape
// (Command with aliases, OnMessage, OnCommandNotFound, OnHandlerError for
// on_command_error, OnUnverified for on_decrypt_error, OnError, Context
// with Reply) and adds: signature verification against pinned keys before
// any handler runs (the Python helper decrypts but does not verify, and
// trusts the payload's sender_id), gap reconciliation with /events,
// a durable cursor, de-duplication, per-conversation ordering, bounded
// parallelism, graceful shutdown, mention gating, allow-lists, rate
// limits, edits, reactions, joins, key-change alerts, media in both
// directions, webhooks, health and metrics.
package bot
