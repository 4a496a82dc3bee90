// Package pgstore is a keystore.Store in PostgreSQL, for an account served
// by several processes (replicas) at once.
//
// Every value is sealed exactly as boltstore.DB seals it (the same code, the
// same store key header, the same AAD binding each value to its bucket path
// and key), so the database holds only ciphertext and the ids DB keeps in
// the clear: user, conversation and message ids, sequence ids and key
// versions. The schema (one PostgreSQL schema per account, "xchat" unless
// WithSchema says otherwise) is created and migrated by Open; a database
// migrated by a newer program fails with ErrSchemaTooNew.
//
// Update runs in one SERIALIZABLE transaction, so a read-modify-write (a
// key pinned, a cursor advanced) is as atomic as in bbolt; a transaction
// that loses a serialization conflict to another replica is run again, so
// fn may run more than once and must keep its effects inside tx. View runs
// in one REPEATABLE READ, READ ONLY snapshot.
//
// The Store also coordinates its replicas (keystore.Leaser,
// keystore.OutboxClaimer): named leases and outbox claims live in the
// database with an expiry renewed by the holder, so the work of a replica
// that dies is taken over once its lease expires (WithLeaseTTL). Expiry is
// judged by the database's clock, never a replica's.
//
// A lease taken with AcquireFencedLease (keystore.FencedLeaser, which the
// session engine uses for its conversation locks) also fences: a replica
// cut off from the database (or stalled) for longer than the TTL may wake
// up in the middle of work another replica has taken over, and then
//   - every write it makes under the lease fails with keystore.ErrLeaseLost
//     and stores nothing: each write transaction checks, as its first
//     statement, that the lease row still carries this acquisition's
//     holder and token, and share-locks the row until it commits, so a
//     takeover waits for a write in progress and sees it, and no write of
//     the old holder commits after a takeover;
//   - a lease that lapsed but that no one took over still lets its holder
//     write (no one else can have worked under it);
//   - what it does outside the database cannot be fenced: a post to the
//     server already under way when it stalled still reaches the server
//     (the engine checks the lease, CheckLeases, before each post, and its
//     sends keep their message ids, so a server that de-duplicates them
//     shows one copy); only recording the outcome fails;
//   - reads, and giving back outbox claims, are never fenced.
//
// Tokens are random for a new lease row and grow by one at each takeover,
// so no two acquisitions of a name share one.
//
// Besides what boltstore.DB stores, the database sees lease names (which
// embed conversation ids), holder names (host name and process id unless
// WithHolder says otherwise) and when each replica worked.
package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xchat-go/xchat/keystore"
)

var (
	// ErrUnreachable reports that the database server could not be reached
	// (refused, timed out, shutting down or restarting). Nothing was
	// committed by the call that failed, unless it failed while committing.
	ErrUnreachable = errors.New("pgstore: database unreachable")
	// ErrSchemaTooNew reports a schema migrated by a newer version of this
	// package; it also wraps keystore.ErrUnsupportedVersion.
	ErrSchemaTooNew = fmt.Errorf("pgstore: database schema is newer than this program: %w", keystore.ErrUnsupportedVersion)
)

// DefaultLeaseTTL is how long a lease or outbox claim outlives the last
// renewal by its holder.
const DefaultLeaseTTL = 30 * time.Second

// DefaultSchema is the PostgreSQL schema an account lives in unless
// WithSchema says otherwise.
const DefaultSchema = "xchat"

// Option configures Open. An option given a value it cannot use makes Open
// fail with keystore.ErrInvalid; no value is silently replaced by a default.
type Option func(*config) error

type config struct {
	protect  []keystore.Option
	schema   string
	ttl      time.Duration
	holder   string
	maxConns int32
}

// Keystore sets how the store key is protected: exactly one of
// keystore.WithPassphrase or keystore.WithKey (keystore.WithArgon2Params and
// keystore.WithRand apply too). Required.
func Keystore(opts ...keystore.Option) Option {
	return func(c *config) error { c.protect = append(c.protect, opts...); return nil }
}

// WithSchema sets the PostgreSQL schema holding the account (lower-case
// letters, digits and '_', at most 63), so one database can hold several
// accounts.
func WithSchema(name string) Option {
	return func(c *config) error {
		if !schemaName.MatchString(name) {
			return fmt.Errorf("%w: schema name %q", keystore.ErrInvalid, name)
		}
		c.schema = name
		return nil
	}
}

// WithLeaseTTL sets how long a lease or outbox claim outlives its holder's
// last renewal (default DefaultLeaseTTL); holders renew every third of it.
// d must be positive.
func WithLeaseTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: lease TTL %v is not positive", keystore.ErrInvalid, d)
		}
		c.ttl = d
		return nil
	}
}

// WithHolder names this process in the leases it holds (default: host
// name, process id and a random suffix). Every replica needs its own; an
// empty name is refused.
func WithHolder(id string) Option {
	return func(c *config) error {
		if id == "" {
			return fmt.Errorf("%w: empty lease holder", keystore.ErrInvalid)
		}
		c.holder = id
		return nil
	}
}

