package session

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
)

var errNetwork = errors.New("network down")

// flakyServer fails SendMessage on demand, before or after forwarding it.
type flakyServer struct {
	Server
	mu         sync.Mutex
	failBefore int // fail this many sends without forwarding
	failAfter  int // forward, then fail this many sends (response lost)
	reject     int // answer this many sends with a 400 problem
	messageIDs []string
}

func (s *flakyServer) SendMessage(ctx context.Context, id string, req *api.SendChatMessageRequest) (*api.SendChatMessageResponse, error) {
	s.mu.Lock()
	s.messageIDs = append(s.messageIDs, req.MessageID)
	before, after := s.failBefore > 0, s.failAfter > 0
	if s.reject > 0 {
		s.reject--
		s.mu.Unlock()
		return nil, &api.Error{Op: "sendChatMessage", StatusCode: 400, Problem: api.Problem{Title: "Invalid Request"}}
	}
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

func TestOutboxRetry(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	var fs *flakyServer
	alice := n.userWith("alice", func(s Server) Server { fs = &flakyServer{Server: s}; return fs })
	bob := n.user("bob")
	if _, err := alice.e.SendText(ctx, bob.id, "warm-up"); err != nil {
		t.Fatal(err)
	}

	fs.mu.Lock()
	fs.failBefore, fs.failAfter = 1, 1
	fs.mu.Unlock()
	if _, err := alice.e.SendText(ctx, bob.id, "lost request"); !errors.Is(err, ErrQueued) {
		t.Fatalf("first send: %v", err)
	}
	if _, err := alice.e.SendText(ctx, bob.id, "lost response"); !errors.Is(err, ErrQueued) {
		t.Fatalf("second send: %v", err)
	}
	pending, err := alice.e.Outbox(ctx)
	if err != nil || len(pending) != 2 || pending[0].Attempts != 1 || pending[0].LastError == "" {
		t.Fatalf("outbox %+v, %v", pending, err)
	}
	done, err := alice.e.FlushOutbox(ctx)
	if err != nil || len(done) != 2 {
		t.Fatalf("flush: %+v, %v", done, err)
	}
	if pending := testutil.Must(alice.e.Outbox(ctx))(t); len(pending) != 0 {
		t.Fatalf("outbox after flush %+v", pending)
	}
	// Retries reused the message ids.
	fs.mu.Lock()
	ids := slices.Clone(fs.messageIDs)
	fs.mu.Unlock()
	if len(ids) != 5 || ids[1] != ids[3] || ids[2] != ids[4] {
		t.Fatalf("message ids sent: %v", ids)
	}
	res, err := bob.e.Sync(ctx, alice.id)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(res.Entries); !slices.Equal(got, []string{"warm-up", "lost request", "lost response"}) &&
		!slices.Equal(got, []string{"warm-up", "lost response", "lost request"}) {
		t.Fatalf("bob got %q", got)
	}
	// Alice's history holds each message once.
	h := testutil.Must(alice.e.History(ctx, alice.id+":"+bob.id, "", 0))(t)
	if h == nil {
		h = testutil.Must(alice.e.History(ctx, bob.id, "", 0))(t)
	}
	if got := texts(h); len(got) != 3 {
		t.Fatalf("alice history %q", got)
	}
}

func TestPermanentRejectionLeavesNoOutbox(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	// Not a member of somebody else's conversation: the server refuses.
	carol := n.user("carol")
	if _, err := bob.e.SendText(ctx, carol.id, "x"); err != nil {
		t.Fatal(err)
	}
	cid := testutil.Must(OneToOneID(bob.id, carol.id))(t)
	if _, err := alice.e.SendText(ctx, cid, "intrude"); !errors.Is(err, ErrNotMember) {
		t.Fatalf("send to foreign conversation: %v", err)
	}
	if out := testutil.Must(alice.e.Outbox(ctx))(t); len(out) != 0 {
		t.Fatalf("outbox %+v", out)
	}
	// A 4xx answer is final: the item leaves the outbox.
	var fs *flakyServer
	dave := n.userWith("dave", func(s Server) Server { fs = &flakyServer{Server: s, reject: 1}; return fs })
	_, err := dave.e.SendText(ctx, bob.id, "rejected")
	var ae *api.Error
	if err == nil || errors.Is(err, ErrQueued) || !errors.As(err, &ae) || ae.StatusCode != 400 {
		t.Fatalf("rejected send: %v", err)
	}
	if out := testutil.Must(dave.e.Outbox(ctx))(t); len(out) != 0 {
		t.Fatalf("outbox %+v", out)
	}
}
