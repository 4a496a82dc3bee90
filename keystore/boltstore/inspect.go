package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// checkPages validates the bbolt page structure of the file at path before
// bbolt maps it: bbolt reads pages through unchecked pointers into its
// memory map, so a damaged page reference makes it fault (SIGSEGV/SIGBUS,
// which no recover can contain) rather than fail. Every page reachable from
// the meta page's root bucket and free list must lie inside the file, carry
// its own id and a plausible type, and keep its elements, keys and values
// inside its bounds. The layout is bbolt's (go.etcd.io/bbolt, file format
// version 2).
func checkPages(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	c := &pageChecker{r: f, size: fi.Size(), seen: map[uint64]bool{}}
	m, err := c.meta()
	if err != nil {
		return err
	}
	if err := c.tree(m.root, 0); err != nil {
		return err
	}
	if m.freelist != noFreelist {
		return c.freelist(m.freelist)
	}
	return nil
}

// bbolt file format constants.
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	pageHeaderSize  = 16
	elementSize     = 16 // branch and leaf page elements
	branchPageFlag  = 0x01
	leafPageFlag    = 0x02
	metaPageFlag    = 0x04
	freelistFlag    = 0x10
	bucketLeafFlag  = 0x01
	inBucketSize    = 16
	noFreelist      = ^uint64(0)
	maxTreeDepth    = 64
	minPageSize     = 512
	maxPageSize     = 1 << 16
	metaChecksumEnd = 56 // bytes of the meta summed by its checksum
)

var ne = binary.NativeEndian

type boltMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

type pageChecker struct {
	r        io.ReaderAt
	size     int64
	pageSize int64
	pgid     uint64 // pages in use (high water mark)
	seen     map[uint64]bool
}

func damagedf(format string, args ...any) error {
	return fmt.Errorf("the file structure is corrupt ("+format+")", args...)
}

// parseMeta decodes and validates the meta page at b (page header first).
func parseMeta(b []byte) (*boltMeta, bool) {
	if len(b) < pageHeaderSize+64 {
		return nil, false
	}
	m := b[pageHeaderSize:]
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion {
		return nil, false
	}
	h := fnv.New64a()
	h.Write(m[:metaChecksumEnd])
	if h.Sum64() != ne.Uint64(m[metaChecksumEnd:]) {
		return nil, false
	}
	return &boltMeta{pageSize: ne.Uint32(m[8:]), root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]),
		pgid: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}, true
}

// meta picks the meta page bbolt will use: the valid one with the higher
// transaction id.
func (c *pageChecker) meta() (*boltMeta, error) {
	first := make([]byte, 4096)
	n, _ := c.r.ReadAt(first, 0)
	m0, ok0 := parseMeta(first[:n])
	ps := int64(4096)
	if ok0 {
		ps = int64(m0.pageSize)
	} else if n >= pageHeaderSize+12 {
		ps = int64(ne.Uint32(first[pageHeaderSize+8:])) // the damaged meta's own claim
	}
	var m1 *boltMeta
	ok1 := false
	if ps >= minPageSize && ps <= maxPageSize {
		second := make([]byte, ps)
		if n, _ := c.r.ReadAt(second, ps); n > 0 {
			m1, ok1 = parseMeta(second[:n])
		}
	}
	var m *boltMeta
	switch {
	case ok0 && ok1:
		m = m0
		if m1.txid > m0.txid {
			m = m1
		}
	case ok0:
		m = m0
	case ok1:
		m = m1
	default:
		return nil, errors.New("not a keystore file (no valid bbolt meta page)")
	}
	c.pageSize = int64(m.pageSize)
	if c.pageSize < minPageSize || c.pageSize > maxPageSize || c.pageSize&(c.pageSize-1) != 0 {
		return nil, damagedf("page size %d", m.pageSize)
	}
	c.pgid = m.pgid
	if m.pgid < 2 || m.pgid > uint64(c.size/c.pageSize) {
		return nil, fmt.Errorf("the file is truncated (%d bytes hold %d pages, the database uses %d)", c.size, c.size/c.pageSize, m.pgid)
	}
	if m.root < 2 || m.root >= m.pgid {
		return nil, damagedf("root page %d outside the file", m.root)
	}
	return m, nil
}

