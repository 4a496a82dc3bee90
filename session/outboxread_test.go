package session

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/xchat-go/xchat/keystore"
)

// outboxReads counts the reads of the whole outbox (a store without
// keystore.OutboxClaimer: the engine reads the outbox to claim too).
type outboxReads struct {
	keystore.Store
	reads atomic.Int64
}

func (o *outboxReads) Outbox(ctx context.Context) ([]keystore.OutboxItem, error) {
	o.reads.Add(1)
	return o.Store.Outbox(ctx)
}

// A send reads its conversation's pending items once: the one read both
// finds a pending copy of the message and the items to deliver before it.
// Each read opens every item queued; a send read them twice.
func TestSendReadsOutboxOnce(t *testing.T) {
	c := ctx(t)
	n := newNet(t)
	bob := n.user("bob")
	store := &outboxReads{Store: keystore.NewMemory()}
	alice := n.userOn("alice", store)
	if _, err := alice.e.SendText(c, bob.id, "warm-up"); err != nil {
		t.Fatal(err)
	}
	before := store.reads.Load()
	s, err := alice.e.SendText(c, bob.id, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if s.Duplicate || s.SequenceID == "" {
		t.Fatalf("sent %+v", s)
	}
	if got := store.reads.Load() - before; got != 1 {
		t.Fatalf("a send read the outbox %d times, want 1", got)
	}
	if got := bobSees(t, bob, s.ConversationID); len(got) != 2 || got[1] != "hello" {
		t.Fatalf("bob sees %q", got)
	}
}
