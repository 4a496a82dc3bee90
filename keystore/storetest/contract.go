package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
)

// Opener opens a new, empty store for one test and registers its
// cleanup with t.
type Opener func(t *testing.T) keystore.Store

// contractCases is the behaviour every Store implementation shares.
var contractCases = []struct {
	name string
	run  func(t *testing.T, s keystore.Store)
}{
	{"identity", testIdentity},
	{"peers", testPeers},
	{"conversation keys", testConversationKeys},
	{"conversations", testConversations},
	{"events", testEvents},
	{"event batch is atomic", testEventsAtomic},
	{"message id index", testEventByMessageID},
	{"event at a sequence id", testEventAt},
	{"outbox", testOutbox},
	{"token", testToken},
	{"values", testValues},
	{"update is atomic", testUpdateAtomic},
	{"view is read-only", testViewReadOnly},
	{"invalid ids and versions", testInvalid},
	{"cancelled context", testCancelled},
	{"context and read-only checks before arguments", testGuardsFirst},
	{"concurrent readers and writers", testConcurrent},
	{"closed", testClosed},
	{"backup import and export", testBackupImportExport},
	{"leases", testLeases},
	{"outbox claims", testOutboxClaims},
}

// Contract runs every contract case, each against a new store from open.
func Contract(t *testing.T, open Opener) {
	for _, c := range contractCases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, open(t))
		})
	}
}

func testIdentity(t *testing.T, s keystore.Store) {
	ctx := bg()
	if _, err := s.Identity(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("empty store keystore.Identity: err = %v, want ErrNotFound", err)
	}
	blob := seqBlob(7)
	mustNil(t, s.SetIdentity(ctx, &keystore.Identity{UserID: "42", Backup: blob}))
	blob[0] ^= 0xff // the store must have copied it
	got, err := s.Identity(ctx)
	mustNil(t, err)
	if got.UserID != "42" || !got.Backup.Equal(seqBlob(7)) || got.PublicKeyVersion != "" {
		t.Fatalf("Identity = %+v", got)
	}
	got.Backup[1] ^= 0xff // nor may the caller's copy alias the store
	mustNil(t, s.SetIdentity(ctx, &keystore.Identity{UserID: "42", Backup: seqBlob(7), PublicKeyVersion: "1700000000000"}))
	got, err = s.Identity(ctx)
	mustNil(t, err)
	if !got.Backup.Equal(seqBlob(7)) || got.PublicKeyVersion != "1700000000000" {
		t.Fatalf("after update: %+v", got)
	}
	for _, bad := range []*keystore.Identity{nil, {UserID: "42", Backup: make([]byte, 63)}, {UserID: "", Backup: seqBlob(1)},
		{UserID: "42", Backup: seqBlob(1), PublicKeyVersion: "01"}} {
		if err := s.SetIdentity(ctx, bad); !errors.Is(err, keystore.ErrInvalid) {
			t.Errorf("SetIdentity(%v): err = %v, want ErrInvalid", bad, err)
		}
	}
}

