package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/session/event"
)

var errNetwork = errors.New("network down")

// flakyServer fails SendMessage and DeleteMessages on demand, before or
// after forwarding them, and records what reached it.
type flakyServer struct {
	Server
	mu         sync.Mutex
	failBefore int // fail this many sends without forwarding
	failAfter  int // forward, then fail this many sends (response lost)
	reject     int // answer this many sends with a 400 problem
	status     int // answer statusN sends with this HTTP status, not forwarded
	statusN    int
	delAfter   int // forward, then fail this many deletes (response lost)
	delBefore  int // fail this many deletes before they reach the server
	messageIDs []string
	events     int // GetConversationEvents calls
}

func (s *flakyServer) SendMessage(ctx context.Context, id string, req *api.SendChatMessageRequest) (*api.SendChatMessageResponse, error) {
	s.mu.Lock()
	s.messageIDs = append(s.messageIDs, req.MessageID)
	if s.reject > 0 {
		s.reject--
		s.mu.Unlock()
		return nil, &api.Error{Op: "sendChatMessage", StatusCode: 400, Problem: api.Problem{Title: "Invalid Request", Detail: "CONTENTS_TOO_LARGE: too big"}}
	}
	if s.statusN > 0 {
		s.statusN--
		st := s.status
		s.mu.Unlock()
		return nil, &api.Error{Op: "sendChatMessage", StatusCode: st, Problem: api.Problem{Title: http.StatusText(st)}}
	}
	before, after := s.failBefore > 0, s.failAfter > 0
	if before {
		s.failBefore--
	} else if after {
		s.failAfter--
	}
	s.mu.Unlock()
	if before {
		return nil, errNetwork
	}
	r, err := s.Server.SendMessage(ctx, id, req)
	if after {
		return nil, errNetwork
	}
	return r, err
}

func (s *flakyServer) DeleteMessages(ctx context.Context, id string, req *api.DeleteChatMessagesRequest) (*api.DeleteChatMessagesResponse, error) {
	s.mu.Lock()
	before, after := s.delBefore > 0, s.delAfter > 0
	if before {
		s.delBefore--
	} else if after {
		s.delAfter--
	}
	s.mu.Unlock()
	if before {
		return nil, &api.Error{Op: "deleteChatMessages", StatusCode: 429, Problem: api.Problem{Title: "Too Many Requests"}}
	}
	r, err := s.Server.DeleteMessages(ctx, id, req)
	if after {
		return nil, errNetwork
	}
	return r, err
}

func (s *flakyServer) GetConversationEvents(ctx context.Context, id string, n int, tok string) (*api.GetChatConversationEventsResponse, error) {
	s.mu.Lock()
	s.events++
	s.mu.Unlock()
	return s.Server.GetConversationEvents(ctx, id, n, tok)
}

