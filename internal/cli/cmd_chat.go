package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

func init() {
	register(&command{
		name:    "send",
		args:    "[TEXT…]",
		maxArgs: -1,
		summary: "send an encrypted message (text, reply or file)",
		help: `Encrypts, signs and sends a message to a one-to-one conversation (--to USER_ID;
the conversation key is set up on first use) or to any conversation
(--conversation ID). TEXT is the message ("-" reads it from stdin); with --file
it is the caption. --reply-to quotes an earlier message by sequence id. Prints
the new message's sequence id (--json: an object).

Every send is first stored, encrypted and signed, in the outbox. Older
messages of the conversation still waiting there are delivered first, in
order; if they cannot be, this one waits behind them. A message that is not
delivered stays queued ('xchat outbox'): do not send it again, run 'xchat
outbox --flush' (sending the same text again delivers the queued copy,
never a second one). Empty or whitespace-only messages are refused, and you
cannot send to yourself.

A file is encrypted with the conversation key before it is uploaded; a
progress bar is drawn on stderr when stderr is a terminal.`,
		example: "  xchat send --to 1002 \"hello bob\"\n" +
			"  xchat send --conversation g1234 --reply-to 1005 \"agreed\"\n" +
			"  xchat send --conversation 1001:1002 --file photo.png \"look\"",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			to := fs.String("to", "", "recipient `USER_ID` (one-to-one)")
			conv := fs.String("conversation", "", "conversation `ID` (A:B, A-B, g… or a user id)")
			replyTo := fs.String("reply-to", "", "sequence id `SEQ` of the message replied to")
			file := fs.String("file", "", "send the file at `PATH` as an encrypted attachment")
			return func(ctx context.Context, a *app, args []string) error {
				return a.send(ctx, *to, *conv, *replyTo, *file, args)
			}
		},
		result: true,
	})
	register(&command{
		name:    "react",
		args:    "SEQ EMOJI",
		minArgs: 2, maxArgs: 2,
		summary: "react to a message with an emoji",
		help:    `Adds (or with --remove, removes) an emoji reaction to the message with sequence id SEQ.`,
		example: "  xchat react --conversation 1001:1002 1005 👍",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			conv := fs.String("conversation", "", "conversation `ID` (required)")
			remove := fs.Bool("remove", false, "remove the reaction instead")
			return func(ctx context.Context, a *app, args []string) error {
				e, cid, err := a.engineFor(ctx, "react", *conv)
				if err != nil {
					return err
				}
				var s *session.Sent
				if *remove {
					s, err = e.Send(ctx, cid, session.Outgoing{Unreact: args[0], Emoji: args[1]})
				} else {
					s, err = e.Send(ctx, cid, session.Outgoing{React: args[0], Emoji: args[1]})
				}
				return a.printSent(s, notFound(cid, err))
			}
		},
		result: true,
	})
	register(&command{
		name:    "edit",
		args:    "SEQ TEXT…",
		minArgs: 2, maxArgs: -1,
		summary: "edit one of your messages",
		help:    `Replaces the text of your message with sequence id SEQ.`,
		example: "  xchat edit --conversation 1001:1002 1005 \"hello, bob\"",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			conv := fs.String("conversation", "", "conversation `ID` (required)")
			return func(ctx context.Context, a *app, args []string) error {
				e, cid, err := a.engineFor(ctx, "edit", *conv)
				if err != nil {
					return err
				}
				text := strings.Join(args[1:], " ")
				if strings.TrimSpace(text) == "" {
					return usagef("edit", "the new text is empty or only whitespace")
				}
				s, err := e.Send(ctx, cid, session.Outgoing{Edit: args[0], Text: text})
				return a.printSent(s, notFound(cid, err))
			}
		},
		result: true,
	})
	register(&command{
		name:    "delete",
		args:    "SEQ…",
		minArgs: 1, maxArgs: -1,
		summary: "delete messages",
		help:    `Deletes the messages with the given sequence ids, from your view only or, with --for-all, for everyone (your own messages).`,
		example: "  xchat delete --conversation 1001:1002 --for-all 1005 1006",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			conv := fs.String("conversation", "", "conversation `ID` (required)")
			forAll := fs.Bool("for-all", false, "delete for every participant")
			return func(ctx context.Context, a *app, args []string) error {
				e, cid, err := a.engineFor(ctx, "delete", *conv)
				if err != nil {
					return err
				}
				for _, s := range args {
					if !isSeq(s) {
						return usagef("delete", "invalid sequence id %q", s)
					}
				}
				if err := notFound(cid, e.DeleteMessages(ctx, cid, args, *forAll)); err != nil {
					return err
				}
				a.infof("%s Deleted #%s.", markOK, strings.Join(args, ", #"))
				return a.result(map[string]any{"conversation_id": cid, "deleted": args, "for_all": *forAll}, "")
			}
		},
		result: true,
	})
	register(&command{
		name:    "conversations",
		summary: "list conversations",
		help: `Lists your conversations (fetching the list from the server unless --offline):
id, kind, members, title, key version and the newest stored event.

A group's members and admins are the roster followed from signed group
changes, never the server's listing; "roster" says how far it rests on them:
confirmed (from the group's creation on), unconfirmed (this account joined
later and takes the members then on trust, "since #SEQ"; or some admin's
rights rest on the unsigned admin list of the group's creation), or unknown
(no signed group change seen: no key is wrapped to the group). --json adds
roster, roster_since, claimed_admins, unconfirmed_members and
server_members (the server's unsigned listing).`,
		example: "  xchat conversations\n  xchat conversations --json | jq -r .id",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			offline := fs.Bool("offline", false, "do not contact the server")
			return func(ctx context.Context, a *app, _ []string) error {
				return a.conversations(ctx, *offline)
			}
		},
		result: true,
	})
	register(&command{
		name:    "read",
		summary: "fetch, verify and print a conversation",
		help: `Syncs the conversation (unless --offline), verifying every event's signature
against the senders' pinned keys and decrypting it, then prints the stored
history, oldest first. Each event is marked ✓ (verified) or ✗ with the reason;
an unverified event's content is never shown as trusted. Peer key changes,
transcript anomalies (gaps, forks, group changes that do not fit the roster)
and a group roster that is not confirmed (see 'xchat conversations') are
reported on stderr.

--json prints one JSON object per event with sequence_id, message_id,
sender_id, type, text (messages), verified and error (when not verified).
Usernames the server gives for ids are shown next to them (sender_username
in JSON); they are not signed, the ids are what is verified. Media sizes
are the decrypted (plaintext) size.

Exit status: 0 when the conversation was read, even if some events failed
verification (they are marked); with --strict, 1 if any event failed
verification or decryption.`,
		example: "  xchat read --conversation 1001:1002\n  xchat read --conversation g1234 --json | jq 'select(.verified)'",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			conv := fs.String("conversation", "", "conversation `ID` (required)")
			strict := fs.Bool("strict", false, "exit 1 if any event failed verification")
			offline := fs.Bool("offline", false, "print stored history without syncing")
			after := fs.String("after", "", "only events after sequence id `SEQ`")
			limit := fs.Int("limit", 0, "only the newest `N` events (0: all)")
			return func(ctx context.Context, a *app, _ []string) error {
				return a.read(ctx, *conv, *strict, *offline, *after, *limit)
			}
		},
		result: true,
	})
	register(&command{
		name:    "watch",
		summary: "follow new events until interrupted",
		help: `Prints new events as they arrive (one conversation with --conversation,
otherwise all of them), marked like 'read', starting with any not synced yet.

By default events come through the X Activity stream, which needs the app
bearer token (--app-token or ` + EnvAppToken + `): watch subscribes the account to its
chat events, keeps the stream open (reconnecting as X documents, with a status
line on a terminal) and reconciles with the API after deliveries and
reconnections, so an event the stream lost is still shown, and none twice.
Without the token, with --poll, or when the stream is not available, it polls
every --interval instead.

The keystore is only held while events are processed, so other xchat commands
can use the account meanwhile. Stops cleanly on Ctrl-C (SIGINT) or SIGTERM.`,
		example: "  xchat watch --json          # with XCHAT_APP_TOKEN set: the Activity stream\n  xchat watch --conversation g1234 --poll --interval 2s",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			conv := fs.String("conversation", "", "conversation `ID` (default: all conversations)")
			interval := fs.Duration("interval", 3*time.Second, "polling interval")
			asJSON := fs.Bool("json", false, "print one JSON object per event")
			poll := fs.Bool("poll", false, "poll instead of using the Activity stream")
			appToken := fs.String("app-token", "", "app bearer `TOKEN` for the stream (default $"+EnvAppToken+")")
			return func(ctx context.Context, a *app, _ []string) error {
				if *interval <= 0 {
					return usagef("watch", "--interval must be positive")
				}
				return a.watch(ctx, *conv, *interval, *asJSON, *poll, *appToken)
			}
		},
	})
	register(&command{
		name:    "media get",
		args:    "SEQ",
		minArgs: 1, maxArgs: 1,
		summary: "download and decrypt a message's attachment",
		help: `Downloads the encrypted media attached to the message with sequence id SEQ and
decrypts it with the conversation key. Writes it to -o FILE (refusing to
replace an existing file unless --force), or to stdout when stdout is not a
terminal. With -o, --json prints what was written.

With -o, the file streams into a temporary file beside FILE, which becomes
FILE only once the whole download has been checked: a download that fails
(a connection cut, tampered or truncated media) leaves no file behind. To
stdout, the file is written only once the whole of it has been checked.`,
		example: "  xchat media get --conversation 1001:1002 1007 -o photo.png",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			conv := fs.String("conversation", "", "conversation `ID` (required)")
			out := fs.String("o", "", "output `FILE`")
			force := fs.Bool("force", false, "replace FILE if it exists")
			return func(ctx context.Context, a *app, args []string) error {
				return a.mediaGet(ctx, *conv, args[0], *out, *force)
			}
		},
		result: true,
	})
	register(&command{
		name:    "outbox",
		summary: "list, deliver (--flush) or drop sends waiting in the outbox",
		help: `A send that was not delivered stays in the outbox, already encrypted and
signed: after a network failure, a refused token (401/403), a rate limit or
a server error. Only a definite rejection of the message itself removes it,
and then xchat says which message and why.

Without flags, lists the pending sends (conversation, kind, message id,
attempts, last error and the text). --flush delivers them, each
conversation's in order, with their original message ids; a send whose
earlier attempt may have arrived is first looked for in the conversation,
so nothing is delivered twice. --drop MESSAGE_ID gives one up.`,
		example: "  xchat outbox\n  xchat outbox --flush\n  xchat outbox --drop 5b1c0e1e-8d4f-4d5c-9a53-0c7e0c6f3a11",
		flags: func(fs *flag.FlagSet) func(context.Context, *app, []string) error {
			flush := fs.Bool("flush", false, "deliver the pending sends")
			drop := fs.String("drop", "", "remove the pending send with message id `MESSAGE_ID` without delivering it")
			return func(ctx context.Context, a *app, _ []string) error {
				if *flush && *drop != "" {
					return usagef("outbox", "give either --flush or --drop, not both")
				}
				if *drop != "" {
					return a.outboxDrop(ctx, *drop)
				}
				return a.outbox(ctx, *flush)
			}
		},
		result: true,
	})
}

