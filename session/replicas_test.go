package session

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
)

// TestFlushOutboxWaitsForAnotherReplica: a send another deliverer
// holds stops the conversation's flush (sending nothing, so the order is
// kept); once released, the flush sends the conversation's items oldest
// first under their original message ids.
func TestFlushOutboxWaitsForAnotherReplica(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	var fs *flakyServer
	alice := n.userWith("alice", func(s Server) Server { fs = &flakyServer{Server: s}; return fs })
	bob := n.user("bob")
	if _, err := alice.e.SendText(ctx, bob.id, "warm-up"); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	fs.failBefore = 2
	fs.mu.Unlock()
	for _, text := range []string{"one", "two"} {
		if _, err := alice.e.SendText(ctx, bob.id, text); !errors.Is(err, xchat.ErrQueued) {
			t.Fatalf("send %q: %v", text, err)
		}
	}
	cid, err := oneToOneID(alice.id, bob.id)
	if err != nil {
		t.Fatal(err)
	}
	claimer := alice.store.(keystore.OutboxClaimer)
	held, _, err := claimer.ClaimOutbox(ctx, cid) // "another replica" takes both
	if err != nil || len(held) != 2 {
		t.Fatalf("claim: %d items, %v", len(held), err)
	}
	if err := claimer.ReleaseOutbox(ctx, held[1].MessageID); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	posted := len(fs.messageIDs)
	fs.mu.Unlock()
	if _, err := alice.e.FlushOutbox(ctx, bob.id); !errors.Is(err, xchat.ErrOutboxBusy) {
		t.Fatalf("flush while another replica holds the oldest item: %v", err)
	}
	fs.mu.Lock()
	if len(fs.messageIDs) != posted {
		t.Fatalf("the busy flush posted %v", fs.messageIDs[posted:])
	}
	fs.mu.Unlock()
	if err := claimer.ReleaseOutbox(ctx, held[0].MessageID); err != nil {
		t.Fatal(err)
	}
	done, err := alice.e.FlushOutbox(ctx, bob.id)
	if err != nil || len(done) != 2 || done[0].MessageID != held[0].MessageID || done[1].MessageID != held[1].MessageID {
		t.Fatalf("flush after release: %+v, %v", done, err)
	}
	res, err := bob.e.Sync(ctx, alice.id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(res.Entries); !slices.Equal(got, []string{"warm-up", "one", "two"}) {
		t.Fatalf("bob got %q", got)
	}
	if _, err := alice.e.FlushOutbox(ctx, "not a conversation"); !errors.Is(err, xchat.ErrInvalidArgument) {
		t.Fatalf("bad id: %v", err)
	}
}

// leaseRecorder is a store that records the leases the engine asks for.
type leaseRecorder struct {
	*keystore.Memory
	mu     sync.Mutex
	leases []string
}

func (r *leaseRecorder) AcquireLease(ctx context.Context, name string) (func(), error) {
	r.mu.Lock()
	r.leases = append(r.leases, name)
	r.mu.Unlock()
	return r.Memory.AcquireLease(ctx, name)
}

// TestConversationWorkTakesTheStoreLease: sync, send and rotation of a
// conversation each hold the store's lease on it, which is what keeps two
// replicas sharing a store off the same conversation.
func TestConversationWorkTakesTheStoreLease(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	bob := n.user("bob")
	id, token := n.provision("alice")
	rec := &leaseRecorder{Memory: keystore.NewMemory()}
	if err := CreateAccount(ctx, rec, id, nil); err != nil {
		t.Fatal(err)
	}
	e, err := Open(ctx, rec, NewAPIServer(n.client(token)))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Register(ctx); err != nil {
		t.Fatal(err)
	}
	cid := testutil.Must(oneToOneID(id, bob.id))(t)
	want := conversationLease(cid)
	steps := []struct {
		name string
		run  func() error
	}{
		{"send", func() error { _, err := e.SendText(ctx, bob.id, "hi"); return err }},
		{"sync", func() error { _, err := e.Sync(ctx, bob.id, nil); return err }},
		{"rotate", func() error { _, err := e.Rotate(ctx, bob.id); return err }},
	}
	for _, s := range steps {
		rec.mu.Lock()
		rec.leases = nil
		rec.mu.Unlock()
		if err := s.run(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		rec.mu.Lock()
		got := slices.Clone(rec.leases)
		rec.mu.Unlock()
		if !slices.Contains(got, want) {
			t.Errorf("%s took leases %q, want %q among them", s.name, got, want)
		}
		for _, l := range got {
			if !strings.HasPrefix(l, "session/conversation/") {
				t.Errorf("%s took an unexpected lease %q", s.name, l)
			}
		}
	}
	// Every lease was released: another replica can take it at once.
	release, ok, err := rec.TryLease(ctx, want)
	if err != nil || !ok {
		t.Fatalf("lease still held after the work: %v %v", ok, err)
	}
	release()
}

// TestConversationWaitEndsWithContext: a call waiting for a conversation
// that another caller of this engine, or another replica (the store's
// lease), holds gives up when its context ends, with the context's error,
// and leaves the conversation usable once the holder lets go.
func TestConversationWaitEndsWithContext(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	if _, err := alice.e.SendText(ctx, bob.id, "hello"); err != nil {
		t.Fatal(err)
	}
	cid := testutil.Must(oneToOneID(alice.id, bob.id))(t)
	holders := map[string]func() func(){
		"this engine": func() func() {
			_, unlock, err := alice.e.lockConv(ctx, cid)
			if err != nil {
				t.Fatal(err)
			}
			return unlock
		},
		"another replica": func() func() {
			l, ok := alice.store.(keystore.Leaser)
			if !ok {
				t.Fatalf("%T is not a keystore.Leaser", alice.store)
			}
			release, err := l.AcquireLease(ctx, conversationLease(cid))
			if err != nil {
				t.Fatal(err)
			}
			return release
		},
	}
	calls := map[string]func(context.Context) error{
		"sync":   func(c context.Context) error { _, err := alice.e.Sync(c, cid, nil); return err },
		"rotate": func(c context.Context) error { _, err := alice.e.Rotate(c, cid); return err },
		"send":   func(c context.Context) error { _, err := alice.e.SendText(c, bob.id, "waiting"); return err },
	}
	for hname, hold := range holders {
		for cname, call := range calls {
			t.Run(hname+"/"+cname, func(t *testing.T) {
				release := hold()
				cctx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- call(cctx) }()
				cancel()
				select {
				case err := <-done:
					if !errors.Is(err, context.Canceled) {
						release()
						t.Fatalf("%s while %s holds the conversation: %v, want context.Canceled", cname, hname, err)
					}
				case <-ctx.Done():
					t.Fatalf("%s did not return after its context ended (%s holds the conversation)", cname, hname)
				}
				release()
				if err := call(ctx); err != nil {
					t.Fatalf("%s after the holder let go: %v", cname, err)
				}
			})
		}
	}
}
