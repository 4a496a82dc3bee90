package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xchat-go/xchat/keystore"
)

// Compile-time checks.
var (
	_ keystore.Store         = (*Store)(nil)
	_ keystore.SealedStore   = (*Store)(nil)
	_ keystore.Leaser        = (*Store)(nil)
	_ keystore.FencedLeaser  = (*Store)(nil)
	_ keystore.OutboxClaimer = (*Store)(nil)
)

// heldSet is what this process holds and renews: leases (name -> token)
// and outbox claims (message ids).
type heldSet struct {
	mu     sync.Mutex
	leases map[string]int64
	claims map[string]bool
}

func (h *heldSet) addLease(name string, token int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.leases == nil {
		h.leases = map[string]int64{}
	}
	h.leases[name] = token
}

func (h *heldSet) dropLease(name string, token int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.leases[name] != token {
		return false
	}
	delete(h.leases, name)
	return true
}

func (h *heldSet) addClaims(mids ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.claims == nil {
		h.claims = map[string]bool{}
	}
	for _, m := range mids {
		h.claims[m] = true
	}
}

func (h *heldSet) dropClaim(mid string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.claims, mid)
}

func (h *heldSet) snapshot() (leases []string, claims [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	leases = slices.Sorted(maps.Keys(h.leases))
	for m := range h.claims {
		claims = append(claims, []byte(m))
	}
	return leases, claims
}

// outboxBucket is the records bucket of the outbox rows.
var outboxBucket = mustBucket(keystore.OutboxBucket())

func mustBucket(p [][]byte) []byte {
	b, err := bucketKey(p)
	if err != nil {
		panic(err)
	}
	return b
}

// TryLease takes the lease called name when it is free or its holder let it
// expire (a takeover, counted by Takeovers).
func (s *Store) TryLease(ctx context.Context, name string) (func(), bool, error) {
	release, _, ok, err := s.tryLease(ctx, name)
	return release, ok, err
}

// tryLease is TryLease, also returning the token of the acquisition.
func (s *Store) tryLease(ctx context.Context, name string) (func(), int64, bool, error) {
	if err := keystore.CheckID("lease name", name); err != nil {
		return nil, 0, false, err
	}
	fresh, err := newToken()
	if err != nil {
		return nil, 0, false, err
	}
	var token int64
	got, takeover := false, false
	// Taking a lease is coordination, not a write under the leases ctx
	// may carry: it is not fenced.
	err = s.run(unfenced(ctx), pgx.TxOptions{}, func(r *records, _ *keystore.Sealer) error {
		tx := r.tx
		got, takeover = false, false
		// The row is locked first, so a holder releasing it at the same
		// time (deleting the row) is waited for and never counted as a
		// takeover: only a row whose expiry passed is taken over.
		var holder string
		var expired bool
		err := tx.QueryRow(ctx, s.q.leaseLock, name).Scan(&holder, &expired)
		query, args := s.q.leaseTake, []any{name, s.holder, s.ttl.Seconds()}
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			query, args = s.q.leaseInsert, append(args, fresh)
		case err != nil:
			return classify(ctx, err)
		case !expired:
			return nil
		default:
			takeover = holder != s.holder
		}
		err = tx.QueryRow(ctx, query, args...).Scan(&token)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // inserted by another holder since the lock found none
		}
		got = err == nil
		return classify(ctx, err)
	})
	if err != nil || !got {
		return nil, 0, false, err
	}
	if takeover {
		s.takeovers.Add(1)
	}
	s.held.addLease(name, token)
	var once sync.Once
	return func() { once.Do(func() { s.releaseLease(name, token) }) }, token, true, nil
}

// newToken draws the token of a new lease row: random, so an acquisition
// never shares its token with an earlier one of the same name (whose row
// was released and deleted) and a fence (see AcquireFencedLease) never
// mistakes one for the other. A takeover adds one to the row's token.
func newToken() (int64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("pgstore: drawing a lease token: %w", err)
	}
	return int64(binary.BigEndian.Uint64(b[:]) >> 2), nil // room for takeovers' increments
}

// AcquireLease waits until TryLease succeeds (polling, with back-off) or
// ctx ends.
func (s *Store) AcquireLease(ctx context.Context, name string) (func(), error) {
	release, _, err := s.acquireLease(ctx, name)
	return release, err
}

