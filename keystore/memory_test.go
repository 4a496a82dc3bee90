package keystore

import (
	"errors"
	"strconv"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
)

// TestMemoryRollbackOnPanic checks that writes of an Update whose fn panics
// are undone, like those of one that fails.
func TestMemoryRollbackOnPanic(t *testing.T) {
	m := NewMemory()
	defer m.Close()
	mustNil(t, m.PutEvents(bg(), "c", benchEvents(0, 3)))
	mustNil(t, m.SetValue(bg(), "v", []byte("old")))
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic not propagated")
			}
		}()
		_ = m.Update(bg(), func(tx Tx) error {
			mustNil(t, tx.PutEvents(bg(), "c", benchEvents(1, 5))) // replaces 2, adds 3
			mustNil(t, tx.PutEvents(bg(), "d", benchEvents(0, 1))) // new conversation
			mustNil(t, tx.SetValue(bg(), "v", nil))                // delete
			mustNil(t, tx.PutConversation(bg(), &Conversation{ID: "c"}))
			panic("boom")
		})
	}()
	evs, err := m.Events(bg(), "c", "", 0)
	mustNil(t, err)
	if len(evs) != 3 || evs[2].SequenceID != "1700000000002" {
		t.Fatalf("events after rollback: %d", len(evs))
	}
	if evs := testutil.Must(m.Events(bg(), "d", "", 0))(t); len(evs) != 0 {
		t.Fatalf("new conversation's events kept: %d", len(evs))
	}
	if v, err := m.Value(bg(), "v"); err != nil || string(v) != "old" {
		t.Fatalf("value %q %v", v, err)
	}
	if _, err := m.Conversation(bg(), "c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("conversation kept: %v", err)
	}
	if _, err := m.EventByMessageID(bg(), "c", "m1700000000004"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("message index kept: %v", err)
	}
}

// TestMemoryTxAfterEnd checks that a transaction escaping its fn is dead.
func TestMemoryTxAfterEnd(t *testing.T) {
	m := NewMemory()
	defer m.Close()
	var kept Tx
	mustNil(t, m.Update(bg(), func(tx Tx) error { kept = tx; return nil }))
	if err := kept.SetValue(bg(), "v", []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after end: %v", err)
	}
	mustNil(t, m.View(bg(), func(tx Tx) error { kept = tx; return nil }))
	if _, err := kept.Value(bg(), "v"); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after end: %v", err)
	}
}

// BenchmarkMemoryPutEventLargeHistory stores one event per transaction
// into a conversation of 100k events: the cost must not grow with the
// history (the copy-on-write store copied the whole conversation).
func BenchmarkMemoryPutEventLargeHistory(b *testing.B) {
	m := NewMemory()
	defer m.Close()
	if err := m.PutEvents(bg(), "c", benchEvents(0, 100000)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 100000
	for b.Loop() {
		if err := m.PutEvents(bg(), "c", benchEvents(i, 1)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkMemoryLatestConversationKey looks up the newest of 1000 key
// versions of a conversation (a key rotation does it every time): it must
// not copy and sort them all.
func BenchmarkMemoryLatestConversationKey(b *testing.B) {
	m := NewMemory()
	defer m.Close()
	for i := range 1000 {
		if err := m.PutConversationKey(bg(), ConversationKey{ConversationID: "c", Version: strconv.Itoa(1700000000000 + i),
			Key: SecretKey{byte(i), byte(i >> 8)}, CreatedBy: "u", CreatedAt: t0}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if k, err := m.LatestConversationKey(bg(), "c"); err != nil || k.Version != "1700000000999" {
			b.Fatal(k, err)
		}
	}
}

func benchEvents(base, n int) []StoredEvent {
	evs := make([]StoredEvent, n)
	for i := range evs {
		seq := strconv.Itoa(1700000000000 + base + i)
		evs[i] = StoredEvent{SequenceID: seq, MessageID: "m" + seq, SenderID: "42", Type: "message",
			Body: []byte(`{"text":"hello, this is a typical short chat message"}`), Verified: true, Raw: make([]byte, 300), CreatedAt: t0}
	}
	return evs
}
