package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/xchat-go/xchat/keystore"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// boltRecords implements keystore.Records over one bbolt transaction: a bucket path
// is a chain of nested bbolt buckets.
type boltRecords struct {
	tx *bolt.Tx
	// cursors holds the cursor Get seeks with in each bucket, made at
	// its first Get in the transaction (nil: a cursor per Get).
	cursors map[*bolt.Bucket]*bolt.Cursor
	// spare holds, per bucket, the cursors of the transaction's scans
	// that have ended, for the next scans to take (nil: a cursor per
	// Scan). A scan running holds its cursor: one nested in its callback
	// takes another.
	spare map[*bolt.Bucket][]*bolt.Cursor
}

// bucket returns the bucket at path, or nil when any level is missing.
func (r boltRecords) bucket(path [][]byte) *bolt.Bucket {
	b := r.tx.Bucket(path[0])
	for _, p := range path[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket(p)
	}
	return b
}

// mkBucket returns the bucket at path, creating missing levels. A bucket
// that exists is looked up (from the transaction's cache of open buckets
// once opened): CreateBucketIfNotExists copies its name at every call, and
// a sync puts into the same few buckets once or twice per event.
func (r boltRecords) mkBucket(path [][]byte) (*bolt.Bucket, error) {
	if b := r.bucket(path); b != nil {
		return b, nil
	}
	b, err := r.tx.CreateBucketIfNotExists(path[0])
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	for _, p := range path[1:] {
		if b, err = b.CreateBucketIfNotExists(p); err != nil {
			return nil, fmt.Errorf("keystore: %w", err)
		}
	}
	return b, nil
}

// Get returns what bolt.Bucket.Get returns (nil for a nested bucket),
// seeking with the bucket's cursor of the transaction: Bucket.Get makes a
// cursor and grows its stack at every call, and a sync looks a few values
// up for every event it stores. A seek starts from the bucket's root, so
// what the cursor was positioned at before, and what was written since,
// do not matter.
func (r boltRecords) Get(bucket [][]byte, key []byte) ([]byte, error) {
	b := r.bucket(bucket)
	if b == nil {
		return nil, nil
	}
	if r.cursors == nil {
		return b.Get(key), nil
	}
	c := r.cursors[b]
	if c == nil {
		c = b.Cursor()
		r.cursors[b] = c
	}
	k, v := c.Seek(key)
	if !bytes.Equal(k, key) {
		return nil, nil
	}
	return v, nil
}

// bucketEvents holds the history, one bucket per conversation, keyed by
// sequence id.
var bucketEvents = []byte("events")

// eventsFill is how full bbolt packs the pages of a history bucket. Events
// mostly arrive in sequence order (a sync stores oldest first), and bbolt
// splits a page at its fill percent (half, by default), so appended
// records would leave every page half empty: twice the pages to write at
// each commit, twice the file. They are packed full: a short text's record
// was about 1.3 KB as JSON (store format 2), of which a page at 90% (3,686
// bytes) takes two and a full one three, so at 90% a sync of 1,000 such
// events wrote 501 history pages (63% used) instead of 335 (93%); as a
// binary record (format 3) it is about 0.9 KB, four a full page: 250
// pages. A record rewritten larger (a verdict flipped) in a full page
// splits it at the next commit, as it would one at 90% whose room it
// outgrew.
const eventsFill = 1.0

// bucketMsgSeg holds the segments of a conversation's message-id index,
// each appended at the end in key order and never changed, and
// bucketMsgRecent its recent part, appended to in order: their pages are
// packed full.
var (
	bucketMsgSeg    = []byte("msgseg")
	bucketMsgRecent = []byte("msgrecent")
)

const segmentsFill = 1.0

