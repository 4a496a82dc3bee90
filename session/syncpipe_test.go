package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// countingStore counts the write transactions run on a store (Update and
// the single writes the engine makes outside one).
type countingStore struct {
	keystore.Store
	writes atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(keystore.Tx) error) error {
	c.writes.Add(1)
	return c.Store.Update(ctx, fn)
}

func (c *countingStore) SetValue(ctx context.Context, name string, v []byte) error {
	c.writes.Add(1)
	return c.Store.SetValue(ctx, name, v)
}

// errRunAgain aborts the first run of a transaction in retryStore.
var errRunAgain = errors.New("test: run the transaction again")

// retryStore runs every transaction twice, as a backend that lost a
// serialization conflict does (keystore/pgstore): the first run is rolled
// back, the second commits.
type retryStore struct {
	keystore.Store
	reruns atomic.Int64
}

func (r *retryStore) Update(ctx context.Context, fn func(keystore.Tx) error) error {
	err := r.Store.Update(ctx, func(tx keystore.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errRunAgain
	})
	if !errors.Is(err, errRunAgain) {
		return err
	}
	r.reruns.Add(1)
	return r.Store.Update(ctx, fn)
}

// userOn is n.user with the account in store.
func (n *testNet) userOn(name string, store keystore.Store, opts ...Option) *testUser {
	n.t.Helper()
	ctx := context.Background()
	id, token := n.provision(name)
	if err := CreateAccount(ctx, store, id, nil); err != nil {
		n.t.Fatalf("CreateAccount: %v", err)
	}
	srv := NewAPIServer(n.client(token))
	e, err := Open(ctx, store, srv, opts...)
	if err != nil {
		n.t.Fatalf("Open: %v", err)
	}
	if _, err := e.Register(ctx); err != nil {
		n.t.Fatalf("Register %s: %v", name, err)
	}
	n.t.Cleanup(func() { _ = e.Close() })
	return &testUser{id: id, name: name, token: token, e: e, store: store, server: srv}
}

