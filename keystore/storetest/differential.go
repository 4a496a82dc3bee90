package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/xchat-go/xchat/keystore"
)

// errClass reduces an error to the sentinel it wraps, so results from the
// two implementations compare despite different messages.
func errClass(err error) string {
	for _, s := range []error{keystore.ErrNotFound, keystore.ErrInvalid, keystore.ErrConflict, keystore.ErrReadOnly, keystore.ErrCorrupt} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return "ok"
}

// Differential drives a Memory (the model) and subject with the same
// random operation sequence of steps operations (fewer with -short) and
// requires identical results.
func Differential(t *testing.T, subject keystore.Store, steps int) {
	if testing.Short() {
		steps = min(steps, 800)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	mem := keystore.NewMemory()
	defer mem.Close()
	stores := []keystore.Store{mem, subject}

	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	seq := func() string {
		return pick("1", "2", "9", "10", "11", "99", "100", "999", "1000", "1700000000000", "1700000000001", "01", "")
	}
	conv := func() string { return pick("a", "b", "ab") }
	msg := func() string { return pick("", "m1", "m2", "m3", "m") }

	type op struct {
		name string
		run  func(s keystore.Store) (any, error)
	}
	ops := []func() op{
		func() op {
			c, n := conv(), rng.IntN(4)
			var evs []keystore.StoredEvent
			for range n {
				evs = append(evs, keystore.StoredEvent{SequenceID: seq(), MessageID: msg(), Body: []byte(fmt.Sprint(rng.IntN(5))),
					Verified: rng.IntN(2) == 0, CreatedAt: t0.Add(time.Duration(rng.IntN(100)) * time.Second)})
			}
			return op{fmt.Sprintf("PutEvents(%s, %d)", c, n), func(s keystore.Store) (any, error) { return nil, s.PutEvents(bg(), c, evs) }}
		},
		func() op {
			c, after, limit := conv(), pick("", "", "1", "10", "100", "5", "1700000000000"), rng.IntN(4)
			return op{fmt.Sprintf("Events(%s, %q, %d)", c, after, limit), func(s keystore.Store) (any, error) { return s.Events(bg(), c, after, limit) }}
		},
		func() op {
			c, m := conv(), pick("m1", "m2", "m3", "m")
			return op{"EventByMessageID(" + c + "," + m + ")", func(s keystore.Store) (any, error) { return s.EventByMessageID(bg(), c, m) }}
		},
		func() op {
			k := keystore.ConversationKey{ConversationID: conv(), Version: seq(), Key: keyOf(byte(rng.IntN(3))), Verified: rng.IntN(2) == 0,
				CreatedAt: t0.Add(time.Duration(rng.IntN(5)) * time.Hour)}
			return op{"PutConversationKey " + k.Version, func(s keystore.Store) (any, error) { return nil, s.PutConversationKey(bg(), k) }}
		},
		func() op {
			c := conv()
			return op{"LatestConversationKey " + c, func(s keystore.Store) (any, error) { return s.LatestConversationKey(bg(), c) }}
		},
		func() op {
			c := conv()
			return op{"ConversationKeys " + c, func(s keystore.Store) (any, error) { return s.ConversationKeys(bg(), c) }}
		},
		func() op {
			k := keystore.PeerKey{UserID: pick("u1", "u2"), Version: seq(), IdentityPublicKey: []byte(pick("x", "y")), SigningPublicKey: []byte("s"),
				FirstSeen: t0.Add(time.Duration(rng.IntN(5)) * time.Hour), Pinned: rng.IntN(2) == 0}
			return op{"PutPeerKey", func(s keystore.Store) (any, error) { return nil, s.PutPeerKey(bg(), k) }}
		},
		func() op {
			u, v, b := pick("u1", "u2"), seq(), rng.IntN(2) == 0
			return op{"SetPeerVerified", func(s keystore.Store) (any, error) { return nil, s.SetPeerVerified(bg(), u, v, b) }}
		},
		func() op {
			u := pick("u1", "u2")
			return op{"PeerKeys " + u, func(s keystore.Store) (any, error) { return s.PeerKeys(bg(), u) }}
		},
		func() op {
			it := keystore.OutboxItem{MessageID: pick("o1", "o2", "o3"), ConversationID: conv(), Body: []byte("b"), Attempts: rng.IntN(3),
				CreatedAt: t0.Add(time.Duration(rng.IntN(3)) * time.Second)}
			return op{"PutOutbox", func(s keystore.Store) (any, error) { return nil, s.PutOutbox(bg(), it) }}
		},
		func() op {
			m := pick("o1", "o2", "o3")
			return op{"AckOutbox", func(s keystore.Store) (any, error) { return nil, s.AckOutbox(bg(), m) }}
		},
		func() op { return op{"Outbox", func(s keystore.Store) (any, error) { return s.Outbox(bg()) }} },
		func() op {
			c := &keystore.Conversation{ID: conv(), Name: pick("", "n"), Members: []string{"1"}[:rng.IntN(2)],
				Sync: keystore.SyncState{LastSequenceID: seq()}, UpdatedAt: t0}
			return op{"PutConversation", func(s keystore.Store) (any, error) { return nil, s.PutConversation(bg(), c) }}
		},
		func() op {
			return op{"Conversations", func(s keystore.Store) (any, error) { return s.Conversations(bg()) }}
		},
		func() op {
			// A transaction that writes and then fails must leave no trace.
			c, sq, fail := conv(), seq(), rng.IntN(2) == 0
			return op{"Update", func(s keystore.Store) (any, error) {
				return nil, s.Update(bg(), func(tx keystore.Tx) error {
					if err := tx.PutEvents(bg(), c, []keystore.StoredEvent{{SequenceID: sq, MessageID: "m1"}}); err != nil {
						return err
					}
					if err := tx.AckOutbox(bg(), "o1"); err != nil {
						return err
					}
					if fail {
						return keystore.ErrConflict
					}
					return nil
				})
			}}
		},
	}
	for step := range steps {
		o := ops[rng.IntN(len(ops))]()
		var results []any
		var classes []string
		for _, s := range stores {
			r, err := o.run(s)
			results = append(results, r)
			classes = append(classes, errClass(err))
		}
		if classes[0] != classes[1] {
			t.Fatalf("step %d %s: memory %s, subject %s", step, o.name, classes[0], classes[1])
		}
		if classes[0] == "ok" && !reflect.DeepEqual(results[0], results[1]) {
			t.Fatalf("step %d %s:\nmemory  %+v\nsubject %+v", step, o.name, results[0], results[1])
		}
	}
}