func (r boltRecords) Put(bucket [][]byte, key, value []byte) error {
	b, err := r.mkBucket(bucket)
	if err != nil {
		return err
	}
	if len(bucket) == 2 && bytes.Equal(bucket[0], bucketEvents) {
		b.FillPercent = eventsFill
	}
	if len(bucket) == 2 && (bytes.Equal(bucket[0], bucketMsgSeg) || bytes.Equal(bucket[0], bucketMsgRecent)) {
		b.FillPercent = segmentsFill
	}
	if err := b.Put(key, value); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

func (r boltRecords) Delete(bucket [][]byte, key []byte) error {
	b := r.bucket(bucket)
	if b == nil {
		return nil
	}
	if err := b.Delete(key); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

// PutEmpty implements keystore.BulkRecords: keys are appended in order
// to pages packed full when the bucket is a segment bucket.
func (r boltRecords) PutEmpty(bucket [][]byte, keys [][]byte) error {
	b, err := r.mkBucket(bucket)
	if err != nil {
		return err
	}
	if len(bucket) == 2 && bytes.Equal(bucket[0], bucketMsgSeg) {
		b.FillPercent = segmentsFill
	}
	for _, k := range keys {
		if err := b.Put(k, []byte{}); err != nil {
			return fmt.Errorf("keystore: %w", err)
		}
	}
	return nil
}

// DeleteBucket implements keystore.BulkRecords: the bbolt bucket is
// deleted as a whole.
func (r boltRecords) DeleteBucket(bucket [][]byte) error {
	var err error
	if len(bucket) == 1 {
		err = r.tx.DeleteBucket(bucket[0])
	} else if parent := r.bucket(bucket[:len(bucket)-1]); parent != nil {
		err = parent.DeleteBucket(bucket[len(bucket)-1])
	}
	if err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

func (r boltRecords) Scan(bucket [][]byte, from []byte, limit int, fn func(key, value []byte) (bool, error)) error {
	b := r.bucket(bucket)
	if b == nil {
		return nil
	}
	c := r.scanCursor(b)
	defer r.putScanCursor(b, c)
	var k, v []byte
	if from == nil {
		k, v = c.First()
	} else {
		k, v = c.Seek(from)
	}
	for n := 0; k != nil && (limit <= 0 || n < limit); k, v = c.Next() {
		if v == nil {
			continue // a nested bucket, not a record
		}
		n++
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (r boltRecords) Last(bucket [][]byte) ([]byte, []byte, error) {
	b := r.bucket(bucket)
	if b == nil {
		return nil, nil, nil
	}
	c := b.Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		if v != nil {
			return k, v, nil
		}
	}
	return nil, nil, nil
}

func (r boltRecords) Walk(fn func(bucket [][]byte, key, value []byte) error) error {
	return r.tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if bytes.Equal(name, bucketMeta) {
			return nil
		}
		return walkBolt([][]byte{name}, b, fn)
	})
}

func walkBolt(path [][]byte, b *bolt.Bucket, fn func(bucket [][]byte, key, value []byte) error) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			return walkBolt(append(path[:len(path):len(path)], k), b.Bucket(k), fn)
		}
		return fn(path, k, v)
	})
}

// ViewRecords runs fn in one read-only bbolt transaction (see keystore.SealedStore).
func (db *DB) ViewRecords(ctx context.Context, fn func(r keystore.Records, s *keystore.Sealer) error) error {
	return db.runRecords(ctx, false, fn)
}

// UpdateRecords runs fn in one read-write bbolt transaction (see
// keystore.SealedStore).
func (db *DB) UpdateRecords(ctx context.Context, fn func(r keystore.Records, s *keystore.Sealer) error) error {
	return db.runRecords(ctx, true, fn)
}

func (db *DB) runRecords(ctx context.Context, writable bool, fn func(r keystore.Records, s *keystore.Sealer) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return keystore.ErrClosed
	}
	// bbolt panics on some corrupt pages (and, through its memory map,
	// faults: made a panic here); its transactions roll back on the way
	// out, so the panic is contained as a damaged store.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &keystore.DamagedError{Path: db.path, Err: fmt.Errorf("unreadable file structure (%v)", r)}
		}
		err = db.damaged(err)
	}()
	body := func(btx *bolt.Tx) error {
		if writable {
			db.bolt.AllocSize = growStep(btx.Size())
		}
		err := fn(newBoltRecords(btx), db.sealer)
		if writable {
			db.releaseMapped(btx)
		}
		return err
	}
	if writable {
		return db.bolt.Update(body)
	}
	return db.bolt.View(body)
}