func testPeers(t *testing.T, s keystore.Store) {
	ctx := bg()
	ks, err := s.PeerKeys(ctx, "7")
	mustNil(t, err)
	if len(ks) != 0 {
		t.Fatalf("unknown user has %d keys", len(ks))
	}
	for i, v := range []string{"10", "9", "1700000000000", "999", "0"} {
		mustNil(t, s.PutPeerKey(ctx, keystore.PeerKey{UserID: "7", Version: v, IdentityPublicKey: []byte("id-" + v),
			SigningPublicKey: []byte("sig-" + v), FirstSeen: t0.Add(time.Duration(i) * time.Hour)}))
	}
	ks, err = s.PeerKeys(ctx, "7")
	mustNil(t, err)
	var vers []string
	for _, k := range ks {
		vers = append(vers, k.Version)
		if string(k.IdentityPublicKey) != "id-"+k.Version || string(k.SigningPublicKey) != "sig-"+k.Version || k.UserID != "7" {
			t.Errorf("key %s: %+v", k.Version, k)
		}
	}
	if want := []string{"0", "9", "10", "999", "1700000000000"}; !slices.Equal(vers, want) {
		t.Fatalf("versions = %v, want %v", vers, want)
	}
	// Same bytes again: FirstSeen keeps the earliest, flags are replaced.
	mustNil(t, s.PutPeerKey(ctx, keystore.PeerKey{UserID: "7", Version: "10", IdentityPublicKey: []byte("id-10"),
		SigningPublicKey: []byte("sig-10"), FirstSeen: t0.Add(100 * time.Hour), LastSeen: t0.Add(101 * time.Hour), Pinned: true}))
	ks = testutil.Must(s.PeerKeys(ctx, "7"))(t)
	k10 := ks[2]
	if !k10.FirstSeen.Equal(t0) || !k10.LastSeen.Equal(t0.Add(101*time.Hour)) || !k10.Pinned || k10.Verified {
		t.Fatalf("after re-put: %+v", k10)
	}
	// Different bytes for a stored version: conflict, nothing changed.
	err = s.PutPeerKey(ctx, keystore.PeerKey{UserID: "7", Version: "10", IdentityPublicKey: []byte("evil"), SigningPublicKey: []byte("sig-10")})
	if !errors.Is(err, keystore.ErrConflict) {
		t.Fatalf("conflicting put: err = %v, want ErrConflict", err)
	}
	mustNil(t, s.SetPeerVerified(ctx, "7", "10", true))
	ks = testutil.Must(s.PeerKeys(ctx, "7"))(t)
	if !ks[2].Verified || string(ks[2].IdentityPublicKey) != "id-10" || !ks[2].Pinned {
		t.Fatalf("after SetPeerVerified: %+v", ks[2])
	}
	if err := s.SetPeerVerified(ctx, "7", "11", true); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("SetPeerVerified on absent version: %v", err)
	}
	if err := s.PutPeerKey(ctx, keystore.PeerKey{UserID: "7", Version: "12"}); !errors.Is(err, keystore.ErrInvalid) {
		t.Fatalf("peer key without keys: %v", err)
	}
	// Origin is written once: the first non-empty value stays.
	mustNil(t, s.PutPeerKey(ctx, keystore.PeerKey{UserID: "7", Version: "9", IdentityPublicKey: []byte("id-9"), SigningPublicKey: []byte("sig-9"), Origin: "first"}))
	mustNil(t, s.PutPeerKey(ctx, keystore.PeerKey{UserID: "7", Version: "9", IdentityPublicKey: []byte("id-9"), SigningPublicKey: []byte("sig-9"), Origin: "later"}))
	mustNil(t, s.PutPeerKey(ctx, keystore.PeerKey{UserID: "7", Version: "9", IdentityPublicKey: []byte("id-9"), SigningPublicKey: []byte("sig-9"), Pinned: true}))
	ks = testutil.Must(s.PeerKeys(ctx, "7"))(t)
	if ks[1].Version != "9" || ks[1].Origin != "first" || !ks[1].Pinned {
		t.Fatalf("origin after re-puts: %+v", ks[1])
	}
	if ks[0].Origin != "" {
		t.Fatalf("origin of a version stored without one: %q", ks[0].Origin)
	}
	long := keystore.PeerKey{UserID: "7", Version: "13", IdentityPublicKey: []byte("id"), Origin: strings.Repeat("o", keystore.MaxOriginLen+1)}
	if err := s.PutPeerKey(ctx, long); !errors.Is(err, keystore.ErrInvalid) {
		t.Fatalf("oversized origin: %v", err)
	}
	other := testutil.Must(s.PeerKeys(ctx, "70"))(t)
	if len(other) != 0 {
		t.Fatalf("user 70 sees %d keys of user 7", len(other))
	}
}