// WithMaxConns bounds the connection pool (default: pgxpool's); n must be
// between 1 and 2^31-1.
func WithMaxConns(n int) Option {
	return func(c *config) error {
		if n < 1 || n > math.MaxInt32 {
			return fmt.Errorf("%w: %d connections", keystore.ErrInvalid, n)
		}
		c.maxConns = int32(n)
		return nil
	}
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Store is a keystore.Store in PostgreSQL. It is safe for concurrent use,
// by any number of processes (see the package documentation).
type Store struct {
	keystore.AutoTx

	pool   *pgxpool.Pool
	q      *queries
	ttl    time.Duration
	holder string

	mu     sync.RWMutex // guards sealer and closed; held (read) during transactions
	sealer *keystore.Sealer
	closed bool

	held      heldSet // leases and claims this process holds and renews
	takeovers atomic.Int64
	stop      chan struct{}
	stopped   chan struct{}
}

// Open connects to the PostgreSQL server at dsn (a URL or key=value
// connection string, as pgx parses it), creates or migrates the schema and
// opens (or, for a new account schema, creates) the store key as the
// Keystore option says. A server that cannot be reached fails with
// ErrUnreachable; a wrong passphrase or key with keystore.ErrWrongPassphrase
// or keystore.ErrWrongKey.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	c := config{schema: DefaultSchema, ttl: DefaultLeaseTTL}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", keystore.ErrInvalid)
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	if !schemaName.MatchString(c.schema) {
		return nil, fmt.Errorf("%w: schema name %q", keystore.ErrInvalid, c.schema)
	}
	if c.ttl <= 0 {
		c.ttl = DefaultLeaseTTL
	}
	if c.holder == "" {
		c.holder = defaultHolder()
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: connection string: %v", keystore.ErrInvalid, redact(err))
	}
	if c.maxConns > 0 {
		pc.MaxConns = c.maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s := &Store{pool: pool, q: newQueries(c.schema), ttl: c.ttl, holder: c.holder, stop: make(chan struct{}), stopped: make(chan struct{})}
	if err := s.open(ctx, c.protect); err != nil {
		pool.Close()
		return nil, err
	}
	s.AutoTx = keystore.NewAutoTx(s.View, s.Update)
	go s.keepalive()
	return s, nil
}

// open migrates the schema and installs the store key.
func (s *Store) open(ctx context.Context, protect []keystore.Option) error {
	if err := s.pool.Ping(ctx); err != nil {
		return classify(ctx, err)
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	sealer, err := s.unlock(ctx, protect)
	if err != nil {
		return err
	}
	s.sealer = sealer
	return nil
}

// unlock reads the header, creating it for a new account schema (the first
// of several replicas starting together wins; the others open its header).
func (s *Store) unlock(ctx context.Context, protect []keystore.Option) (*keystore.Sealer, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, s.q.getHeader).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		sealer, created, err := s.createHeader(ctx, protect)
		if err != nil || created {
			return sealer, err
		}
		// Another replica created it first: open theirs.
		err = s.pool.QueryRow(ctx, s.q.getHeader).Scan(&raw)
		if err != nil {
			return nil, classify(ctx, err)
		}
	} else if err != nil {
		return nil, classify(ctx, err)
	}
	sealer, upgraded, err := keystore.OpenHeader(raw, protect...)
	if err != nil || upgraded == nil {
		return sealer, err
	}
	// A header of an older format: store its upgrade before anything is written in
	// the new layout (the first of several replicas does it).
	if _, err := s.pool.Exec(ctx, s.q.upgradeHeader, raw, upgraded); err != nil {
		sealer.Close()
		return nil, classify(ctx, err)
	}
	return sealer, nil
}

// createHeader stores a new header unless one exists; created is false
// (and the Sealer nil) when another replica's header was there first.
func (s *Store) createHeader(ctx context.Context, protect []keystore.Option) (*keystore.Sealer, bool, error) {
	header, sealer, err := keystore.CreateHeader(protect...)
	if err != nil {
		return nil, false, err
	}
	tag, err := s.pool.Exec(ctx, s.q.putHeader, header)
	if err != nil {
		sealer.Close()
		return nil, false, classify(ctx, err)
	}
	if tag.RowsAffected() != 1 {
		sealer.Close()
		return nil, false, nil
	}
	return sealer, true, nil
}

// Holder returns the name this process holds leases under.
func (s *Store) Holder() string { return s.holder }

// Takeovers counts the leases and outbox claims this process took over
// from a holder whose lease had expired.
func (s *Store) Takeovers() int64 { return s.takeovers.Load() }

