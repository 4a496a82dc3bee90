package session

import (
	"context"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/wire"
)

// settleCountOf reads cid's stored settle count ("" for none).
func settleCountOf(t *testing.T, store keystore.Store, cid string) string {
	t.Helper()
	b, err := store.Value(context.Background(), settleCountKey(cid))
	if err != nil {
		return ""
	}
	return string(b)
}

// mustBeRemoved fails t unless the store holds the entry at seq erased.
func mustBeRemoved(t *testing.T, store keystore.Store, cid, seq string) {
	t.Helper()
	old, err := eventAt(context.Background(), store, cid, seq)
	if err != nil || old == nil {
		t.Fatalf("deleted message %s not stored: %v", seq, err)
	}
	en := entryFromStored(cid, old)
	old.Body.Zero()
	if !en.Removed || en.Text != "" {
		t.Fatalf("message deleted for everyone before it was stored stands: %+v", en)
	}
}

// servedAbove returns the encoded event the server serves u in cid just
// above sequence id seq.
func servedAbove(t *testing.T, u *testUser, cid, seq string) string {
	t.Helper()
	page, err := u.server.GetConversationEvents(ctxT(t), api.ConversationPathID(cid), 100, "")
	if err != nil {
		t.Fatal(err)
	}
	found, at := "", ""
	for _, d := range page.Data {
		raw, err := wire.DecodeB64(d.EncodedEvent)
		if err != nil {
			t.Fatal(err)
		}
		me, err := wire.DecodeMessageEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		if s := me.GetSequenceID(); decimal.Less(seq, s) && (found == "" || decimal.Less(s, at)) {
			found, at = d.EncodedEvent, s
		}
	}
	if found == "" {
		t.Fatalf("the server serves nothing above %s", seq)
	}
	return found
}

// A delete for everyone received before its target is pending: the settle
// count says so, in the same transaction, and still after the engine is
// opened again on the same store; the target, stored after the re-open,
// is erased, and the count is back at zero. Were the count to say zero
// while the delete is pending, settle would skip it and the deleted
// message would stand.
func TestSettleCountKeepsPendingDeleteAcrossReopen(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	hello, err := alice.e.SendText(ctx, bob.id, "hello")
	if err != nil {
		t.Fatal(err)
	}
	cid := hello.ConversationID
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	if got := settleCountOf(t, bob.store, cid); got != "0" {
		t.Fatalf("settle count after the first sync %q, want 0", got)
	}
	m, err := alice.e.SendText(ctx, cid, "said in haste")
	if err != nil {
		t.Fatal(err)
	}
	// Served now; once deleted, the server serves it no more.
	mEnc := servedAbove(t, bob, cid, hello.SequenceID)
	if err := alice.e.DeleteMessages(ctx, cid, []string{m.SequenceID}, true); err != nil {
		t.Fatal(err)
	}
	ev, err := bob.e.receive(ctx, servedAbove(t, bob, cid, m.SequenceID))
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Verified || ev.Delete == nil {
		t.Fatalf("received delete %+v", ev)
	}
	if got := settleCountOf(t, bob.store, cid); got != "1" {
		t.Fatalf("settle count with a delete pending %q, want 1", got)
	}
	if err := bob.e.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(ctx, bob.store, bob.server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Close() })
	// The target arrives after the re-open (pushed, as a server that
	// withheld it would push it).
	if _, err := again.receive(ctx, mEnc); err != nil {
		t.Fatal(err)
	}
	mustBeRemoved(t, bob.store, cid, m.SequenceID)
	if got := settleCountOf(t, bob.store, cid); got != "0" {
		t.Fatalf("settle count once the delete is settled %q, want 0", got)
	}
}

// A conversation whose events were stored before the settle count existed
// gets none it could trust: it is marked unknown, and settle looks its
// records up as before.
func TestSettleCountUnknownForHistoryStoredBefore(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	hello, err := alice.e.SendText(ctx, bob.id, "hello")
	if err != nil {
		t.Fatal(err)
	}
	cid := hello.ConversationID
	if _, err := bob.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	// As a store written before the count: the count gone, a pending
	// delete of a message not yet stored left behind.
	if err := bob.store.SetValue(ctx, settleCountKey(cid), nil); err != nil {
		t.Fatal(err)
	}
	m, err := alice.e.SendText(ctx, cid, "said in haste")
	if err != nil {
		t.Fatal(err)
	}
	// Served now; once deleted, the server serves it no more.
	mEnc := servedAbove(t, bob, cid, hello.SequenceID)
	if err := alice.e.DeleteMessages(ctx, cid, []string{m.SequenceID}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.e.receive(ctx, servedAbove(t, bob, cid, m.SequenceID)); err != nil {
		t.Fatal(err)
	}
	if got := settleCountOf(t, bob.store, cid); got != "unknown" {
		t.Fatalf("settle count of a conversation stored before it %q, want unknown", got)
	}
	if _, err := bob.e.receive(ctx, mEnc); err != nil {
		t.Fatal(err)
	}
	mustBeRemoved(t, bob.store, cid, m.SequenceID)
}

// Whoever starts a conversation by sending holds its settle count from the
// first message: the send's echo is the conversation's first stored event,
// so the count is created there at zero, and the syncs that follow keep
// it, not unknown (which would make settle look every record up for good).
func TestSettleCountStartedBySend(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	hello, err := alice.e.SendText(ctx, bob.id, "hello")
	if err != nil {
		t.Fatal(err)
	}
	cid := hello.ConversationID
	if got := settleCountOf(t, alice.store, cid); got != "0" {
		t.Fatalf("sender's settle count after the first send %q, want 0", got)
	}
	if _, err := bob.e.SendText(ctx, cid, "hi"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.e.Sync(ctx, cid, nil); err != nil {
		t.Fatal(err)
	}
	if got := settleCountOf(t, alice.store, cid); got != "0" {
		t.Fatalf("sender's settle count after a sync %q, want 0", got)
	}
}
