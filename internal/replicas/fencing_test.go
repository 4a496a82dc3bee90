package replicas

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/pgtest"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/pgstore"
	"github.com/xchat-go/xchat/session"
)

// The tests below stall one replica in the middle of an operation (inside
// a call to the server), let its lease lapse (its expiry moved into the
// past in the database: no clock, no sleep), let the other replica take the
// conversation over, and then let the stalled one carry on.

// stall pauses one server call of a replica until resumed.
type stall struct {
	op      string
	after   bool          // pause once the server answered, not before asking it
	reached chan struct{} // closed when the call is paused
	resume  chan struct{} // closed by the test to let it go on
}

// stallServer is a replica's server with stalls armed by the test.
type stallServer struct {
	session.Server
	mu        sync.Mutex
	stalls    []*stall
	failSends int // fail this many sends without forwarding them
}

func (s *stallServer) arm(op string, after bool) *stall {
	st := &stall{op: op, after: after, reached: make(chan struct{}), resume: make(chan struct{})}
	s.mu.Lock()
	s.stalls = append(s.stalls, st)
	s.mu.Unlock()
	return st
}

func (s *stallServer) pause(op string, after bool) {
	s.mu.Lock()
	i := slices.IndexFunc(s.stalls, func(st *stall) bool { return st.op == op && st.after == after })
	var st *stall
	if i >= 0 {
		st = s.stalls[i]
		s.stalls = slices.Delete(s.stalls, i, i+1)
	}
	s.mu.Unlock()
	if st != nil {
		close(st.reached)
		<-st.resume
	}
}

func (s *stallServer) AddConversationKeys(ctx context.Context, cid string, req *api.AddConversationKeysRequest) (*api.AddConversationKeysResponse, error) {
	s.pause("keys", false)
	defer s.pause("keys", true)
	return s.Server.AddConversationKeys(ctx, cid, req)
}

func (s *stallServer) SendMessage(ctx context.Context, cid string, req *api.SendChatMessageRequest) (*api.SendChatMessageResponse, error) {
	s.mu.Lock()
	fail := s.failSends > 0
	if fail {
		s.failSends--
	}
	s.mu.Unlock()
	if fail {
		return nil, errors.New("network down")
	}
	s.pause("send", false)
	defer s.pause("send", true)
	return s.Server.SendMessage(ctx, cid, req)
}

func (s *stallServer) GetConversationEvents(ctx context.Context, cid string, n int, token string) (*api.GetChatConversationEventsResponse, error) {
	s.pause("events", false)
	defer s.pause("events", true)
	return s.Server.GetConversationEvents(ctx, cid, n, token)
}

// fencePair is one account served by two replicas (a and b) on one
// PostgreSQL schema, talking with one peer through the emulator; a's
// server calls can be stalled.
type fencePair struct {
	ctx    context.Context
	dsn    string
	a, b   *pgstore.Store
	ea, eb *session.Engine
	stalls *stallServer
	peer   *peer
	cid    string
}