// engineFor opens the online engine and resolves a required --conversation.
func (a *app) engineFor(ctx context.Context, cmd, conv string) (*session.Engine, string, error) {
	if conv == "" {
		return nil, "", usagef(cmd, "--conversation is required")
	}
	return a.engineForConv(ctx, cmd, conv, true)
}

func (a *app) engineForConv(ctx context.Context, cmd, conv string, online bool) (*session.Engine, string, error) {
	e, err := a.openEngine(ctx, online)
	if err != nil {
		return nil, "", err
	}
	cid, err := session.CanonicalID(conv, e.UserID())
	if err != nil {
		return nil, "", usagef(cmd, "invalid conversation id %q", conv)
	}
	return e, cid, nil
}

func isSeq(s string) bool { return decimal.ValidID(s) }

func (a *app) send(ctx context.Context, to, conv, replyTo, file string, args []string) error {
	switch {
	case to != "" && conv != "":
		return usagef("send", "give either --to or --conversation, not both")
	case to == "" && conv == "":
		return usagef("send", "--to USER_ID or --conversation ID is required")
	case to != "" && api.ValidateUserID(to) != nil:
		return usagef("send", "invalid --to %q: not a numeric user id", to)
	case replyTo != "" && !isSeq(replyTo):
		return usagef("send", "invalid --reply-to %q: not a sequence id", replyTo)
	case replyTo != "" && file != "":
		return usagef("send", "--reply-to cannot be combined with --file")
	}
	text := strings.Join(args, " ")
	if len(args) == 1 && args[0] == "-" {
		b, err := io.ReadAll(io.LimitReader(a.env.Stdin, 1<<20))
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		text = strings.TrimRight(string(b), "\n")
	}
	if strings.TrimSpace(text) == "" && file == "" {
		if text != "" {
			return usagef("send", "nothing to send: the message is only whitespace")
		}
		return usagef("send", "nothing to send: give TEXT or --file")
	}
	target := conv
	if to != "" {
		target = to
	}
	e, err := a.openEngine(ctx, true)
	if err != nil {
		return err
	}
	if target == e.UserID() {
		return usagef("send", "%s is your own user id: X Chat conversations are between you and other accounts, "+
			"so there is no conversation with yourself to send to (to check your keys, see 'xchat keys show')", target)
	}
	cid, err := session.CanonicalID(target, e.UserID())
	if err != nil {
		return usagef("send", "invalid conversation id %q", target)
	}
	var s *session.Sent
	if file != "" {
		s, err = a.sendFile(ctx, e, cid, file, text)
	} else {
		s, err = e.Send(ctx, cid, session.Outgoing{Text: text, ReplyTo: replyTo})
	}
	return a.printSent(s, notFound(cid, err))
}

