package session

import (
	"context"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	"github.com/xchat-go/xchat/wire"
)

// Staging of a multi-page sync. The pages are fetched newest first but
// processed oldest first (see run), so they are kept aside until the last
// one has arrived: in a spill file, a temporary file that only this sync
// can read (each page sealed with XChaCha20-Poly1305 under a random key
// held in memory, bound to its place in the file, and the file removed
// when the sync ends), or, when no such file can be made, in the keystore
// (sealed there like every value). Either way memory holds a few pages,
// whatever the history's length, and nothing staged is ever read back
// unauthenticated.

// spillTrace, when set (by tests), is told the bytes each staged page
// takes in its spill.
var spillTrace func(n int)

// stageKey names a page staged in the keystore.
func stageKey(cid string, n int) string { return "session/stage/" + cid + "/" + strconv.Itoa(n) }

// spill holds the pages of one sync aside.
type spill interface {
	// put stores page n (numbered from 1, in fetch order).
	put(ctx context.Context, n int, p *syncPage) error
	// get reads page n back, through tx when it is not nil.
	get(ctx context.Context, tx keystore.Tx, n int) (*syncPage, error)
	// close releases what the spill holds.
	close(ctx context.Context) error
	// shared reports whether get may be called from another goroutine
	// while a transaction of the store is open (and concurrently with
	// itself, once every page is put).
	shared() bool
}

// newSpill returns a spill file in dir ("" is the system's temporary
// directory), or the keystore when no file can be made there.
func (s *syncState) newSpill(dir string) spill {
	f, err := newFileSpill(dir, s.e.rand)
	if err != nil {
		return &storeSpill{s: s}
	}
	return f
}

// fileSpill is a spill file.
type fileSpill struct {
	f    *os.File
	aead cipher.AEAD
	id   [16]byte   // binds the records to this file
	at   [][2]int64 // page n's offset and length at n-1 (length 0: not put)
	end  int64
	buf  []byte // where put seals a page (ciphertext once it returns)
}

// newFileSpill makes a spill file in dir, its key and id read from rand
// (the engine's, see WithRand).
func newFileSpill(dir string, rand io.Reader) (*fileSpill, error) {
	f, err := os.CreateTemp(dir, "xchat-sync-*")
	if err != nil {
		return nil, err
	}
	// Gone from the directory at once where the system allows it; the
	// open file stays usable until closed.
	removed := os.Remove(f.Name()) == nil
	var key [chacha20poly1305.KeySize]byte
	sp := &fileSpill{f: f}
	if _, err := io.ReadFull(rand, key[:]); err != nil {
		sp.discard(removed)
		return nil, err
	}
	if _, err := io.ReadFull(rand, sp.id[:]); err != nil {
		sp.discard(removed)
		return nil, err
	}
	sp.aead, err = chacha20poly1305.NewX(key[:])
	clear(key[:])
	if err != nil {
		sp.discard(removed)
		return nil, err
	}
	return sp, nil
}

func (sp *fileSpill) discard(removed bool) {
	name := sp.f.Name()
	_ = sp.f.Close()
	if !removed {
		_ = os.Remove(name)
	}
}

// aad binds a record to this file and to its page number.
func (sp *fileSpill) aad(n int) []byte {
	b := make([]byte, 0, 40)
	b = append(b, "xchat-go sync spill v1\x00"...)
	b = append(b, sp.id[:]...)
	return binary.BigEndian.AppendUint64(b, uint64(n))
}

// nonce is the page number: each is sealed once under the file's key.
func nonce(n int) []byte {
	var b [chacha20poly1305.NonceSizeX]byte
	binary.BigEndian.PutUint64(b[len(b)-8:], uint64(n))
	return b[:]
}

func (sp *fileSpill) put(_ context.Context, n int, p *syncPage) error {
	if n < 1 {
		return fmt.Errorf("session: staging page %d", n)
	}
	if n <= len(sp.at) && sp.at[n-1][1] != 0 {
		return fmt.Errorf("session: staging page %d twice", n)
	}
	// Encoded into the spill's buffer, which has room for the tag, and
	// sealed in place: no copy of the page is made, and the buffer kept
	// for the next page holds none of its plaintext.
	plain := p.appendEncoded(slices.Grow(sp.buf[:0], p.encodedCap()))
	sealed := sp.aead.Seal(plain[:0], nonce(n), plain, sp.aad(n))
	sp.buf = sealed[:0]
	if _, err := sp.f.WriteAt(sealed, sp.end); err != nil {
		return fmt.Errorf("session: staging page: %w", err)
	}
	if n > len(sp.at) {
		sp.at = append(sp.at, make([][2]int64, n-len(sp.at))...)
	}
	sp.at[n-1] = [2]int64{sp.end, int64(len(sealed))}
	sp.end += int64(len(sealed))
	if spillTrace != nil {
		spillTrace(len(sealed))
	}
	return nil
}