// page reads page id with its overflow pages.
func (c *pageChecker) page(id uint64) ([]byte, error) {
	if id < 2 || id >= c.pgid {
		return nil, damagedf("page %d referenced, the file has %d", id, c.pgid)
	}
	hdr := make([]byte, pageHeaderSize)
	if _, err := c.r.ReadAt(hdr, int64(id)*c.pageSize); err != nil {
		return nil, damagedf("page %d unreadable: %v", id, err)
	}
	if got := ne.Uint64(hdr); got != id {
		return nil, damagedf("page %d carries id %d", id, got)
	}
	span := uint64(ne.Uint32(hdr[12:])) + 1
	if span > c.pgid-id {
		return nil, damagedf("page %d overflows the file", id)
	}
	b := make([]byte, int64(span)*c.pageSize)
	if _, err := c.r.ReadAt(b, int64(id)*c.pageSize); err != nil {
		return nil, damagedf("page %d unreadable: %v", id, err)
	}
	return b, nil
}

// tree checks the page tree of a bucket rooted at page id.
func (c *pageChecker) tree(id uint64, depth int) error {
	if depth > maxTreeDepth {
		return damagedf("page tree deeper than %d", maxTreeDepth)
	}
	if c.seen[id] {
		return damagedf("page %d referenced twice", id)
	}
	c.seen[id] = true
	b, err := c.page(id)
	if err != nil {
		return err
	}
	return c.node(b, id, depth)
}

// node checks one branch or leaf page held in b (a file page or an inline
// bucket's page).
func (c *pageChecker) node(b []byte, id uint64, depth int) error {
	if len(b) < pageHeaderSize {
		return damagedf("page %d too short", id)
	}
	flags, count := ne.Uint16(b[8:]), int(ne.Uint16(b[10:]))
	if pageHeaderSize+count*elementSize > len(b) {
		return damagedf("page %d: %d elements overflow it", id, count)
	}
	for i := range count {
		e := b[pageHeaderSize+i*elementSize:]
		base := pageHeaderSize + i*elementSize
		switch flags {
		case branchPageFlag:
			pos, ksize, child := int(ne.Uint32(e[0:])), int(ne.Uint32(e[4:])), ne.Uint64(e[8:])
			if base+pos+ksize > len(b) || pos < 0 {
				return damagedf("page %d: key %d out of bounds", id, i)
			}
			if err := c.tree(child, depth+1); err != nil {
				return err
			}
		case leafPageFlag:
			lflags, pos, ksize, vsize := ne.Uint32(e[0:]), int64(ne.Uint32(e[4:])), int64(ne.Uint32(e[8:])), int64(ne.Uint32(e[12:]))
			end := int64(base) + pos + ksize + vsize
			if end > int64(len(b)) {
				return damagedf("page %d: element %d out of bounds", id, i)
			}
			if lflags&bucketLeafFlag == 0 {
				continue
			}
			v := b[int64(base)+pos+ksize : end]
			if len(v) < inBucketSize {
				return damagedf("page %d: bucket %d header short", id, i)
			}
			if root := ne.Uint64(v); root != 0 {
				if err := c.tree(root, depth+1); err != nil {
					return err
				}
			} else if err := c.node(v[inBucketSize:], id, depth+1); err != nil {
				return err
			}
		default:
			return damagedf("page %d has type %#x where a branch or leaf belongs", id, flags)
		}
	}
	return nil
}

// freelist checks the free list page: every free page id inside the file.
func (c *pageChecker) freelist(id uint64) error {
	b, err := c.page(id)
	if err != nil {
		return err
	}
	if ne.Uint16(b[8:])&freelistFlag == 0 {
		return damagedf("free list page %d has type %#x", id, ne.Uint16(b[8:]))
	}
	count, ids := uint64(ne.Uint16(b[10:])), b[pageHeaderSize:]
	if count == 0xFFFF {
		if len(ids) < 8 {
			return damagedf("free list page %d too short", id)
		}
		count, ids = ne.Uint64(ids), ids[8:]
	}
	if count > uint64(len(ids)/8) {
		return damagedf("free list page %d: %d ids overflow it", id, count)
	}
	for i := range count {
		if p := ne.Uint64(ids[i*8:]); p < 2 || p >= c.pgid {
			return damagedf("free list names page %d, the file has %d", p, c.pgid)
		}
	}
	return nil
}