func newFencePair(t *testing.T, emuOpts ...emulator.Option) *fencePair {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	dsn := pgtest.Shared(t).NewDatabase(t)
	emu := emulator.New(append([]emulator.Option{emulator.WithRateLimit(0, time.Minute)}, emuOpts...)...)
	t.Cleanup(func() { _ = emu.Close() })
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	botID, botToken := provision(t, srv.URL, "bot")
	open := func(holder string) *pgstore.Store {
		// An hour's TTL: no renewal happens during a test, so only the
		// test moves a lease's expiry.
		s, err := pgstore.Open(ctx, dsn, pgstore.Keystore(keystore.WithKey(storeKey)), pgstore.WithSchema("bot"),
			pgstore.WithLeaseTTL(time.Hour), pgstore.WithHolder(holder))
		mustNil(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	p := &fencePair{ctx: ctx, dsn: dsn, a: open("replica-a"), b: open("replica-b")}
	mustNil(t, session.CreateAccount(ctx, p.a, botID, nil))
	p.stalls = &stallServer{Server: session.NewAPIServer(newClient(t, srv.URL, botToken))}
	var err error
	p.ea, err = session.Open(ctx, p.a, p.stalls)
	mustNil(t, err)
	t.Cleanup(func() { _ = p.ea.Close() })
	_, err = p.ea.Register(ctx)
	mustNil(t, err)
	p.eb, err = session.Open(ctx, p.b, session.NewAPIServer(newClient(t, srv.URL, botToken)))
	mustNil(t, err)
	t.Cleanup(func() { _ = p.eb.Close() })
	p.peer = newPeer(t, ctx, srv.URL, "peer")
	p.cid, err = session.CanonicalID(botID, p.peer.id)
	mustNil(t, err)
	return p
}

// lapse ends a's hold on lease name as a stall past the TTL would: its
// expiry passes by the database's clock.
func (p *fencePair) lapse(t *testing.T, name string) {
	t.Helper()
	conn, err := pgx.Connect(p.ctx, p.dsn)
	mustNil(t, err)
	defer conn.Close(context.Background())
	tag, err := conn.Exec(p.ctx, `UPDATE bot.leases SET expires = now() - interval '1 second' WHERE name = $1 AND holder = 'replica-a'`, name)
	mustNil(t, err)
	if tag.RowsAffected() != 1 {
		t.Fatalf("replica a does not hold lease %s", name)
	}
	// Its outbox claims lapse with it.
	_, err = conn.Exec(p.ctx, `UPDATE bot.records SET held_until = now() - interval '1 second' WHERE holder = 'replica-a'`)
	mustNil(t, err)
}

func conversationLease(cid string) string { return "session/conversation/" + cid }

// TestStalledRotationIsFenced (scenario a): replica a's key change is
// accepted by the server, then a stalls before storing its key; its lease
// lapses and b rotates the conversation. When a carries on it must not
// report its superseded version as the conversation's new key nor rewrite
// the conversation record b left; every key the server accepted stays
// readable, and both replicas keep working.
func TestStalledRotationIsFenced(t *testing.T) {
	p := newFencePair(t)
	ctx := p.ctx
	_, err := p.eb.SendText(ctx, p.peer.id, "hello")
	mustNil(t, err)
	st := p.stalls.arm("keys", true)
	type outcome struct {
		version string
		err     error
	}
	done := make(chan outcome, 1)
	go func() {
		v, err := p.ea.Rotate(ctx, p.cid)
		done <- outcome{v, err}
	}()
	<-st.reached
	p.lapse(t, conversationLease(p.cid))
	vb, err := p.eb.Rotate(ctx, p.cid)
	mustNil(t, err)
	close(st.resume)
	a := <-done
	if !errors.Is(a.err, keystore.ErrLeaseLost) {
		t.Errorf("the stalled rotation returned version %q, %v; want keystore.ErrLeaseLost (b rotated to %s meanwhile)", a.version, a.err, vb)
	}
	conv, err := p.eb.Conversation(ctx, p.cid)
	mustNil(t, err)
	if conv.KeyVersion != vb {
		t.Errorf("key version after both rotations: %s, want b's %s", conv.KeyVersion, vb)
	}
	// Nothing is lost: both replicas and the peer carry on, every message
	// reads on every side.
	_, err = p.ea.SendText(ctx, p.peer.id, "from a")
	mustNil(t, err)
	_, err = p.peer.e.SendText(ctx, p.cid, "from peer")
	mustNil(t, err)
	_, err = p.eb.SendText(ctx, p.peer.id, "from b")
	mustNil(t, err)
	checkTranscript(t, ctx, p.peer.e, p.cid, []string{"hello", "from a", "from peer", "from b"})
	checkTranscript(t, ctx, p.ea, p.cid, []string{"hello", "from a", "from peer", "from b"})
}

// TestStalledSendIsFenced (scenario b): replica a flushes two queued
// sends and stalls once the server took the first, before acknowledging
// it; its outbox lease and claims lapse and b delivers what is left. When
// a carries on it must not deliver the second send again (a server that
// does not de-duplicate message ids, as here, shows it twice) nor
// acknowledge sends another replica now delivers.
func TestStalledSendIsFenced(t *testing.T) {
	p := newFencePair(t, emulator.WithoutMessageIDDedup())
	ctx := p.ctx
	_, err := p.ea.SendText(ctx, p.peer.id, "hello")
	mustNil(t, err)
	p.stalls.mu.Lock()
	p.stalls.failSends = 2
	p.stalls.mu.Unlock()
	for _, text := range []string{"one", "two"} {
		if _, err := p.ea.SendText(ctx, p.peer.id, text); !errors.Is(err, xchat.ErrQueued) {
			t.Fatalf("send %q: %v, want it queued", text, err)
		}
	}
	st := p.stalls.arm("send", true)
	done := make(chan error, 1)
	go func() {
		_, err := p.ea.FlushOutbox(ctx, p.peer.id)
		done <- err
	}()
	<-st.reached
	p.lapse(t, conversationLease("outbox/"+p.cid))
	_, err = p.eb.FlushOutbox(ctx, p.peer.id)
	mustNil(t, err)
	close(st.resume)
	if err := <-done; !errors.Is(err, keystore.ErrLeaseLost) {
		t.Errorf("the stalled flush: %v, want keystore.ErrLeaseLost", err)
	}
	if ob, err := p.a.Outbox(ctx); err != nil || len(ob) != 0 {
		t.Errorf("outbox after both flushes: %d items, %v", len(ob), err)
	}
	checkTranscript(t, ctx, p.peer.e, p.cid, []string{"hello", "one", "two"})
}

// TestStalledSyncIsFenced (scenario c): replica a fetched a page of the
// conversation and stalls before storing it; its lease lapses, the peer
// sends more and b syncs past them. When a carries on it must not store
// its stale page over b's work: the sync position never goes backwards.
func TestStalledSyncIsFenced(t *testing.T) {
	p := newFencePair(t)
	ctx := p.ctx
	_, err := p.eb.SendText(ctx, p.peer.id, "hello")
	mustNil(t, err)
	_, err = p.peer.e.SendText(ctx, p.cid, "one")
	mustNil(t, err)
	st := p.stalls.arm("events", true)
	done := make(chan error, 1)
	go func() {
		_, err := p.ea.Sync(ctx, p.cid, nil)
		done <- err
	}()
	<-st.reached
	p.lapse(t, conversationLease(p.cid))
	_, err = p.peer.e.SendText(ctx, p.cid, "two")
	mustNil(t, err)
	_, err = p.eb.Sync(ctx, p.cid, nil)
	mustNil(t, err)
	after, err := p.eb.Conversation(ctx, p.cid)
	mustNil(t, err)
	close(st.resume)
	errA := <-done
	if !errors.Is(errA, keystore.ErrLeaseLost) {
		t.Errorf("the stalled sync: %v, want keystore.ErrLeaseLost", errA)
	}
	now, err := p.eb.Conversation(ctx, p.cid)
	mustNil(t, err)
	if now.LastSequenceID != after.LastSequenceID {
		t.Errorf("sync position %s after the stalled sync carried on, want b's %s", now.LastSequenceID, after.LastSequenceID)
	}
	checkTranscript(t, ctx, p.ea, p.cid, []string{"hello", "one", "two"})
}

// checkTranscript syncs e and compares the texts of cid's history.
func checkTranscript(t *testing.T, ctx context.Context, e *session.Engine, cid string, want []string) {
	t.Helper()
	if _, err := e.Sync(ctx, cid, nil); err != nil {
		t.Fatalf("sync: %v", err)
	}
	h, err := e.History(ctx, cid, "", 0)
	mustNil(t, err)
	var got []string
	for _, en := range h {
		if en.Text != "" {
			got = append(got, en.Text)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("transcript %q, want %q", got, want)
	}
}
