package keystore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
)

// The message-id index of a sealed store finds the sequence ids a message
// id was stored under. Message ids are random, so one B-tree keyed by them
// is written and read at random; instead the index is log-structured, per
// conversation <c>:
//
//   - msgrecent/<c>: the recent part, keys position (4, big-endian) ‖
//     messageID ‖ 0x00 ‖ versionKey(seq), empty values (unsealed), in the
//     order they were added: a batch appends to its last leaf only. It
//     holds at most R entries (DefaultIndexRecent, WithMessageIndexRecent)
//     and has a Bloom filter in the segment list record; a lookup the
//     filter does not exclude reads it whole.
//   - msgseg/<c>: the segments, keys segmentID (8, big-endian) ‖ messageID ‖
//     0x00 ‖ versionKey(seq), empty values (unsealed). When the recent part
//     reaches R entries they are sorted into a new segment (an append at
//     the end of this bucket) and the recent part is emptied, in the same
//     transaction. A segment is never changed afterwards; segment ids are
//     never reused.
//   - msgfilter/<c>: one sealed Bloom filter record per segment, keyed by
//     its id (see msgfilter.go).
//   - msgstate, key <c>: the sealed segment list and recent filter (see
//     indexState).
//   - msgindex/<c>: the index of a store written by format 1, adopted as
//     the oldest segment, id 0 (its filter is built by one sequential scan
//     when the conversation is first written to by this version; until
//     then lookups read it by prefix, as format 1 did). Nothing is added
//     to it.
//
// Every page a transaction changes or reads is read through bbolt's memory
// map and stays resident (in boltstore, until the next write transaction
// releases it), so the layout keeps those pages few: a batch
// changes the last leaf of the recent part and the segment list's leaf,
// plus, once every R entries, the end of msgseg/<c> and msgfilter/<c>
// (and the recent part is read once, to be sorted).
//
// A lookup reads the recent part if its filter may hold the id, then every
// segment whose filter may hold the id, by prefix, and checks the
// candidates against the sealed event records (newest first): only those
// decide the answer. Segments are not compacted: a history of N events has
// about N/R segments, and a lookup costs one SHA-256, N/R filter probes (in
// memory once cached), about 0.007% × N/R B-tree seeks for false
// positives plus one per segment really holding the id, and a scan of the
// recent part (at most R entries, resident) for ≈0.8% of absent ids.

// DefaultIndexRecent is R, the number of entries the recent part of a
// conversation's message-id index holds before it becomes a segment.
const DefaultIndexRecent = 2048

var (
	bucketMsgRecent = []byte("msgrecent")
	bucketMsgSeg    = []byte("msgseg")
	bucketMsgFilter = []byte("msgfilter")
	bucketMsgState  = []byte("msgstate")
)

// unsealedBucket reports a top-level bucket whose records are message-id
// index entries: plain keys, empty values, nothing sealed.
func unsealedBucket(name []byte) bool {
	return bytes.Equal(name, bucketMsgIndex) || bytes.Equal(name, bucketMsgRecent) || bytes.Equal(name, bucketMsgSeg)
}

// segmentRef names one segment in the segment list: its id, entry count
// and the digest of its filter record.
type segmentRef struct {
	id     uint64
	n      uint32
	digest [8]byte
}

// indexState is the sealed record msgstate/<c>, (big-endian):
//
//	version 1 (1) ‖ recent entries (4) ‖ next segment id (8) ‖ count (4) ‖
//	count × (segment id (8) ‖ entries (4) ‖ filter digest (8)) ‖
//	recent filter (a filter record, see msgfilter.go; empty when there is
//	no recent entry)
//
// with segment ids strictly ascending and below the next id. The recent
// count is the position of the next recent entry and decides when the
// recent part becomes a segment.
type indexState struct {
	recent       uint32
	next         uint64
	segs         []segmentRef
	recentFilter *segmentFilter // nil when recent == 0
}

const (
	indexStateVersion = 1
	indexStateHeader  = 1 + 4 + 8 + 4
	segmentRefSize    = 8 + 4 + 8
)

