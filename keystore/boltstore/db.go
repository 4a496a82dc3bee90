package boltstore

import (
	"io/fs"
	"runtime/debug"
	"strings"
	"time"

	"github.com/xchat-go/xchat/keystore"

	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The file's bbolt buckets: "meta" holds the header under "header"; the
// others hold the records (created up front so a new file shows the whole
// layout).
var (
	bucketMeta = []byte("meta")
	keyHeader  = []byte("header")

	fileBuckets = []string{"meta", "account", "values", "peers", "convkeys", "conversations", "events",
		"msgrecent", "msgseg", "msgfilter", "msgstate", "outbox"}
)

// DB is the bbolt-backed keystore.Store: one file per account, every value sealed
// with XChaCha20-Poly1305 under a random store key. It is safe for
// concurrent use; only one process can hold the file open.
type DB struct {
	keystore.AutoTx

	path string
	bolt *bolt.DB
	set  keystore.OpenOptions

	rekeyMu sync.Mutex // serialises ChangePassphrase / ChangeKey

	mu     sync.RWMutex // guards everything below; held (read) during transactions
	sealer *keystore.Sealer
	closed bool

	leases *keystore.InProcess // see keystore.Leaser and keystore.OutboxClaimer

	// released is bbolt's count of bytes written at the last release of
	// the mapped pages; read and set only inside write transactions (see
	// DB.releaseMapped).
	released int64
}

// Open opens the store at path, creating it (and its directory) when it
// does not exist. Exactly one of keystore.WithPassphrase or keystore.WithKey must be given.
//
// Opening an existing store writes nothing until the passphrase or key has
// been verified; a wrong one fails with keystore.ErrWrongPassphrase or keystore.ErrWrongKey. A
// store held by another process fails with keystore.ErrLocked after the lock timeout.
func Open(path string, opts ...keystore.Option) (*DB, error) {
	set, err := keystore.ReadOptions(opts...)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("keystore: creating directory: %w", err)
	}
	if err := inspect(path, set.LockTimeout); err != nil {
		return nil, err
	}
	bdb, err := openBolt(path, &bolt.Options{Timeout: set.LockTimeout, InitialMmapSize: initialMmapSize()})
	if err != nil {
		return nil, err
	}
	bdb.AllocSize = growStep(0) // until the first write transaction sets it
	db := &DB{path: path, bolt: bdb, set: set}
	if err := db.unlock(opts); err != nil {
		_ = bdb.Close()
		return nil, db.damaged(err)
	}
	db.AutoTx = keystore.NewAutoTx(db.View, db.Update)
	db.leases = keystore.NewInProcess(db)
	return db, nil
}

// unlock reads (or, for a new store, creates) the header and installs the
// store key.
func (db *DB) unlock(opts []keystore.Option) error {
	raw, err := db.header()
	if err != nil {
		return err
	}
	if raw == nil {
		return db.create(opts)
	}
	s, upgraded, err := keystore.OpenHeader(raw, opts...)
	if err != nil {
		return err
	}
	if upgraded != nil {
		if err := db.upgrade(raw, upgraded); err != nil {
			s.Close()
			return err
		}
	}
	db.sealer = s
	return nil
}

// upgrade replaces a header of an older format by its upgrade (see
// keystore.OpenHeader) before anything is written in the new layout, and
// creates the buckets format 2 adds (where they are missing).
func (db *DB) upgrade(raw, upgraded []byte) error {
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if !bytes.Equal(b.Get(keyHeader), raw) {
			return fmt.Errorf("%w: header changed during upgrade", keystore.ErrConflict)
		}
		for _, name := range fileBuckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		return b.Put(keyHeader, upgraded)
	})
	if err != nil {
		return fmt.Errorf("keystore: upgrading the store format: %w", err)
	}
	return nil
}

// header returns a copy of the stored header, or nil for a new file.
func (db *DB) header() ([]byte, error) {
	var raw []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta); b != nil {
			if v := b.Get(keyHeader); v != nil {
				raw = bytes.Clone(v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("keystore: reading header: %w", err)
	}
	return raw, nil
}

// create initialises a new store: random store key, header, buckets, in
// one transaction.
func (db *DB) create(opts []keystore.Option) error {
	header, s, err := keystore.CreateHeader(opts...)
	if err != nil {
		return err
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range fileBuckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyHeader, header)
	})
	if err != nil {
		s.Close()
		return fmt.Errorf("keystore: initialising store: %w", err)
	}
	db.sealer = s
	return nil
}

