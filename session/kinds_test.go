package session

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session/event"
)

// findEntry returns the entry with sequence id seq.
func findEntry(t *testing.T, es []event.Entry, seq string) event.Entry {
	t.Helper()
	for _, e := range es {
		if e.SequenceID == seq {
			return e
		}
	}
	t.Fatalf("no entry %s in %+v", seq, es)
	return event.Entry{}
}

func TestMessageKindsRoundTrip(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")

	text := "see https://x.com #go"
	first, err := alice.e.Send(ctx, bob.id, Outgoing{
		Text:     text,
		Entities: []event.Entity{{Start: 4, End: 17, Type: event.EntityURL}, {Start: 18, End: 21, Type: event.EntityHashtag}},
		TTL:      time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	cid := first.ConversationID
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	reply, err := bob.e.Send(ctx, cid, Outgoing{Text: "nice", ReplyTo: first.SequenceID})
	if err != nil {
		t.Fatalf("Reply: %v", err)
	}
	react, err := bob.e.Send(ctx, cid, Outgoing{React: first.SequenceID, Emoji: "👍"})
	if err != nil {
		t.Fatalf("React: %v", err)
	}
	unreact, err := bob.e.Send(ctx, cid, Outgoing{Unreact: first.SequenceID, Emoji: "👍"})
	if err != nil {
		t.Fatalf("Unreact: %v", err)
	}
	edit, err := alice.e.Send(ctx, cid, Outgoing{Edit: first.SequenceID, Text: "see https://x.com now"})
	if err != nil {
		t.Fatalf("Edit: %v", err)
	}
	if err := alice.e.Typing(ctx, cid); err != nil {
		t.Fatalf("Typing: %v", err)
	}
	if err := bob.e.MarkRead(ctx, cid, edit.SequenceID); err != nil {
		t.Fatalf("MarkRead: %v", err)
	}

	if _, err := alice.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	h, err := alice.e.History(ctx, cid, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h {
		if !e.Verified && e.Type != "typing" && e.Type != "failure" && e.Type != "mark_read" {
			t.Errorf("unverified entry %+v", e)
		}
	}
	m := findEntry(t, h, first.SequenceID)
	if m.Text != text || len(m.Entities) != 2 || m.Entities[0].Type != event.EntityURL || m.TTL != time.Hour {
		t.Fatalf("first message %+v", m)
	}
	r := findEntry(t, h, reply.SequenceID)
	if r.Text != "nice" || r.ReplyTo == nil || r.ReplyTo.SequenceID != first.SequenceID ||
		r.ReplyTo.Validation != "valid" || r.ReplyTo.Text != text || r.ReplyTo.SenderID != alice.id {
		t.Fatalf("reply %+v / %+v", r, r.ReplyTo)
	}
	if e := findEntry(t, h, react.SequenceID); e.Type != event.TypeReactionAdd || e.Emoji != "👍" || e.TargetSequenceID != first.SequenceID {
		t.Fatalf("reaction %+v", e)
	}
	if e := findEntry(t, h, unreact.SequenceID); e.Type != event.TypeReactionRemove || e.Emoji != "👍" {
		t.Fatalf("unreaction %+v", e)
	}
	if e := findEntry(t, h, edit.SequenceID); e.Type != event.TypeEdit || e.Text != "see https://x.com now" || e.TargetSequenceID != first.SequenceID {
		t.Fatalf("edit %+v", e)
	}

	// A reply after the edit quotes the edited text and embeds the edit.
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	reply2, err := bob.e.Send(ctx, cid, Outgoing{Text: "edited!", ReplyTo: first.SequenceID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	h = testutil.Must(alice.e.History(ctx, cid, "", 0))(t)
	if r := findEntry(t, h, reply2.SequenceID); r.ReplyTo == nil || r.ReplyTo.Validation != "valid" || r.ReplyTo.Text != "see https://x.com now" {
		t.Fatalf("reply to edited %+v", r.ReplyTo)
	}

	// Reply across a key rotation embeds the old key change.
	if _, err := alice.e.Rotate(ctx, cid); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	reply3, err := bob.e.Send(ctx, cid, Outgoing{Text: "after rotation", ReplyTo: first.SequenceID})
	if err != nil {
		t.Fatal(err)
	}
	if reply3.KeyVersion == first.Entry.KeyVersion {
		t.Fatalf("reply not under the rotated key")
	}
	carolView := n.user("carol")
	_ = carolView
	if _, err := alice.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	h = testutil.Must(alice.e.History(ctx, cid, "", 0))(t)
	if r := findEntry(t, h, reply3.SequenceID); r.ReplyTo == nil || r.ReplyTo.Validation != "valid" {
		t.Fatalf("reply across rotation %+v", r.ReplyTo)
	}

	// Delete for all.
	if err := alice.e.DeleteMessages(ctx, cid, []string{first.SequenceID}, true); err != nil {
		t.Fatalf("DeleteMessages: %v", err)
	}
	res, err := bob.e.Sync(ctx, cid, nil)
	if err != nil {
		t.Fatal(err)
	}
	var del *event.Entry
	for i := range res.Entries {
		if res.Entries[i].Type == event.TypeDelete {
			del = &res.Entries[i]
		}
	}
	if del == nil || !del.Verified || !del.DeleteForAll || !slices.Equal(del.Deleted, []string{first.SequenceID}) {
		t.Fatalf("delete entry %+v in %+v", del, res.Entries)
	}
	// The deleted message's content is erased from bob's history.
	h = testutil.Must(bob.e.History(ctx, cid, "", 0))(t)
	if e := findEntry(t, h, first.SequenceID); !e.Removed || e.Text != "" || len(e.Entities) != 0 {
		t.Fatalf("deleted message still stored: %+v", e)
	}
	if raw := testutil.Must(bob.store.Events(ctx, cid, "", 0))(t); len(raw) == 0 {
		t.Fatal("history empty")
	} else {
		for _, r := range raw {
			if r.SequenceID == first.SequenceID && len(r.Raw) != 0 {
				t.Fatal("raw event of a deleted message kept")
			}
		}
	}
	// Bob cannot delete alice's message for everyone.
	if err := bob.e.DeleteMessages(ctx, cid, []string{reply.SequenceID}, true); err != nil {
		t.Fatalf("bob deletes his reply: %v", err)
	}
	if _, err := alice.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	h = testutil.Must(alice.e.History(ctx, cid, "", 0))(t)
	if e := findEntry(t, h, reply.SequenceID); !e.Removed {
		t.Fatalf("bob's deleted reply %+v", e)
	}
	if e := findEntry(t, h, edit.SequenceID); e.Removed {
		t.Fatalf("alice's edit removed by bob's delete")
	}
	if out := testutil.Must(alice.e.Outbox(ctx))(t); len(out) != 0 {
		t.Fatalf("outbox not empty: %+v", out)
	}
}

// TestSendRefusesMixedOutgoing: an Outgoing that asks for two things, or
// carries fields that do not belong to what it sends, fails with
// xchat.ErrInvalidArgument before anything is queued; each kind alone still goes
// out.
func TestSendRefusesMixedOutgoing(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	first := testutil.Must(alice.e.SendText(ctx, bob.id, "hello"))(t)
	cid, seq := first.ConversationID, first.SequenceID
	media := &Media{Data: strings.NewReader("x"), Size: 1, Filename: "x.bin"}
	for name, m := range map[string]Outgoing{
		"edit and react":         {Edit: seq, React: seq, Emoji: "👍"},
		"react and unreact":      {React: seq, Unreact: seq, Emoji: "👍"},
		"media and edit":         {Media: media, Edit: seq},
		"edit with reply":        {Edit: seq, Text: "x", ReplyTo: seq},
		"edit with ttl":          {Edit: seq, Text: "x", TTL: time.Hour},
		"edit with emoji":        {Edit: seq, Text: "x", Emoji: "👍"},
		"reaction with text":     {React: seq, Emoji: "👍", Text: "x"},
		"reaction silent":        {Unreact: seq, Emoji: "👍", Silent: true},
		"reaction with entity":   {React: seq, Emoji: "👍", Entities: []event.Entity{{Start: 0, End: 0}}},
		"emoji alone":            {Text: "x", Emoji: "👍"},
		"reaction without emoji": {React: seq},
		"empty":                  {},
	} {
		if _, err := alice.e.Send(ctx, cid, m); !errors.Is(err, xchat.ErrInvalidArgument) {
			t.Errorf("%s: %v, want xchat.ErrInvalidArgument", name, err)
		}
	}
	if out := testutil.Must(alice.e.Outbox(ctx))(t); len(out) != 0 {
		t.Fatalf("refused sends left %d outbox items", len(out))
	}
	if _, err := alice.e.Send(ctx, cid, Outgoing{React: seq, Emoji: "👍"}); err != nil {
		t.Fatalf("react alone: %v", err)
	}
	// A media message is a message: entities on its caption, a reply, a
	// TTL and silence all go with it (the official SDK reads each as
	// meant: interop rows 27-30).
	if _, err := alice.e.Send(ctx, cid, Outgoing{
		Text: "caption", Entities: []event.Entity{{Start: 0, End: 7, Type: event.EntityHashtag}},
		ReplyTo: seq, TTL: time.Hour, Silent: true, Media: media,
	}); err != nil {
		t.Fatalf("media with caption, entities, reply, ttl, silent: %v", err)
	}
}
