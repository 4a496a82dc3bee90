package session

import (
	"testing"
)

// A reply embedding an edit, read before the quoted message is stored
// (pages of one event, newest first), is left unvalidated, then validated
// once the quoted message arrives later in the same sync.
func TestPreviewEditSettledWhenQuotedArrives(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, carol := n.user("alice"), n.user("carol")
	bob := n.user("bob", WithPageSize(1))
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := alice.e.SendText(ctx, g, "meet at 5")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.Edit(ctx, g, m.SequenceID, "meet at 6"); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.e.Sync(ctx, g); err != nil {
		t.Fatal(err)
	}
	reply, err := carol.e.Reply(ctx, g, m.SequenceID, "ok")
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	if _, err := bob.e.SyncEach(ctx, g, func(ev *Event) error {
		if ev.MessageID == reply.MessageID && ev.Message != nil && ev.Message.Text.ReplyPreview != nil {
			seen = ev.Message.Text.ReplyPreview.Validation.Status.String()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen != "none" {
		t.Fatalf("reply handed over with preview %q before the quoted message was stored, want none", seen)
	}
	h, err := bob.e.History(ctx, g, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range h {
		if en.MessageID == reply.MessageID {
			if en.ReplyTo == nil || en.ReplyTo.Validation != "valid" || en.ReplyTo.Text != "meet at 6" {
				t.Fatalf("stored reply %+v", en.ReplyTo)
			}
			return
		}
	}
	t.Fatal("reply not stored")
}
