package emulator_test

import (
	"errors"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
)

// TestSeedMessagesServedAsPosted seeds messages beside posted ones and
// checks that they are served, chained and decryptable exactly as posted
// messages are.
func TestSeedMessagesServedAsPosted(t *testing.T) {
	f := newChatFixture(t)
	posted := f.a.send(f.b.id, f.conv, f.kc, "posted")
	reqs := []api.SendChatMessageRequest{
		f.a.sendBody(f.conv, f.kc, "seeded 1"),
		f.a.sendBody(f.conv, f.kc, "seeded 2"),
	}
	last, err := f.e.srv.SeedMessages(f.a.id, f.b.id, reqs)
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := f.b.events(f.hyphen)
	if len(evs) != 3 {
		t.Fatalf("%d events served, want 3", len(evs))
	}
	// Newest first: seeded 2, seeded 1, posted.
	if evs[0].SequenceID != last {
		t.Fatalf("newest is %s, SeedMessages returned %s", evs[0].SequenceID, last)
	}
	for i, want := range []string{"seeded 2", "seeded 1", "posted"} {
		me := decodeEvent(t, evs[i].EncodedEvent)
		if got := f.b.openMessage(me, f.kc); got != want {
			t.Errorf("event %d opens to %q, want %q", i, got, want)
		}
		if i < 2 && me.GetMessageID() != reqs[1-i].MessageID {
			t.Errorf("event %d has message id %s, want %s", i, me.GetMessageID(), reqs[1-i].MessageID)
		}
		if i+1 < len(evs) && me.GetPreviousSequenceID() != evs[i+1].SequenceID {
			t.Errorf("event %d links to %s, want %s", i, me.GetPreviousSequenceID(), evs[i+1].SequenceID)
		}
		// The server's additions are the same as on a posted message.
		if me.GetSenderID() != posted.GetSenderID() || me.GetConversationID() != posted.GetConversationID() ||
			me.GetIsTrusted() != posted.GetIsTrusted() ||
			me.MessageEventSignature.GetSigningPublicKey() != posted.MessageEventSignature.GetSigningPublicKey() {
			t.Errorf("event %d envelope differs from a posted one: %+v", i, me)
		}
	}
}

// TestSeedMessagesRefused checks that a refused seed stores nothing.
func TestSeedMessagesRefused(t *testing.T) {
	f := newChatFixture(t)
	good := f.a.sendBody(f.conv, f.kc, "good")
	stale := f.a.prepareKeyChange(f.conv, "999", f.a, f.b)
	carol := f.e.newUser("carol")
	cases := []struct {
		name   string
		sender string
		id     string
		reqs   []api.SendChatMessageRequest
	}{
		{"stale key version", f.a.id, f.b.id, []api.SendChatMessageRequest{good, f.a.sendBody(f.conv, stale, "old key")}},
		{"repeated message id", f.a.id, f.b.id, []api.SendChatMessageRequest{good, good}},
		{"not a participant", carol.id, f.hyphen, []api.SendChatMessageRequest{good}},
		{"unknown sender", "999999", f.b.id, []api.SendChatMessageRequest{good}},
		{"bad base64", f.a.id, f.b.id, []api.SendChatMessageRequest{{MessageID: "m1", EncodedMessageCreateEvent: "!!", EncodedMessageEventSignature: good.EncodedMessageEventSignature}}},
		{"no conversation key", f.a.id, carol.id, []api.SendChatMessageRequest{good}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.e.srv.SeedMessages(c.sender, c.id, c.reqs)
			if !errors.Is(err, emulator.ErrSeed) {
				t.Fatalf("err = %v, want ErrSeed", err)
			}
			t.Log(err)
			if evs, _ := f.b.events(f.hyphen); len(evs) != 0 {
				t.Fatalf("%d events stored by a refused seed", len(evs))
			}
		})
	}
}