// Path returns the file the store lives in.
func (db *DB) Path() string { return db.path }

// Update runs fn in one bbolt read-write transaction, committed (and
// fsynced) before Update returns nil.
func (db *DB) Update(ctx context.Context, fn func(tx keystore.Tx) error) error {
	return db.UpdateRecords(ctx, func(r keystore.Records, s *keystore.Sealer) error {
		return keystore.RunSealedTx(ctx, r, s, true, fn)
	})
}

// View runs fn in one read-only bbolt transaction.
func (db *DB) View(ctx context.Context, fn func(tx keystore.Tx) error) error {
	return db.ViewRecords(ctx, func(r keystore.Records, s *keystore.Sealer) error {
		return keystore.RunSealedTx(ctx, r, s, false, fn)
	})
}

// Close closes the file and zeroes the store key. The AEAD instance built
// from the key keeps an internal copy Go gives no way to clear; it becomes
// unreachable here.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	db.sealer.Close()
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("keystore: closing: %w", err)
	}
	return nil
}

// ChangePassphrase re-wraps the store key under a key derived from newPass
// (with a fresh salt, and the parameters of keystore.WithArgon2Params if given, else
// those already in use). Only the header is rewritten, in one transaction.
// A wrong oldPass fails with keystore.ErrWrongPassphrase and changes nothing.
func (db *DB) ChangePassphrase(oldPass, newPass []byte) error {
	opts := []keystore.Option{keystore.WithRand(db.set.Rand)}
	if db.set.HasArgon2 {
		opts = append(opts, keystore.WithArgon2Params(db.set.Argon2))
	}
	return db.rekey(keystore.WithPassphrase(oldPass), keystore.WithPassphrase(newPass), opts)
}

// ChangeKey re-wraps the store key of a key-protected store under newKey.
// A wrong oldKey fails with keystore.ErrWrongKey and changes nothing.
func (db *DB) ChangeKey(oldKey, newKey [32]byte) error {
	return db.rekey(keystore.WithKey(oldKey), keystore.WithKey(newKey), []keystore.Option{keystore.WithRand(db.set.Rand)})
}

func (db *DB) rekey(oldSecret, newSecret keystore.Option, opts []keystore.Option) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &keystore.DamagedError{Path: db.path, Err: fmt.Errorf("unreadable file structure (%v)", r)}
		}
		err = db.damaged(err)
	}()
	db.rekeyMu.Lock()
	defer db.rekeyMu.Unlock()
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return keystore.ErrClosed
	}
	raw, err := db.header()
	if err != nil {
		return err
	}
	nh, err := keystore.RewrapHeader(raw, db.sealer, oldSecret, newSecret, opts...)
	if err != nil {
		return err
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if !bytes.Equal(b.Get(keyHeader), raw) {
			return fmt.Errorf("%w: header changed during rekey", keystore.ErrConflict)
		}
		return b.Put(keyHeader, nh)
	})
	if err != nil {
		return fmt.Errorf("keystore: writing header: %w", err)
	}
	return nil
}

// initialMmapSize is how much of the file bbolt maps at open: 256 MiB of
// address space (32 MiB on 32-bit platforms), none of it resident until
// read. bbolt otherwise maps the file's size rounded up to a power of two
// and re-maps each time a write transaction grows the file past it, first
// copying out every node the transaction holds: a first sync of 10k events
// re-mapped about ten times. A larger file is mapped whole, as before. The
// mapping may reach past the end of the file: inspect has checked that
// every page the file's meta reaches lies inside it. On Windows bbolt
// grows the file to the mapping's size, so there it keeps its own.
func initialMmapSize() int {
	switch {
	case runtime.GOOS == "windows":
		return 0
	case strconv.IntSize == 32:
		return 32 << 20
	}
	return 256 << 20
}

