package pgstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
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
	if err := keystore.CheckID("lease name", name); err != nil {
		return nil, false, err
	}
	var token int64
	got, takeover := false, false
	err := s.run(ctx, pgx.TxOptions{}, func(r *records, _ *keystore.Sealer) error {
		tx := r.tx
		got, takeover = false, false
		// The row is locked first, so a holder releasing it at the same
		// time (deleting the row) is waited for and never counted as a
		// takeover: only a row whose expiry passed is taken over.
		var holder string
		var expired bool
		err := tx.QueryRow(ctx, s.q.leaseLock, name).Scan(&holder, &expired)
		query := s.q.leaseTake
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			query = s.q.leaseInsert
		case err != nil:
			return classify(ctx, err)
		case !expired:
			return nil
		default:
			takeover = holder != s.holder
		}
		err = tx.QueryRow(ctx, query, name, s.holder, s.ttl.Seconds()).Scan(&token)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // inserted by another holder since the lock found none
		}
		got = err == nil
		return classify(ctx, err)
	})
	if err != nil || !got {
		return nil, false, err
	}
	if takeover {
		s.takeovers.Add(1)
	}
	s.held.addLease(name, token)
	var once sync.Once
	return func() { once.Do(func() { s.releaseLease(name, token) }) }, true, nil
}

// AcquireLease waits until TryLease succeeds (polling, with back-off) or
// ctx ends.
func (s *Store) AcquireLease(ctx context.Context, name string) (func(), error) {
	wait := 2 * time.Millisecond
	for {
		release, ok, err := s.TryLease(ctx, name)
		if err != nil || ok {
			return release, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
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
	return s.run(ctx, pgx.TxOptions{}, func(r *records, _ *keystore.Sealer) error {
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
