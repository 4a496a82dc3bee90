package keystore

import (
	"context"
	"errors"
	"sync"
)

// Several processes can serve one account when they share a store that
// coordinates them (keystore/pgstore). The optional interfaces below are how
// the engine asks for that coordination; Memory and boltstore.DB implement them
// within the one process that can open them.

// ErrClaimed reports an outbox item another holder is delivering.
var ErrClaimed = errors.New("keystore: outbox item is claimed by another holder")

// ErrLeaseLost reports a write refused because the lease it was made under
// (see FencedLeaser) has passed to another holder: its holder stalled for
// longer than the lease lasts without renewal, and another replica took
// the work over. Nothing of the refused write was stored.
var ErrLeaseLost = errors.New("keystore: lease lost to another holder")

// Leaser grants named leases: at most one holder has a given name at a
// time, across every process sharing the store. A lease lasts until it is
// released or, in a shared store, until its holder stops renewing it (the
// process died): then the next holder takes it over.
type Leaser interface {
	// AcquireLease waits until this caller holds the lease called name and
	// returns its release function (which is idempotent). Leases are not
	// reentrant: a second acquisition of a held name waits for the first's
	// release, even in the same process.
	AcquireLease(ctx context.Context, name string) (release func(), err error)
	// TryLease takes the lease only when it is free: ok is false (and
	// release nil) while another holder has it.
	TryLease(ctx context.Context, name string) (release func(), ok bool, err error)
}

// FencedLeaser is a Leaser whose leases fence the writes made under them:
// a holder that stalled past its lease (a GC pause, a frozen VM, a
// partition from the database) and lost it to another holder cannot store
// anything afterwards on the strength of the work it did while it held it.
// A store only one process can open has no need of it (its leases never
// lapse) and does not implement it.
type FencedLeaser interface {
	Leaser
	// AcquireFencedLease is AcquireLease that also returns fenced: ctx
	// carrying the lease. Every write of this store made under fenced (or
	// a context derived from it) commits only while this acquisition
	// still holds the lease, checked inside the write's own transaction
	// (a takeover waits for that transaction to end); once another holder
	// has taken the lease over, the write fails with ErrLeaseLost and
	// stores nothing. Writes made under fenced after release fail the
	// same way. Reads are not fenced.
	AcquireFencedLease(ctx context.Context, name string) (fenced context.Context, release func(), err error)
	// TryFencedLease is TryLease that also returns fenced (as
	// AcquireFencedLease does) when it takes the lease.
	TryFencedLease(ctx context.Context, name string) (fenced context.Context, release func(), ok bool, err error)
	// CheckLeases fails with ErrLeaseLost when a lease fenced carries (see
	// AcquireFencedLease) is no longer held by the acquisition that put
	// it there; nil when it carries none of this store's. It is for
	// checks before effects the store cannot fence (a post to a server).
	CheckLeases(fenced context.Context) error
}

// OutboxClaimer hands each outbox item to one deliverer at a time, so two
// processes never send the same item. A claim lasts until ReleaseOutbox,
// until the item is acknowledged, or, in a shared store, until its holder
// stops renewing it.
type OutboxClaimer interface {
	// QueueOutbox stores item (as PutOutbox) and claims it for this caller,
	// in one transaction. It fails with ErrClaimed when another holder
	// has a live claim on the same message id.
	QueueOutbox(ctx context.Context, item OutboxItem) error
	// ClaimOutbox claims every pending item of conversationID (every
	// conversation when "") that is not claimed, oldest first (as Outbox
	// orders them). busy counts the items skipped because someone holds
	// them.
	ClaimOutbox(ctx context.Context, conversationID string) (items []OutboxItem, busy int, err error)
	// ReleaseOutbox ends this caller's claim on the item, which stays
	// queued for the next ClaimOutbox. Releasing an item not claimed (or
	// already acknowledged) is not an error.
	ReleaseOutbox(ctx context.Context, messageID string) error
}

// Compile-time checks.
var (
	_ Leaser        = (*Memory)(nil)
	_ OutboxClaimer = (*Memory)(nil)
	_ Leaser        = (*InProcess)(nil)
	_ OutboxClaimer = (*InProcess)(nil)
)

// InProcess implements Leaser and OutboxClaimer with in-memory locks, for
// a store only one process can open (Memory; a bbolt file): leases and
// claims then only have to exclude the process's own goroutines.
type InProcess struct {
	store Store
	l     localLeases
}