func testConversationKeys(t *testing.T, s keystore.Store) {
	ctx := bg()
	if _, err := s.LatestConversationKey(ctx, "c1"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Latest on empty: %v", err)
	}
	if ks, err := s.ConversationKeys(ctx, "c1"); err != nil || len(ks) != 0 {
		t.Fatalf("ConversationKeys on empty: %v %v", ks, err)
	}
	for i, v := range []string{"9", "1700000000000", "10", "999"} {
		mustNil(t, s.PutConversationKey(ctx, keystore.ConversationKey{ConversationID: "c1", Version: v, Key: keyOf(byte(i + 1)),
			CreatedBy: "u" + v, CreatedAt: t0}))
	}
	latest, err := s.LatestConversationKey(ctx, "c1")
	mustNil(t, err)
	if latest.Version != "1700000000000" || latest.Key != keyOf(2) || latest.CreatedBy != "u1700000000000" {
		t.Fatalf("latest = %s %s", latest.Version, latest.CreatedBy)
	}
	ks, err := s.ConversationKeys(ctx, "c1")
	mustNil(t, err)
	var vers []string
	for _, k := range ks {
		vers = append(vers, k.Version)
	}
	if want := []string{"9", "10", "999", "1700000000000"}; !slices.Equal(vers, want) {
		t.Fatalf("versions = %v, want %v", vers, want)
	}
	k, err := s.ConversationKey(ctx, "c1", "10")
	mustNil(t, err)
	if k.Key != keyOf(3) || k.ConversationID != "c1" || !k.CreatedAt.Equal(t0) || k.Verified {
		t.Fatalf("key 10 = %+v", k)
	}
	if _, err := s.ConversationKey(ctx, "c1", "11"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("absent version: %v", err)
	}
	if _, err := s.ConversationKey(ctx, "c2", "10"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("other conversation: %v", err)
	}
	err = s.PutConversationKey(ctx, keystore.ConversationKey{ConversationID: "c1", Version: "10", Key: keyOf(99)})
	if !errors.Is(err, keystore.ErrConflict) {
		t.Fatalf("replacing key material: %v", err)
	}
	mustNil(t, s.PutConversationKey(ctx, keystore.ConversationKey{ConversationID: "c1", Version: "10", Key: keyOf(3), Verified: true, CreatedAt: t0.Add(time.Hour)}))
	k = testutil.Must(s.ConversationKey(ctx, "c1", "10"))(t)
	if !k.Verified || !k.CreatedAt.Equal(t0) || k.Key != keyOf(3) {
		t.Fatalf("after verified re-put: %+v", k)
	}
	if err := s.PutConversationKey(ctx, keystore.ConversationKey{ConversationID: "c1", Version: "11"}); !errors.Is(err, keystore.ErrInvalid) {
		t.Fatalf("zero key: %v", err)
	}
}

func testConversations(t *testing.T, s keystore.Store) {
	ctx := bg()
	if _, err := s.Conversation(ctx, "b"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("absent conversation: %v", err)
	}
	loc := time.FixedZone("X", 3600)
	cb := &keystore.Conversation{ID: "b", Type: "group", Name: "Bees", Members: []string{"1", "2"}, Meta: []byte(`{"x":1}`),
		Sync: keystore.SyncState{LastSequenceID: "1700000000001", ChainHead: "1700000000000", NextToken: "tok"}, UpdatedAt: t0.In(loc)}
	mustNil(t, s.PutConversation(ctx, cb))
	mustNil(t, s.PutConversation(ctx, &keystore.Conversation{ID: "a", Type: "one_to_one"}))
	cb.Members[0] = "mutated"
	got, err := s.Conversation(ctx, "b")
	mustNil(t, err)
	want := keystore.Conversation{ID: "b", Type: "group", Name: "Bees", Members: []string{"1", "2"}, Meta: []byte(`{"x":1}`),
		Sync: cb.Sync, UpdatedAt: t0}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("Conversation = %+v\nwant %+v", *got, want)
	}
	all, err := s.Conversations(ctx)
	mustNil(t, err)
	if len(all) != 2 || all[0].ID != "a" || all[1].ID != "b" {
		t.Fatalf("Conversations = %+v", all)
	}
	got.Sync.NextToken = ""
	got.Sync.LastSequenceID = "1700000000002"
	mustNil(t, s.PutConversation(ctx, got))
	again := testutil.Must(s.Conversation(ctx, "b"))(t)
	if again.Sync.NextToken != "" || again.Sync.LastSequenceID != "1700000000002" {
		t.Fatalf("replace: %+v", again.Sync)
	}
	if err := s.PutConversation(ctx, &keystore.Conversation{ID: "c", Sync: keystore.SyncState{LastSequenceID: "x1"}}); !errors.Is(err, keystore.ErrInvalid) {
		t.Fatalf("bad sync state: %v", err)
	}
}