// openBolt opens the bolt file, turning its failures (and panics) into
// keystore.ErrLocked or a *keystore.DamagedError.
func openBolt(path string, opts *bolt.Options) (bdb *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			bdb, err = nil, &keystore.DamagedError{Path: path, Err: fmt.Errorf("unreadable file structure (%v)", r)}
		}
	}()
	bdb, err = bolt.Open(path, 0o600, opts)
	switch {
	case err == nil:
		return bdb, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s", keystore.ErrLocked, path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, &keystore.DamagedError{Path: path, Err: fmt.Errorf("not a readable keystore file (%w)", err)}
	case strings.Contains(err.Error(), "file size too small"):
		return nil, &keystore.DamagedError{Path: path, Err: fmt.Errorf("the file is truncated (%w)", err)}
	}
	return nil, fmt.Errorf("keystore: opening %s: %w", path, err)
}

// inspect refuses, without writing to it, an existing file that is not an
// intact keystore: empty, foreign (another program's bolt file), or
// structurally damaged (checkPages, then bbolt's consistency check over
// every page on a read-only handle, so nothing is written to a damaged
// file). A missing file or a bolt file with no bucket at all (a creation
// interrupted before its first commit) passes: Open initialises it.
func inspect(path string, lockTimeout time.Duration) (err error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return &keystore.DamagedError{Path: path, Err: errors.New("not a regular file")}
	}
	if fi.Size() == 0 {
		return &keystore.DamagedError{Path: path, Err: errors.New("the file is empty (0 bytes); it was not created by a finished 'init' or was truncated")}
	}
	if err := checkPages(path); err != nil {
		var de *keystore.DamagedError
		if errors.As(err, &de) {
			return err
		}
		return &keystore.DamagedError{Path: path, Err: err}
	}
	bdb, err := openBolt(path, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return err
	}
	defer func() { _ = bdb.Close() }()
	defer func() {
		if r := recover(); r != nil {
			err = &keystore.DamagedError{Path: path, Err: fmt.Errorf("unreadable file structure (%v)", r)}
		}
	}()
	return bdb.View(func(tx *bolt.Tx) error {
		var problems []string
		for e := range tx.Check() {
			if len(problems) < 3 {
				problems = append(problems, e.Error())
			}
		}
		if len(problems) > 0 {
			return &keystore.DamagedError{Path: path, Err: fmt.Errorf("the file structure is corrupt (%s)", strings.Join(problems, "; "))}
		}
		buckets := 0
		if err := tx.ForEach(func([]byte, *bolt.Bucket) error { buckets++; return nil }); err != nil {
			return &keystore.DamagedError{Path: path, Err: err}
		}
		if b := tx.Bucket(bucketMeta); buckets > 0 && (b == nil || b.Get(keyHeader) == nil) {
			return &keystore.DamagedError{Path: path, Err: errors.New("not an xchat keystore (a bolt database without a keystore header)")}
		}
		return nil
	})
}

// damaged names the file in a record or header corruption error, and
// passes every other error through.
func (db *DB) damaged(err error) error {
	var de *keystore.DamagedError
	if err == nil || errors.As(err, &de) || !errors.Is(err, keystore.ErrCorrupt) {
		return err
	}
	return &keystore.DamagedError{Path: db.path, Err: err}
}

// AcquireLease implements keystore.Leaser within this process (only one process
// can open the file).
func (db *DB) AcquireLease(ctx context.Context, name string) (func(), error) {
	return db.leases.AcquireLease(ctx, name)
}

// TryLease implements keystore.Leaser within this process.
func (db *DB) TryLease(ctx context.Context, name string) (func(), bool, error) {
	return db.leases.TryLease(ctx, name)
}

// QueueOutbox implements keystore.OutboxClaimer within this process.
func (db *DB) QueueOutbox(ctx context.Context, item keystore.OutboxItem) error {
	return db.leases.QueueOutbox(ctx, item)
}

// ClaimOutbox implements keystore.OutboxClaimer within this process.
func (db *DB) ClaimOutbox(ctx context.Context, conversationID string) ([]keystore.OutboxItem, int, error) {
	return db.leases.ClaimOutbox(ctx, conversationID)
}

// ReleaseOutbox implements keystore.OutboxClaimer within this process.
func (db *DB) ReleaseOutbox(ctx context.Context, messageID string) error {
	return db.leases.ReleaseOutbox(ctx, messageID)
}

// Compile-time checks.
var (
	_ keystore.Store         = (*DB)(nil)
	_ keystore.SealedStore   = (*DB)(nil)
	_ keystore.Leaser        = (*DB)(nil)
	_ keystore.OutboxClaimer = (*DB)(nil)
)
