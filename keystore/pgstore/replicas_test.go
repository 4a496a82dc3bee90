package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xchat-go/xchat/internal/pgtest"
	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/keystore/pgstore"
)

// replicaPair opens two stores (two holders, as two processes would) on
// one account schema.
func replicaPair(t *testing.T, ttl time.Duration) (*pgstore.Store, *pgstore.Store) {
	t.Helper()
	a := openStore(t, pgstore.WithLeaseTTL(ttl), pgstore.WithHolder("replica-a"))
	b, err := pgstore.Open(context.Background(), testDB(t), pgstore.Keystore(keystore.WithKey(testKey)),
		pgstore.WithSchema(schemaOf(t, a)), pgstore.WithLeaseTTL(ttl), pgstore.WithHolder("replica-b"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return a, b
}

// schemaOf finds the schema of a store opened by openStore.
func schemaOf(t *testing.T, s *pgstore.Store) string {
	t.Helper()
	return s.Schema()
}

func TestLeaseAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	a, b := replicaPair(t, time.Minute)
	rel, ok, err := a.TryLease(ctx, "conv/1")
	if err != nil || !ok {
		t.Fatalf("a.TryLease: %v %v", ok, err)
	}
	if _, ok, err := b.TryLease(ctx, "conv/1"); err != nil || ok {
		t.Fatalf("b took a's live lease: %v %v", ok, err)
	}
	got := make(chan error, 1)
	go func() {
		r, err := b.AcquireLease(ctx, "conv/1")
		if err == nil {
			r()
		}
		got <- err
	}()
	rel()
	if err := <-got; err != nil {
		t.Fatalf("b.AcquireLease after a released: %v", err)
	}
	if a.Takeovers()+b.Takeovers() != 0 {
		t.Fatalf("a release handed over counted as takeover")
	}
}

func TestLeaseTakeoverAfterExpiry(t *testing.T) {
	ctx := context.Background()
	a, b := replicaPair(t, time.Minute)
	if _, ok, err := a.TryLease(ctx, "conv/1"); err != nil || !ok {
		t.Fatalf("a.TryLease: %v %v", ok, err)
	}
	// a dies: it stops renewing without releasing.
	mustNil(t, a.Close())
	// Close releases held leases; simulate a crash instead with a fresh
	// lease written by a holder that never renews.
	mustExec(t, b, `INSERT INTO `+b.Schema()+`.leases (name, holder, token, expires) VALUES ('conv/2', 'dead', 1, now() + interval '1 hour')`)
	if _, ok := testutil.Must2(b.TryLease(ctx, "conv/2"))(t); ok {
		t.Fatal("b took a live lease of a dead holder before it expired")
	}
	// Its expiry passes (by the database's clock, which decides).
	mustExec(t, b, `UPDATE `+b.Schema()+`.leases SET expires = now() - interval '1 second' WHERE name = 'conv/2'`)
	rel, ok, err := b.TryLease(ctx, "conv/2")
	if err != nil || !ok {
		t.Fatalf("b did not take over the expired lease: %v %v", ok, err)
	}
	rel()
	if b.Takeovers() != 1 {
		t.Fatalf("takeovers = %d, want 1", b.Takeovers())
	}
	// a's lease was released by Close: b gets it without a takeover.
	rel, ok, err = b.TryLease(ctx, "conv/1")
	if err != nil || !ok {
		t.Fatalf("lease released by Close: %v %v", ok, err)
	}
	rel()
	if b.Takeovers() != 1 {
		t.Fatalf("a released lease counted as takeover")
	}
}

func TestOutboxClaimsAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	a, b := replicaPair(t, time.Minute)
	for i, mid := range []string{"m1", "m2", "m3"} {
		mustNil(t, a.PutOutbox(ctx, keystore.OutboxItem{MessageID: mid, ConversationID: "c", Body: []byte("x"),
			CreatedAt: time.Unix(int64(i), 0)}))
	}
	ia, _, err := a.ClaimOutbox(ctx, "c")
	mustNil(t, err)
	ib, busy, err := b.ClaimOutbox(ctx, "c")
	mustNil(t, err)
	if len(ia) != 3 || len(ib) != 0 || busy != 3 {
		t.Fatalf("a claimed %d, b claimed %d (busy %d): want 3, 0, 3", len(ia), len(ib), busy)
	}
	if err := b.QueueOutbox(ctx, ia[0]); !errors.Is(err, keystore.ErrClaimed) {
		t.Fatalf("b re-queued a's claimed item: %v", err)
	}
	mustNil(t, a.ReleaseOutbox(ctx, "m2"))
	ib, _, err = b.ClaimOutbox(ctx, "")
	mustNil(t, err)
	if len(ib) != 1 || ib[0].MessageID != "m2" {
		t.Fatalf("after release b claimed %+v", ib)
	}
	// Concurrent claimers never share an item.
	mustNil(t, a.ReleaseOutbox(ctx, "m1"))
	mustNil(t, a.ReleaseOutbox(ctx, "m3"))
	for i := range 20 {
		mustNil(t, a.PutOutbox(ctx, keystore.OutboxItem{MessageID: "n" + string(rune('a'+i)), ConversationID: "d", CreatedAt: time.Unix(int64(i), 0)}))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for _, s := range []*pgstore.Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items, _, err := s.ClaimOutbox(ctx, "d")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, it := range items {
				seen[it.MessageID]++
			}
		}()
	}
	wg.Wait()
	if len(seen) != 20 {
		t.Fatalf("%d of 20 items claimed", len(seen))
	}
	for mid, n := range seen {
		if n != 1 {
			t.Fatalf("%s claimed %d times", mid, n)
		}
	}
}

