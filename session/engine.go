package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/keystore"
)

// TrustPolicy decides how the engine treats peer public keys it has not
// verified out of band. Its value is its name ("tofu" or "strict").
type TrustPolicy string

const (
	// TrustOnFirstUse pins a peer's keys the first time they are fetched and
	// keeps encrypting to a peer whose keys later change, after pinning the
	// new keys and reporting a loud KeyChanged event. It is the default.
	TrustOnFirstUse TrustPolicy = "tofu"
	// TrustStrict refuses to wrap a conversation key to any peer key that
	// has not been verified with Engine.Verify, and in particular to a key
	// that changed since it was verified.
	TrustStrict TrustPolicy = "strict"
)

// valid reports whether p is one of the defined policies.
func (p TrustPolicy) valid() bool { return p == TrustOnFirstUse || p == TrustStrict }

// strict reports whether p refuses unverified keys. It fails closed: only
// TrustOnFirstUse is lenient (Open refuses any other value, so this is
// defence in depth).
func (p TrustPolicy) strict() bool { return p != TrustOnFirstUse }

// KeyChangeKind classifies a KeyChanged report. Its value is its name
// ("rotated", "skipped", "backdated" or "implausible").
type KeyChangeKind string

// Kinds of KeyChanged reports. Peer key history only moves forward: the
// versions published when a peer is first looked up are pinned together;
// afterwards only versions above the pinned one are accepted, and every one
// of them is reported.
const (
	// KeyRotated: New is the peer's newest published key set, above the
	// pinned one. TrustOnFirstUse pins it; TrustStrict keeps it pending
	// until Verify.
	KeyRotated KeyChangeKind = "rotated"
	// KeySkipped: New was published between the pinned version and the
	// newest one, both first seen now. It is stored, so events it signed
	// may verify, but never pinned; it is reported because no pin ever
	// vouched for it.
	KeySkipped KeyChangeKind = "skipped"
	// KeyBackdated: New appeared below the pinned version after that was
	// pinned: a version history cannot grow into its past. It is refused:
	// not stored, never used to verify anything.
	KeyBackdated KeyChangeKind = "backdated"
	// KeyImplausible: New's version lies further in the future than any
	// clock allows (see maxVersionLead); pinning it would refuse every
	// later honest version as backdated. It is refused like KeyBackdated.
	KeyImplausible KeyChangeKind = "implausible"
)

// KeyChanged reports that a peer's published keys differ from the keys
// pinned for that peer. Old is nil the first time a peer's keys are seen
// (which is not reported as a change).
type KeyChanged struct {
	// UserID is the peer whose keys changed.
	UserID string
	// Kind says what the server published (see KeyChangeKind).
	Kind KeyChangeKind
	// Old is the previously pinned key set.
	Old *PeerKey
	// New is the key set the server now publishes.
	New *PeerKey
	// Pinned reports whether the engine pinned New (TrustOnFirstUse) or
	// kept Old pinned until Verify (TrustStrict). It is false for every
	// kind but KeyRotated.
	Pinned bool
}

// Engine is one XChat account: its keys, peers, conversations and the
// operations a client performs on them. Create the account once with
// CreateAccount (or ImportBackup), then Open it. An Engine is safe for
// concurrent use; every method that may perform I/O takes a context.
//
// The engine treats the server as untrusted: every peer key is checked for
// its binding signature and pinned, every received event is verified against
// pinned keys, conversation key versions only move forward, and transcripts
// are checked for gaps and forks.
type Engine struct {
	store  keystore.Store
	server Server
	cfg    config
	rand   io.Reader

	mu         sync.RWMutex // guards keys, pubVersion, closed
	userID     string
	keys       *crypto.KeyPair
	pubVersion string
	closed     bool

	convMu    sync.Mutex
	convLocks map[string]chan struct{} // one-slot semaphores (lockConv)

	peerMu sync.Mutex // serialises peer pinning decisions

	notifyMu sync.Mutex      // guards pending and refused
	pending  []KeyChanged    // key changes not yet delivered to the handler
	refused  map[string]bool // refused peer key versions already handed to the handler

	live liveState // real-time deliveries (deliver.go)

	// bindings remembers the key-binding signatures that verified (see
	// crypto.VerifyKeyBindingMemo): a peer's keys are listed again at
	// every sync and rotation, unchanged.
	bindings *crypto.VerifyMemo

	// recipients caches the key recipients of each conversation's meta
	// (see keyStaleIn).
	recipients recipientsCache
}