// Update runs fn in one SERIALIZABLE transaction, committed before Update
// returns nil. A serialization failure runs fn again (up to a bound), so fn
// must keep its effects inside tx.
func (s *Store) Update(ctx context.Context, fn func(tx keystore.Tx) error) error {
	return s.UpdateRecords(ctx, func(r keystore.Records, sealer *keystore.Sealer) error {
		return keystore.RunSealedTx(ctx, r, sealer, true, fn)
	})
}

// View runs fn in one REPEATABLE READ, READ ONLY snapshot.
func (s *Store) View(ctx context.Context, fn func(tx keystore.Tx) error) error {
	return s.ViewRecords(ctx, func(r keystore.Records, sealer *keystore.Sealer) error {
		return keystore.RunSealedTx(ctx, r, sealer, false, fn)
	})
}

// ViewRecords runs fn over the raw records in one read-only snapshot (see
// keystore.SealedStore).
func (s *Store) ViewRecords(ctx context.Context, fn func(r keystore.Records, sealer *keystore.Sealer) error) error {
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(r *records, sealer *keystore.Sealer) error {
		return fn(r, sealer)
	})
}

// UpdateRecords runs fn over the raw records in one SERIALIZABLE
// transaction (see keystore.SealedStore).
func (s *Store) UpdateRecords(ctx context.Context, fn func(r keystore.Records, sealer *keystore.Sealer) error) error {
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(r *records, sealer *keystore.Sealer) error {
		return fn(r, sealer)
	})
}

// maxAttempts bounds the runs of a transaction that keeps losing
// serialization conflicts.
const maxAttempts = 20

// run runs fn in a transaction with opts, again after a serialization
// failure or deadlock.
func (s *Store) run(ctx context.Context, opts pgx.TxOptions, fn func(r *records, sealer *keystore.Sealer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return keystore.ErrClosed
	}
	var err error
	for attempt := range maxAttempts {
		if err = s.runOnce(ctx, opts, fn); !retryable(err) {
			return err
		}
		backoff(ctx, attempt)
	}
	return fmt.Errorf("pgstore: transaction kept conflicting with other replicas: %w", err)
}

func (s *Store) runOnce(ctx context.Context, opts pgx.TxOptions, fn func(r *records, sealer *keystore.Sealer) error) error {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return classify(ctx, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if opts.AccessMode != pgx.ReadOnly {
		if err := s.checkFences(ctx, tx); err != nil {
			return err
		}
	}
	var aborted error // the first failed statement's error (see records.failed)
	err = fn(&records{ctx: ctx, tx: tx, q: s.q, aborted: &aborted}, s.sealer)
	if aborted != nil {
		// The transaction ended at its first failed statement, whatever
		// fn made of that error: its outcome is that error (a
		// serialization failure runs it again).
		return aborted
	}
	if err != nil {
		return err // driver errors are classified where they arise
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(ctx, err)
	}
	return nil
}

// Close stops renewing this process's leases and claims (releasing them
// when the server answers), closes the pool and zeroes the store key.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.stopped
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.releaseAll(ctx)
	s.pool.Close()
	s.mu.Lock()
	s.sealer.Close()
	s.mu.Unlock()
	return nil
}

// retryable reports a serialization failure or deadlock: the transaction
// was rolled back and may simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// backoff waits a little (more after each attempt) before a retry.
func backoff(ctx context.Context, attempt int) {
	d := time.Duration(1<<min(attempt, 7)) * time.Millisecond
	var b [1]byte
	_, _ = rand.Read(b[:])
	d += time.Duration(b[0]) * d / 256
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// classify maps connection failures to ErrUnreachable and leaves every
// other error (the caller's, keystore's, PostgreSQL's) as it is.
func classify(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		if ctx.Err() != nil && err != nil && !errors.Is(err, ctx.Err()) {
			return fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 57: the server is shutting down, crashed or starting.
		if len(pe.Code) == 5 && pe.Code[:2] == "57" {
			return fmt.Errorf("%w: %s", ErrUnreachable, pe.Message)
		}
		return err
	}
	if isKeystoreError(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrUnreachable, redact(err))
}

func isKeystoreError(err error) bool {
	for _, e := range []error{keystore.ErrNotFound, keystore.ErrInvalid, keystore.ErrConflict, keystore.ErrCorrupt,
		keystore.ErrReadOnly, keystore.ErrClosed, keystore.ErrUnsupportedVersion, keystore.ErrWrongKey,
		keystore.ErrWrongPassphrase, keystore.ErrClaimed, keystore.ErrLeaseLost, ErrSchemaTooNew, ErrUnreachable} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// passwordInError matches a password a driver error might quote.
var passwordInError = regexp.MustCompile(`(?i)(password=|://[^:/@\s]*:)[^@\s]*`)

// redact removes anything that looks like a password from err's text.
func redact(err error) string {
	return passwordInError.ReplaceAllString(err.Error(), "${1}[REDACTED]")
}

func defaultHolder() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Schema returns the name of the PostgreSQL schema holding the account.
func (s *Store) Schema() string { return s.q.name }
