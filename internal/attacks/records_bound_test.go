package attacks

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
)

// The records the late walk and the backfill judging keep
// (docs/late-judging.md "The records") are never deleted. A hostile
// server decides how many group changes it serves late, and where: the
// records must grow with what is stored (a bounded amount per stored
// group change), not with its square.

// recordPrefixes are the names of the walk's and the backfills' records.
var recordPrefixes = []string{"session/late-changes/", "session/group-held/", "session/group-applied/",
	"session/group-vouched/", "session/group-gave/", "session/group-changes/"}

// recordingStore keeps the size of the values last written under the
// records' names (in or out of a transaction; a rolled-back write counts:
// an over-estimate).
type recordingStore struct {
	keystore.Store
	mu    *sync.Mutex
	sizes map[string]int
}

// recordingTx is a transaction of a recordingStore.
type recordingTx struct {
	keystore.Tx
	s recordingStore
}

// SetValue implements keystore.Tx, recording.
func (t recordingTx) SetValue(ctx context.Context, name string, value []byte) error {
	t.s.note(name, value)
	return t.Tx.SetValue(ctx, name, value)
}

// SetValue implements keystore.Store, recording.
func (s recordingStore) SetValue(ctx context.Context, name string, value []byte) error {
	s.note(name, value)
	return s.Store.SetValue(ctx, name, value)
}

// Update implements keystore.Store, recording in the transaction.
func (s recordingStore) Update(ctx context.Context, fn func(keystore.Tx) error) error {
	return s.Store.Update(ctx, func(tx keystore.Tx) error { return fn(recordingTx{tx, s}) })
}

func (s recordingStore) note(name string, value []byte) {
	for _, p := range recordPrefixes {
		if strings.HasPrefix(name, p) {
			s.mu.Lock()
			if value == nil {
				delete(s.sizes, name)
			} else {
				s.sizes[name] = len(name) + len(value)
			}
			s.mu.Unlock()
			return
		}
	}
}

// total returns the records held and their bytes.
func (s recordingStore) total() (n, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.sizes {
		n, bytes = n+1, bytes+b
	}
	return n, bytes
}

// lateRecords plays n removals of mallory, each followed by her re-add,
// withheld from bob's first sync (which stores alice's messages above
// them) and served in his second, and returns the records bob's store
// holds then; every event must stand.
func lateRecords(tb testing.TB, n int) (records, bytes int, err error) {
	w := newWorld(tb, emulator.WithRateLimit(0, 0))
	h, err := malloryJoined(w)
	if err != nil {
		return 0, 0, err
	}
	late := map[string]bool{}
	members := []string{h.alice.id, h.bob.id, h.carol.id}
	for range n {
		h.push(h.alice.removal(h.env(), h.mallory.id))
		late[h.top()] = true
		h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.mallory.id}, members, []string{h.alice.id}))
		late[h.top()] = true
	}
	for i := range 5 {
		h.say(h.alice, fmt.Sprintf("alice's message %d", i))
	}
	h.seal()
	withheld, err := pageOf(h, nil, func(seq string) bool { return !late[seq] })
	if err != nil {
		return 0, 0, err
	}
	whole, err := pageWith(h, nil, "")
	if err != nil {
		return 0, 0, err
	}
	hs := startHarness(tb, h)
	hs.srv.set(&mutation{rounds: [][]mutPage{{withheld}, {whole}}})
	ctx := w.ctx
	store := recordingStore{keystore.NewMemory(), &sync.Mutex{}, map[string]int{}}
	if err := session.ImportBackup(ctx, store, h.bob.id, h.bobBackup, h.bobVersion); err != nil {
		return 0, 0, err
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(apiClient(tb, hs.url, h.bob.token)))
	if err != nil {
		return 0, 0, err
	}
	defer e.Close()
	for range 2 {
		if _, err := e.Sync(ctx, h.g, nil); err != nil {
			return 0, 0, err
		}
	}
	records, bytes = store.total()
	hist, err := e.History(ctx, h.g, "", 0)
	if err != nil {
		return records, bytes, err
	}
	for _, en := range hist {
		if !en.Verified {
			return records, bytes, errorf("%s %s by %s at %s not verified: %s", en.Type, en.MessageID, en.SenderID, en.SequenceID, en.Error)
		}
	}
	return records, bytes, nil
}

// TestLateRecordsBounded measures the records n late removal-and-re-add
// pairs leave, for two n: per late group change they must stay within a
// bound that does not grow with n.
func TestLateRecordsBounded(t *testing.T) {
	const small, large = 40, 160
	var perChange [2]int
	for i, n := range []int{small, large} {
		records, bytes, err := lateRecords(t, n)
		if err != nil {
			t.Fatal(err)
		}
		perChange[i] = bytes / (2 * n)
		line := fmt.Sprintf("late-records: %d late removals and re-adds: %d records, %d bytes (%d a change)", n, records, bytes, perChange[i])
		t.Log(line)
		addSummary(line)
	}
	const bound = 1024 // bytes of records per late group change
	if perChange[1] > bound || 2*perChange[1] > 3*perChange[0] {
		t.Errorf("records per late group change grew from %d bytes (%d changes) to %d (%d changes): over %d, or growing with the number of changes",
			perChange[0], 2*small, perChange[1], 2*large, bound)
	}
}