// Open loads the account held by store and returns its engine. It fails with
// xchat.ErrNoAccount when the store holds no identity (see CreateAccount).
// server may be nil for offline use (History, Conversations, backups);
// network operations then fail with xchat.ErrOffline.
func Open(ctx context.Context, store keystore.Store, server Server, opts ...Option) (*Engine, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: nil store", xchat.ErrInvalidArgument)
	}
	cfg := config{
		rand:            rand.Reader,
		now:             time.Now,
		policy:          TrustOnFirstUse,
		workers:         runtime.GOMAXPROCS(0),
		pageSize:        100,
		maxSyncBytes:    defaultMaxSyncBytes,
		maxFailedEvents: defaultMaxFailedEvents, maxFailedBytes: defaultMaxFailedBytes,
		maxListed: defaultMaxListed,
	}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", xchat.ErrInvalidArgument)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	id, err := store.Identity(ctx)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, xchat.ErrNoAccount
	}
	if err != nil {
		return nil, fmt.Errorf("session: loading identity: %w", err)
	}
	kp, err := crypto.ParseBackup(id.Backup)
	if err != nil {
		return nil, fmt.Errorf("session: stored identity: %w", err)
	}
	r := cfg.rand
	if r != rand.Reader {
		r = &lockedReader{r: r}
	}
	return &Engine{
		store:      store,
		server:     server,
		cfg:        cfg,
		rand:       r,
		userID:     id.UserID,
		keys:       kp,
		pubVersion: id.PublicKeyVersion,
		convLocks:  make(map[string]chan struct{}),
		bindings:   crypto.NewVerifyMemo(bindingMemoEntries),
	}, nil
}

// bindingMemoEntries bounds the key bindings an engine remembers having
// verified (about 100 bytes each): every peer of a large account.
const bindingMemoEntries = 8192

// UserID returns the account's user id.
func (e *Engine) UserID() string { return e.userID }

// Store returns the keystore the engine was opened with.
func (e *Engine) Store() keystore.Store { return e.store }

// Close zeroes the private keys held in memory. The store and server are
// owned by the caller and are not closed. Calls after Close fail with
// xchat.ErrClosed; Close must not run concurrently with other calls.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	if e.keys != nil {
		e.keys.Zero()
		e.keys = nil
	}
	return nil
}

// identity returns the key pair and registered version, or xchat.ErrClosed.
func (e *Engine) identity() (*crypto.KeyPair, string, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, "", xchat.ErrClosed
	}
	return e.keys, e.pubVersion, nil
}

// registered returns the key pair and the registered public key version, or
// xchat.ErrNotRegistered when the keys have not been published yet.
func (e *Engine) registered() (*crypto.KeyPair, string, error) {
	kp, v, err := e.identity()
	if err != nil {
		return nil, "", err
	}
	if v == "" {
		return nil, "", xchat.ErrNotRegistered
	}
	return kp, v, nil
}

func (e *Engine) srv() (Server, error) {
	if e.server == nil {
		return nil, xchat.ErrOffline
	}
	return e.server, nil
}

// lockConv serialises key changes, sends and syncs of one conversation,
// within this engine and, through the store's lease (see lockShared),
// across every replica sharing the store. Waiting ends with an error when
// ctx does. Work done under the lock uses locked: with a store that fences
// its leases (keystore.FencedLeaser), its writes under locked fail with
// keystore.ErrLeaseLost once this engine has lost the lease to another
// replica (it stalled past the lease's lifetime), instead of storing what
// it prepared before the other replica took over.
func (e *Engine) lockConv(ctx context.Context, id string) (locked context.Context, unlock func(), err error) {
	e.convMu.Lock()
	l, ok := e.convLocks[id]
	if !ok {
		l = make(chan struct{}, 1)
		e.convLocks[id] = l
	}
	e.convMu.Unlock()
	select {
	case l <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("session: waiting for conversation %s: %w", id, context.Cause(ctx))
	}
	locked, release, err := e.lockShared(ctx, id)
	if err != nil {
		<-l
		return nil, nil, err
	}
	return locked, func() {
		release()
		<-l
	}, nil
}

func (e *Engine) now() time.Time { return e.cfg.now() }

// lockedReader serialises reads from a caller-supplied randomness source.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

// Read reads from the wrapped reader under the lock.
func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}