func (s *indexState) encode() []byte {
	b := make([]byte, 0, indexStateHeader+len(s.segs)*segmentRefSize)
	b = append(b, indexStateVersion)
	b = binary.BigEndian.AppendUint32(b, s.recent)
	b = binary.BigEndian.AppendUint64(b, s.next)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.segs)))
	for _, g := range s.segs {
		b = binary.BigEndian.AppendUint64(b, g.id)
		b = binary.BigEndian.AppendUint32(b, g.n)
		b = append(b, g.digest[:]...)
	}
	if s.recentFilter != nil {
		b = append(b, s.recentFilter.encode()...)
	}
	return b
}

// decodeIndexState strictly parses a segment list record.
func decodeIndexState(b []byte) (*indexState, error) {
	if len(b) < indexStateHeader {
		return nil, fmt.Errorf("%w: message index state is %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != indexStateVersion {
		return nil, fmt.Errorf("%w: message index state version %d", ErrUnsupportedVersion, b[0])
	}
	s := &indexState{recent: binary.BigEndian.Uint32(b[1:]), next: binary.BigEndian.Uint64(b[5:])}
	count := binary.BigEndian.Uint32(b[13:])
	if uint64(len(b)-indexStateHeader) < uint64(count)*segmentRefSize || s.next == 0 {
		return nil, fmt.Errorf("%w: malformed message index state", ErrCorrupt)
	}
	refs, rest := b[indexStateHeader:indexStateHeader+int(count)*segmentRefSize], b[indexStateHeader+int(count)*segmentRefSize:]
	if (s.recent == 0) != (len(rest) == 0) {
		return nil, fmt.Errorf("%w: malformed message index state", ErrCorrupt)
	}
	if len(rest) > 0 {
		f, err := decodeSegmentFilter(rest)
		if err != nil {
			return nil, err
		}
		s.recentFilter = f
	}
	for p := refs; len(p) > 0; p = p[segmentRefSize:] {
		g := segmentRef{id: binary.BigEndian.Uint64(p), n: binary.BigEndian.Uint32(p[8:]), digest: [8]byte(p[12:20])}
		if g.n == 0 || g.id >= s.next || (len(s.segs) > 0 && g.id <= s.segs[len(s.segs)-1].id) {
			return nil, fmt.Errorf("%w: malformed message index state", ErrCorrupt)
		}
		s.segs = append(s.segs, g)
	}
	return s, nil
}

func segKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// indexState loads the conversation's segment list; nil when it has none
// (a conversation never written by this format). The result may be
// shared with the cache: change a clone.
func (t *sealedTx) indexState(conversationID string) (*indexState, error) {
	if st, ok := t.ownState[conversationID]; ok {
		return st, nil
	}
	p, k := path(bucketMsgState), []byte(conversationID)
	sealed, err := t.r.Get(p, k)
	if err != nil || sealed == nil {
		return nil, err
	}
	if st := t.s.states.get(conversationID, sealed); st != nil {
		return st, nil
	}
	pt, err := t.openRaw(p, k, sealed)
	if err != nil {
		return nil, err
	}
	st, err := decodeIndexState(pt)
	if err != nil {
		return nil, err
	}
	t.s.states.put(conversationID, sealed, st) // committed (not ownState): cache it
	return st, nil
}

// ownIndexState makes s the transaction's own segment list, which it then
// reads (and changes in place) without opening the record again; with
// deferState, finish writes it once fn has returned.
func (t *sealedTx) ownIndexState(conversationID string, s *indexState) {
	if t.ownState == nil {
		t.ownState = map[string]*indexState{}
	}
	t.ownState[conversationID] = s
	if t.deferState {
		if t.dirtyState == nil {
			t.dirtyState = map[string]bool{}
		}
		t.dirtyState[conversationID] = true
	}
}

// finish writes the segment lists putIndexState deferred.
func (t *sealedTx) finish() error {
	for _, c := range slices.Sorted(maps.Keys(t.dirtyState)) {
		if err := t.putRaw(path(bucketMsgState), []byte(c), t.ownState[c].encode()); err != nil {
			return err
		}
	}
	clear(t.dirtyState)
	return nil
}

func (s *indexState) clone() *indexState {
	c := *s
	c.segs = slices.Clone(s.segs)
	if s.recentFilter != nil {
		f := *s.recentFilter
		f.bits = slices.Clone(f.bits)
		c.recentFilter = &f
	}
	return &c
}

// indexAdd adds the index keys (msgIndexKey) of events just stored.
func (t *sealedTx) indexAdd(conversationID string, keys [][]byte) error {
	st, err := t.indexState(conversationID)
	if err != nil {
		return err
	}
	switch {
	case st == nil:
		if st, err = t.adoptLegacy(conversationID); err != nil {
			return err
		}
	case t.ownState[conversationID] != st:
		st = st.clone() // shared with the cache
	}
	t.ownIndexState(conversationID, st)
	recent := path(bucketMsgRecent, []byte(conversationID))
	for _, k := range keys {
		if err := t.roomInRecentFilter(recent, st); err != nil {
			return err
		}
		id, err := indexKeyMessageID(k, 0)
		if err != nil {
			return err
		}
		key := append(binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(k)), st.recent), k...)
		if err := t.r.Put(recent, key, []byte{}); err != nil {
			return err
		}
		st.recentFilter.add(hashMessageID(id))
		st.recent++
		if int(st.recent) >= t.s.indexRecent {
			if err := t.flushRecent(conversationID, st); err != nil {
				return err
			}
		}
	}
	if t.deferState {
		return nil
	}
	return t.putRaw(path(bucketMsgState), []byte(conversationID), st.encode())
}

