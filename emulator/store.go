package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xchat-go/xchat/internal/decimal"
	bolt "go.etcd.io/bbolt"
)

// Bucket names of the data file.
const (
	bucketUsers    = "users"
	bucketTokens   = "tokens"
	bucketKeys     = "public_keys"
	bucketConvs    = "conversations"
	bucketEvents   = "events"
	bucketMedia    = "media"
	bucketBlobs    = "media_blobs"
	bucketDMConvs  = "dm_conversations"
	bucketDMEvents = "dm_events"
)

var allBuckets = []string{bucketUsers, bucketTokens, bucketKeys, bucketConvs, bucketEvents,
	bucketMedia, bucketBlobs, bucketDMConvs, bucketDMEvents}

// batch collects the records one request writes, so they are committed to
// the data file in a single transaction before the in-memory state changes.
type batch struct {
	recs []batchRec
	err  error
}

type batchRec struct {
	bucket, key string
	val         []byte // nil deletes
}

func (b *batch) put(bucket, key string, v any) {
	raw, ok := v.([]byte)
	if !ok {
		var err error
		raw, err = json.Marshal(v)
		if err != nil {
			b.err = errors.Join(b.err, err)
			return
		}
	}
	if raw == nil {
		raw = []byte{}
	}
	b.recs = append(b.recs, batchRec{bucket, key, raw})
}

func (b *batch) del(bucket, key string) { b.recs = append(b.recs, batchRec{bucket, key, nil}) }

func (b *batch) user(u *userRec)       { b.put(bucketUsers, u.ID, u) }
func (b *batch) token(t *tokenRec)     { b.put(bucketTokens, t.Hash, t) }
func (b *batch) conv(c *convRec)       { b.put(bucketConvs, c.Key, c) }
func (b *batch) event(e *eventRec)     { b.put(bucketEvents, eventKey(e.Conv, e.Seq), e) }
func (b *batch) dmConv(c *dmConvRec)   { b.put(bucketDMConvs, c.ID, c) }
func (b *batch) dmEvent(e *dmEventRec) { b.put(bucketDMEvents, padID(e.ID), e) }
func (b *batch) publicKey(k *publicKeyRec) {
	b.put(bucketKeys, k.UserID+"|"+padID(k.Version), k)
}

func eventKey(conv string, seq uint64) string { return conv + "/" + fmt.Sprintf("%020d", seq) }

func padID(id string) string {
	if len(id) >= 20 {
		return id
	}
	return strings.Repeat("0", 20-len(id)) + id
}

// openDB opens (creating if needed) the data file.
func openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("emulator: open data file: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("emulator: initialise data file: %w", err)
	}
	return db, nil
}

// commit writes a batch to the data file (no-op when in memory).
func (s *Server) commit(b *batch) error {
	if b.err != nil {
		return fmt.Errorf("emulator: encode state: %w", b.err)
	}
	if s.db == nil || len(b.recs) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, r := range b.recs {
			bk := tx.Bucket([]byte(r.bucket))
			if bk == nil {
				return fmt.Errorf("missing bucket %q", r.bucket)
			}
			var err error
			if r.val == nil {
				err = bk.Delete([]byte(r.key))
			} else {
				err = bk.Put([]byte(r.key), r.val)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("emulator: write data file: %w", err)
	}
	return nil
}

// load reads the whole data file into memory.
func (s *Server) load() error {
	st := newState()
	var maxID uint64
	observe := func(id string) {
		if v, ok := parseID(id); ok && v > maxID {
			maxID = v
		}
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		each := func(bucket string, fn func(k, v []byte) error) error {
			return tx.Bucket([]byte(bucket)).ForEach(fn)
		}
		if err := each(bucketUsers, func(_, v []byte) error {
			var u userRec
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			st.users[u.ID] = &u
			st.usernames[strings.ToLower(u.Username)] = u.ID
			observe(u.ID)
			return nil
		}); err != nil {
			return err
		}
		if err := each(bucketTokens, func(_, v []byte) error {
			var t tokenRec
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			st.tokens[t.Hash] = &t
			return nil
		}); err != nil {
			return err
		}
		if err := each(bucketKeys, func(_, v []byte) error {
			var k publicKeyRec
			if err := json.Unmarshal(v, &k); err != nil {
				return err
			}
			st.keys[k.UserID] = append(st.keys[k.UserID], &k)
			return nil
		}); err != nil {
			return err
		}
		if err := each(bucketConvs, func(_, v []byte) error {
			var c convRec
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			st.convs[c.Key] = &c
			observe(strings.TrimPrefix(c.Key, "g"))
			return nil
		}); err != nil {
			return err
		}
		if err := each(bucketEvents, func(_, v []byte) error {
			var e eventRec
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			st.addEvent(&e)
			observe(fmtID(e.Seq))
			return nil
		}); err != nil {
			return err
		}
		if err := each(bucketMedia, func(_, v []byte) error {
			var m mediaRec
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			st.media[mediaKey(m.Conv, m.HashKey)] = &m
			return nil
		}); err != nil {
			return err
		}
		if err := each(bucketDMConvs, func(_, v []byte) error {
			var c dmConvRec
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			st.dmConvs[c.ID] = &c
			observe(c.ID)
			return nil
		}); err != nil {
			return err
		}
		return each(bucketDMEvents, func(_, v []byte) error {
			var e dmEventRec
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			st.addDMEvent(&e)
			observe(e.ID)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("emulator: load data file: %w", err)
	}
	for _, ks := range st.keys {
		slices.SortFunc(ks, func(a, b *publicKeyRec) int { return decimal.Compare(a.Version, b.Version) })
	}
	s.st = st
	s.ids.observe(maxID)
	return nil
}

// loadBlob reads a finalized media blob.
func (s *Server) loadBlob(conv, hash string) ([]byte, bool) {
	if s.db == nil {
		b, ok := s.blobs[mediaKey(conv, hash)]
		return b, ok
	}
	var out []byte
	_ = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket([]byte(bucketBlobs)).Get([]byte(mediaKey(conv, hash)))
		if v != nil {
			out = slices.Clone(v)
		}
		return nil
	})
	return out, out != nil
}

// storeBlobInMemory keeps blobs when there is no data file.
func (s *Server) storeBlobInMemory(conv, hash string, data []byte) {
	if s.db == nil {
		s.blobs[mediaKey(conv, hash)] = data
	}
}

func (s *Server) deleteBlobInMemory(conv, hash string) {
	if s.db == nil {
		delete(s.blobs, mediaKey(conv, hash))
	}
}
