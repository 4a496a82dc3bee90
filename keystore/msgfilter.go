package keystore

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
)

// A segment filter is a Bloom filter over the message ids of one segment
// of the message-id index (see msgindex.go). Its record, sealed under
// msgfilter/<conversation>/<segment id>, is (big-endian):
//
//	version 1 (1) ‖ probes k (1) ‖ entries n (4) ‖ bits m (4) ‖ bit array (m/8)
//
// Probe i of a message id sets bit (h1 + i·h2) mod m, where h1 and h2 are
// the first two big-endian 64-bit words of SHA-256(message id) (h2 made
// odd). About 10 bits per entry with k = 7 give ≈1% false positives; a
// false positive only costs one B-tree lookup.
const (
	filterVersion    = 1
	filterProbes     = 7
	filterBitsPerKey = 10
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

// newSegmentFilter sizes an empty filter for n entries.
func newSegmentFilter(n int) *segmentFilter {
	m := max(filterMinBits, n*filterBitsPerKey)
	m = min((m+63)/64*64, filterMaxBits)
	return &segmentFilter{k: filterProbes, n: uint32(n), bits: make([]byte, m/8)}
}

func (f *segmentFilter) add(h idHash) {
	m := uint64(len(f.bits)) * 8
	for i := range uint64(f.k) {
		b := (h.h1 + i*h.h2) % m
		f.bits[b/8] |= 1 << (b % 8)
	}
}

// mayContain reports whether the id hashed to h may be in the segment; a
// false answer is certain.
func (f *segmentFilter) mayContain(h idHash) bool {
	m := uint64(len(f.bits)) * 8
	for i := range uint64(f.k) {
		b := (h.h1 + i*h.h2) % m
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
// lookup reads no filter record twice. It holds ≈1.25 bytes per indexed
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
