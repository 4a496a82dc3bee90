package session

import (
	"strconv"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/wire"
)

// A reply embedding an edit, delivered (receive, as a push would) before
// the quoted message is stored, is left unvalidated, then validated once
// the quoted message arrives with the next sync. (A sync alone stores
// oldest first, so there the quoted message always comes first.)
func TestPreviewEditSettledWhenQuotedArrives(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, carol := n.user("alice"), n.user("bob"), n.user("carol")
	g, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.Sync(ctx, g, nil); err != nil {
		t.Fatal(err)
	}
	m, err := alice.e.SendText(ctx, g, "meet at 5")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.Send(ctx, g, Outgoing{Edit: m.SequenceID, Text: "meet at 6"}); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.e.Sync(ctx, g, nil); err != nil {
		t.Fatal(err)
	}
	reply, err := carol.e.Send(ctx, g, Outgoing{Text: "ok", ReplyTo: m.SequenceID})
	if err != nil {
		t.Fatal(err)
	}
	page, err := bob.server.GetConversationEvents(ctx, api.ConversationPathID(g), 100, "")
	if err != nil {
		t.Fatal(err)
	}
	encoded := ""
	for _, d := range page.Data {
		raw, err := wire.DecodeB64(d.EncodedEvent)
		if err != nil {
			t.Fatal(err)
		}
		me, err := wire.DecodeMessageEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		if me.GetMessageID() == reply.MessageID {
			encoded = d.EncodedEvent
		}
	}
	if encoded == "" {
		t.Fatal("the server does not serve the reply")
	}
	ev, err := bob.e.receive(ctx, encoded)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Message == nil || ev.Message.Text.ReplyPreview == nil {
		t.Fatalf("received reply has no preview: %+v", ev)
	}
	if got := ev.Message.Text.ReplyPreview.Validation.Status.String(); got != "none" {
		t.Fatalf("reply received with preview %q before the quoted message was stored, want none", got)
	}
	if _, err := bob.e.Sync(ctx, g, nil); err != nil {
		t.Fatal(err)
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

// A reply's preview is bound to the quoted message only by a verified
// stored event: an unverified event under the quoted message id (the
// server's forgery, stored as failed under another sequence id) neither
// invalidates a genuine preview nor vouches for one.
func TestPreviewNotBoundToUnverifiedQuote(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	hello, err := alice.e.SendText(ctx, bob.id, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.Sync(ctx, hello.ConversationID, nil); err != nil {
		t.Fatal(err)
	}
	m, err := alice.e.SendText(ctx, bob.id, "the quoted words")
	if err != nil {
		t.Fatal(err)
	}
	reply, err := alice.e.Send(ctx, m.ConversationID, Outgoing{Text: "as I said", ReplyTo: m.SequenceID})
	if err != nil {
		t.Fatal(err)
	}
	page, err := bob.server.GetConversationEvents(ctx, api.ConversationPathID(m.ConversationID), 100, "")
	if err != nil {
		t.Fatal(err)
	}
	var quoted, replied string
	top := ""
	for _, d := range page.Data {
		raw, err := wire.DecodeB64(d.EncodedEvent)
		if err != nil {
			t.Fatal(err)
		}
		me, err := wire.DecodeMessageEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		if top == "" || decimal.Less(top, me.GetSequenceID()) {
			top = me.GetSequenceID()
		}
		switch me.GetMessageID() {
		case m.MessageID:
			quoted = d.EncodedEvent
		case reply.MessageID:
			replied = d.EncodedEvent
		}
	}
	if quoted == "" || replied == "" {
		t.Fatal("the server does not serve the message and its reply")
	}
	// The forgery: the quoted message's envelope under a new sequence id,
	// its ciphertext altered (so it fails its signature).
	raw, err := wire.DecodeB64(quoted)
	if err != nil {
		t.Fatal(err)
	}
	me, err := wire.DecodeMessageEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	num, err := strconv.ParseUint(top, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	seq, prev := strconv.FormatUint(num+1000, 10), top // above everything served
	me.SequenceID, me.PreviousSequenceID = &seq, &prev
	me.Detail.MessageCreateEvent.Contents[0] ^= 1
	b, err := wire.EncodeMessageEvent(me)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := bob.e.receive(ctx, wire.EncodeB64(b))
	if err != nil {
		t.Fatal(err)
	}
	if forged.Verified || forged.Err == nil {
		t.Fatalf("forged quote verified: %+v", forged)
	}
	ev, err := bob.e.receive(ctx, replied)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Message == nil || ev.Message.Text == nil || ev.Message.Text.ReplyPreview == nil {
		t.Fatalf("received reply has no preview: %+v", ev)
	}
	if v := ev.Message.Text.ReplyPreview.Validation; v.Status.String() != "valid" {
		t.Fatalf("genuine preview judged %q (%v) against an unverified event under the quoted id", v.Status, v.Reason)
	}
}