func (sp *fileSpill) get(_ context.Context, _ keystore.Tx, n int) (*syncPage, error) {
	// The pages are read once every page is put: the buffer put seals
	// them in (a page's size) is not kept for the rest of the sync.
	sp.buf = nil
	if n < 1 || n > len(sp.at) || sp.at[n-1][1] == 0 {
		return nil, fmt.Errorf("session: staged page %d missing", n)
	}
	at := sp.at[n-1]
	sealed := make([]byte, at[1])
	if _, err := sp.f.ReadAt(sealed, at[0]); err != nil {
		return nil, fmt.Errorf("session: reading staged page: %w", err)
	}
	plain, err := sp.aead.Open(sealed[:0], nonce(n), sealed, sp.aad(n))
	if err != nil {
		return nil, fmt.Errorf("session: staged page %d was altered", n)
	}
	return decodeStaged(plain)
}

// shared: a spill file is read without the store, and reading it back
// changes nothing.
func (sp *fileSpill) shared() bool { return true }

func (sp *fileSpill) close(context.Context) error {
	name := sp.f.Name()
	err := sp.f.Close()
	_ = os.Remove(name) // already removed where the system allowed it
	return err
}

// storeSpill stages pages in the keystore, for a sync that cannot make a
// spill file.
type storeSpill struct {
	s *syncState
	n int // pages put
}

func (sp *storeSpill) put(ctx context.Context, n int, p *syncPage) error {
	b := p.encode()
	defer clear(b)
	if err := sp.s.e.store.SetValue(ctx, stageKey(sp.s.cid, n), b); err != nil {
		return fmt.Errorf("session: staging page: %w", err)
	}
	if spillTrace != nil {
		spillTrace(len(b))
	}
	sp.n = max(sp.n, n)
	return nil
}

func (sp *storeSpill) get(ctx context.Context, tx keystore.Tx, n int) (*syncPage, error) {
	var r keystore.Tx = sp.s.e.store
	if tx != nil {
		r = tx
	}
	b, err := r.Value(ctx, stageKey(sp.s.cid, n))
	if err != nil {
		return nil, fmt.Errorf("session: reading staged page: %w", err)
	}
	return decodeStaged(b)
}

// shared: the keystore may not be read from another goroutine while a
// transaction is open.
func (sp *storeSpill) shared() bool { return false }