// transcript renders what a reader holds of a conversation, for
// comparing two readers: every entry's place, kind, text and verdict.
func transcript(t *testing.T, u *testUser, id string) []string {
	t.Helper()
	h, err := u.e.History(ctx(t), id, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, en := range h {
		out = append(out, fmt.Sprintf("%s %s %q verified=%v removed=%v failed=%v", en.SequenceID, en.Type, en.Text, en.Verified, en.Removed, en.Error != ""))
	}
	return out
}

func ctx(t *testing.T) context.Context { return ctxT(t) }

// anomalyKinds renders a result's findings.
func anomalyKinds(res *SyncResult) []string {
	var out []string
	for _, a := range res.Anomalies {
		out = append(out, a.Kind.String()+"@"+a.SequenceID)
	}
	slices.Sort(out)
	return out
}

// TestSyncBatchesStoreWrites: a sync of many pages commits them in
// batches (one write transaction per batch, the key change's key adopted
// in the first and found stored in the others), and passes every event to
// fn once, in transcript order.
func TestSyncBatchesStoreWrites(t *testing.T) {
	c := ctx(t)
	n := newNet(t)
	alice := n.user("alice")
	cs := &countingStore{Store: keystore.NewMemory()}
	bob := n.userOn("bob", cs, WithPageSize(4))
	var want []string
	for i := range 40 {
		m := fmt.Sprintf("m%02d", i)
		if _, err := alice.e.SendText(c, bob.id, m); err != nil {
			t.Fatal(err)
		}
		want = append(want, m)
	}
	before := cs.writes.Load()
	var seen []string
	res, err := bob.e.Sync(c, alice.id, func(ev *event.Event) error {
		if ev.Message != nil {
			seen = append(seen, ev.Text())
		}
		return nil
	})

	if err != nil {
		t.Fatal(err)
	}
	writes := cs.writes.Load() - before
	if !slices.Equal(seen, want) || res.Failed != 0 || len(res.Anomalies) != 0 {
		t.Fatalf("fn saw %q, failed %d, anomalies %v", seen, res.Failed, res.Anomalies)
	}
	// 11 pages (40 messages and the key change, 4 a page): two batches,
	// the pin of alice's keys and the sync position. Page by page, with
	// the key adopted in a transaction of its own on every page, it was
	// 4 writes a page.
	if writes > 5 {
		t.Fatalf("a sync of 11 pages made %d write transactions", writes)
	}
	t.Logf("a sync of 11 pages: %d write transactions", writes)
	if _, err := bob.store.Value(c, stageKey(oneToOne(t, alice, bob), 1)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("staged page in the keystore: %v", err)
	}
}

// TestSyncTransactionRunAgain: a store that runs every transaction twice
// (the first run rolled back, as a backend losing a serialization conflict
// does) leaves a reader with exactly what a reader on an ordinary store
// gets: a group history of several pages with a key rotation, a member
// added mid-history (a signer unknown when the pages are read) and deletes
// and edits.
func TestSyncTransactionRunAgain(t *testing.T) {
	c := ctx(t)
	n := newNet(t)
	alice, dave := n.user("alice"), n.user("dave")
	rs := &retryStore{Store: keystore.NewMemory()}
	bob := n.userOn("bob", rs, WithPageSize(3))
	carol := n.user("carol", WithPageSize(3))
	g, err := alice.e.CreateGroup(c, GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		t.Fatal(err)
	}
	var sent []*Sent
	say := func(u *testUser, text string) {
		s, err := u.e.SendText(c, g, text)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, s)
	}
	for i := range 5 {
		say(alice, fmt.Sprintf("a%d", i))
	}
	if _, err := alice.e.Rotate(c, g); err != nil {
		t.Fatal(err)
	}
	say(alice, "after rotation")
	if err := alice.e.AddMembers(c, g, dave.id); err != nil {
		t.Fatal(err)
	}
	say(dave, "dave here")
	if _, err := alice.e.Send(c, g, Outgoing{Edit: sent[1].SequenceID, Text: "a1 edited"}); err != nil {
		t.Fatal(err)
	}
	if err := alice.e.DeleteMessages(c, g, []string{sent[2].SequenceID}, true); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		say(alice, fmt.Sprintf("b%d", i))
	}
	rb, err := bob.e.Sync(c, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := carol.e.Sync(c, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rs.reruns.Load() == 0 {
		t.Fatal("no transaction was run again")
	}
	if tb, tc := transcript(t, bob, g), transcript(t, carol, g); !slices.Equal(tb, tc) {
		t.Fatalf("run again:\n%s\nordinary:\n%s", strings.Join(tb, "\n"), strings.Join(tc, "\n"))
	}
	if rb.Events != rc.Events || rb.Failed != rc.Failed || rb.Roster != rc.Roster || !slices.Equal(anomalyKinds(rb), anomalyKinds(rc)) ||
		!slices.Equal(texts(rb.Entries), texts(rc.Entries)) {
		t.Fatalf("results differ: %d/%d events, %d/%d failed, %s/%s, %v / %v", rb.Events, rc.Events, rb.Failed, rc.Failed, rb.Roster, rc.Roster, anomalyKinds(rb), anomalyKinds(rc))
	}
	edited := slices.ContainsFunc(rb.Entries, func(en event.Entry) bool { return en.Type == event.TypeEdit && en.Text == "a1 edited" && en.Verified })
	if rb.Roster != RosterConfirmed || rb.Failed != 0 || !slices.Contains(texts(rb.Entries), "dave here") || !edited || slices.Contains(texts(rb.Entries), "a2") {
		t.Fatalf("bob's sync: roster %s, failed %d, texts %q, anomalies %v", rb.Roster, rb.Failed, texts(rb.Entries), rb.Anomalies)
	}
	t.Logf("%d transactions run again", rs.reruns.Load())
}

// TestSyncAcrossRotationsPaged: a one-to-one history under several keys,
// read a page of two at a time: a page decrypted ahead of its turn before
// the key it needs was adopted is decrypted again, and nothing fails.
func TestSyncAcrossRotationsPaged(t *testing.T) {
	c := ctx(t)
	n := newNet(t)
	alice := n.user("alice")
	bob := n.user("bob", WithPageSize(2))
	var want []string
	for k := range 4 {
		if k > 0 {
			if _, err := alice.e.Rotate(c, bob.id); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 5 {
			m := fmt.Sprintf("k%d-%d", k, i)
			if _, err := alice.e.SendText(c, bob.id, m); err != nil {
				t.Fatal(err)
			}
			want = append(want, m)
		}
	}
	res, err := bob.e.Sync(c, alice.id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(res.Entries); !slices.Equal(got, want) || res.Failed != 0 || len(res.Anomalies) != 0 {
		t.Fatalf("texts %q, failed %d, anomalies %v", got, res.Failed, res.Anomalies)
	}
}

// TestSyncSpill: the pages of a multi-page sync are kept in a spill file
// that is gone from its directory while the sync runs; where no file can
// be made they are kept in the keystore, and removed after.
func TestSyncSpill(t *testing.T) {
	c := ctx(t)
	n := newNet(t)
	alice := n.user("alice")
	dir := t.TempDir()
	missing := filepath.Join(t.TempDir(), "no", "such", "dir")
	bob := n.user("bob", WithPageSize(2), WithSpillDir(dir))
	carol := n.user("carol", WithPageSize(2), WithSpillDir(missing))
	for i := range 9 {
		for _, to := range []*testUser{bob, carol} {
			if _, err := alice.e.SendText(c, to.id, fmt.Sprintf("m%d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	listed := -1
	res, err := bob.e.Sync(c, alice.id, func(*event.Event) error {
		if listed < 0 {
			entries, err := os.ReadDir(dir)
			if err != nil {
				return err
			}
			listed = len(entries)
		}
		return nil
	})

	if err != nil || res.Failed != 0 {
		t.Fatalf("sync: %v, failed %d", err, res.Failed)
	}
	if listed != 0 {
		t.Fatalf("%d files in the spill directory during the sync", listed)
	}
	stagedSeen := false
	res, err = carol.e.Sync(c, alice.id, func(*event.Event) error {
		if _, err := carol.store.Value(c, stageKey(oneToOne(t, alice, carol), 1)); err == nil {
			stagedSeen = true
		}
		return nil
	})

	if err != nil || res.Failed != 0 || len(texts(mustHistory(t, carol, alice.id))) != 9 {
		t.Fatalf("sync staged in the keystore: %v, failed %d", err, res.Failed)
	}
	if !stagedSeen {
		t.Fatal("pages were not staged in the keystore")
	}
	for i := 1; i <= 6; i++ {
		if _, err := carol.store.Value(c, stageKey(oneToOne(t, alice, carol), i)); !errors.Is(err, keystore.ErrNotFound) {
			t.Fatalf("staged page %d left behind: %v", i, err)
		}
	}
}

// oneToOne returns the conversation id of a and b.
func oneToOne(t *testing.T, a, b *testUser) string {
	t.Helper()
	cid, err := CanonicalID(a.id, b.id)
	if err != nil {
		t.Fatal(err)
	}
	return cid
}

func mustHistory(t *testing.T, u *testUser, id string) []event.Entry {
	t.Helper()
	h, err := u.e.History(ctx(t), id, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestFileSpillRandomness: a spill file's key and id come from the reader
// it is given (the engine's, see WithRand): a failing reader makes no
// spill file and leaves nothing in the directory.
func TestFileSpillRandomness(t *testing.T) {
	c := ctx(t)
	dir := t.TempDir()
	if _, err := newFileSpill(dir, iotest.ErrReader(errors.New("no entropy"))); err == nil {
		t.Fatal("a spill file was made without randomness")
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Fatalf("left in the spill directory: %v, %v", left, err)
	}
	seed := bytes.Repeat([]byte{7}, 64)
	a, err := newFileSpill(dir, bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.close(c) }()
	b, err := newFileSpill(dir, bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.close(c) }()
	if a.id != b.id || a.id != [16]byte(seed[:16]) {
		t.Fatalf("spill ids %x and %x do not come from the reader", a.id, b.id)
	}
}

// TestFileSpillAuthenticates: a staged page altered in the file, or moved
// to another page's place, is refused when read back.
func TestFileSpillAuthenticates(t *testing.T) {
	c := ctx(t)
	sp, err := newFileSpill(t.TempDir(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sp.close(c) }()
	pages := []*syncPage{
		{raws: [][]byte{[]byte("kc"), []byte("one")}, kcCount: 1},
		{raws: [][]byte{[]byte("two")}, badB64: []string{"!!"}},
	}
	for i, p := range pages {
		if err := sp.put(c, i+1, p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := sp.get(c, nil, 2)
	if err != nil || len(got.raws) != 1 || string(got.raws[0]) != "two" || len(got.bad) != 1 {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	sp.at[0], sp.at[1] = sp.at[1], sp.at[0] // pages 1 and 2
	if _, err := sp.get(c, nil, 1); err == nil {
		t.Fatal("a page read back from another page's place")
	}
	sp.at[0], sp.at[1] = sp.at[1], sp.at[0]
	at := sp.at[0]
	b := make([]byte, 1)
	if _, err := sp.f.ReadAt(b, at[0]+at[1]/2); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 1
	if _, err := sp.f.WriteAt(b, at[0]+at[1]/2); err != nil {
		t.Fatal(err)
	}
	if _, err := sp.get(c, nil, 1); err == nil {
		t.Fatal("an altered page read back")
	}
	if err := sp.put(c, 2, pages[0]); err == nil {
		t.Fatal("a page staged twice under one number")
	}
}

// TestFileSpillHoldsNoPlaintext: a page is sealed in place in the spill's
// buffer, so neither the file nor the buffer kept for the next page holds
// any of its plaintext, and the page's events are as they were; pages of
// any size are read back whole.
func TestFileSpillHoldsNoPlaintext(t *testing.T) {
	c := ctx(t)
	sp, err := newFileSpill(t.TempDir(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sp.close(c) }()
	secret := bytes.Repeat([]byte("plaintext event "), 8)
	p := &syncPage{raws: [][]byte{bytes.Clone(secret)}}
	if err := sp.put(c, 1, p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.raws[0], secret) {
		t.Fatal("staging changed the page's events")
	}
	if bytes.Contains(sp.buf[:cap(sp.buf)], secret[:16]) {
		t.Fatal("the spill's buffer holds the page's plaintext")
	}
	// A larger page after it, in the same buffer grown.
	big := &syncPage{raws: [][]byte{bytes.Repeat(secret, 64), []byte("two")}, kcCount: 1}
	if err := sp.put(c, 2, big); err != nil {
		t.Fatal(err)
	}
	if got, err := sp.get(c, nil, 2); err != nil || len(got.raws) != 2 || !bytes.Equal(got.raws[0], big.raws[0]) || string(got.raws[1]) != "two" {
		t.Fatalf("read back the larger page: %v", err)
	}
	file := make([]byte, sp.end)
	if _, err := sp.f.ReadAt(file, 0); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, secret[:16]) {
		t.Fatal("the spill file holds the page's plaintext")
	}
	got, err := sp.get(c, nil, 1)
	if err != nil || len(got.raws) != 1 || !bytes.Equal(got.raws[0], secret) {
		t.Fatalf("read back: %+v, %v", got, err)
	}
}

// FuzzDecodeStaged: the staged page decoder never panics, and what it
// accepts encodes back to the same bytes.
func FuzzDecodeStaged(f *testing.F) {
	f.Add((&syncPage{raws: [][]byte{[]byte("kc"), []byte("ev")}, kcCount: 1, badB64: []string{"@@"}}).encode())
	f.Add((&syncPage{overEvents: 1001, overBytes: 7}).encode())
	f.Add([]byte{stagedVersion, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeStaged(b)
		if err != nil {
			return
		}
		if again := p.encode(); string(again) != string(b) {
			t.Fatalf("decode(%x) encodes to %x", b, again)
		}
	})
}

// TestRefreshPeersOneTransaction: the peers of one refresh are pinned in
// one write transaction, each key binding verified once per engine; a
// peer whose listed keys changed under a pinned version is refused
// (xchat.ErrKeyChanged) and changes nothing, the others are pinned all the same.
func TestRefreshPeersOneTransaction(t *testing.T) {
	c := ctx(t)
	n := newNet(t)
	alice, carol, dave := n.user("alice"), n.user("carol"), n.user("dave")
	ks := &keyListServer{of: carol.id}
	cs := &countingStore{Store: keystore.NewMemory()}
	id, token := n.provision("bob")
	if err := CreateAccount(c, cs, id, nil); err != nil {
		t.Fatal(err)
	}
	ks.Server = NewAPIServer(n.client(token))
	bob, err := Open(c, cs, ks)
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if _, err := bob.Register(c); err != nil {
		t.Fatal(err)
	}
	before := cs.writes.Load()
	if _, err := bob.RefreshPeers(c, alice.id, carol.id, dave.id); err != nil {
		t.Fatal(err)
	}
	if w := cs.writes.Load() - before; w != 1 || bob.bindings.Len() != 3 {
		t.Fatalf("first refresh: %d write transactions, %d bindings verified", w, bob.bindings.Len())
	}
	if _, err := bob.RefreshPeers(c, alice.id, carol.id, dave.id); err != nil || bob.bindings.Len() != 3 {
		t.Fatalf("second refresh: %v, %d bindings", err, bob.bindings.Len())
	}
	swapped, _ := serverKeySet(t, carol.e.PublicKeyVersion())
	ks.add(swapped)
	before = cs.writes.Load()
	_, err = bob.RefreshPeers(c, alice.id, carol.id, dave.id)
	if !errors.Is(err, xchat.ErrKeyChanged) {
		t.Fatalf("keys changed under carol's pinned version: %v", err)
	}
	if w := cs.writes.Load() - before; w != 1 {
		t.Fatalf("refresh with a refusal: %d write transactions", w)
	}
	p, err := bob.Peer(c, carol.id)
	if err != nil || p.Current == nil || p.Current.Fingerprint != mustFingerprint(t, carol) {
		t.Fatalf("carol's pinned keys changed: %+v, %v", p, err)
	}
	for _, u := range []*testUser{alice, dave} {
		if p, err := bob.Peer(c, u.id); err != nil || p.Current == nil || p.Current.Fingerprint != mustFingerprint(t, u) {
			t.Fatalf("%s not pinned: %+v, %v", u.name, p, err)
		}
	}
}

func mustFingerprint(t *testing.T, u *testUser) string {
	t.Helper()
	f, err := u.e.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestReservedStubs: a re-sync finds the messages stored byte for byte and
// stands stubs in for them (their verdict is the stored one); a key change,
// a message served with other bytes, and one above the sync position go
// through the pipeline.
func TestReservedStubs(t *testing.T) {
	c := ctx(t)
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	for i := range 5 {
		if _, err := alice.e.SendText(c, bob.id, fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bob.e.Sync(c, alice.id, nil); err != nil {
		t.Fatal(err)
	}
	cid := oneToOne(t, alice, bob)
	rec, err := bob.store.Conversation(c, cid)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := bob.server.GetConversationEvents(c, api.ConversationPathID(cid), 100, "")
	if err != nil {
		t.Fatal(err)
	}
	p := decodePage(resp)
	if p.kcCount == 0 || len(p.raws) != p.kcCount+5 {
		t.Fatalf("page of %d events, %d key changes", len(p.raws), p.kcCount)
	}
	altered := append([]byte(nil), p.raws[p.kcCount]...)
	altered[len(altered)-3] ^= 1
	p.raws[p.kcCount] = altered
	st := &syncState{e: bob.e, cid: cid, stored: rec.Sync.LastSequenceID}
	if err := st.reserved(c, p); err != nil {
		t.Fatal(err)
	}
	if len(p.stubs) != 4 || p.stubs[p.kcCount] != nil {
		t.Fatalf("%d stubs (the altered message stubbed: %v)", len(p.stubs), p.stubs[p.kcCount] != nil)
	}
	for i, stub := range p.stubs {
		if i < p.kcCount || stub.Kind != event.KindMessage || stub.SenderID != alice.id || !decimal.ValidID(stub.SequenceID) {
			t.Fatalf("stub %d: %+v", i, stub)
		}
	}
	var seqs []string
	for _, stub := range p.stubs {
		seqs = append(seqs, stub.SequenceID)
	}
	sort.Slice(seqs, func(i, j int) bool { return decimal.Less(seqs[i], seqs[j]) })
	st.stored = seqs[1] // a sync position below the two newest stubs
	if err := st.reserved(c, p); err != nil || len(p.stubs) != 2 {
		t.Fatalf("stubs above the sync position: %d, %v", len(p.stubs), err)
	}
	p.full = true
	if err := st.reserved(c, p); err != nil || len(p.stubs) != 0 {
		t.Fatalf("a page to decrypt in full has %d stubs (%v)", len(p.stubs), err)
	}
	res, err := bob.e.Sync(c, alice.id, nil)
	if err != nil || res.Events != 6 || res.Failed != 0 || len(res.Anomalies) != 0 || len(res.Entries) != 0 {
		t.Fatalf("re-sync: %v, %d events, %d failed, %v, %d new", err, res.Events, res.Failed, res.Anomalies, len(res.Entries))
	}
}

// hidingStore hides, inside write transactions, the stored event at one
// sequence id (as if it were gone by the time a page is stored).
type hidingStore struct {
	keystore.Store
	hide string
}

func (h *hidingStore) Update(ctx context.Context, fn func(keystore.Tx) error) error {
	return h.Store.Update(ctx, func(tx keystore.Tx) error { return fn(hidingTx{Tx: tx, hide: h.hide}) })
}

type hidingTx struct {
	keystore.Tx
	hide string
}

func (h hidingTx) Events(ctx context.Context, cid, after string, limit int) ([]keystore.StoredEvent, error) {
	evs, err := h.Tx.Events(ctx, cid, after, 0)
	if err != nil {
		return nil, err
	}
	evs = slices.DeleteFunc(evs, func(e keystore.StoredEvent) bool { return e.SequenceID == h.hide })
	if limit > 0 && len(evs) > limit {
		evs = evs[:limit]
	}
	return evs, nil
}

// TestStubNoLongerStored: a re-served message found stored when the page
// was read, but gone when it is stored, is decrypted in full after all:
// what is stored in its place is the verified message, not a stub.
func TestStubNoLongerStored(t *testing.T) {
	c := ctx(t)
	n := newNet(t)
	alice := n.user("alice")
	hs := &hidingStore{Store: keystore.NewMemory()}
	bob := n.userOn("bob", hs)
	var sent []*Sent
	for i := range 3 {
		s, err := alice.e.SendText(c, bob.id, fmt.Sprintf("m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, s)
	}
	if _, err := bob.e.Sync(c, alice.id, nil); err != nil {
		t.Fatal(err)
	}
	hs.hide = sent[1].SequenceID
	res, err := bob.e.Sync(c, alice.id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 || res.Entries[0].SequenceID != hs.hide || !res.Entries[0].Verified || res.Entries[0].Text != "m1" {
		t.Fatalf("the hidden message came back as %+v", res.Entries)
	}
}

// editIndexStore makes reads of one edit index entry fail with err inside
// write transactions (when err is set).
type editIndexStore struct {
	keystore.Store
	key string
	err error
}

func (s *editIndexStore) Update(ctx context.Context, fn func(keystore.Tx) error) error {
	if s.err == nil {
		return s.Store.Update(ctx, fn)
	}
	return s.Store.Update(ctx, func(tx keystore.Tx) error { return fn(editIndexTx{Tx: tx, key: s.key, err: s.err}) })
}

type editIndexTx struct {
	keystore.Tx
	key string
	err error
}

func (t editIndexTx) Value(ctx context.Context, key string) ([]byte, error) {
	if key == t.key {
		return nil, t.err
	}
	return t.Tx.Value(ctx, key)
}

// TestEditIndexReadErrors: storing an edit reads the edit index entry of
// its target. No entry is replaced by the edit; any other failure to read
// it (a value that does not open, an I/O error) fails the sync instead of
// being taken for "no entry", as settleEdit does.
func TestEditIndexReadErrors(t *testing.T) {
	c := ctx(t)
	for name, tc := range map[string]struct {
		err  error
		fail bool
	}{
		"not found": {fmt.Errorf("%w: no such value", keystore.ErrNotFound), false},
		"corrupt":   {fmt.Errorf("%w: value does not open", keystore.ErrCorrupt), true},
		"io error":  {errors.New("disk unreadable"), true},
	} {
		t.Run(name, func(t *testing.T) {
			n := newNet(t)
			alice := n.user("alice")
			es := &editIndexStore{Store: keystore.NewMemory()}
			bob := n.userOn("bob", es)
			m, err := alice.e.SendText(c, bob.id, "draft")
			if err != nil {
				t.Fatal(err)
			}
			// bob holds the target first, so only storing the edit reads
			// the target's index entry.
			if _, err := bob.e.Sync(c, m.ConversationID, nil); err != nil {
				t.Fatal(err)
			}
			es.key, es.err = editIndexKey(m.ConversationID, m.SequenceID), tc.err
			if _, err := alice.e.Send(c, m.ConversationID, Outgoing{Edit: m.SequenceID, Text: "final"}); err != nil {
				t.Fatal(err)
			}
			_, err = bob.e.Sync(c, m.ConversationID, nil)
			if tc.fail {
				if !errors.Is(err, tc.err) {
					t.Fatalf("sync with an unreadable edit index: %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := es.Store.Value(c, editIndexKey(m.ConversationID, m.SequenceID)); err != nil {
				t.Fatalf("edit index not written: %v", err)
			}
		})
	}
}

// TestSyncEachHandsStoredBatchAfterFnError: fn sees a batch's events once
// the batch is stored, so an error from fn cannot un-store the rest of the
// batch. Those events are handed to fn all the same before the sync stops
// with fn's error: none is stored without ever reaching fn (a later sync
// has nothing new to hand), and none is handed twice.
func TestSyncEachHandsStoredBatchAfterFnError(t *testing.T) {
	c := ctx(t)
	n := newNet(t)
	alice := n.user("alice")
	bob := n.user("bob")
	for i := range 5 {
		if _, err := alice.e.SendText(c, bob.id, fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	stop := errors.New("app cannot take this event now")
	handed := map[string]int{}
	_, err := bob.e.Sync(c, alice.id, func(ev *event.Event) error {
		handed[ev.SequenceID]++
		if len(handed) == 1 {
			return stop
		}
		return nil
	})

	if !errors.Is(err, stop) {
		t.Fatalf("sync: %v, want fn's error", err)
	}
	stored := mustHistory(t, bob, alice.id)
	for _, en := range stored {
		if handed[en.SequenceID] != 1 {
			t.Errorf("stored event %s (%s) handed to fn %d times", en.SequenceID, en.Type, handed[en.SequenceID])
		}
	}
	if got := len(texts(stored)); got != 5 {
		t.Fatalf("%d messages stored, want 5", got)
	}
	again := 0
	if _, err := bob.e.Sync(c, alice.id, func(*event.Event) error { again++; return nil }); err != nil {
		t.Fatal(err)
	}
	if again != 0 {
		t.Fatalf("second sync handed %d events", again)
	}
}

// errCommitFailed fails a transaction in failingStore after it ran.
var errCommitFailed = errors.New("test: the commit failed")

// failingStore fails its write transactions after the failAt-th (1-based)
// once the transaction's function has run: the changes are rolled back,
// as when a commit fails.
type failingStore struct {
	keystore.Store
	failAt, n atomic.Int64
}

func (f *failingStore) Update(ctx context.Context, fn func(keystore.Tx) error) error {
	return f.Store.Update(ctx, func(tx keystore.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if at := f.failAt.Load(); at > 0 && f.n.Add(1) >= at {
			return errCommitFailed
		}
		return nil
	})
}

// TestSyncHandsOnlyCommittedEvents: when a batch's transaction fails, the
// events it would have stored are not handed to fn (they are not stored:
// the next sync brings and hands them), and the sync returns the failure.
func TestSyncHandsOnlyCommittedEvents(t *testing.T) {
	c := ctx(t)
	n := newNet(t)
	alice := n.user("alice")
	fs := &failingStore{Store: keystore.NewMemory()}
	bob := n.userOn("bob", fs)
	for i := range 5 {
		if _, err := alice.e.SendText(c, bob.id, fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// The sync's write transactions fail, from the first on: the one
	// storing the events among them.
	handed := map[string]int{}
	for at := int64(1); ; at++ {
		fs.n.Store(0)
		fs.failAt.Store(at)
		_, err := bob.e.Sync(c, alice.id, func(ev *event.Event) error {
			handed[ev.SequenceID]++
			return nil
		})
		if err == nil {
			break
		}
		if !errors.Is(err, errCommitFailed) {
			t.Fatalf("sync failing at write %d: %v, want the commit's failure", at, err)
		}
		if stored := mustHistory(t, bob, alice.id); len(handed) != len(stored) {
			t.Fatalf("sync failing at write %d handed %d events to fn, %d stored", at, len(handed), len(stored))
		}
	}
	fs.failAt.Store(0)
	if _, err := bob.e.Sync(c, alice.id, func(ev *event.Event) error {
		handed[ev.SequenceID]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stored := mustHistory(t, bob, alice.id)
	if got := len(texts(stored)); got != 5 {
		t.Fatalf("%d messages stored after the second sync, want 5", got)
	}
	for _, en := range stored {
		if handed[en.SequenceID] != 1 {
			t.Errorf("stored event %s (%s) handed to fn %d times", en.SequenceID, en.Type, handed[en.SequenceID])
		}
	}
}