// NewInProcess returns the in-process coordination of s (whose PutOutbox
// and Outbox the claims use).
func NewInProcess(s Store) *InProcess { return &InProcess{store: s} }

// AcquireLease implements Leaser.
func (p *InProcess) AcquireLease(ctx context.Context, name string) (func(), error) {
	return p.l.acquire(ctx, name)
}

// TryLease implements Leaser.
func (p *InProcess) TryLease(ctx context.Context, name string) (func(), bool, error) {
	return p.l.try(ctx, name)
}

// QueueOutbox implements OutboxClaimer.
func (p *InProcess) QueueOutbox(ctx context.Context, item OutboxItem) error {
	return p.l.queue(ctx, item, p.store.PutOutbox)
}

// ClaimOutbox implements OutboxClaimer.
func (p *InProcess) ClaimOutbox(ctx context.Context, conversationID string) ([]OutboxItem, int, error) {
	return p.l.claim(ctx, conversationID, p.store.Outbox)
}

// ReleaseOutbox implements OutboxClaimer.
func (p *InProcess) ReleaseOutbox(_ context.Context, messageID string) error {
	return p.l.release(messageID)
}

// localLeases are the leases and outbox claims of a store only one process
// can open: plain in-memory locks.
type localLeases struct {
	mu     sync.Mutex
	held   map[string]chan struct{} // lease name -> closed on release
	claims map[string]bool          // claimed outbox message ids
}

func (l *localLeases) tryLease(name string) (release func(), wait <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.held[name]; ok {
		return nil, ch
	}
	if l.held == nil {
		l.held = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	l.held[name] = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.held, name)
			l.mu.Unlock()
			close(ch)
		})
	}, nil
}

func (l *localLeases) acquire(ctx context.Context, name string) (func(), error) {
	if err := checkID("lease name", name); err != nil {
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		release, wait := l.tryLease(name)
		if release != nil {
			return release, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wait:
		}
	}
}

func (l *localLeases) try(ctx context.Context, name string) (func(), bool, error) {
	if err := checkID("lease name", name); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	release, _ := l.tryLease(name)
	return release, release != nil, nil
}

// queue stores item with put and claims it, unless it is claimed already.
func (l *localLeases) queue(ctx context.Context, item OutboxItem, put func(context.Context, OutboxItem) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := put(ctx, item); err != nil {
		return err
	}
	if l.claims == nil {
		l.claims = map[string]bool{}
	}
	l.claims[item.MessageID] = true
	return nil
}

// claim claims the unclaimed items list returns for conversationID.
func (l *localLeases) claim(ctx context.Context, conversationID string, list func(context.Context) ([]OutboxItem, error)) ([]OutboxItem, int, error) {
	if conversationID != "" {
		if err := checkID("conversation id", conversationID); err != nil {
			return nil, 0, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	all, err := list(ctx)
	if err != nil {
		return nil, 0, err
	}
	if l.claims == nil {
		l.claims = map[string]bool{}
	}
	out, busy := []OutboxItem{}, 0
	for _, it := range all {
		switch {
		case conversationID != "" && it.ConversationID != conversationID:
			it.Body.Zero()
		case l.claims[it.MessageID]:
			it.Body.Zero()
			busy++
		default:
			l.claims[it.MessageID] = true
			out = append(out, it)
		}
	}
	return out, busy, nil
}

func (l *localLeases) release(messageID string) error {
	if err := checkID("message id", messageID); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.claims, messageID)
	return nil
}

// AcquireLease implements Leaser within this process.
func (m *Memory) AcquireLease(ctx context.Context, name string) (func(), error) {
	return m.leases.acquire(ctx, name)
}

// TryLease implements Leaser within this process.
func (m *Memory) TryLease(ctx context.Context, name string) (func(), bool, error) {
	return m.leases.try(ctx, name)
}

// QueueOutbox implements OutboxClaimer within this process.
func (m *Memory) QueueOutbox(ctx context.Context, item OutboxItem) error {
	return m.leases.queue(ctx, item, m.PutOutbox)
}

// ClaimOutbox implements OutboxClaimer within this process.
func (m *Memory) ClaimOutbox(ctx context.Context, conversationID string) ([]OutboxItem, int, error) {
	return m.leases.claim(ctx, conversationID, m.Outbox)
}

// ReleaseOutbox implements OutboxClaimer within this process.
func (m *Memory) ReleaseOutbox(_ context.Context, messageID string) error {
	return m.leases.release(messageID)
}