// acquireLease is AcquireLease, also returning the token of the
// acquisition.
func (s *Store) acquireLease(ctx context.Context, name string) (func(), int64, error) {
	wait := 2 * time.Millisecond
	for {
		release, token, ok, err := s.tryLease(ctx, name)
		if err != nil || ok {
			return release, token, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, 0, ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
}

// releaseLease deletes the lease row; when the server cannot be reached
// the lease simply expires, since it is no longer renewed.
func (s *Store) releaseLease(name string, token int64) {
	if !s.held.dropLease(name, token) {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return // Close releases what is held
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.ttl)
	defer cancel()
	_, _ = s.pool.Exec(ctx, s.q.leaseRelease, name, s.holder, token)
}

// QueueOutbox stores item and claims it for this process, in one
// transaction; ErrClaimed when another holder's claim on it is live.
func (s *Store) QueueOutbox(ctx context.Context, item keystore.OutboxItem) error {
	takeover := false
	err := s.run(ctx, pgx.TxOptions{}, func(r *records, sealer *keystore.Sealer) error {
		tx := r.tx
		takeover = false
		var holder *string
		var live bool
		err := tx.QueryRow(ctx, s.q.claimQueue, outboxBucket, []byte(item.MessageID)).Scan(&holder, &live)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return classify(ctx, err)
		case live && *holder != s.holder:
			return fmt.Errorf("%w: %s", keystore.ErrClaimed, item.MessageID)
		case holder != nil && *holder != s.holder:
			takeover = true
		}
		if err := keystore.NewSealedTx(ctx, r, sealer, true).PutOutbox(ctx, item); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, s.q.claimSet, outboxBucket, [][]byte{[]byte(item.MessageID)}, s.holder, s.ttl.Seconds())
		return classify(ctx, err)
	})
	if err != nil {
		return err
	}
	if takeover {
		s.takeovers.Add(1)
	}
	s.held.addClaims(item.MessageID)
	return nil
}