// printSent prints the sequence id of a successful send (or an object with
// --json), and on stderr the older queued sends it delivered first or that
// the server refused meanwhile.
func (a *app) printSent(s *session.Sent, err error) error {
	if err != nil {
		return err
	}
	for _, f := range s.Flushed {
		a.infof("Delivered an older queued message of this conversation first: #%s (message id %s).", f.SequenceID, f.MessageID)
	}
	for _, d := range s.Dropped {
		a.warnf("the server refused the queued %s (message id %s) for good; it was removed from the outbox and NOT delivered: %s", d.What, d.MessageID, cleanMessage(d.Reason))
	}
	if s.Duplicate {
		a.infof("This message was already waiting in the outbox: that copy was delivered, no second one was sent.")
	}
	res := map[string]any{"conversation_id": s.ConversationID, "message_id": s.MessageID,
		"sequence_id": s.SequenceID, "key_version": s.KeyVersion}
	if s.Duplicate {
		res["duplicate"] = true
	}
	return a.result(res, s.SequenceID)
}

func (a *app) conversations(ctx context.Context, offline bool) error {
	e, err := a.openEngine(ctx, !offline)
	if err != nil {
		return err
	}
	var convs []session.Conversation
	if offline {
		convs, err = e.Conversations(ctx)
	} else {
		convs, err = e.RefreshConversations(ctx)
		a.fetchAllNames(ctx)
		if errors.Is(err, session.ErrListingNotKept) {
			a.warnf("%s", describe(err, a.apiBase())) // the stored conversations are still listed
			err = nil
		}
	}
	if err != nil {
		return err
	}
	names := a.names(ctx)
	for _, c := range convs {
		if a.json {
			usernames := map[string]string{}
			for _, m := range c.Members {
				if n, ok := names[m]; ok {
					usernames[m] = n
				}
			}
			if err := writeJSONLine(a.env.Stdout, map[string]any{"id": c.ID, "kind": c.Kind, "members": nonNil(c.Members),
				"admins": nonNil(c.Admins), "title": c.Title, "key_version": c.KeyVersion,
				"last_sequence_id": c.LastSequenceID, "usernames": usernames, "roster": string(c.Roster), "roster_since": c.RosterSince,
				"claimed_admins": nonNil(c.ClaimedAdmins), "unconfirmed_members": nonNil(c.UnconfirmedMembers),
				"server_members": nonNil(c.ServerMembers)}); err != nil {
				return err
			}
			continue
		}
		members := make([]string, len(c.Members))
		for i, m := range c.Members {
			members[i] = a.label(m)
		}
		line := fmt.Sprintf("%-28s %-10s members %s", c.ID, c.Kind, strings.Join(members, ", "))
		if session.IsGroup(c.ID) {
			line += "  roster " + string(c.Roster)
			if c.RosterSince != "" {
				line += " since #" + c.RosterSince
			}
		}
		if c.Title != "" {
			line += fmt.Sprintf("  %q", c.Title)
		}
		if c.LastSequenceID != "" {
			line += "  last #" + c.LastSequenceID
		}
		if c.KeyVersion == "" {
			line += "  (no key yet)"
		}
		fmt.Fprintln(a.env.Stdout, oneLine(line))
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// syncReport prints a sync's anomalies and returns its error rewritten for a
// missing conversation.
func (a *app) syncReport(cid string, res *session.SyncResult, err error) error {
	if err != nil {
		return notFound(cid, err)
	}
	for _, an := range res.Anomalies {
		a.warnf("conversation %s: transcript anomaly: %s", cid, an)
	}
	return nil
}

func (a *app) read(ctx context.Context, conv string, strict, offline bool, after string, limit int) error {
	if conv == "" {
		return usagef("read", "--conversation is required")
	}
	if after != "" && !isSeq(after) {
		return usagef("read", "invalid --after %q", after)
	}
	if limit < 0 {
		return usagef("read", "--limit must not be negative")
	}
	e, cid, err := a.engineForConv(ctx, "read", conv, !offline)
	if err != nil {
		return err
	}
	if offline {
		if _, err := e.Conversation(ctx, cid); err != nil {
			return notFound(cid, err)
		}
	} else {
		res, err := e.Sync(ctx, cid, nil)
		if err := a.syncReport(cid, res, err); err != nil {
			return err
		}
		a.fetchNames(ctx, e, cid)
	}
	a.names(ctx)
	if c, err := e.Conversation(ctx, cid); err == nil {
		a.rosterNotice(c)
	}
	hist, err := e.History(ctx, cid, after, 0)
	if err != nil {
		return err
	}
	if limit > 0 && len(hist) > limit {
		hist = hist[len(hist)-limit:]
	}
	failed := 0
	for i := range hist {
		en := &hist[i]
		if !en.Verified {
			failed++
		}
		if err := a.printEntry(en, e.UserID(), a.json, false); err != nil {
			return err
		}
	}
	if failed > 0 {
		msg := fmt.Sprintf("%d of %d events in %s could NOT be verified (marked %s); their content is not trustworthy", failed, len(hist), cid, markFail)
		if strict {
			return &exitError{status: ExitFailure, err: errors.New(msg)}
		}
		a.warnf("%s", msg)
	}
	return nil
}

// rosterNotice warns, on stderr, when a group's roster does not rest on
// signed group changes from its creation on.
func (a *app) rosterNotice(c *session.Conversation) {
	if !session.IsGroup(c.ID) {
		return
	}
	switch {
	case c.Roster == session.RosterUnknown:
		a.warnf("group %s: roster unknown: no signed group change establishes its members (the server lists %s); no key will be wrapped to it",
			c.ID, strings.Join(c.ServerMembers, ","))
	case c.Roster == session.RosterConfirmed:
	case c.RosterSince != "":
		a.warnf("group %s: roster unconfirmed before #%s: this account never saw the group's creation and takes its members then on trust", c.ID, c.RosterSince)
	default:
		a.warnf("group %s: roster unconfirmed: the admin rights of %s rest on unsigned data; members added on them: %s",
			c.ID, orNone(c.ClaimedAdmins), orNone(c.UnconfirmedMembers))
	}
}

func orNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ",")
}

