package keystore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
)

// The message-id index of a sealed store finds the sequence ids a message
// id was stored under. Message ids are random, so one B-tree keyed by them
// is written and read at random; instead the index is log-structured, per
// conversation <c>:
//
//   - msgrecent/<c>: the recent part, keys messageID ‖ 0x00 ‖ versionKey(seq),
//     empty values (unsealed). It holds at most R entries (DefaultIndexRecent,
//     WithMessageIndexRecent), so a batch only rewrites its few leaves.
//   - msgseg/<c>: the segments, keys segmentID (8, big-endian) ‖ messageID ‖
//     0x00 ‖ versionKey(seq), empty values (unsealed). When the recent part
//     reaches R entries they are moved, in order, into a new segment (an
//     append at the end of this bucket) in the same transaction. A segment
//     is never changed afterwards; segment ids are never reused.
//   - msgfilter/<c>: one sealed Bloom filter record per segment, keyed by
//     its id (see msgfilter.go).
//   - msgstate/<c>: the sealed segment list (see indexState).
//   - msgindex/<c>: the index of a store written by format 1, adopted as
//     the oldest segment, id 0 (its filter is built by one sequential scan
//     when the conversation is first written to by this version; until
//     then lookups read it by prefix, as format 1 did). Nothing is added
//     to it.
//
// A lookup reads the recent part by prefix, then every segment whose
// filter may hold the id, by prefix, and checks the candidates against the
// sealed event records (newest first). Without compaction a history of N
// events has about N/R segments: a lookup costs one SHA-256, N/R filter
// probes (in memory once cached) and, besides the recent part, about
// 1% of N/R B-tree seeks for false positives plus one per segment really
// holding the id.

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
//	count × (segment id (8) ‖ entries (4) ‖ filter digest (8))
//
// with segment ids strictly ascending and below the next id. The recent
// count only decides when the recent part becomes a segment.
type indexState struct {
	recent uint32
	next   uint64
	segs   []segmentRef
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
	if uint64(len(b)-indexStateHeader) != uint64(count)*segmentRefSize || s.next == 0 {
		return nil, fmt.Errorf("%w: malformed message index state", ErrCorrupt)
	}
	for p := b[indexStateHeader:]; len(p) > 0; p = p[segmentRefSize:] {
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
// (a conversation never written by this format).
func (t *sealedTx) indexState(conversationID string) (*indexState, error) {
	p, k := path(bucketMsgState), []byte(conversationID)
	sealed, err := t.r.Get(p, k)
	if err != nil || sealed == nil {
		return nil, err
	}
	pt, err := t.openRaw(p, k, sealed)
	if err != nil {
		return nil, err
	}
	return decodeIndexState(pt)
}

func (t *sealedTx) putIndexState(conversationID string, s *indexState) error {
	return t.putRaw(path(bucketMsgState), []byte(conversationID), s.encode())
}

// indexAdd adds the index keys (msgIndexKey) of events just stored.
func (t *sealedTx) indexAdd(conversationID string, keys [][]byte) error {
	st, err := t.indexState(conversationID)
	if err != nil {
		return err
	}
	if st == nil {
		if st, err = t.adoptLegacy(conversationID); err != nil {
			return err
		}
	}
	recent := path(bucketMsgRecent, []byte(conversationID))
	for _, k := range keys {
		if err := t.r.Put(recent, k, []byte{}); err != nil {
			return err
		}
		st.recent++
		if int(st.recent) >= t.s.indexRecent {
			if err := t.flushRecent(conversationID, st); err != nil {
				return err
			}
		}
	}
	return t.putIndexState(conversationID, st)
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

// flushRecent turns the recent part into a new segment: its entries
// are moved in key order to the end of msgseg/<c> under a fresh id.
func (t *sealedTx) flushRecent(conversationID string, st *indexState) error {
	recent := path(bucketMsgRecent, []byte(conversationID))
	seg := path(bucketMsgSeg, []byte(conversationID))
	id, err := t.freshSegmentID(seg, st.next)
	if err != nil {
		return err
	}
	st.recent = 0
	f, err := t.scanFilter(recent, 0)
	if err != nil || f == nil {
		return err
	}
	if err := moveRecords(t.r, recent, seg, segKey(id)); err != nil {
		return err
	}
	ref, err := t.storeFilter(conversationID, id, f)
	if err != nil {
		return err
	}
	st.segs, st.next = append(st.segs, ref), id+1
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

// RecordMover is implemented by a Records backend that moves a bucket's
// records in bulk; the message-id index uses it when it is available.
type RecordMover interface {
	// MoveRecords moves every record of bucket from into bucket to, its
	// key prefixed with prefix, leaving from empty.
	MoveRecords(from, to [][]byte, prefix []byte) error
}

// moveRecords moves the records of from into to (keys prefixed), with r's
// MoveRecords when it has one.
func moveRecords(r Records, from, to [][]byte, prefix []byte) error {
	if m, ok := r.(RecordMover); ok {
		return m.MoveRecords(from, to, prefix)
	}
	var keys, values [][]byte
	err := r.Scan(from, nil, 0, func(k, v []byte) (bool, error) {
		keys, values = append(keys, bytes.Clone(k)), append(values, bytes.Clone(v))
		return true, nil
	})
	if err != nil {
		return err
	}
	for i, k := range keys {
		if err := r.Put(to, append(slices.Clip(prefix), k...), values[i]); err != nil {
			return err
		}
	}
	for _, k := range keys {
		if err := r.Delete(from, k); err != nil {
			return err
		}
	}
	return nil
}

// indexCandidates returns the sequence-id keys (versionKey) the index
// holds for the message id, ascending and without duplicates.
func (t *sealedTx) indexCandidates(conversationID, messageID string) ([][]byte, error) {
	prefix := append([]byte(messageID), 0)
	cid := []byte(conversationID)
	cands, err := t.scanPrefix(nil, path(bucketMsgRecent, cid), prefix)
	if err != nil {
		return nil, err
	}
	st, err := t.indexState(conversationID)
	if err != nil {
		return nil, err
	}
	if st == nil {
		st = &indexState{segs: []segmentRef{{id: 0}}} // format 1: search msgindex by prefix
	}
	h := hashMessageID([]byte(messageID))
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
