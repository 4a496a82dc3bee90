package keystore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
)

// A segment filter is a Bloom filter over the message ids of one segment
// of the message-id index (see msgindex.go). Its record, sealed under
// msgfilter/<conversation>/<segment id>, is (big-endian):
//
//	version 1 (1) ‖ probes k (1) ‖ entries n (4) ‖ bits m (4) ‖ bit array (m/8)
//
// Probe i of a message id sets bit ⌊x·m / 2^64⌋ for x = h1 + i·h2 (mod
// 2^64), where h1 and h2 are the first two big-endian 64-bit words of
// SHA-256(message id) (h2 made odd).
//
// A false positive costs one B-tree seek into a segment, i.e. one random
// page of the file read (and, through bbolt's memory map, kept resident
// until the next write), and every lookup probes every segment: segment
// filters take 20 bits per entry with k = 14 (≈0.007% false positives;
// 2.5 bytes per indexed event in the cache). The recent part's filter,
// rewritten with every write and whose false positives only cost a scan of
// resident pages, takes 10 bits per entry with k = 7 (≈0.8%).
const (
	filterVersion    = 1
	segmentBits      = 20
	segmentProbes    = 14
	recentBits       = 10
	recentProbes     = 7
	filterHeaderSize = 1 + 1 + 4 + 4
	filterMinBits    = 64
	filterMaxBits    = 1 << 31 // 256 MiB of bits: far above any history
)

// segmentFilter is a decoded segment filter.
type segmentFilter struct {
	k    int
	n    uint32
	bits []byte
}

// idHash is the hash of a message id the filters probe with.
type idHash struct{ h1, h2 uint64 }

func hashMessageID(messageID []byte) idHash {
	d := sha256.Sum256(messageID)
	return idHash{binary.BigEndian.Uint64(d[0:]), binary.BigEndian.Uint64(d[8:]) | 1}
}

// newSegmentFilter sizes an empty filter for n entries of a segment.
func newSegmentFilter(n int) *segmentFilter { return newFilter(n, segmentBits, segmentProbes) }

// newRecentFilter sizes an empty filter for a recent part of n entries.
func newRecentFilter(n int) *segmentFilter { return newFilter(n, recentBits, recentProbes) }

func newFilter(n, bitsPerKey, k int) *segmentFilter {
	m := max(filterMinBits, n*bitsPerKey)
	m = min((m+63)/64*64, filterMaxBits)
	return &segmentFilter{k: k, n: uint32(n), bits: make([]byte, m/8)}
}

func (f *segmentFilter) add(h idHash) {
	m := uint64(len(f.bits)) * 8
	for i := range uint64(f.k) {
		b, _ := bits.Mul64(h.h1+i*h.h2, m)
		f.bits[b/8] |= 1 << (b % 8)
	}
}

// mayContain reports whether the id hashed to h may be in the segment; a
// false answer is certain.
func (f *segmentFilter) mayContain(h idHash) bool {
	m := uint64(len(f.bits)) * 8
	for i := range uint64(f.k) {
		b, _ := bits.Mul64(h.h1+i*h.h2, m)
		if f.bits[b/8]&(1<<(b%8)) == 0 {
			return false
		}
	}
	return true
}

// encode returns the filter's record plaintext.
func (f *segmentFilter) encode() []byte {
	b := make([]byte, 0, filterHeaderSize+len(f.bits))
	b = append(b, filterVersion, byte(f.k))
	b = binary.BigEndian.AppendUint32(b, f.n)
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.bits)*8))
	return append(b, f.bits...)
}

// decodeSegmentFilter strictly parses a filter record: an unknown version
// fails with ErrUnsupportedVersion, anything malformed with ErrCorrupt.
func decodeSegmentFilter(b []byte) (*segmentFilter, error) {
	if len(b) < filterHeaderSize {
		return nil, fmt.Errorf("%w: message index filter is %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != filterVersion {
		return nil, fmt.Errorf("%w: message index filter version %d", ErrUnsupportedVersion, b[0])
	}
	k, n, m := int(b[1]), binary.BigEndian.Uint32(b[2:]), binary.BigEndian.Uint32(b[6:])
	switch {
	case k < 1 || k > 16:
		return nil, fmt.Errorf("%w: message index filter with %d probes", ErrCorrupt, k)
	case n == 0:
		return nil, fmt.Errorf("%w: empty message index filter", ErrCorrupt)
	case m < filterMinBits || m > filterMaxBits || m%64 != 0:
		return nil, fmt.Errorf("%w: message index filter of %d bits", ErrCorrupt, m)
	case uint64(len(b)-filterHeaderSize)*8 != uint64(m):
		return nil, fmt.Errorf("%w: message index filter of %d bits in %d bytes", ErrCorrupt, m, len(b))
	}
	return &segmentFilter{k: k, n: n, bits: append([]byte(nil), b[filterHeaderSize:]...)}, nil
}

// filterDigest binds a filter record to the segment list naming it: the
// first 8 bytes of SHA-256 of its plaintext.
func filterDigest(plaintext []byte) [8]byte {
	d := sha256.Sum256(plaintext)
	return [8]byte(d[:8])
}

// filterCache keeps the decoded filters of committed segments for the life
// of an opened store (they are immutable and their ids never reused), so a
// lookup reads no filter record twice. It holds ≈2.5 bytes per indexed
// event. It is only filled with filters read from records the filling
// transaction did not write itself, i.e. committed ones, so a transaction
// that rolls back leaves no trace in it; each entry is checked against the
// digest the segment list holds before use.
type filterCache struct {
	mu sync.Mutex
	m  map[filterKey]cachedFilter
}

type filterKey struct {
	conversation string
	segment      uint64
}

type cachedFilter struct {
	digest [8]byte
	f      *segmentFilter
}

func newFilterCache() *filterCache { return &filterCache{m: map[filterKey]cachedFilter{}} }

// get returns the cached filter of the segment when its digest matches.
func (c *filterCache) get(k filterKey, digest [8]byte) *segmentFilter {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok && e.digest == digest {
		return e.f
	}
	return nil
}

func (c *filterCache) put(k filterKey, digest [8]byte, f *segmentFilter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = cachedFilter{digest, f}
}

// len returns the number of cached filters.
func (c *filterCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *filterCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// stateCache keeps, per conversation, the last segment list read from a
// committed record with the sealed bytes it was opened from: the same
// bytes (nonce and tag included) are the same authenticated record, so
// a lookup compares instead of opening it again. It holds one entry per
// conversation (a few KiB at most), up to maxCachedStates.
type stateCache struct {
	mu sync.Mutex
	m  map[string]cachedState
}

type cachedState struct {
	sealed []byte
	st     *indexState
}

func newStateCache() *stateCache { return &stateCache{m: map[string]cachedState{}} }

// get returns the cached list when sealed is the record it was opened
// from; it must not be changed.
func (c *stateCache) get(conversationID string, sealed []byte) *indexState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[conversationID]; ok && bytes.Equal(e.sealed, sealed) {
		return e.st
	}
	return nil
}

// maxCachedStates bounds the state cache; past it the cache starts over.
const maxCachedStates = 1024

func (c *stateCache) put(conversationID string, sealed []byte, st *indexState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedStates {
		clear(c.m)
	}
	c.m[conversationID] = cachedState{bytes.Clone(sealed), st}
}

func (c *stateCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}