// recentFilterMin is the capacity of a new recent filter.
const recentFilterMin = 64

// roomInRecentFilter makes room for one more entry in st's recent filter:
// a full one is rebuilt, twice as large (up to R), from the recent part,
// so a small conversation keeps a small segment list record.
func (t *sealedTx) roomInRecentFilter(recent [][]byte, st *indexState) error {
	f := st.recentFilter
	if f != nil && st.recent < f.n {
		return nil
	}
	capacity := min(recentFilterMin, t.s.indexRecent)
	if f != nil {
		capacity = min(2*int(f.n), t.s.indexRecent)
	}
	nf := newRecentFilter(max(capacity, int(st.recent)+1))
	err := t.r.Scan(recent, nil, 0, func(k, _ []byte) (bool, error) {
		id, err := indexKeyMessageID(k, 4)
		if err == nil {
			nf.add(hashMessageID(id))
		}
		return err == nil, err
	})
	if err != nil {
		return err
	}
	st.recentFilter = nf
	return nil
}

// scanFilter builds the filter of every entry of bucket p (keys
// skip ‖ messageID ‖ 0x00 ‖ …) in two sequential passes: count, then set.
func (t *sealedTx) scanFilter(p [][]byte, skip int) (*segmentFilter, error) {
	n := 0
	err := t.r.Scan(p, nil, 0, func(k, _ []byte) (bool, error) { n++; return true, nil })
	if err != nil || n == 0 {
		return nil, err
	}
	f := newSegmentFilter(n)
	err = t.r.Scan(p, nil, 0, func(k, _ []byte) (bool, error) {
		id, err := indexKeyMessageID(k, skip)
		if err == nil {
			f.add(hashMessageID(id))
		}
		return true, err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// indexKeyMessageID returns the message id of an index key.
func indexKeyMessageID(k []byte, skip int) ([]byte, error) {
	if len(k) > skip {
		if i := bytes.IndexByte(k[skip:], 0); i > 0 {
			return k[skip : skip+i], nil
		}
	}
	return nil, fmt.Errorf("%w: malformed message index key %q", ErrCorrupt, k)
}

// storeFilter seals f as segment id's filter and notes it as written by
// this transaction (never cached: the transaction may yet roll back).
func (t *sealedTx) storeFilter(conversationID string, id uint64, f *segmentFilter) (segmentRef, error) {
	pt := f.encode()
	if err := t.putRaw(path(bucketMsgFilter, []byte(conversationID)), segKey(id), pt); err != nil {
		return segmentRef{}, err
	}
	if t.wrote == nil {
		t.wrote = map[filterKey]*segmentFilter{}
	}
	t.wrote[filterKey{conversationID, id}] = f
	return segmentRef{id: id, n: f.n, digest: filterDigest(pt)}, nil
}

// adoptLegacy starts the segment list of a conversation, adopting its
// format-1 index (if any) as segment 0.
func (t *sealedTx) adoptLegacy(conversationID string) (*indexState, error) {
	st := &indexState{next: 1}
	f, err := t.scanFilter(path(bucketMsgIndex, []byte(conversationID)), 0)
	if err != nil || f == nil {
		return st, err
	}
	ref, err := t.storeFilter(conversationID, 0, f)
	if err != nil {
		return nil, err
	}
	st.segs = append(st.segs, ref)
	return st, nil
}

// flushRecent turns the recent part into a new segment: its entries,
// sorted, are appended to the end of msgseg/<c> under a fresh id.
func (t *sealedTx) flushRecent(conversationID string, st *indexState) error {
	recent := path(bucketMsgRecent, []byte(conversationID))
	seg := path(bucketMsgSeg, []byte(conversationID))
	id, err := t.freshSegmentID(seg, st.next)
	if err != nil {
		return err
	}
	prefix := segKey(id)
	var keys [][]byte
	err = t.r.Scan(recent, nil, 0, func(k, _ []byte) (bool, error) {
		if len(k) < 4 {
			return false, fmt.Errorf("%w: malformed message index key %q", ErrCorrupt, k)
		}
		keys = append(keys, append(slices.Clip(prefix), k[4:]...))
		return true, nil
	})
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		st.recent, st.recentFilter = 0, nil
		return nil
	}
	slices.SortFunc(keys, bytes.Compare)
	keys = slices.CompactFunc(keys, bytes.Equal)
	f := newSegmentFilter(len(keys))
	for _, k := range keys {
		mid, err := indexKeyMessageID(k, len(prefix))
		if err != nil {
			return err
		}
		f.add(hashMessageID(mid))
	}
	// In this order, a step that fails leaves every entry findable: in
	// the recent part until the segment is listed.
	if err := putEmpty(t.r, seg, keys); err != nil {
		return err
	}
	ref, err := t.storeFilter(conversationID, id, f)
	if err != nil {
		return err
	}
	st.segs, st.next = append(st.segs, ref), id+1
	if err := deleteBucket(t.r, recent); err != nil {
		return err
	}
	st.recent, st.recentFilter = 0, nil
	return nil
}

// freshSegmentID returns next, or an id above every segment already in
// seg should the segment list have been rolled back, so ids are never
// reused.
func (t *sealedTx) freshSegmentID(seg [][]byte, next uint64) (uint64, error) {
	k, _, err := t.r.Last(seg)
	if err != nil || len(k) < 8 {
		return next, err
	}
	return max(next, binary.BigEndian.Uint64(k)+1), nil
}

// BulkRecords is implemented by a Records backend with bulk operations;
// the message-id index uses them when they are available.
type BulkRecords interface {
	// PutEmpty stores an empty value under each of keys (ascending) in
	// bucket.
	PutEmpty(bucket [][]byte, keys [][]byte) error
	// DeleteBucket removes every record of bucket.
	DeleteBucket(bucket [][]byte) error
}

// putEmpty stores empty values under keys, with r's PutEmpty when it has
// one.
func putEmpty(r Records, bucket [][]byte, keys [][]byte) error {
	if b, ok := r.(BulkRecords); ok {
		return b.PutEmpty(bucket, keys)
	}
	for _, k := range keys {
		if err := r.Put(bucket, k, []byte{}); err != nil {
			return err
		}
	}
	return nil
}

// deleteBucket removes every record of bucket, with r's DeleteBucket when
// it has one.
func deleteBucket(r Records, bucket [][]byte) error {
	if b, ok := r.(BulkRecords); ok {
		return b.DeleteBucket(bucket)
	}
	var keys [][]byte
	err := r.Scan(bucket, nil, 0, func(k, _ []byte) (bool, error) {
		keys = append(keys, bytes.Clone(k))
		return true, nil
	})
	for _, k := range keys {
		if err == nil {
			err = r.Delete(bucket, k)
		}
	}
	return err
}

// indexCandidates returns the sequence-id keys (versionKey) the index
// holds for the message id, ascending and without duplicates.
func (t *sealedTx) indexCandidates(conversationID, messageID string) ([][]byte, error) {
	prefix := append([]byte(messageID), 0)
	st, err := t.indexState(conversationID)
	if err != nil {
		return nil, err
	}
	if st == nil {
		st = &indexState{segs: []segmentRef{{id: 0}}} // format 1: search msgindex by prefix
	}
	h := hashMessageID([]byte(messageID))
	var cands [][]byte
	if st.recentFilter != nil && st.recentFilter.mayContain(h) {
		if cands, err = t.scanRecent(conversationID, prefix); err != nil {
			return nil, err
		}
	}
	for i := len(st.segs) - 1; i >= 0; i-- {
		if cands, err = t.searchSegment(cands, conversationID, st.segs[i], h, prefix); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(cands, bytes.Compare)
	return slices.CompactFunc(cands, bytes.Equal), nil
}

// searchSegment appends to cands the entries segment g holds for the
// message id, unless its filter excludes it.
func (t *sealedTx) searchSegment(cands [][]byte, conversationID string, g segmentRef, h idHash, prefix []byte) ([][]byte, error) {
	if g.n > 0 {
		f, err := t.segmentFilter(conversationID, g)
		if err != nil {
			return nil, err
		}
		if f != nil && !f.mayContain(h) {
			return cands, nil
		}
	}
	cid := []byte(conversationID)
	if g.id == 0 {
		return t.scanPrefix(cands, path(bucketMsgIndex, cid), prefix)
	}
	return t.scanPrefix(cands, path(bucketMsgSeg, cid), append(segKey(g.id), prefix...))
}

// segmentFilter returns segment g's filter: written by this transaction,
// cached, or read (and then cached: it is committed). A missing record
// gives nil (the segment is searched); a damaged one ErrCorrupt.
func (t *sealedTx) segmentFilter(conversationID string, g segmentRef) (*segmentFilter, error) {
	k := filterKey{conversationID, g.id}
	if f := t.wrote[k]; f != nil {
		return f, nil
	}
	if f := t.s.filters.get(k, g.digest); f != nil {
		return f, nil
	}
	p := path(bucketMsgFilter, []byte(conversationID))
	sealed, err := t.r.Get(p, segKey(g.id))
	if err != nil || sealed == nil {
		return nil, err
	}
	pt, err := t.openRaw(p, segKey(g.id), sealed)
	if err != nil {
		return nil, err
	}
	if filterDigest(pt) != g.digest {
		return nil, fmt.Errorf("%w: %s: filter does not match the segment list", ErrCorrupt, describe(p, segKey(g.id)))
	}
	f, err := decodeSegmentFilter(pt)
	if err != nil {
		return nil, err
	}
	t.s.filters.put(k, g.digest, f)
	return f, nil
}

// scanRecent returns the rest of every recent entry (position stripped)
// that starts with prefix.
func (t *sealedTx) scanRecent(conversationID string, prefix []byte) ([][]byte, error) {
	var out [][]byte
	err := t.r.Scan(path(bucketMsgRecent, []byte(conversationID)), nil, 0, func(k, _ []byte) (bool, error) {
		if len(k) >= 4 && bytes.HasPrefix(k[4:], prefix) {
			out = append(out, bytes.Clone(k[4+len(prefix):]))
		}
		return true, nil
	})
	return out, err
}

// scanPrefix appends to out the rest of every key of bucket p that starts
// with prefix.
func (t *sealedTx) scanPrefix(out [][]byte, p [][]byte, prefix []byte) ([][]byte, error) {
	err := t.r.Scan(p, prefix, 0, func(k, _ []byte) (bool, error) {
		if !bytes.HasPrefix(k, prefix) {
			return false, nil
		}
		out = append(out, bytes.Clone(k[len(prefix):]))
		return true, nil
	})
	return out, err
}
