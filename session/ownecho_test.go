package session

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// keyReads counts the reads of one conversation key version.
type keyReads struct {
	keystore.Store
	reads atomic.Int64
}

func (k *keyReads) ConversationKey(ctx context.Context, cid, version string) (*keystore.ConversationKey, error) {
	k.reads.Add(1)
	return k.Store.ConversationKey(ctx, cid, version)
}

// A send's echo is checked without reading the key it was sealed under
// again (see ackMessage), and is recorded verified as bob reads it.
func TestSendEchoReadsNoKey(t *testing.T) {
	c := ctx(t)
	n := newNet(t)
	bob := n.user("bob")
	store := &keyReads{Store: keystore.NewMemory()}
	alice := n.userOn("alice", store)
	if _, err := alice.e.SendText(c, bob.id, "warm-up"); err != nil {
		t.Fatal(err)
	}
	before := store.reads.Load()
	s, err := alice.e.SendText(c, bob.id, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if got := store.reads.Load() - before; got != 0 {
		t.Fatalf("a send read a conversation key version %d times, want 0", got)
	}
	if s.Entry == nil || !s.Entry.Verified || s.Entry.Text != "hello" {
		t.Fatalf("recorded %+v", s.Entry)
	}
	if got := bobSees(t, bob, s.ConversationID); len(got) != 2 || got[1] != "hello" {
		t.Fatalf("bob sees %q", got)
	}
}

// The plaintext and key a prepared send keeps for its echo (pending.own)
// are wiped once the send is delivered, and once it is left queued.
func TestSendWipesSealedPlaintext(t *testing.T) {
	c := ctx(t)
	n := newNet(t)
	bob := n.user("bob")
	var fs *flakyServer
	alice := n.userWith("alice", func(s Server) Server { fs = &flakyServer{Server: s}; return fs })
	cid, err := alice.e.EnsureConversationKey(c, bob.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, fail := range []bool{false, true} {
		fs.mu.Lock()
		if fail {
			fs.failBefore = 1
		}
		fs.mu.Unlock()
		sg, err := alice.e.signer()
		if err != nil {
			t.Fatal(err)
		}
		locked, unlock, err := alice.e.lockOutbox(c, cid)
		if err != nil {
			t.Fatal(err)
		}
		oc := &outboxContent{Type: event.TypeMessage, Text: "secret words"}
		p, err := alice.e.prepare(locked, sg, cid, "", oc, alice.e.builder(locked, oc, nil))
		if err != nil {
			unlock()
			t.Fatal(err)
		}
		plain, key := p.own.Plain, p.own.ConversationKey
		if len(plain) == 0 || key == nil || *key == (crypto.ConversationKey{}) {
			unlock()
			t.Fatal("the prepared send keeps no plaintext or key for its echo")
		}
		s, _, err := alice.e.submit(locked, p)
		unlock()
		var q *xchat.QueuedError
		switch {
		case fail && !errors.As(err, &q):
			t.Fatalf("failed send: %v", err)
		case !fail && (err != nil || s == nil || !s.Entry.Verified):
			t.Fatalf("send: %+v, %v", s, err)
		}
		for _, b := range plain {
			if b != 0 {
				t.Fatalf("failed %v: the plaintext kept for the echo was not wiped", fail)
			}
		}
		if *key != (crypto.ConversationKey{}) || p.own.Plain != nil || p.own.ConversationKey != nil {
			t.Fatalf("failed %v: the key kept for the echo was not wiped", fail)
		}
	}
}

// outboxRefused is a store that cannot write an outbox item.
type outboxRefused struct{ keystore.Store }

var errOutboxRefused = errors.New("test: the outbox cannot be written")

func (outboxRefused) PutOutbox(context.Context, keystore.OutboxItem) error { return errOutboxRefused }

// TestSendWipesSealedPlaintextNotQueued: a prepared send that cannot be
// stored in the outbox (the store refuses it) fails, and the plaintext
// and key it kept for its echo are wiped all the same.
func TestSendWipesSealedPlaintextNotQueued(t *testing.T) {
	c := ctx(t)
	n := newNet(t)
	bob, alice := n.user("bob"), n.user("alice")
	cid, err := alice.e.EnsureConversationKey(c, bob.id)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := alice.e.signer()
	if err != nil {
		t.Fatal(err)
	}
	locked, unlock, err := alice.e.lockOutbox(c, cid)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	oc := &outboxContent{Type: event.TypeMessage, Text: "secret words"}
	p, err := alice.e.prepare(locked, sg, cid, "", oc, alice.e.builder(locked, oc, nil))
	if err != nil {
		t.Fatal(err)
	}
	plain, key := p.own.Plain, p.own.ConversationKey
	if len(plain) == 0 || key == nil || *key == (crypto.ConversationKey{}) {
		t.Fatal("the prepared send keeps no plaintext or key for its echo")
	}
	store := alice.e.store
	alice.e.store = outboxRefused{store}
	_, _, err = alice.e.submit(locked, p)
	alice.e.store = store
	if !errors.Is(err, errOutboxRefused) {
		t.Fatalf("send with the outbox refused: %v", err)
	}
	for _, b := range plain {
		if b != 0 {
			t.Fatal("the plaintext kept for the echo was not wiped")
		}
	}
	if *key != (crypto.ConversationKey{}) || p.own.Plain != nil || p.own.ConversationKey != nil {
		t.Fatal("the key kept for the echo was not wiped")
	}
}
