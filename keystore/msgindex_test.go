package keystore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// mapRecords is a Records over a map, copied for each transaction and
// kept only when it commits: the smallest backend, for tests that look at
// the index's records and the filter cache.
type mapRecords map[string][]byte // bucket path joined by "/" ‖ NUL ‖ key

func recKey(bucket [][]byte, key []byte) string {
	return string(bytes.Join(bucket, []byte("/"))) + "\x00" + string(key)
}

func (m mapRecords) Get(bucket [][]byte, key []byte) ([]byte, error) {
	return m[recKey(bucket, key)], nil
}

func (m mapRecords) Put(bucket [][]byte, key, value []byte) error {
	m[recKey(bucket, key)] = bytes.Clone(value)
	return nil
}

func (m mapRecords) Delete(bucket [][]byte, key []byte) error {
	delete(m, recKey(bucket, key))
	return nil
}

func (m mapRecords) Scan(bucket [][]byte, from []byte, limit int, fn func(key, value []byte) (bool, error)) error {
	prefix := recKey(bucket, nil)
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, prefix) && k[len(prefix):] >= string(from) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for i, k := range keys {
		if limit > 0 && i >= limit {
			break
		}
		if more, err := fn([]byte(k[len(prefix):]), m[k]); err != nil || !more {
			return err
		}
	}
	return nil
}

func (m mapRecords) Last(bucket [][]byte) ([]byte, []byte, error) {
	var k, v []byte
	err := m.Scan(bucket, nil, 0, func(key, value []byte) (bool, error) { k, v = key, value; return true, nil })
	return k, v, err
}

func (m mapRecords) Walk(fn func(bucket [][]byte, key, value []byte) error) error {
	for k, v := range m {
		b, key, _ := strings.Cut(k, "\x00")
		if err := fn(bytes.Split([]byte(b), []byte("/")), []byte(key), v); err != nil {
			return err
		}
	}
	return nil
}

// mapStore runs sealed transactions over a mapRecords, as the backends do
// (RunSealedTx), or with NewSealedTx's Tx when immediate.
type mapStore struct {
	data      mapRecords
	s         *Sealer
	immediate bool
}

func newMapStore(t *testing.T, opts ...Option) *mapStore {
	t.Helper()
	_, s, err := CreateHeader(append([]Option{WithKey(testKey)}, opts...)...)
	mustNil(t, err)
	t.Cleanup(s.Close)
	return &mapStore{data: mapRecords{}, s: s}
}

func (m *mapStore) update(fn func(tx Tx) error) error {
	work := maps.Clone(m.data)
	var err error
	if m.immediate {
		err = fn(NewSealedTx(bg(), work, m.s, true))
	} else {
		err = RunSealedTx(bg(), work, m.s, true, fn)
	}
	if err != nil {
		return err
	}
	m.data = work
	return nil
}

func (m *mapStore) view(fn func(tx Tx) error) error {
	return fn(NewSealedTx(bg(), m.data, m.s, false))
}