func TestOutboxClaimTakeover(t *testing.T) {
	ctx := context.Background()
	a, b := replicaPair(t, time.Minute)
	mustNil(t, a.PutOutbox(ctx, keystore.OutboxItem{MessageID: "m1", ConversationID: "c"}))
	mustExec(t, a, `UPDATE `+a.Schema()+`.records SET holder = 'dead', held_until = now() - interval '1 second' WHERE k = 'm1'`)
	items, busy, err := b.ClaimOutbox(ctx, "c")
	mustNil(t, err)
	if len(items) != 1 || busy != 0 || b.Takeovers() != 1 {
		t.Fatalf("claim of an expired claim: %d items, busy %d, takeovers %d", len(items), busy, b.Takeovers())
	}
}

func TestHeaderCreatedOnce(t *testing.T) {
	ctx := context.Background()
	dsn := testDB(t)
	const n = 4
	stores := make([]*pgstore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = pgstore.Open(ctx, dsn, pgstore.Keystore(keystore.WithKey(testKey)), pgstore.WithSchema("together"))
		}()
	}
	wg.Wait()
	for i := range n {
		mustNil(t, errs[i])
		defer stores[i].Close()
	}
	mustNil(t, stores[0].SetValue(ctx, "x", []byte("from 0")))
	for i := 1; i < n; i++ {
		v, err := stores[i].Value(ctx, "x")
		if err != nil || string(v) != "from 0" {
			t.Fatalf("replica %d reads %q, %v", i, v, err)
		}
	}
	wrong := [32]byte{1}
	if _, err := pgstore.Open(ctx, dsn, pgstore.Keystore(keystore.WithKey(wrong)), pgstore.WithSchema("together")); !errors.Is(err, keystore.ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestSchemaNewerThanCode(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	mustExec(t, s, `INSERT INTO `+s.Schema()+`.schema_version (version) VALUES (99)`)
	_, err := pgstore.Open(ctx, testDB(t), pgstore.Keystore(keystore.WithKey(testKey)), pgstore.WithSchema(s.Schema()))
	if !errors.Is(err, pgstore.ErrSchemaTooNew) || !errors.Is(err, keystore.ErrUnsupportedVersion) {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

// TestOnlyCiphertext reads the tables directly: no secret, body or token
// appears, only ids.
func TestOnlyCiphertext(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	secret := bytes.Repeat([]byte("S3CRET-BACKUP-"), 5)[:keystore.BackupSize]
	mustNil(t, s.SetIdentity(ctx, &keystore.Identity{UserID: "42", Backup: secret}))
	mustNil(t, s.PutEvents(ctx, "conv-1", []keystore.StoredEvent{{SequenceID: "7", MessageID: "mid-7", Body: []byte("PLAINTEXT-BODY"), Raw: []byte("RAW-EVENT")}}))
	mustNil(t, s.SetToken(ctx, &keystore.Token{AccessToken: "ACCESS-TOKEN"}))
	mustNil(t, s.PutConversation(ctx, &keystore.Conversation{ID: "conv-1", Name: "SECRET-NAME"}))
	var dump []byte
	rows, err := rawConn(t).Query(ctx, `SELECT bucket, k, v FROM `+s.Schema()+`.records`)
	mustNil(t, err)
	for rows.Next() {
		var b, k, v []byte
		mustNil(t, rows.Scan(&b, &k, &v))
		dump = append(append(append(dump, b...), k...), v...)
	}
	mustNil(t, rows.Err())
	for _, needle := range []string{"S3CRET", "PLAINTEXT-BODY", "RAW-EVENT", "ACCESS-TOKEN", "SECRET-NAME"} {
		if bytes.Contains(dump, []byte(needle)) {
			t.Errorf("%s stored in the clear", needle)
		}
	}
	if !bytes.Contains(dump, []byte("conv-1")) || !bytes.Contains(dump, []byte("mid-7")) {
		t.Error("ids are not where DB keeps them (in the clear)")
	}
}

// TestCopyBoltPostgresBolt moves an account from a bbolt file into
// PostgreSQL and back; every record survives, resealed under each store's
// own key.
func TestCopyBoltPostgresBolt(t *testing.T) {
	ctx := context.Background()
	params := keystore.WithArgon2Params(keystore.Argon2Params{Time: 1, MemoryKiB: 8, Threads: 1})
	src, err := boltstore.Open(filepath.Join(t.TempDir(), "a.db"), keystore.WithPassphrase([]byte("pw")), params)
	mustNil(t, err)
	defer src.Close()
	mustNil(t, keystore.ImportBackup(ctx, src, "42", bytes.Repeat([]byte{7}, keystore.BackupSize)))
	mustNil(t, src.PutEvents(ctx, "c", []keystore.StoredEvent{{SequenceID: "10", MessageID: "m", Body: []byte("hi")}, {SequenceID: "9"}}))
	mustNil(t, src.SetValue(ctx, "cursor", []byte("10")))
	mustNil(t, src.PutPeerKey(ctx, keystore.PeerKey{UserID: "7", Version: "1", IdentityPublicKey: []byte("pk")}))
	mustNil(t, src.PutOutbox(ctx, keystore.OutboxItem{MessageID: "o1", ConversationID: "c", Body: []byte("req")}))
	pg := openStore(t)
	n, err := keystore.CopyRecords(ctx, pg, src)
	mustNil(t, err)
	if n < 7 {
		t.Fatalf("copied %d records", n)
	}
	if _, err := keystore.CopyRecords(ctx, pg, src); !errors.Is(err, keystore.ErrConflict) {
		t.Fatalf("second copy into a store with an account: %v", err)
	}
	back, err := boltstore.Open(filepath.Join(t.TempDir(), "b.db"), keystore.WithKey(testKey))
	mustNil(t, err)
	defer back.Close()
	_, err = keystore.CopyRecords(ctx, back, pg)
	mustNil(t, err)
	for _, s := range []keystore.Store{pg, back} {
		e, err := s.EventByMessageID(ctx, "c", "m")
		if err != nil || string(e.Body) != "hi" {
			t.Fatalf("%T: event %v %v", s, e, err)
		}
		evs := testutil.Must(s.Events(ctx, "c", "", 0))(t)
		v := testutil.Must(s.Value(ctx, "cursor"))(t)
		pk := testutil.Must(s.PeerKeys(ctx, "7"))(t)
		ob := testutil.Must(s.Outbox(ctx))(t)
		id, err := s.Identity(ctx)
		if len(evs) != 2 || string(v) != "10" || len(pk) != 1 || len(ob) != 1 || string(ob[0].Body) != "req" || err != nil || id.UserID != "42" {
			t.Fatalf("%T after copy: %d events, value %q, %d peer keys, outbox %v, identity %v", s, len(evs), v, len(pk), ob, err)
		}
	}
}

// TestRestart cuts every connection with a server restart: calls fail with
// ErrUnreachable while it is down and work again once it is back.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	mustNil(t, s.SetValue(ctx, "before", []byte("1")))
	c := pgtest.Shared(t)
	mustNil(t, c.Restart())
	var err error
	for range 100 {
		if err = s.SetValue(ctx, "after", []byte("2")); err == nil || !errors.Is(err, pgstore.ErrUnreachable) {
			break
		}
	}
	mustNil(t, err)
	v, err := s.Value(ctx, "before")
	if err != nil || string(v) != "1" {
		t.Fatalf("value written before the restart: %q %v", v, err)
	}
}

func rawConn(t *testing.T) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), testDB(t))
	mustNil(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func mustExec(t *testing.T, _ *pgstore.Store, sql string) {
	t.Helper()
	if _, err := rawConn(t).Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestImmutableKeysAcrossReplicas: replicas racing to pin different key
// bytes under one version never both succeed (the read-modify-write of
// PutPeerKey is serializable), and a counter advanced in Update by every
// replica at once loses no increment.
func TestImmutableKeysAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	a, b := replicaPair(t, time.Minute)
	stores := []*pgstore.Store{a, b, a, b, a, b}
	for round := range 10 {
		version := fmt.Sprint(round + 1)
		var wg sync.WaitGroup
		errs := make([]error, len(stores))
		for i, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.PutPeerKey(ctx, keystore.PeerKey{UserID: "7", Version: version, IdentityPublicKey: []byte{byte(i)}})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, keystore.ErrConflict):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d replicas stored their key bytes under version %s, want exactly 1", round, ok, version)
		}
	}
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				err := s.Update(ctx, func(tx keystore.Tx) error {
					n := 0 // no counter yet
					v, err := tx.Value(ctx, "counter")
					switch {
					case err == nil:
						if n, err = strconv.Atoi(string(v)); err != nil {
							return err
						}
					case !errors.Is(err, keystore.ErrNotFound):
						return err
					}
					return tx.SetValue(ctx, "counter", []byte(strconv.Itoa(n+1)))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	v, err := a.Value(ctx, "counter")
	if err != nil || string(v) != strconv.Itoa(10*len(stores)) {
		t.Fatalf("counter = %q, %v; want %d", v, err, 10*len(stores))
	}
}

// TestSwallowedConflictRetries: a serialization failure inside a
// transaction aborts it in PostgreSQL, and every later statement fails
// with "current transaction is aborted". When the caller's function drops
// the first error (as a best-effort read may), Update must still see the
// conflict and run the function again, not fail with the aborted
// transaction's error.
func TestSwallowedConflictRetries(t *testing.T) {
	ctx := context.Background()
	a, b := replicaPair(t, time.Minute)
	mustNil(t, a.SetValue(ctx, "shared", []byte("0")))
	attempts := 0
	err := a.Update(ctx, func(tx keystore.Tx) error {
		attempts++
		if _, err := tx.Value(ctx, "shared"); err != nil { // takes the snapshot
			return err
		}
		if attempts == 1 {
			// Another replica changes the row after this snapshot.
			if err := b.SetValue(ctx, "shared", []byte("b")); err != nil {
				return err
			}
		}
		// Writing the row b changed fails with a serialization failure
		// on the first attempt; the function drops that error.
		_ = tx.SetValue(ctx, "shared", []byte("a"))
		return tx.SetValue(ctx, "other", []byte("a"))
	})
	if err != nil {
		t.Fatalf("Update after a dropped serialization failure: %v", err)
	}
	if attempts != 2 {
		t.Fatalf("Update ran its function %d times, want 2 (the conflict retried once)", attempts)
	}
	v, err := a.Value(ctx, "shared")
	mustNil(t, err)
	if string(v) != "a" {
		t.Fatalf("shared = %q, want the retried write %q", v, "a")
	}
}
