package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/xchat-go/xchat/keystore"
)

// MessageIndex checks EventByMessageID against the Memory model across the
// boundaries of a log-structured message-id index whose recent part holds
// r entries (subject opened with keystore.WithMessageIndexRecent(r)): after
// 1, r-1, r, r+1, 2r+1, … entries, in single events and in batches larger
// than r, with a message id stored under two sequence ids (in different
// segments, verified or not), events replaced by others (stale entries), events without a
// message id, ids never stored, and a transaction that crosses r and then
// fails. Every id is looked up after every step.
func MessageIndex(t *testing.T, subject keystore.Store, r int) {
	mem := keystore.NewMemory()
	defer mem.Close()
	stores := []keystore.Store{mem, subject}
	rng := rand.New(rand.NewPCG(uint64(r), 17))
	ids := make([]string, 0, 4*r+8)
	for i := range cap(ids) {
		ids = append(ids, fmt.Sprintf("id-%d", i))
	}
	put := func(step string, evs []keystore.StoredEvent) {
		for _, s := range stores {
			mustNil(t, s.PutEvents(bg(), "c", evs))
		}
		checkIndex(t, step, stores, append(ids, "never-stored", "id-"))
	}
	ev := func(seq int, id string) keystore.StoredEvent {
		// Every third event verified: a lookup prefers a verified event
		// over newer unverified ones.
		return keystore.StoredEvent{SequenceID: fmt.Sprint(seq), MessageID: id, Type: "message", Body: []byte(fmt.Sprint(seq, id)),
			Verified: seq%3 == 0, CreatedAt: t0}
	}
	seq, next := 100, 0
	// One at a time up to 3r+2 entries: every boundary.
	for range 3*r + 2 {
		put(fmt.Sprintf("single %d", seq), []keystore.StoredEvent{ev(seq, ids[next])})
		seq, next = seq+1, next+1
	}
	// A batch of 2r+1: two flushes inside one PutEvents.
	var batch []keystore.StoredEvent
	for range 2*r + 1 {
		batch = append(batch, ev(seq, ids[next%len(ids)]))
		seq, next = seq+1, next+1
	}
	put("batch of 2r+1", batch)
	// The same ids again under newer sequence ids, and older events
	// replaced (their entries become stale), mixed with id-less events.
	for round := range 3 {
		batch = batch[:0]
		for i := range r + 1 {
			switch rng.IntN(4) {
			case 0:
				batch = append(batch, ev(seq, ids[rng.IntN(len(ids))]))
				seq++
			case 1:
				batch = append(batch, ev(100+rng.IntN(seq-100), ids[rng.IntN(len(ids))])) // replaces an event
			case 2:
				batch = append(batch, ev(100+rng.IntN(seq-100), "")) // replaced by an event without id
			default:
				batch = append(batch, ev(seq, fmt.Sprintf("late-%d-%d", round, i)))
				seq++
			}
		}
		put(fmt.Sprintf("mixed round %d", round), batch)
	}
	// A transaction that crosses r and then fails leaves no trace.
	errBoom := errors.New("boom")
	for _, s := range stores {
		err := s.Update(bg(), func(tx keystore.Tx) error {
			var evs []keystore.StoredEvent
			for i := range 2*r + 1 {
				evs = append(evs, ev(seq+i, fmt.Sprintf("rolled-back-%d", i)))
			}
			if err := tx.PutEvents(bg(), "c", evs); err != nil {
				return err
			}
			got, err := tx.EventByMessageID(bg(), "c", "rolled-back-0")
			if err != nil || got.SequenceID != fmt.Sprint(seq) {
				return fmt.Errorf("lookup inside the transaction: %+v %w", got, err)
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("failing transaction: %v", err)
		}
	}
	checkIndex(t, "after rollback", stores, append(ids, "rolled-back-0", fmt.Sprintf("rolled-back-%d", 2*r)))
	// New entries after the rollback reuse nothing of it.
	batch = batch[:0]
	for i := range 2*r + 1 {
		batch = append(batch, ev(seq+i, fmt.Sprintf("after-%d", i)))
	}
	put("after rollback", batch)
	checkIndex(t, "after rollback, new ids", stores, []string{"after-0", fmt.Sprintf("after-%d", 2*r), "rolled-back-0"})
}

// checkIndex requires every store to answer EventByMessageID for each id
// as the first one (the model) does.
func checkIndex(t *testing.T, step string, stores []keystore.Store, ids []string) {
	t.Helper()
	for _, id := range ids {
		want, wantErr := stores[0].EventByMessageID(bg(), "c", id)
		for _, s := range stores[1:] {
			got, err := s.EventByMessageID(bg(), "c", id)
			if errClass(err) != errClass(wantErr) || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: EventByMessageID(%q):\nmodel   %+v %v\nsubject %+v %v", step, id, want, wantErr, got, err)
			}
		}
	}
}