func (m *mapStore) lookup(t *testing.T, id string) string {
	t.Helper()
	var seq string
	err := m.view(func(tx Tx) error {
		e, err := tx.EventByMessageID(bg(), "c", id)
		if err == nil {
			seq = e.SequenceID
		}
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup %s: %v", id, err)
	}
	return seq
}

func (m *mapStore) count(bucket string) int {
	n := 0
	for k := range m.data {
		if strings.HasPrefix(k, bucket+"/") {
			n++
		}
	}
	return n
}

func events(from, n int, prefix string) []StoredEvent {
	var evs []StoredEvent
	for i := range n {
		evs = append(evs, StoredEvent{SequenceID: fmt.Sprint(from + i), MessageID: fmt.Sprintf("%s%d", prefix, from+i), Type: "message"})
	}
	return evs
}

// TestIndexRollbackLeavesNoTrace: a transaction that makes segments and
// looks them up, then fails, leaves the records and the filter cache as
// they were; filters are cached once read from committed records.
func TestIndexRollbackLeavesNoTrace(t *testing.T) {
	for _, immediate := range []bool{false, true} {
		t.Run(fmt.Sprint("immediate=", immediate), func(t *testing.T) {
			m := newMapStore(t, WithMessageIndexRecent(4))
			m.immediate = immediate
			testRollbackLeavesNoTrace(t, m)
		})
	}
}

func testRollbackLeavesNoTrace(t *testing.T, m *mapStore) {
	mustNil(t, m.update(func(tx Tx) error { return tx.PutEvents(bg(), "c", events(1, 3, "m")) }))
	before := maps.Clone(m.data)
	boom := errors.New("boom")
	err := m.update(func(tx Tx) error {
		if err := tx.PutEvents(bg(), "c", events(10, 10, "x")); err != nil {
			return err
		}
		for _, id := range []string{"x10", "x15", "x19", "m1"} {
			if _, err := tx.EventByMessageID(bg(), "c", id); err != nil {
				return fmt.Errorf("%s inside the transaction: %w", id, err)
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if !maps.EqualFunc(before, m.data, bytes.Equal) || m.count("msgseg") != 0 {
		t.Fatal("a rolled-back transaction changed the records")
	}
	if n := m.s.filters.len(); n != 0 {
		t.Fatalf("a rolled-back transaction left %d filters in the cache", n)
	}
	committed := m.data[recKey([][]byte{bucketMsgState}, []byte("c"))]
	for c, e := range m.s.states.m {
		if c != "c" || !bytes.Equal(e.sealed, committed) {
			t.Fatalf("the segment list cache holds %q: %x, not the committed record", c, e.sealed)
		}
	}
	if m.lookup(t, "x10") != "" || m.lookup(t, "m1") != "1" {
		t.Fatal("lookups after the rollback")
	}
	// Committed segments are cached when first read.
	mustNil(t, m.update(func(tx Tx) error { return tx.PutEvents(bg(), "c", events(20, 10, "y")) }))
	if m.count("msgfilter") != 3 || m.s.filters.len() != 0 {
		t.Fatalf("%d filters stored, %d cached before any read", m.count("msgfilter"), m.s.filters.len())
	}
	for i := 20; i < 30; i++ {
		if got := m.lookup(t, fmt.Sprint("y", i)); got != fmt.Sprint(i) {
			t.Fatalf("y%d: %q", i, got)
		}
	}
	if m.lookup(t, "m2") != "2" || m.s.filters.len() != 3 {
		t.Fatalf("after lookups: %d filters cached, want 3", m.s.filters.len())
	}
}

// TestIndexLegacyAdopted: a conversation indexed by format 1 (msgindex/<c>)
// is read by prefix until its first write, which adopts the old index as
// segment 0 with a filter; lookups answer alike before and after.
func TestIndexLegacyAdopted(t *testing.T) {
	m := newMapStore(t, WithMessageIndexRecent(3))
	old := append(events(1, 20, "m"), StoredEvent{SequenceID: "21", MessageID: "m5", Type: "message"},
		StoredEvent{SequenceID: "7", MessageID: "m7b", Type: "message"}) // m5 twice; m7's entry stale
	mustNil(t, m.update(func(tx Tx) error { return tx.PutEvents(bg(), "c", old) }))
	toFormat1(m.data, "c")
	if m.count("msgstate") != 0 || m.count("msgseg") != 0 || m.count("msgrecent") != 0 || m.count("msgindex") != 22 {
		t.Fatalf("not a format-1 layout: %v", slices.Sorted(maps.Keys(m.data)))
	}
	check := func(when string) {
		t.Helper()
		for id, want := range map[string]string{"m1": "1", "m5": "21", "m7": "", "m7b": "7", "m20": "20", "m21": ""} {
			if got := m.lookup(t, id); got != want {
				t.Errorf("%s: %s = %q, want %q", when, id, got, want)
			}
		}
	}
	check("format 1")
	mustNil(t, m.update(func(tx Tx) error { return tx.PutEvents(bg(), "c", events(30, 7, "n")) }))
	if m.count("msgindex") != 22 || m.count("msgfilter") != 3 || m.count("msgseg") != 6 {
		t.Fatalf("after adoption: %d legacy, %d filters, %d segment entries", m.count("msgindex"), m.count("msgfilter"), m.count("msgseg"))
	}
	check("adopted")
	for i := 30; i < 37; i++ {
		if got := m.lookup(t, fmt.Sprint("n", i)); got != fmt.Sprint(i) {
			t.Fatalf("n%d = %q", i, got)
		}
	}
}

// toFormat1 moves conversation c's index into the format-1 layout: every
// entry in msgindex/c, no segment list.
func toFormat1(data mapRecords, c string) {
	for k := range data {
		b, key, _ := strings.Cut(k, "\x00")
		switch b {
		case "msgrecent/" + c:
			data[recKey([][]byte{bucketMsgIndex, []byte(c)}, []byte(key[4:]))] = []byte{}
		case "msgseg/" + c:
			data[recKey([][]byte{bucketMsgIndex, []byte(c)}, []byte(key[8:]))] = []byte{}
		case "msgstate", "msgfilter/" + c:
		default:
			continue
		}
		delete(data, k)
	}
}

// TestIndexStateDamage: a damaged or swapped segment list or filter fails
// the lookup with ErrCorrupt, never a wrong answer; a missing filter only
// makes the lookup search its segment.
func TestIndexStateDamage(t *testing.T) {
	m := newMapStore(t, WithMessageIndexRecent(2))
	mustNil(t, m.update(func(tx Tx) error { return tx.PutEvents(bg(), "c", events(1, 6, "m")) }))
	filters := func() []string {
		var ks []string
		for k := range m.data {
			if strings.HasPrefix(k, "msgfilter/") {
				ks = append(ks, k)
			}
		}
		slices.Sort(ks)
		return ks
	}()
	if len(filters) != 3 {
		t.Fatalf("%d filters", len(filters))
	}
	// Swapping two sealed filters fails authentication (AAD names the key).
	a, b := m.data[filters[0]], m.data[filters[1]]
	m.data[filters[0]], m.data[filters[1]] = b, a
	_, err := lookupErr(m, "m1")
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("swapped filters: %v", err)
	}
	m.data[filters[0]], m.data[filters[1]] = a, b
	// A missing filter: the segment is searched anyway.
	delete(m.data, filters[0])
	if got := m.lookup(t, "m1"); got != "1" {
		t.Fatalf("missing filter: %q", got)
	}
	// A flipped bit in the segment list.
	st := recKey([][]byte{bucketMsgState}, []byte("c"))
	m.data[st][len(m.data[st])-1] ^= 1
	if _, err := lookupErr(m, "m3"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged segment list: %v", err)
	}
}

func lookupErr(m *mapStore, id string) (*StoredEvent, error) {
	var e *StoredEvent
	err := m.view(func(tx Tx) error {
		var err error
		e, err = tx.EventByMessageID(context.Background(), "c", id)
		return err
	})
	return e, err
}

// TestSegmentFilterRoundTrip: a filter holds what was added, re-encodes to
// the same bytes and excludes most other ids; malformed records are
// refused.
func TestSegmentFilterRoundTrip(t *testing.T) {
	f := newSegmentFilter(100)
	for i := range 100 {
		f.add(hashMessageID(fmt.Appendf(nil, "id-%d", i)))
	}
	enc := f.encode()
	g, err := decodeSegmentFilter(enc)
	mustNil(t, err)
	if !bytes.Equal(g.encode(), enc) {
		t.Fatal("re-encoding differs")
	}
	fp := 0
	for i := range 100 {
		if !g.mayContain(hashMessageID(fmt.Appendf(nil, "id-%d", i))) {
			t.Fatalf("id-%d missing", i)
		}
		if g.mayContain(hashMessageID(fmt.Appendf(nil, "other-%d", i))) {
			fp++
		}
	}
	if fp > 10 {
		t.Fatalf("%d%% false positives", fp)
	}
	for name, b := range map[string][]byte{
		"empty":       nil,
		"short":       enc[:filterHeaderSize-1],
		"truncated":   enc[:len(enc)-1],
		"longer":      append(bytes.Clone(enc), 0),
		"zero probes": append([]byte{1, 0}, enc[2:]...),
		"17 probes":   append([]byte{1, 17}, enc[2:]...),
		"no entries":  append(append([]byte{1, 7}, 0, 0, 0, 0), enc[6:]...),
		"odd bits":    append(append([]byte{1, 7, 0, 0, 0, 1}, 0, 0, 0, 65), make([]byte, 9)...),
	} {
		if _, err := decodeSegmentFilter(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := decodeSegmentFilter(append([]byte{2}, enc[1:]...)); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("version 2: %v", err)
	}
}

func FuzzDecodeSegmentFilter(f *testing.F) {
	g := newSegmentFilter(3)
	g.add(hashMessageID([]byte("a")))
	f.Add(g.encode())
	f.Add(newSegmentFilter(2048).encode())
	f.Add([]byte{1, 7, 0, 0, 0, 1, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := decodeSegmentFilter(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		if !bytes.Equal(g.encode(), b) {
			t.Fatal("accepted a non-canonical encoding")
		}
		g.mayContain(hashMessageID(b))
	})
}

func FuzzDecodeIndexState(f *testing.F) {
	f.Add((&indexState{next: 1}).encode())
	f.Add((&indexState{recent: 5, next: 9, segs: []segmentRef{{id: 0, n: 3}, {id: 4, n: 2048, digest: [8]byte{1}}},
		recentFilter: newRecentFilter(8)}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeIndexState(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		if !bytes.Equal(s.encode(), b) {
			t.Fatal("accepted a non-canonical encoding")
		}
	})
}

// TestRecentFilterGrows: the recent part's filter starts small and is
// rebuilt twice as large (up to R) when full; lookups find every entry
// across the rebuilds, in the transaction that rebuilds and after.
func TestRecentFilterGrows(t *testing.T) {
	m := newMapStore(t, WithMessageIndexRecent(200))
	capacity := func() uint32 {
		var n uint32
		mustNil(t, m.view(func(tx Tx) error {
			st, err := tx.(*checkedTx).st.(*sealedTx).indexState("c")
			if st != nil && st.recentFilter != nil {
				n = st.recentFilter.n
			}
			return err
		}))
		return n
	}
	want := map[int]uint32{1: 64, 64: 64, 65: 128, 129: 200, 199: 200, 200: 0}
	for i := 1; i <= 200; i++ {
		mustNil(t, m.update(func(tx Tx) error {
			if err := tx.PutEvents(bg(), "c", events(i, 1, "m")); err != nil {
				return err
			}
			_, err := tx.EventByMessageID(bg(), "c", fmt.Sprint("m", i))
			return err
		}))
		if w, ok := want[i]; ok {
			if got := capacity(); got != w {
				t.Fatalf("after %d entries the recent filter holds %d, want %d", i, got, w)
			}
			for j := 1; j <= i; j++ {
				if got := m.lookup(t, fmt.Sprint("m", j)); got != fmt.Sprint(j) {
					t.Fatalf("after %d entries: m%d = %q", i, j, got)
				}
			}
		}
	}
}