// growStep is how much bbolt grows the file by, beyond what a commit
// needs, when the database holds size bytes: as much again, from 32 KiB up
// to bbolt's 16 MiB steps. bbolt's own rule grows the file to the whole
// mapping while that is at most 16 MiB, which, with the mapping
// initialMmapSize makes, would give every new store a 16 MiB file; this
// keeps the growth bbolt had before (the file doubles) without re-mapping.
// Set inside each write transaction: bbolt reads it in the commit, under
// the same lock.
func growStep(size int64) int {
	return int(min(max(size, 32<<10), boltAllocSize))
}

// boltAllocSize is bbolt's default growth step (common.DefaultAllocSize).
const boltAllocSize = 16 << 20

// releaseEvery is how many bytes write transactions commit between two
// releases of the mapped pages (see DB.releaseMapped).
const releaseEvery = 1 << 20

// releaseMapped releases the pages of the file this process has mapped
// (see releaseMapped), from inside the write transaction tx, before it
// commits, once the write transactions since the last release have
// written releaseEvery bytes.
//
// bbolt reads the file through a read-only shared memory map, and every
// page it reads stays resident in the process. A write copies each page it
// changes to another place in the file, so the few pages a write
// transaction reads move with each commit: a long run of writes (a first
// sync of a long history stores it in hundreds of transactions) would
// leave most of the file it wrote resident, although those pages are never
// read again. Releasing them is sound: the mapping is shared and never
// written through (bbolt writes with pwrite), so the pages are clean and
// the next read maps the same bytes again. It is done inside the write
// transaction because only there is the map's address stable: bbolt
// re-maps the file only when a write transaction grows it (in its commit),
// and one write transaction runs at a time. Read transactions hold the
// map as it is, and the pages they read are the ones asked for; they are
// released by a later write.
//
// Releasing costs a walk of the whole mapping and, after it, a page fault
// for each page read again (the meta pages and the top of every tree a
// transaction reaches): tens of microseconds, as much as the rest of a
// small write. The pages writes move to stay resident are at most those
// written, so releasing by bytes written keeps what writes leave resident
// within about releaseEvery (and the kernel's fault-around) while a run of
// small writes (sends, each a few pages) pays for one release in many.
// What a read transaction mapped stays until then too.
//
// The bytes written are bbolt's count of the pages its write transactions
// allocated (the store keeps bbolt's statistics on), which it adds up as
// each write transaction closes, before the next one can begin: released,
// like the map, is only touched inside a write transaction.
func (db *DB) releaseMapped(tx *bolt.Tx) {
	st := db.bolt.Stats()
	written := st.TxStats.GetPageAlloc()
	if written-db.released < releaseEvery {
		return
	}
	db.released = written
	releaseMapped(db.bolt.Info().Data, tx.Size())
}

// newBoltRecords returns the Records of tx.
func newBoltRecords(tx *bolt.Tx) boltRecords {
	return boltRecords{tx: tx, cursors: map[*bolt.Bucket]*bolt.Cursor{}, spare: map[*bolt.Bucket][]*bolt.Cursor{}}
}

// scanCursor returns a cursor of b for a scan: a spare one of the
// transaction (see spare) or a new one. Bucket.Cursor allocates the cursor
// and grows its stack at every call, and a sync scans for a record or two
// (a stored copy, a message id's index entries) for every event it stores.
// A scan starts with First or Seek, which start from the bucket's root:
// where the cursor was before does not matter.
func (r boltRecords) scanCursor(b *bolt.Bucket) *bolt.Cursor {
	if cs := r.spare[b]; len(cs) > 0 {
		c := cs[len(cs)-1]
		r.spare[b] = cs[:len(cs)-1]
		return c
	}
	return b.Cursor()
}

// putScanCursor gives c, whose scan has ended, back to the spares.
func (r boltRecords) putScanCursor(b *bolt.Bucket, c *bolt.Cursor) {
	if r.spare != nil {
		r.spare[b] = append(r.spare[b], c)
	}
}