// ClaimOutbox claims the unclaimed (or expired) items of conversationID
// ("" for all), oldest first. Rows another replica is claiming at the same
// moment are skipped (FOR UPDATE SKIP LOCKED) and counted as busy.
func (s *Store) ClaimOutbox(ctx context.Context, conversationID string) ([]keystore.OutboxItem, int, error) {
	if conversationID != "" {
		if err := keystore.CheckID("conversation id", conversationID); err != nil {
			return nil, 0, err
		}
	}
	var out []keystore.OutboxItem
	var busy, takeovers int
	err := s.run(ctx, pgx.TxOptions{}, func(r *records, sealer *keystore.Sealer) error {
		tx := r.tx
		out, busy, takeovers = nil, 0, 0
		all, err := keystore.NewSealedTx(ctx, r, sealer, false).Outbox(ctx)
		if err != nil {
			return err
		}
		byID := map[string]keystore.OutboxItem{}
		var mids [][]byte
		for _, it := range all {
			if conversationID == "" || it.ConversationID == conversationID {
				byID[it.MessageID] = it
				mids = append(mids, []byte(it.MessageID))
			} else {
				it.Body.Zero()
			}
		}
		claimable, skippedBusy, taken, err := s.lockClaimable(ctx, tx, mids)
		if err != nil {
			return classify(ctx, err)
		}
		busy, takeovers = skippedBusy, taken
		if len(claimable) > 0 {
			if _, err := tx.Exec(ctx, s.q.claimSet, outboxBucket, claimable, s.holder, s.ttl.Seconds()); err != nil {
				return classify(ctx, err)
			}
		}
		got := map[string]bool{}
		for _, m := range claimable {
			got[string(m)] = true
		}
		for _, it := range all {
			if got[it.MessageID] {
				out = append(out, byID[it.MessageID])
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	s.takeovers.Add(int64(takeovers))
	ids := make([]string, len(out))
	for i, it := range out {
		ids[i] = it.MessageID
	}
	s.held.addClaims(ids...)
	if out == nil {
		out = []keystore.OutboxItem{}
	}
	return out, busy, nil
}

// lockClaimable row-locks the outbox rows of mids no one else is locking
// and returns those without a live claim; busy counts the others.
func (s *Store) lockClaimable(ctx context.Context, tx pgx.Tx, mids [][]byte) (claimable [][]byte, busy, takeovers int, err error) {
	if len(mids) == 0 {
		return nil, 0, 0, nil
	}
	rows, err := tx.Query(ctx, s.q.claimLock, outboxBucket, mids)
	if err != nil {
		return nil, 0, 0, err
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var k []byte
		var holder *string
		var live bool
		if err := rows.Scan(&k, &holder, &live); err != nil {
			return nil, 0, 0, err
		}
		seen++
		switch {
		case live:
			busy++
		default:
			if holder != nil && *holder != s.holder {
				takeovers++
			}
			claimable = append(claimable, k)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, err
	}
	return claimable, busy + len(mids) - seen, takeovers, nil
}

// ReleaseOutbox ends this process's claim on the item.
func (s *Store) ReleaseOutbox(ctx context.Context, messageID string) error {
	if err := keystore.CheckID("message id", messageID); err != nil {
		return err
	}
	s.held.dropClaim(messageID)
	// Giving a claim back is never fenced: it only ends this process's
	// own claim.
	return s.run(unfenced(ctx), pgx.TxOptions{}, func(r *records, _ *keystore.Sealer) error {
		tx := r.tx
		_, err := tx.Exec(ctx, s.q.claimRelease, outboxBucket, []byte(messageID), s.holder)
		return classify(ctx, err)
	})
}

// keepalive renews what this process holds every third of the lease TTL
// until Close. A renewal that fails (the server is down) is tried again at
// the next tick; a holder that stays away longer than the TTL loses its
// leases to the other replicas.
func (s *Store) keepalive() {
	defer close(s.stopped)
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.renew()
		}
	}
}

func (s *Store) renew() {
	leases, claims := s.held.snapshot()
	if len(leases) == 0 && len(claims) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.ttl/3)
	defer cancel()
	if len(leases) > 0 {
		_, _ = s.pool.Exec(ctx, s.q.leaseRenew, s.holder, leases, s.ttl.Seconds())
	}
	if len(claims) > 0 {
		_, _ = s.pool.Exec(ctx, s.q.claimRenew, outboxBucket, s.holder, claims, s.ttl.Seconds())
	}
}

// releaseAll gives back every lease and claim this process holds (Close).
func (s *Store) releaseAll(ctx context.Context) {
	leases, claims := s.held.snapshot()
	for _, name := range leases {
		_, _ = s.pool.Exec(ctx, `DELETE FROM `+s.q.schema+`.leases WHERE name = $1 AND holder = $2`, name, s.holder)
	}
	for _, m := range claims {
		_, _ = s.pool.Exec(ctx, s.q.claimRelease, outboxBucket, m, s.holder)
	}
}

// fence is one lease acquisition a context carries (AcquireFencedLease).
type fence struct {
	store *Store
	name  string
	token int64
}

// fenceKey is the context key of the fences a context carries.
type fenceKey struct{}

// fencesOf returns the fences of s that ctx carries, ordered by name (so
// concurrent writes lock lease rows in one order).
func (s *Store) fencesOf(ctx context.Context) []fence {
	all, _ := ctx.Value(fenceKey{}).([]fence)
	var out []fence
	for _, f := range all {
		if f.store == s {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b fence) int { return strings.Compare(a.name, b.name) })
	return out
}

// unfenced returns ctx without the fences it carries.
func unfenced(ctx context.Context) context.Context {
	if ctx.Value(fenceKey{}) == nil {
		return ctx
	}
	return context.WithValue(ctx, fenceKey{}, []fence(nil))
}

// AcquireFencedLease implements keystore.FencedLeaser: AcquireLease, and
// a context under which this store's writes commit only while this
// acquisition still holds the lease (see checkFences).
func (s *Store) AcquireFencedLease(ctx context.Context, name string) (context.Context, func(), error) {
	release, token, err := s.acquireLease(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	return s.withFence(ctx, name, token), release, nil
}

// TryFencedLease implements keystore.FencedLeaser: TryLease, and the
// context AcquireFencedLease would return when it takes the lease.
func (s *Store) TryFencedLease(ctx context.Context, name string) (context.Context, func(), bool, error) {
	release, token, ok, err := s.tryLease(ctx, name)
	if err != nil || !ok {
		return nil, nil, false, err
	}
	return s.withFence(ctx, name, token), release, true, nil
}

// withFence returns ctx carrying, besides its fences, the acquisition
// token of lease name.
func (s *Store) withFence(ctx context.Context, name string, token int64) context.Context {
	all, _ := ctx.Value(fenceKey{}).([]fence)
	fenced := append(slices.Clip(all), fence{store: s, name: name, token: token})
	return context.WithValue(ctx, fenceKey{}, fenced)
}

// CheckLeases implements keystore.FencedLeaser.
func (s *Store) CheckLeases(ctx context.Context) error {
	if len(s.fencesOf(ctx)) == 0 {
		return nil
	}
	// A read-write transaction that writes nothing: runOnce checks the
	// fences (FOR SHARE is refused in a read-only one).
	return s.run(ctx, pgx.TxOptions{}, func(*records, *keystore.Sealer) error { return nil })
}

// checkFences fails with keystore.ErrLeaseLost unless every lease of s
// that ctx carries is still held by the acquisition that put it there.
// It share-locks the lease rows until tx ends: a replica taking one over
// (leaseLock) waits for tx to commit, so it sees what tx wrote, and tx
// never commits after it took over. A lease whose expiry passed but that
// no one took over is still held: no one else can have worked under it.
func (s *Store) checkFences(ctx context.Context, tx pgx.Tx) error {
	for _, f := range s.fencesOf(ctx) {
		var holder string
		var token int64
		err := tx.QueryRow(ctx, s.q.leaseFence, f.name).Scan(&holder, &token)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("pgstore: lease %s was released: %w", f.name, keystore.ErrLeaseLost)
		case err != nil:
			return classify(ctx, err)
		case holder != s.holder || token != f.token:
			return fmt.Errorf("pgstore: lease %s is now held by %s: %w", f.name, holder, keystore.ErrLeaseLost)
		}
	}
	return nil
}