func (a *app) printEntry(en *event.Entry, self string, asJSON, withConv bool) error {
	if asJSON {
		j := toJSONEvent(en)
		j.SenderUsername = a.username(en.SenderID)
		return writeJSONLine(a.env.Stdout, j)
	}
	line := humanEntry(en, self, a.usernames)
	if withConv {
		line = en.ConversationID + " " + line
	}
	_, err := fmt.Fprintln(a.env.Stdout, line)
	return err
}

func (a *app) watch(ctx context.Context, conv string, interval time.Duration, asJSON, poll bool, appToken string) error {
	e, err := a.openEngine(ctx, true)
	if err != nil {
		return err
	}
	cid := ""
	if conv != "" {
		if cid, err = session.CanonicalID(conv, e.UserID()); err != nil {
			return usagef("watch", "invalid conversation id %q", conv)
		}
	}
	if token := a.appToken(appToken); !poll && token != "" {
		err := a.watchStream(ctx, cid, asJSON, token)
		if !errors.Is(err, errStreamUnavailable) {
			return err
		}
		a.warnf("%s; polling instead", describe(err, a.apiBase()))
		a.closeAccount()
	} else if !poll {
		a.infof("No app bearer token (--app-token or %s): polling instead of the Activity stream.", EnvAppToken)
	}
	a.infof("Watching %s every %s; press Ctrl-C to stop.", orAll(cid), interval)
	for first := true; ; first = false {
		// The keystore is opened for each poll only, so other xchat
		// commands on this account (send, read…) can run meanwhile.
		e, err := a.openEngine(ctx, true)
		if err == nil {
			err = a.watchOnce(ctx, e, cid, asJSON)
		}
		a.closeAccount()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if first {
				return err
			}
			a.warnf("%s (retrying in %s)", describe(err, a.apiBase()), interval)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func orAll(cid string) string {
	if cid == "" {
		return "all conversations"
	}
	return cid
}

func (a *app) watchOnce(ctx context.Context, e *session.Engine, cid string, asJSON bool) error {
	var results []*session.SyncResult
	if cid != "" {
		res, err := e.Sync(ctx, cid, nil)
		if err := a.syncReport(cid, res, err); err != nil {
			return err
		}
		results = append(results, res)
	} else {
		res, err := e.SyncAll(ctx)
		for _, r := range res {
			if r != nil {
				_ = a.syncReport(r.ConversationID, r, nil)
				results = append(results, r)
			}
		}
		if err != nil && len(results) == 0 {
			return err
		}
		if err != nil {
			a.warnf("%s", describe(err, a.apiBase()))
		}
	}
	for _, r := range results {
		for i := range r.Entries {
			if err := a.printEntry(&r.Entries[i], e.UserID(), asJSON, cid == ""); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *app) mediaGet(ctx context.Context, conv, seq, out string, force bool) error {
	if conv == "" {
		return usagef("media get", "--conversation is required")
	}
	if !isSeq(seq) {
		return usagef("media get", "invalid sequence id %q", seq)
	}
	toStdout := out == "" || out == "-"
	if toStdout && a.env.StdoutIsTerminal {
		return usagef("media get", "refusing to write binary data to a terminal: use -o FILE")
	}
	if toStdout && a.json {
		return usagef("media get", "--json needs -o FILE (stdout carries the file otherwise)")
	}
	if !toStdout && !force {
		if _, err := os.Lstat(out); err == nil {
			return usagef("media get", "%s already exists: pass --force to replace it", out)
		}
	}
	e, cid, err := a.engineForConv(ctx, "media get", conv, true)
	if err != nil {
		return err
	}
	en, err := findEntry(ctx, e, cid, seq)
	if err != nil {
		return err
	}
	if !en.Verified {
		return fmt.Errorf("message #%s was not verified (%s): refusing to fetch its attachment", seq, en.Error)
	}
	var media *event.MediaAttachment
	for _, at := range en.Attachments {
		if at.Media != nil {
			media = at.Media
			break
		}
	}
	if media == nil {
		return fmt.Errorf("message #%s in %s has no media attachment", seq, cid)
	}
	if toStdout {
		// Stdout cannot take back a prefix: it gets the file only once the
		// whole of it has been checked.
		data, err := e.DownloadMedia(ctx, cid, media, en.KeyVersion, 0)
		if err != nil {
			return fmt.Errorf("media get: %w", err)
		}
		defer clear(data)
		_, err = a.env.Stdout.Write(data)
		return err
	}
	n, err := a.saveMedia(ctx, e, en, media, out, force)
	if err != nil {
		return fmt.Errorf("media get: %w", err)
	}
	a.infof("%s Wrote %s (%d bytes, %s).", markOK, out, n, media.Type)
	return a.result(map[string]any{"path": out, "size": n, "media_type": media.Type.String(),
		"filename": media.Filename, "conversation_id": cid, "sequence_id": seq}, "")
}

// saveMedia streams the attachment into a temporary file beside path
// (Engine.DownloadMediaTo, one frame in memory) and moves it to path only
// once the download has checked the whole stream; on any error the
// temporary file, which may hold a prefix of the stream, is removed and
// path is untouched. It refuses to replace an existing path unless force.
func (a *app) saveMedia(ctx context.Context, e *session.Engine, en *event.Entry, att *event.MediaAttachment, path string, force bool) (n int64, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.part") // mode 0600
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var sink io.Writer = f
	if a.env.StderrIsTerminal {
		p := newProgress(a.env.Stderr, filepath.Base(path), plaintextSize(att.FilesizeBytes))
		defer p.done()
		sink = io.MultiWriter(f, p)
	}
	w := bufio.NewWriterSize(sink, 64<<10) // DownloadMediaTo writes 1 KiB frames
	if n, err = e.DownloadMediaTo(ctx, w, en.ConversationID, att, en.KeyVersion, 0); err != nil {
		return n, err
	}
	if err = w.Flush(); err != nil {
		return n, err
	}
	if err = f.Sync(); err != nil {
		return n, err
	}
	if err = f.Close(); err != nil {
		return n, err
	}
	return n, placeFile(tmp, path, force)
}

// placeFile moves the finished file tmp to path, refusing to replace an
// existing path unless force (a hard link fails if path exists, where a
// rename would replace it).
func placeFile(tmp, path string, force bool) error {
	if force {
		return os.Rename(tmp, path)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: pass --force to replace it", path)
		}
		return err
	}
	return os.Remove(tmp)
}

// findEntry returns the stored entry with sequence id seq, syncing first when
// it is not stored yet.
func findEntry(ctx context.Context, e *session.Engine, cid, seq string) (*event.Entry, error) {
	look := func() (*event.Entry, error) {
		hist, err := e.History(ctx, cid, "", 0)
		if err != nil {
			return nil, err
		}
		for i := range hist {
			if hist[i].SequenceID == seq {
				return &hist[i], nil
			}
		}
		return nil, nil
	}
	en, err := look()
	if err != nil || en != nil {
		return en, err
	}
	if _, err := e.Sync(ctx, cid, nil); err != nil {
		return nil, notFound(cid, err)
	}
	if en, err = look(); err != nil {
		return nil, err
	}
	if en == nil {
		return nil, fmt.Errorf("no message #%s in %s", seq, cid)
	}
	return en, nil
}

func (a *app) outbox(ctx context.Context, flush bool) error {
	e, err := a.openEngine(ctx, flush)
	if err != nil {
		return err
	}
	if flush {
		return a.flushOutbox(ctx, e)
	}
	pending, err := e.Outbox(ctx)
	if err != nil {
		return err
	}
	for _, p := range pending {
		human := oneLine(fmt.Sprintf("%s %s %s attempts=%d %s", p.ConversationID, p.Kind, p.MessageID, p.Attempts, p.What))
		if p.LastError != "" {
			human += oneLine("  last error: " + cleanMessage(p.LastError))
		}
		if err := a.result(p, human); err != nil {
			return err
		}
	}
	if len(pending) > 0 && !a.json {
		a.infof("%d send(s) waiting: deliver them with 'xchat outbox --flush'.", len(pending))
	}
	return nil
}

// flushOutbox delivers the pending sends and reports each: delivered ones
// on stdout, refused and still pending ones on stderr (and in the exit
// status).
func (a *app) flushOutbox(ctx context.Context, e *session.Engine) error {
	sent, err := e.FlushOutbox(ctx)
	for _, s := range sent {
		if err := a.result(map[string]any{"status": "sent", "conversation_id": s.ConversationID,
			"message_id": s.MessageID, "sequence_id": s.SequenceID}, fmt.Sprintf("sent %s #%s", s.ConversationID, s.SequenceID)); err != nil {
			return err
		}
	}
	if err == nil {
		if len(sent) == 0 {
			a.infof("The outbox is empty: nothing to deliver.")
		}
		return nil
	}
	var failures []error
	for _, one := range unjoin(err) {
		var rej *xchat.RejectedError
		if errors.As(one, &rej) {
			a.warnf("the server refused the %s (message id %s) for good; it was removed from the outbox and NOT delivered: %s",
				rej.What, rej.MessageID, cleanMessage(rej.Reason))
			if err := a.result(map[string]any{"status": "rejected", "conversation_id": rej.ConversationID,
				"message_id": rej.MessageID, "text": rej.Text, "reason": cleanMessage(rej.Reason)}, ""); err != nil {
				return err
			}
		}
		failures = append(failures, one)
	}
	return errors.Join(failures...)
}

// unjoin splits an errors.Join result into its errors.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (a *app) outboxDrop(ctx context.Context, mid string) error {
	e, err := a.openEngine(ctx, false)
	if err != nil {
		return err
	}
	pending, err := e.Outbox(ctx)
	if err != nil {
		return err
	}
	for _, p := range pending {
		if p.MessageID == mid {
			if err := e.DropOutbox(ctx, mid); err != nil {
				return err
			}
			a.infof("%s Dropped the pending %s; it will not be delivered.", markOK, p.What)
			return a.result(map[string]any{"status": "dropped", "conversation_id": p.ConversationID, "message_id": mid, "text": p.Text}, "")
		}
	}
	return fmt.Errorf("no pending send with message id %q (see 'xchat outbox')", mid)
}