// close deletes the staged pages in one transaction.
func (sp *storeSpill) close(ctx context.Context) error {
	if sp.n == 0 {
		return nil
	}
	return sp.s.e.store.Update(context.WithoutCancel(ctx), func(tx keystore.Tx) error {
		for n := 1; n <= sp.n; n++ {
			if err := tx.SetValue(ctx, stageKey(sp.s.cid, n), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// clearStaged deletes the pages of cid a sync left in the keystore (an
// interrupted one, or one of an earlier version of this package). Pages
// are staged out of fetch order while the fetch verifier holds some (see
// stageAll), so an interrupted sync may have left gaps of up to
// maxVerifying pages: the search ends after a longer run of missing ones.
func (s *syncState) clearStaged(ctx context.Context) error {
	left := false
	err := s.e.store.View(ctx, func(tx keystore.Tx) error {
		for n := 1; n <= maxVerifying+1 && !left; n++ {
			if _, err := tx.Value(ctx, stageKey(s.cid, n)); err == nil {
				left = true
			} else if !errors.Is(err, keystore.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("session: reading staged page: %w", err)
	}
	if !left {
		return nil
	}
	return s.e.store.Update(ctx, func(tx keystore.Tx) error {
		for n, missing := 1, 0; missing <= maxVerifying; n++ {
			if _, err := tx.Value(ctx, stageKey(s.cid, n)); errors.Is(err, keystore.ErrNotFound) {
				missing++
				continue
			} else if err != nil {
				return fmt.Errorf("session: reading staged page: %w", err)
			}
			missing = 0
			if err := tx.SetValue(ctx, stageKey(s.cid, n), nil); err != nil {
				return fmt.Errorf("session: clearing staged page: %w", err)
			}
		}
		return nil
	})
}

// The staged form of a page: a version byte, then uvarint counts and
// length-prefixed fields: the key change count, the events (raw), the
// entries that were not base64 (as served), the page's bound violation
// (events, bytes; zero when within bounds) and the verified signatures.
const stagedVersion = 1

func (p *syncPage) encode() []byte {
	return p.appendEncoded(make([]byte, 0, p.encodedCap()))
}

// encodedCap bounds the length of the staged form, with room for a spill
// file's tag (it seals the page in place).
func (p *syncPage) encodedCap() int {
	n := 1 + 9*binary.MaxVarintLen64 + len(p.memo)*len(crypto.MemoEntry{}) + chacha20poly1305.Overhead
	for _, r := range p.raws {
		n += binary.MaxVarintLen64 + len(r)
	}
	for _, b := range p.badB64 {
		n += binary.MaxVarintLen64 + len(b)
	}
	return n
}

// spillCharge is what a fetched page counts against WithMaxSyncBytes: its
// size as served, or what staging it may take when that is more (the
// staged form prefixes each entry with its length, and keeps a memo entry
// for each event's signature), so that a sync's spill stays within the
// bound plus one page whatever the shape of its pages.
func (p *syncPage) spillCharge() int64 {
	n := 1 + 5*binary.MaxVarintLen64 + chacha20poly1305.Overhead
	for _, r := range p.raws {
		n += uvarintLen(len(r)) + len(r) + len(crypto.MemoEntry{})
	}
	for _, b := range p.badB64 {
		n += uvarintLen(len(b)) + len(b)
	}
	return int64(max(n, p.size))
}

// uvarintLen is the length of n as a uvarint.
func uvarintLen(n int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n))
}

// appendEncoded appends the staged form of p to b.
func (p *syncPage) appendEncoded(b []byte) []byte {
	b = append(b, stagedVersion)
	b = binary.AppendUvarint(b, uint64(p.kcCount))
	b = binary.AppendUvarint(b, uint64(len(p.raws)))
	for _, r := range p.raws {
		b = binary.AppendUvarint(b, uint64(len(r)))
		b = append(b, r...)
	}
	b = binary.AppendUvarint(b, uint64(len(p.badB64)))
	for _, s := range p.badB64 {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(p.overEvents))
	b = binary.AppendUvarint(b, uint64(p.overBytes))
	b = binary.AppendUvarint(b, uint64(len(p.memo)))
	for _, e := range p.memo {
		b = append(b, e[:]...)
	}
	return b
}

// errStaged reports a staged page that does not decode (it was
// authenticated, so only a fault of this package would cause it).
var errStaged = errors.New("session: staged page does not decode")

// stagedReader reads the fields of a staged page.
type stagedReader struct {
	b   []byte
	err error
}

func (r *stagedReader) uint(limit int) int {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > uint64(limit) || n != len(binary.AppendUvarint(nil, v)) {
		r.err = errStaged
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *stagedReader) bytes() []byte {
	l := r.uint(len(r.b))
	if r.err == nil && l > len(r.b) {
		r.err, r.b = errStaged, nil
	}
	if r.err != nil {
		return nil
	}
	v := r.b[:l:l]
	r.b = r.b[l:]
	return v
}

// decodeStaged decodes a staged page; its events alias b.
func decodeStaged(b []byte) (*syncPage, error) {
	if len(b) == 0 || b[0] != stagedVersion {
		return nil, errStaged
	}
	r := &stagedReader{b: b[1:]}
	p := &syncPage{kcCount: r.uint(maxPageEvents)}
	if n := r.uint(maxPageEvents); r.err == nil {
		p.raws = make([][]byte, 0, n)
		for range n {
			p.raws = append(p.raws, r.bytes())
		}
	}
	if n := r.uint(maxPageEvents); r.err == nil {
		for range n {
			s := string(r.bytes())
			p.badB64 = append(p.badB64, s)
			_, err := wire.DecodeB64(s)
			p.bad = append(p.bad, &event.Event{Err: fmt.Errorf("%w: %w", xchat.ErrMalformed, err)})
		}
	}
	p.overEvents, p.overBytes = r.uint(1<<40), r.uint(1<<40)
	// The count is bounded by the bytes left after it (the varint itself
	// takes some of those the limit was computed from).
	if n := r.uint(len(r.b) / len(crypto.MemoEntry{})); r.err == nil && n*len(crypto.MemoEntry{}) > len(r.b) {
		r.err = errStaged
	} else if r.err == nil {
		p.memo = make([]crypto.MemoEntry, n)
		for i := range p.memo {
			copy(p.memo[i][:], r.b)
			r.b = r.b[len(crypto.MemoEntry{}):]
		}
	}
	if r.err != nil || len(r.b) != 0 || p.kcCount > len(p.raws) {
		return nil, errStaged
	}
	return p, nil
}