func (s *flakyServer) set(f func(s *flakyServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// posts counts the sends of message id mid that reached the flaky layer.
func (s *flakyServer) posts(mid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, id := range s.messageIDs {
		if id == mid {
			n++
		}
	}
	return n
}

// newNaiveNet is newNet on an emulator that stores a repeated message_id
// again instead of answering the original: the engine must not rely on
// server de-duplication (issue #13 item 7).
func newNaiveNet(t testing.TB) *testNet {
	t.Helper()
	emu := emulator.New(emulator.WithoutMessageIDDedup())
	srv := httptest.NewServer(emu)
	t.Cleanup(func() {
		srv.Close()
		_ = emu.Close()
	})
	return &testNet{t: t, emu: emu, srv: srv}
}

// outboxPair is alice (behind a flaky server) and bob with a conversation.
func outboxPair(t *testing.T) (*testUser, *testUser, *flakyServer, string) {
	t.Helper()
	n := newNaiveNet(t)
	var fs *flakyServer
	alice := n.userWith("alice", func(s Server) Server { fs = &flakyServer{Server: s}; return fs })
	bob := n.user("bob")
	s, err := alice.e.SendText(ctxT(t), bob.id, "warm-up")
	if err != nil {
		t.Fatal(err)
	}
	return alice, bob, fs, s.ConversationID
}

// bobSees syncs bob and returns the verified texts of his history.
func bobSees(t *testing.T, bob *testUser, cid string) []string {
	t.Helper()
	ctx := ctxT(t)
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	h, err := bob.e.History(ctx, cid, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	return texts(h)
}

func queuedErr(t *testing.T, err error) *xchat.QueuedError {
	t.Helper()
	var q *xchat.QueuedError
	if !errors.As(err, &q) || !errors.Is(err, xchat.ErrQueued) {
		t.Fatalf("want a *xchat.QueuedError, got %v", err)
	}
	return q
}

func outboxLen(t *testing.T, u *testUser) int {
	t.Helper()
	out, err := u.e.Outbox(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return len(out)
}

// TestOutboxLooksBeforeResending: a send whose answer was lost is found in
// the conversation by its message id and not sent again; one that never
// left is resent with the same message id. The server here does not
// de-duplicate, so a blind resend would show bob the message twice.
func TestOutboxLooksBeforeResending(t *testing.T) {
	ctx := ctxT(t)
	alice, bob, fs, cid := outboxPair(t)

	fs.set(func(s *flakyServer) { s.failAfter = 1 })
	_, err := alice.e.SendText(ctx, cid, "lost response")
	lostResp := queuedErr(t, err).MessageID
	done, err := alice.e.FlushOutbox(ctx)
	if err != nil || len(done) != 1 || done[0].MessageID != lostResp || done[0].SequenceID == "" {
		t.Fatalf("flush: %+v, %v", done, err)
	}
	if n := fs.posts(lostResp); n != 1 {
		t.Fatalf("the send that arrived was posted %d times", n)
	}

	fs.set(func(s *flakyServer) { s.failBefore = 1 })
	_, err = alice.e.SendText(ctx, cid, "lost request")
	lostReq := queuedErr(t, err).MessageID
	if done, err := alice.e.FlushOutbox(ctx); err != nil || len(done) != 1 {
		t.Fatalf("flush: %+v, %v", done, err)
	}
	if n := fs.posts(lostReq); n != 2 {
		t.Fatalf("the send that never left was posted %d times, want 2 (same message id)", n)
	}
	if outboxLen(t, alice) != 0 {
		t.Fatal("outbox not empty")
	}
	if got := bobSees(t, bob, cid); !slices.Equal(got, []string{"warm-up", "lost response", "lost request"}) {
		t.Fatalf("bob sees %q", got)
	}
	h, err := alice.e.History(ctx, cid, "", 0)
	if err != nil || len(texts(h)) != 3 {
		t.Fatalf("alice history %q, %v", texts(h), err)
	}
}

// TestOutboxKeepsRecoverableFailures: 401, 403, 404, 429 and 5xx answers keep
// the item (issue #12 finding 4: a rejected token dropped it); it is
// delivered once the server accepts it.
func TestOutboxKeepsRecoverableFailures(t *testing.T) {
	for _, status := range []int{401, 403, 404, 429, 500, 503} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			ctx := ctxT(t)
			alice, bob, fs, cid := outboxPair(t)
			fs.set(func(s *flakyServer) { s.status, s.statusN = status, 2 })
			_, err := alice.e.SendText(ctx, cid, "keep me")
			q := queuedErr(t, err)
			var ae *api.Error
			if !errors.As(err, &ae) || ae.StatusCode != status || !strings.Contains(q.What, "keep me") {
				t.Fatalf("queued error %v", err)
			}
			if _, err := alice.e.FlushOutbox(ctx); !errors.Is(err, xchat.ErrQueued) {
				t.Fatalf("flush against a failing server: %v", err)
			}
			if outboxLen(t, alice) != 1 {
				t.Fatal("item dropped")
			}
			if done, err := alice.e.FlushOutbox(ctx); err != nil || len(done) != 1 {
				t.Fatalf("flush: %+v, %v", done, err)
			}
			if got := bobSees(t, bob, cid); !slices.Equal(got, []string{"warm-up", "keep me"}) {
				t.Fatalf("bob sees %q", got)
			}
		})
	}
}

// TestOutboxRejectedTokenKeepsItem reproduces issue #12 finding 4 end to
// end: a flush with a token the server refuses (401) keeps the message; a
// flush with the right token delivers it.
func TestOutboxRejectedTokenKeepsItem(t *testing.T) {
	ctx := ctxT(t)
	n := newNaiveNet(t)
	var fs *flakyServer
	alice := n.userWith("alice", func(s Server) Server { fs = &flakyServer{Server: s}; return fs })
	bob := n.user("bob")
	if _, err := alice.e.SendText(ctx, bob.id, "warm-up"); err != nil {
		t.Fatal(err)
	}
	fs.set(func(s *flakyServer) { s.failBefore = 1 })
	_, err := alice.e.SendText(ctx, bob.id, "queued while down")
	queuedErr(t, err)
	_ = alice.e.Close()

	bad, err := Open(ctx, alice.store, NewAPIServer(n.client("expired-token")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.FlushOutbox(ctx)
	if !errors.Is(err, xchat.ErrQueued) || !errors.Is(err, api.ErrUnauthorized) {
		t.Fatalf("flush with a rejected token: %v", err)
	}
	if out := testutil.Must(bad.Outbox(ctx))(t); len(out) != 1 || out[0].Text != "queued while down" {
		t.Fatalf("outbox after a 401: %+v", out)
	}
	_ = bad.Close()

	good, err := Open(ctx, alice.store, NewAPIServer(n.client(alice.token)))
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if done, err := good.FlushOutbox(ctx); err != nil || len(done) != 1 {
		t.Fatalf("flush with the right token: %+v, %v", done, err)
	}
	cid := testutil.Must(oneToOneID(alice.id, bob.id))(t)
	if got := bobSees(t, bob, cid); !slices.Equal(got, []string{"warm-up", "queued while down"}) {
		t.Fatalf("bob sees %q", got)
	}
}

// TestOutboxRejectionNamesTheMessage: only a definite, content-related
// rejection drops an item, and the error says what was not sent and why.
func TestOutboxRejectionNamesTheMessage(t *testing.T) {
	ctx := ctxT(t)
	alice, _, fs, cid := outboxPair(t)
	fs.set(func(s *flakyServer) { s.reject = 1 })
	_, err := alice.e.SendText(ctx, cid, "far too long")
	var rej *xchat.RejectedError
	if !errors.As(err, &rej) || !errors.Is(err, xchat.ErrRejected) || errors.Is(err, xchat.ErrQueued) {
		t.Fatalf("rejected send: %v", err)
	}
	if rej.Text != "far too long" || !strings.Contains(rej.Reason, "CONTENTS_TOO_LARGE") ||
		!strings.Contains(err.Error(), `message "far too long"`) {
		t.Fatalf("rejection %+v: %v", rej.Rejected, err)
	}
	var ae *api.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 {
		t.Fatalf("rejection does not unwrap to the server's answer: %v", err)
	}
	if outboxLen(t, alice) != 0 {
		t.Fatal("rejected item kept")
	}
}

// TestPermanentRejectionLeavesNoOutbox: a send refused before anything is
// queued (not a member) leaves nothing behind.
func TestPermanentRejectionLeavesNoOutbox(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, carol := n.user("alice"), n.user("bob"), n.user("carol")
	if _, err := bob.e.SendText(ctx, carol.id, "x"); err != nil {
		t.Fatal(err)
	}
	cid := testutil.Must(oneToOneID(bob.id, carol.id))(t)
	if _, err := alice.e.SendText(ctx, cid, "intrude"); !errors.Is(err, xchat.ErrNotMember) {
		t.Fatalf("send to foreign conversation: %v", err)
	}
	if outboxLen(t, alice) != 0 {
		t.Fatal("outbox not empty")
	}
}

// TestSendDeliversOlderPendingFirst: a later send delivers the
// conversation's pending sends first, in order (issue #12 finding 3: later
// sends neither flushed nor mentioned them).
func TestSendDeliversOlderPendingFirst(t *testing.T) {
	ctx := ctxT(t)
	alice, bob, fs, cid := outboxPair(t)
	fs.set(func(s *flakyServer) { s.failBefore = 1 })
	_, err := alice.e.SendText(ctx, cid, "first")
	first := queuedErr(t, err).MessageID
	s, err := alice.e.SendText(ctx, cid, "second")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Flushed) != 1 || s.Flushed[0].MessageID != first || s.Duplicate {
		t.Fatalf("sent %+v", s)
	}
	if got := bobSees(t, bob, cid); !slices.Equal(got, []string{"warm-up", "first", "second"}) {
		t.Fatalf("bob sees %q", got)
	}
}

// TestSendQueuesBehindStuckItem: while an older send cannot be delivered, a
// new one is not sent ahead of it but queued behind it.
func TestSendQueuesBehindStuckItem(t *testing.T) {
	ctx := ctxT(t)
	alice, bob, fs, cid := outboxPair(t)
	fs.set(func(s *flakyServer) { s.failBefore = 2 })
	_, err := alice.e.SendText(ctx, cid, "first")
	queuedErr(t, err)
	_, err = alice.e.SendText(ctx, cid, "second")
	q := queuedErr(t, err)
	if q.Behind != 1 || !strings.Contains(err.Error(), "queued behind 1 older") {
		t.Fatalf("second send: %v (behind %d)", err, q.Behind)
	}
	if n := fs.posts(q.MessageID); n != 0 {
		t.Fatalf("the second send was posted %d times while the first was stuck", n)
	}
	done, err := alice.e.FlushOutbox(ctx)
	if err != nil || len(done) != 2 {
		t.Fatalf("flush: %+v, %v", done, err)
	}
	if got := bobSees(t, bob, cid); !slices.Equal(got, []string{"warm-up", "first", "second"}) {
		t.Fatalf("bob sees %q", got)
	}
}

// TestResendByHandDeliversOnce is issue #12's scenario: the server is down,
// the user sends again by hand (twice), the server comes back, the user
// sends a third time and flushes: bob sees the message exactly once.
func TestResendByHandDeliversOnce(t *testing.T) {
	ctx := ctxT(t)
	alice, bob, fs, cid := outboxPair(t)
	fs.set(func(s *flakyServer) { s.failBefore = 1 << 20 }) // down
	_, err := alice.e.SendText(ctx, cid, "are you there?")
	orig := queuedErr(t, err).MessageID
	_, err = alice.e.SendText(ctx, cid, "are you there?")
	if q := queuedErr(t, err); !q.Duplicate || !strings.Contains(err.Error(), "already queued") {
		t.Fatalf("resend while down: %v", err)
	}
	if outboxLen(t, alice) != 1 {
		t.Fatal("a resend by hand queued a second copy")
	}
	fs.set(func(s *flakyServer) { s.failBefore = 0 }) // back
	s, err := alice.e.SendText(ctx, cid, "are you there?")
	if err != nil || !s.Duplicate || s.MessageID != orig {
		t.Fatalf("resend after recovery: %+v, %v", s, err)
	}
	if done, err := alice.e.FlushOutbox(ctx); err != nil || len(done) != 0 {
		t.Fatalf("flush: %+v, %v", done, err)
	}
	if got := bobSees(t, bob, cid); !slices.Equal(got, []string{"warm-up", "are you there?"}) {
		t.Fatalf("bob sees %q", got)
	}
}

// TestRetriedDeleteNotFoundIsSuccess: a delete whose answer was lost and
// that the server answers 404 when repeated has taken effect.
func TestRetriedDeleteNotFoundIsSuccess(t *testing.T) {
	ctx := ctxT(t)
	alice, _, fs, cid := outboxPair(t)
	s, err := alice.e.SendText(ctx, cid, "delete me")
	if err != nil {
		t.Fatal(err)
	}
	fs.set(func(s *flakyServer) { s.delAfter = 1 })
	err = alice.e.DeleteMessages(ctx, cid, []string{s.SequenceID}, true)
	queuedErr(t, err)
	if done, err := alice.e.FlushOutbox(ctx); err != nil || len(done) != 1 {
		t.Fatalf("flush: %+v, %v", done, err)
	}
	if outboxLen(t, alice) != 0 {
		t.Fatal("outbox not empty")
	}
	h, err := alice.e.History(ctx, cid, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(texts(h), "delete me") {
		t.Fatalf("deleted message still in history: %q", texts(h))
	}
	// A delete of messages that do not exist is refused for good.
	err = alice.e.DeleteMessages(ctx, cid, []string{"9999999999"}, true)
	if !errors.Is(err, xchat.ErrRejected) || outboxLen(t, alice) != 0 {
		t.Fatalf("delete of an unknown message: %v", err)
	}
}

// TestStaleKeyIsSealedAgain: a queued message refused because the key was
// rotated meanwhile is sealed again under the current key and delivered,
// not dropped.
func TestStaleKeyIsSealedAgain(t *testing.T) {
	ctx := ctxT(t)
	alice, bob, fs, cid := outboxPair(t)
	fs.set(func(s *flakyServer) { s.failBefore = 1 })
	_, err := alice.e.SendText(ctx, cid, "sealed before the rotation")
	queuedErr(t, err)
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	v, err := bob.e.Rotate(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	done, err := alice.e.FlushOutbox(ctx)
	if err != nil || len(done) != 1 || done[0].KeyVersion != v {
		t.Fatalf("flush: %+v, %v (rotated to %s)", done, err, v)
	}
	if got := bobSees(t, bob, cid); !slices.Equal(got, []string{"warm-up", "sealed before the rotation"}) {
		t.Fatalf("bob sees %q", got)
	}
}

// TestOutboxListsText: Outbox names each pending send in the user's terms.
func TestOutboxListsText(t *testing.T) {
	ctx := ctxT(t)
	alice, _, fs, cid := outboxPair(t)
	fs.set(func(s *flakyServer) { s.failBefore = 1 })
	_, err := alice.e.SendText(ctx, cid, "pending text")
	queuedErr(t, err)
	out, err := alice.e.Outbox(ctx)
	if err != nil || len(out) != 1 || out[0].Text != "pending text" || out[0].What != `message "pending text"` || out[0].Attempts != 1 {
		t.Fatalf("outbox %+v, %v", out, err)
	}
	if err := alice.e.DropOutbox(ctx, out[0].MessageID); err != nil || outboxLen(t, alice) != 0 {
		t.Fatalf("drop: %v", err)
	}
}

// TestResendAfterPendingCopyRefused: when the pending copy of a resend by
// hand is refused for good, the resend goes out as a new message and the
// refusal is reported with it.
func TestResendAfterPendingCopyRefused(t *testing.T) {
	ctx := ctxT(t)
	alice, bob, fs, cid := outboxPair(t)
	fs.set(func(s *flakyServer) { s.failBefore = 1 })
	_, err := alice.e.SendText(ctx, cid, "again")
	queuedErr(t, err)
	fs.set(func(s *flakyServer) { s.reject = 1 })
	s, err := alice.e.SendText(ctx, cid, "again")
	if err != nil || s.Duplicate || len(s.Dropped) != 1 || s.Dropped[0].Text != "again" {
		t.Fatalf("resend: %+v, %v", s, err)
	}
	if got := bobSees(t, bob, cid); !slices.Equal(got, []string{"warm-up", "again"}) {
		t.Fatalf("bob sees %q", got)
	}
}

// keyFlaky loses the answer of key change posts on demand, after forwarding
// them (or not), and counts the posts.
type keyFlaky struct {
	Server
	mu      sync.Mutex
	lose    int  // lose this many answers
	deliver bool // forward before losing the answer
	posts   int
}

func (s *keyFlaky) AddConversationKeys(ctx context.Context, id string, req *api.AddConversationKeysRequest) (*api.AddConversationKeysResponse, error) {
	s.mu.Lock()
	s.posts++
	lose, deliver := s.lose > 0, s.deliver
	if lose {
		s.lose--
	}
	s.mu.Unlock()
	if !lose {
		return s.Server.AddConversationKeys(ctx, id, req)
	}
	if deliver {
		if _, err := s.Server.AddConversationKeys(ctx, id, req); err != nil {
			return nil, err
		}
	}
	return nil, &api.Error{Op: "addConversationKeys", StatusCode: 502, Problem: api.Problem{Title: "Bad Gateway"}}
}

// TestKeyChangeLooksBeforeReposting (issue #13 item 7): a key change whose
// answer was lost after it arrived is found among the conversation's key
// change events and not posted again; one that never arrived is posted
// again. Either way the conversation ends with exactly one key version and
// the message goes through.
func TestKeyChangeLooksBeforeReposting(t *testing.T) {
	for _, arrived := range []bool{true, false} {
		t.Run(map[bool]string{true: "arrived", false: "lost"}[arrived], func(t *testing.T) {
			ctx := ctxT(t)
			n := newNaiveNet(t)
			var ks *keyFlaky
			alice := n.userWith("alice", func(s Server) Server { ks = &keyFlaky{Server: s, lose: 1, deliver: arrived}; return ks })
			bob := n.user("bob")
			s, err := alice.e.SendText(ctx, bob.id, "first words")
			if err != nil {
				t.Fatal(err)
			}
			wantPosts := map[bool]int{true: 1, false: 2}[arrived]
			if ks.posts != wantPosts {
				t.Fatalf("key change posted %d times, want %d", ks.posts, wantPosts)
			}
			if _, err := bob.e.Sync(ctx, s.ConversationID, nil); err != nil {
				t.Fatal(err)
			}
			h, err := bob.e.History(ctx, s.ConversationID, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			keyChanges := 0
			for _, en := range h {
				if en.Type == event.TypeKeyChange {
					keyChanges++
				}
			}
			if keyChanges != 1 || !slices.Equal(texts(h), []string{"first words"}) {
				t.Fatalf("bob's history: %d key changes, texts %q", keyChanges, texts(h))
			}
		})
	}
}

// TestSendWhoseKeyChangeFailsQueuesNothing: the first message to bob needs
// a key distributed first; while every key change post fails, the send
// returns the server's error, neither queued nor rejected, and leaves
// nothing in the outbox (nothing was sealed). Sent again once the server
// answers, it arrives once.
func TestSendWhoseKeyChangeFailsQueuesNothing(t *testing.T) {
	ctx := ctxT(t)
	n := newNaiveNet(t)
	var ks *keyFlaky
	alice := n.userWith("alice", func(s Server) Server { ks = &keyFlaky{Server: s, lose: 1000}; return ks })
	bob := n.user("bob")
	_, err := alice.e.SendText(ctx, bob.id, "first words")
	var ae *api.Error
	switch {
	case err == nil:
		t.Fatal("the send succeeded with every key change post failing")
	case errors.Is(err, xchat.ErrQueued) || errors.Is(err, xchat.ErrRejected):
		t.Fatalf("the send says it was queued or rejected, but nothing was sealed: %v", err)
	case !errors.As(err, &ae) || ae.StatusCode != 502:
		t.Fatalf("the send's error is not the server's: %v", err)
	}
	if n := outboxLen(t, alice); n != 0 {
		t.Fatalf("%d outbox entries after a send that sealed nothing", n)
	}
	ks.mu.Lock()
	ks.lose = 0
	ks.mu.Unlock()
	s, err := alice.e.SendText(ctx, bob.id, "first words")
	if err != nil {
		t.Fatal(err)
	}
	if got := bobSees(t, bob, s.ConversationID); !slices.Equal(got, []string{"first words"}) {
		t.Fatalf("bob sees %q", got)
	}
}

// TestRetriedDeleteNeverSentNotFoundIsRejected: a delete whose attempts all
// failed before reaching the server, answered 404 when it finally does,
// targets messages that do not exist: refused for good, not "done".
func TestRetriedDeleteNeverSentNotFoundIsRejected(t *testing.T) {
	ctx := ctxT(t)
	alice, _, fs, cid := outboxPair(t)
	fs.set(func(s *flakyServer) { s.delBefore = 1 })
	err := alice.e.DeleteMessages(ctx, cid, []string{"9999999999"}, true)
	queuedErr(t, err)
	_, err = alice.e.FlushOutbox(ctx)
	if !errors.Is(err, xchat.ErrRejected) || outboxLen(t, alice) != 0 {
		t.Fatalf("flush of a never-sent delete of an unknown message: %v", err)
	}
}

// rotateOnSend has the peer rotate the conversation key just before each of
// the next `left` sends reaches the server, so each is sealed under a key
// that is no longer the latest when it arrives.
type rotateOnSend struct {
	Server
	mu    sync.Mutex
	peer  *Engine
	cid   string
	left  int
	sends int
	last  string // the version of the last rotation
}

func (s *rotateOnSend) SendMessage(ctx context.Context, id string, req *api.SendChatMessageRequest) (*api.SendChatMessageResponse, error) {
	s.mu.Lock()
	s.sends++
	rotate := s.left > 0 && s.peer != nil
	if rotate {
		s.left--
	}
	s.mu.Unlock()
	if rotate {
		if _, err := s.peer.Sync(ctx, s.cid, nil); err != nil {
			return nil, err
		}
		v, err := s.peer.Rotate(ctx, s.cid)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.last = v
		s.mu.Unlock()
	}
	return s.Server.SendMessage(ctx, id, req)
}

// TestStaleKeyRacesRotations: a send that the peer's rotations overtake
// more than once (each refused as NON_LATEST_CKEY_VERSION) is sealed again
// each time and delivered under the latest key, within maxReseals; a
// server that calls every key stale leaves the send pending after
// maxReseals reseals, not looping and not dropping it.
func TestStaleKeyRacesRotations(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	var rs *rotateOnSend
	alice := n.userWith("alice", func(s Server) Server { rs = &rotateOnSend{Server: s}; return rs })
	bob := n.user("bob")
	s, err := alice.e.SendText(ctx, bob.id, "warm-up")
	if err != nil {
		t.Fatal(err)
	}
	cid := s.ConversationID

	rs.mu.Lock()
	rs.peer, rs.cid, rs.left, rs.sends = bob.e, cid, 2, 0
	rs.mu.Unlock()
	s, err = alice.e.SendText(ctx, cid, "overtaken twice")
	if err != nil {
		t.Fatalf("send overtaken by two rotations: %v", err)
	}
	if s.KeyVersion != rs.last || rs.sends != 3 {
		t.Fatalf("sent under %s after %d attempts; want the last rotation's %s after 3", s.KeyVersion, rs.sends, rs.last)
	}
	if got := bobSees(t, bob, cid); !slices.Equal(got, []string{"warm-up", "overtaken twice"}) {
		t.Fatalf("bob sees %q", got)
	}

	rs.mu.Lock()
	rs.left, rs.sends = 100, 0
	rs.mu.Unlock()
	_, err = alice.e.SendText(ctx, cid, "always overtaken")
	queuedErr(t, err)
	if rs.sends != 1+maxReseals || outboxLen(t, alice) != 1 {
		t.Fatalf("%d attempts, %d pending; want %d attempts and the send kept", rs.sends, outboxLen(t, alice), 1+maxReseals)
	}
}