func ev(seq, msg string) keystore.StoredEvent {
	return keystore.StoredEvent{SequenceID: seq, MessageID: msg, SenderID: "1", Type: "message", Body: []byte("body " + seq),
		Verified: true, Raw: []byte("raw " + seq), CreatedAt: t0}
}

func seqs(evs []keystore.StoredEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.SequenceID)
	}
	return out
}

func testEvents(t *testing.T, s keystore.Store) {
	ctx := bg()
	evs, err := s.Events(ctx, "c", "", 0)
	mustNil(t, err)
	if len(evs) != 0 {
		t.Fatalf("empty history has %d events", len(evs))
	}
	mustNil(t, s.PutEvents(ctx, "c", []keystore.StoredEvent{ev("10", "m10"), ev("9", "m9"), ev("1700000000000", "m17")}))
	mustNil(t, s.PutEvents(ctx, "c", []keystore.StoredEvent{ev("999", "m999"), ev("100", "")}))
	mustNil(t, s.PutEvents(ctx, "other", []keystore.StoredEvent{ev("5", "m5")}))
	all, err := s.Events(ctx, "c", "", 0)
	mustNil(t, err)
	if got, want := seqs(all), []string{"9", "10", "100", "999", "1700000000000"}; !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
	e := all[1]
	if e.MessageID != "m10" || string(e.Body) != "body 10" || string(e.Raw) != "raw 10" || !e.Verified || e.SenderID != "1" ||
		e.Type != "message" || !e.CreatedAt.Equal(t0) {
		t.Fatalf("event 10 = %+v", e)
	}
	given := []keystore.StoredEvent{ev("7", "m7")}
	mustNil(t, s.PutEvents(ctx, "given", given))
	if string(given[0].Body) != "body 7" || string(given[0].Raw) != "raw 7" {
		t.Fatalf("PutEvents changed the caller's event: %q %q", given[0].Body, given[0].Raw)
	}
	given[0].Body[0], given[0].Raw[0] = 'X', 'X' // stored events must not alias the caller's
	if kept := testutil.Must(s.Events(ctx, "given", "", 0))(t); len(kept) != 1 || string(kept[0].Body) != "body 7" || string(kept[0].Raw) != "raw 7" {
		t.Fatalf("mutating a stored event's slices changed the store: %+v", kept)
	}
	all[1].Body[0], all[1].Raw[0] = 'X', 'X' // returned events must not alias the store
	if again := testutil.Must(s.Events(ctx, "c", "9", 1))(t); string(again[0].Body) != "body 10" || string(again[0].Raw) != "raw 10" {
		t.Fatalf("mutating a returned event changed the store: %q %q", again[0].Body, again[0].Raw)
	}
	for _, c := range []struct {
		after string
		limit int
		want  []string
	}{
		{"10", 0, []string{"100", "999", "1700000000000"}},
		{"11", 2, []string{"100", "999"}},   // after a seq that is not stored
		{"1", 1, []string{"9"}},             // shorter than every key
		{"1700000000000", 0, nil},           // at the end
		{"99999999999999", 0, nil},          // beyond the end
		{"", 3, []string{"9", "10", "100"}}, // limit from the start
	} {
		got, err := s.Events(ctx, "c", c.after, c.limit)
		mustNil(t, err)
		if !slices.Equal(seqs(got), c.want) {
			t.Errorf("Events(after %q, limit %d) = %v, want %v", c.after, c.limit, seqs(got), c.want)
		}
	}
	// Replacing an event by sequence id.
	upd := ev("10", "m10")
	upd.Verified, upd.Error, upd.Body = false, "bad signature", nil
	mustNil(t, s.PutEvents(ctx, "c", []keystore.StoredEvent{upd}))
	got := testutil.Must(s.Events(ctx, "c", "9", 1))(t)
	if len(got) != 1 || got[0].Verified || got[0].Error != "bad signature" || got[0].Body != nil {
		t.Fatalf("replaced event = %+v", got)
	}
	if err := s.PutEvents(ctx, "c", nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	if _, err := s.Events(ctx, "c", "010", 0); !errors.Is(err, keystore.ErrInvalid) {
		t.Fatalf("non-canonical afterSeq: %v", err)
	}
}

func testEventsAtomic(t *testing.T, s keystore.Store) {
	ctx := bg()
	err := s.PutEvents(ctx, "c", []keystore.StoredEvent{ev("1", "a"), ev("2", "b"), ev("03", "c")})
	if !errors.Is(err, keystore.ErrInvalid) {
		t.Fatalf("batch with bad seq: %v", err)
	}
	evs := testutil.Must(s.Events(ctx, "c", "", 0))(t)
	if len(evs) != 0 {
		t.Fatalf("failed batch left %d events", len(evs))
	}
}

// testEventAt checks keystore.EventAt, in a transaction and outside one,
// through the store's own EventAt and through the fallback over Events
// (a Tx that does not have the method): the event stored under the
// sequence id, and ErrNotFound when none is, also below and between
// stored events and beyond 2^64.
func testEventAt(t *testing.T, s keystore.Store) {
	ctx := bg()
	mustNil(t, s.PutEvents(ctx, "c", []keystore.StoredEvent{ev("10", "m10"), ev("12", "m12"), ev("100000000000000000000", "big")}))
	check := func(name string, tx keystore.Tx) {
		t.Helper()
		for _, seq := range []string{"10", "12", "100000000000000000000"} {
			e, err := keystore.EventAt(ctx, tx, "c", seq)
			if err != nil || e == nil || e.SequenceID != seq || string(e.Raw) != "raw "+seq || string(e.Body) != "body "+seq {
				t.Fatalf("%s: EventAt(%s) = %+v, %v", name, seq, e, err)
			}
		}
		for _, seq := range []string{"1", "9", "11", "13", "99999999999999999999", "100000000000000000001"} {
			if e, err := keystore.EventAt(ctx, tx, "c", seq); !errors.Is(err, keystore.ErrNotFound) {
				t.Fatalf("%s: EventAt(%s) of no event = %+v, %v; want ErrNotFound", name, seq, e, err)
			}
		}
		if e, err := keystore.EventAt(ctx, tx, "other", "10"); !errors.Is(err, keystore.ErrNotFound) {
			t.Fatalf("%s: EventAt in another conversation = %+v, %v; want ErrNotFound", name, e, err)
		}
	}
	if _, ok := keystore.Tx(s).(keystore.EventFinder); !ok {
		t.Fatalf("%T is not a keystore.EventFinder", s)
	}
	check("store", s)
	mustNil(t, s.View(ctx, func(tx keystore.Tx) error {
		if _, ok := tx.(keystore.EventFinder); !ok {
			t.Fatalf("%T is not a keystore.EventFinder", tx)
		}
		check("view", tx)
		check("fallback", eventsOnly{tx})
		return nil
	}))
}

// eventsOnly is a Tx without EventAt (keystore.EventAt falls back to
// Events).
type eventsOnly struct{ keystore.Tx }

func testEventByMessageID(t *testing.T, s keystore.Store) {
	ctx := bg()
	mustNil(t, s.PutEvents(ctx, "c", []keystore.StoredEvent{ev("5", "dup"), ev("40", "dup"), ev("7", "x")}))
	e, err := s.EventByMessageID(ctx, "c", "dup")
	mustNil(t, err)
	if e.SequenceID != "40" {
		t.Fatalf("dup resolved to %s, want the highest sequence id 40", e.SequenceID)
	}
	// Replace seq 40 with another message: "dup" now resolves to 5.
	mustNil(t, s.PutEvents(ctx, "c", []keystore.StoredEvent{ev("40", "y")}))
	e, err = s.EventByMessageID(ctx, "c", "dup")
	mustNil(t, err)
	if e.SequenceID != "5" || string(e.Body) != "body 5" {
		t.Fatalf("dup after replace = %+v", e)
	}
	mustNil(t, s.PutEvents(ctx, "c", []keystore.StoredEvent{ev("5", "z")}))
	if _, err := s.EventByMessageID(ctx, "c", "dup"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("stale index entry resolved: %v", err)
	}
	if _, err := s.EventByMessageID(ctx, "other", "x"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("wrong conversation: %v", err)
	}
	// A prefix of a message id is a different message id.
	if _, err := s.EventByMessageID(ctx, "c", "d"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("prefix lookup: %v", err)
	}
	// A verified event holds its message id against newer unverified
	// ones; among unverified ones only, the newest answers.
	forged := func(seq string) keystore.StoredEvent {
		e := ev(seq, "held")
		e.Verified, e.Error = false, "forged"
		return e
	}
	mustNil(t, s.PutEvents(ctx, "c", []keystore.StoredEvent{forged("50"), forged("60")}))
	e, err = s.EventByMessageID(ctx, "c", "held")
	mustNil(t, err)
	if e.SequenceID != "60" || e.Verified {
		t.Fatalf("unverified only: resolved to %s (verified %v), want the highest 60", e.SequenceID, e.Verified)
	}
	mustNil(t, s.PutEvents(ctx, "c", []keystore.StoredEvent{ev("55", "held"), forged("70")}))
	e, err = s.EventByMessageID(ctx, "c", "held")
	mustNil(t, err)
	if e.SequenceID != "55" || !e.Verified {
		t.Fatalf("verified at 55 among unverified 50, 60, 70: resolved to %s (verified %v)", e.SequenceID, e.Verified)
	}
}

func testOutbox(t *testing.T, s keystore.Store) {
	ctx := bg()
	items, err := s.Outbox(ctx)
	mustNil(t, err)
	if len(items) != 0 {
		t.Fatalf("empty outbox has %d", len(items))
	}
	mustNil(t, s.PutOutbox(ctx, keystore.OutboxItem{MessageID: "m2", ConversationID: "c", Kind: "message", Body: []byte("b2"), CreatedAt: t0.Add(time.Second)}))
	mustNil(t, s.PutOutbox(ctx, keystore.OutboxItem{MessageID: "m1", ConversationID: "c", Kind: "message", Body: []byte("b1"), CreatedAt: t0.Add(time.Second)}))
	mustNil(t, s.PutOutbox(ctx, keystore.OutboxItem{MessageID: "m3", ConversationID: "c", Kind: "key_change", Body: []byte("b3"), CreatedAt: t0}))
	items = testutil.Must(s.Outbox(ctx))(t)
	var ids []string
	for _, it := range items {
		ids = append(ids, it.MessageID)
	}
	if want := []string{"m3", "m1", "m2"}; !slices.Equal(ids, want) {
		t.Fatalf("outbox order = %v, want %v", ids, want)
	}
	if items[0].Kind != "key_change" || string(items[0].Body) != "b3" || items[0].ConversationID != "c" {
		t.Fatalf("item = %+v", items[0])
	}
	// A retry bumps attempts under the same message id.
	mustNil(t, s.PutOutbox(ctx, keystore.OutboxItem{MessageID: "m1", ConversationID: "c", Kind: "message", Body: []byte("b1"),
		CreatedAt: t0.Add(time.Second), Attempts: 2, LastError: "503"}))
	mustNil(t, s.AckOutbox(ctx, "m3"))
	mustNil(t, s.AckOutbox(ctx, "m3")) // idempotent
	items = testutil.Must(s.Outbox(ctx))(t)
	if len(items) != 2 || items[0].MessageID != "m1" || items[0].Attempts != 2 || items[0].LastError != "503" {
		t.Fatalf("after retry and ack: %+v", items)
	}
	if err := s.PutOutbox(ctx, keystore.OutboxItem{MessageID: "m9", Attempts: -1}); !errors.Is(err, keystore.ErrInvalid) {
		t.Fatalf("negative attempts: %v", err)
	}
}

func testToken(t *testing.T, s keystore.Store) {
	ctx := bg()
	if _, err := s.Token(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("absent token: %v", err)
	}
	tok := &keystore.Token{AccessToken: "acc-SECRET", RefreshToken: "ref-SECRET", TokenType: "bearer", Expiry: t0, Scopes: []string{"dm.read", "dm.write"}}
	mustNil(t, s.SetToken(ctx, tok))
	got, err := s.Token(ctx)
	mustNil(t, err)
	if !reflect.DeepEqual(got, tok) {
		t.Fatalf("Token = %#v", got)
	}
	mustNil(t, s.SetToken(ctx, nil))
	if _, err := s.Token(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("deleted token: %v", err)
	}
}

func testValues(t *testing.T, s keystore.Store) {
	ctx := bg()
	if _, err := s.Value(ctx, "cfg"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("absent value: %v", err)
	}
	mustNil(t, s.SetValue(ctx, "cfg", []byte("v1")))
	mustNil(t, s.SetValue(ctx, "empty", []byte{}))
	v, err := s.Value(ctx, "cfg")
	mustNil(t, err)
	if string(v) != "v1" {
		t.Fatalf("value = %q", v)
	}
	v, err = s.Value(ctx, "empty")
	if err != nil || v == nil || len(v) != 0 {
		t.Fatalf("empty value = %v, %v", v, err)
	}
	mustNil(t, s.SetValue(ctx, "cfg", nil))
	if _, err := s.Value(ctx, "cfg"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("deleted value: %v", err)
	}
}

func testUpdateAtomic(t *testing.T, s keystore.Store) {
	ctx := bg()
	mustNil(t, s.PutOutbox(ctx, keystore.OutboxItem{MessageID: "m1", ConversationID: "c", Body: []byte("prepared"), CreatedAt: t0}))
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx keystore.Tx) error {
		if err := tx.AckOutbox(ctx, "m1"); err != nil {
			return err
		}
		if err := tx.PutEvents(ctx, "c", []keystore.StoredEvent{ev("1", "m1")}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update err = %v", err)
	}
	if items := testutil.Must(s.Outbox(ctx))(t); len(items) != 1 {
		t.Fatalf("rolled-back ack removed the item")
	}
	if evs := testutil.Must(s.Events(ctx, "c", "", 0))(t); len(evs) != 0 {
		t.Fatalf("rolled-back events visible")
	}
	// Writes inside a transaction are visible to later reads in it.
	mustNil(t, s.Update(ctx, func(tx keystore.Tx) error {
		if err := tx.AckOutbox(ctx, "m1"); err != nil {
			return err
		}
		if err := tx.PutEvents(ctx, "c", []keystore.StoredEvent{ev("1", "m1")}); err != nil {
			return err
		}
		e, err := tx.EventByMessageID(ctx, "c", "m1")
		if err != nil || e.SequenceID != "1" {
			return fmt.Errorf("read-your-writes: %v %v", e, err)
		}
		return nil
	}))
	if items := testutil.Must(s.Outbox(ctx))(t); len(items) != 0 {
		t.Fatalf("ack not committed")
	}
	if evs := testutil.Must(s.Events(ctx, "c", "", 0))(t); len(evs) != 1 {
		t.Fatalf("events not committed")
	}
}

func testViewReadOnly(t *testing.T, s keystore.Store) {
	ctx := bg()
	err := s.View(ctx, func(tx keystore.Tx) error {
		return tx.SetValue(ctx, "x", []byte("y"))
	})
	if !errors.Is(err, keystore.ErrReadOnly) {
		t.Fatalf("write in View: %v", err)
	}
	mustNil(t, s.View(ctx, func(tx keystore.Tx) error {
		_, err := tx.Conversations(ctx)
		return err
	}))
}

func testInvalid(t *testing.T, s keystore.Store) {
	ctx := bg()
	key := keyOf(1)
	for _, v := range []string{"", "01", "-1", "+1", "1e3", "1.0", " 1", "١", "12345678901234567890123456789012345678901"} {
		if err := s.PutConversationKey(ctx, keystore.ConversationKey{ConversationID: "c", Version: v, Key: key}); !errors.Is(err, keystore.ErrInvalid) {
			t.Errorf("version %q: err = %v, want ErrInvalid", v, err)
		}
		if err := s.PutEvents(ctx, "c", []keystore.StoredEvent{{SequenceID: v}}); !errors.Is(err, keystore.ErrInvalid) {
			t.Errorf("seq %q: err = %v, want ErrInvalid", v, err)
		}
	}
	for _, id := range []string{"", "a\x00b", string(make([]byte, 257))} {
		if _, err := s.Conversation(ctx, id); !errors.Is(err, keystore.ErrInvalid) {
			t.Errorf("conversation id %q: err = %v", id, err)
		}
		if err := s.PutOutbox(ctx, keystore.OutboxItem{MessageID: id}); !errors.Is(err, keystore.ErrInvalid) {
			t.Errorf("message id %q: err = %v", id, err)
		}
	}
}

func testCancelled(t *testing.T, s keystore.Store) {
	ctx, cancel := context.WithCancel(bg())
	cancel()
	if err := s.SetValue(ctx, "x", []byte("y")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled write: %v", err)
	}
	if _, err := s.Value(bg(), "x"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("cancelled write landed: %v", err)
	}
}

func testConcurrent(t *testing.T, s keystore.Store) {
	ctx := bg()
	const writers, perWriter = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			conv := fmt.Sprintf("c%d", w)
			for i := range perWriter {
				seq := fmt.Sprint(i + 1)
				if err := s.PutEvents(ctx, conv, []keystore.StoredEvent{ev(seq, conv+"-"+seq)}); err != nil {
					errs <- err
					return
				}
				if err := s.PutConversationKey(ctx, keystore.ConversationKey{ConversationID: conv, Version: seq, Key: keyOf(byte(i + 1))}); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			conv := fmt.Sprintf("c%d", w)
			last := 0
			for range perWriter * 2 {
				evs, err := s.Events(ctx, conv, "", 0)
				if err != nil {
					errs <- err
					return
				}
				// Histories only grow and always come back in order.
				if len(evs) < last {
					errs <- fmt.Errorf("%s shrank from %d to %d", conv, last, len(evs))
					return
				}
				last = len(evs)
				for i, e := range evs {
					if e.SequenceID != fmt.Sprint(i+1) {
						errs <- fmt.Errorf("%s: event %d has seq %s", conv, i, e.SequenceID)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range writers {
		conv := fmt.Sprintf("c%d", w)
		evs := testutil.Must(s.Events(ctx, conv, "", 0))(t)
		latest, err := s.LatestConversationKey(ctx, conv)
		mustNil(t, err)
		if len(evs) != perWriter || latest.Version != fmt.Sprint(perWriter) {
			t.Fatalf("%s: %d events, latest key %s", conv, len(evs), latest.Version)
		}
	}
}

func testClosed(t *testing.T, s keystore.Store) {
	ctx := bg()
	mustNil(t, s.SetValue(ctx, "x", []byte("y")))
	mustNil(t, s.Close())
	mustNil(t, s.Close()) // idempotent
	if _, err := s.Value(ctx, "x"); !errors.Is(err, keystore.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if err := s.SetValue(ctx, "x", nil); !errors.Is(err, keystore.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

func testBackupImportExport(t *testing.T, s keystore.Store) {
	ctx := bg()
	if _, err := keystore.ExportBackup(ctx, s); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("export without identity: %v", err)
	}
	mustNil(t, keystore.ImportBackup(ctx, s, "42", seqBlob(3)))
	mustNil(t, keystore.ImportBackup(ctx, s, "42", seqBlob(3))) // same identity: no-op
	if err := keystore.ImportBackup(ctx, s, "42", seqBlob(4)); !errors.Is(err, keystore.ErrConflict) {
		t.Fatalf("import over a different identity: %v", err)
	}
	if err := keystore.ImportBackup(ctx, s, "43", seqBlob(3)); !errors.Is(err, keystore.ErrConflict) {
		t.Fatalf("import for a different user: %v", err)
	}
	if err := keystore.ImportBackup(ctx, s, "42", seqBlob(3)[:63]); !errors.Is(err, keystore.ErrInvalid) {
		t.Fatalf("short blob: %v", err)
	}
	blob, err := keystore.ExportBackup(ctx, s)
	mustNil(t, err)
	if !blob.Equal(seqBlob(3)) {
		t.Fatal("exported blob differs from the imported one")
	}
}
