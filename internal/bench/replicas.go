package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/pgtest"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/keystore/pgstore"
	"github.com/xchat-go/xchat/session"
)

// Replica rows (issue #19): one account's engines syncing and sending
// through the emulator (in process, loopback HTTP) with their keystore in
// bbolt (one replica: the file admits one process) or in one PostgreSQL
// database (a throwaway cluster started for the run, fsync and synchronous
// commit on, as bbolt fsyncs every commit) with 1 and 4 replicas.
// Sync: the replicas share out the account's conversations (each seeded
// with the same notes) by lease and sync them, from an empty store, until
// every event is stored. Send: the replicas send text messages, one per
// conversation lease. The bbolt figure is each row's floor, so ours/floor
// is the cost of the shared database.

// replicaSizes are the conversations, notes per conversation and sends.
func replicaSizes(quick bool) (convs, notes, sends int) {
	if quick {
		return 4, 10, 16
	}
	return 20, 50, 400
}

// replicaSetup is one keystore arrangement of the bot account.
type replicaSetup struct {
	name    string
	engines []*session.Engine
	closers []func()
}

func (s *replicaSetup) close() {
	for _, e := range s.engines {
		_ = e.Close()
	}
	for _, c := range s.closers {
		c()
	}
}

// runReplicas measures the replica rows.
func runReplicas(quick bool, dir string, logw io.Writer) ([]Row, error) {
	ctx := context.Background()
	nConvs, nNotes, nSends := replicaSizes(quick)
	fmt.Fprintf(logw, "replicas: starting PostgreSQL\n")
	cluster, err := pgtest.StartDurable() // fsync on, as bbolt
	if err != nil {
		return nil, fmt.Errorf("bench: replica rows need PostgreSQL (make bench installs it): %w", err)
	}
	defer cluster.Close()
	dsn := cluster.DSN("postgres")
	emu := emulator.New(emulator.WithRateLimit(0, time.Minute))
	defer emu.Close()
	srv := httptest.NewServer(emu)
	defer srv.Close()

	bot, convs, err := seedBot(ctx, srv, nConvs, nNotes, logw)
	if err != nil {
		return nil, err
	}
	setups, err := openSetups(ctx, srv, bot, dir, dsn)
	defer func() {
		for _, s := range setups {
			s.close()
		}
	}()
	if err != nil {
		return nil, err
	}
	events := nConvs * (nNotes + 1) // each conversation: the peer's key change and its notes
	var syncs, sends []measured
	for _, s := range setups {
		fmt.Fprintf(logw, "replicas: sync, %s\n", s.name)
		m, err := timeSync(ctx, s, convs, events)
		if err != nil {
			return nil, fmt.Errorf("bench: %s sync: %w", s.name, err)
		}
		syncs = append(syncs, m)
	}
	for _, s := range setups {
		fmt.Fprintf(logw, "replicas: send, %s\n", s.name)
		m, err := timeSends(ctx, s, convs, nSends)
		if err != nil {
			return nil, fmt.Errorf("bench: %s send: %w", s.name, err)
		}
		sends = append(sends, m)
	}
	var rows []Row
	for i, s := range setups {
		rows = append(rows, replicaRow("replicas sync, "+s.name, syncs[i], syncs[0], i == 0, "events", events))
	}
	for i, s := range setups {
		rows = append(rows, replicaRow("replicas send, "+s.name, sends[i], sends[0], i == 0, "sends", nSends))
	}
	return rows, nil
}

// replicaRow reports m per unit; the bbolt measurement is the floor of the
// PostgreSQL rows.
func replicaRow(name string, m, bolt measured, isBolt bool, unit string, n int) Row {
	r := Row{Name: name, Procs: runtime.GOMAXPROCS(0), Ours: m.wall, Wall: m.wall, Allocs: max(m.allocs, 1),
		Note: fmt.Sprintf("%.0f %s/s over %d %s", 1e9/m.wall, unit, n, unit)}
	if !isBolt {
		r.Floor = bolt.wall
		r.Note += fmt.Sprintf("; floor: the same on bbolt (%.0f %s/s)", 1e9/bolt.wall, unit)
	}
	return r
}

// botAccount is the account the replicas serve, as a backup they import.
type botAccount struct {
	id, token, version string
	backup             keystore.SecretBytes
}

// seedBot provisions the bot and one peer per conversation; each peer keys
// its conversation and sends its notes.
func seedBot(ctx context.Context, srv *httptest.Server, nConvs, nNotes int, logw io.Writer) (*botAccount, []string, error) {
	botStore := keystore.NewMemory()
	defer botStore.Close()
	id, token, err := provisionUser(srv, "bot")
	if err != nil {
		return nil, nil, err
	}
	if err := session.CreateAccount(ctx, botStore, id, nil); err != nil {
		return nil, nil, err
	}
	c, err := api.New(api.WithBaseURL(srv.URL), api.WithBearerToken(token), api.WithHTTPClient(srv.Client()))
	if err != nil {
		return nil, nil, err
	}
	e, err := session.Open(ctx, botStore, session.NewAPIServer(c))
	if err != nil {
		return nil, nil, err
	}
	defer e.Close()
	version, err := e.Register(ctx)
	if err != nil {
		return nil, nil, err
	}
	backup, err := keystore.ExportBackup(ctx, botStore)
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	convs := make([]string, nConvs)
	var wg sync.WaitGroup
	errs := make(chan error, nConvs)
	for i := range nConvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cid, err := seedPeer(ctx, srv, fmt.Sprintf("peer%d", i), id, nNotes)
			convs[i] = cid
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	fmt.Fprintf(logw, "replicas: seeded %d conversations × %d notes in %v\n", nConvs, nNotes, time.Since(start).Round(time.Millisecond))
	return &botAccount{id: id, token: token, version: version, backup: backup}, convs, nil
}

func seedPeer(ctx context.Context, srv *httptest.Server, name, botID string, n int) (string, error) {
	id, token, err := provisionUser(srv, name)
	if err != nil {
		return "", err
	}
	store := keystore.NewMemory()
	defer store.Close()
	if err := session.CreateAccount(ctx, store, id, nil); err != nil {
		return "", err
	}
	c, err := api.New(api.WithBaseURL(srv.URL), api.WithBearerToken(token), api.WithHTTPClient(srv.Client()))
	if err != nil {
		return "", err
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(c))
	if err != nil {
		return "", err
	}
	defer e.Close()
	if _, err := e.Register(ctx); err != nil {
		return "", err
	}
	for j := range n {
		if _, err := e.SendText(ctx, botID, fmt.Sprintf("note:%d", j)); err != nil {
			return "", err
		}
	}
	return session.CanonicalID(id, botID)
}

func provisionUser(srv *httptest.Server, name string) (id, token string, err error) {
	body, _ := json.Marshal(emulator.ProvisionRequest{Username: name})
	resp, err := srv.Client().Post(srv.URL+"/emulator/v1/users", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("bench: provisioning %s: status %d", name, resp.StatusCode)
	}
	var pr emulator.ProvisionResponse
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		return "", "", err
	}
	return pr.ID, pr.AccessToken, nil
}

// openSetups opens the bot's account three ways: bbolt with one replica,
// PostgreSQL with one, PostgreSQL with four (one store, pool and lease
// holder each, as four processes would have).
func openSetups(ctx context.Context, srv *httptest.Server, bot *botAccount, dir, dsn string) ([]*replicaSetup, error) {
	key := keystore.WithKey([32]byte{0x19})
	var setups []*replicaSetup
	boltSetup := &replicaSetup{name: "bbolt, 1 replica"}
	setups = append(setups, boltSetup)
	db, err := boltstore.Open(filepath.Join(dir, "replicas-bot.db"), key)
	if err != nil {
		return setups, err
	}
	boltSetup.closers = append(boltSetup.closers, func() { _ = db.Close(); _ = os.Remove(filepath.Join(dir, "replicas-bot.db")) })
	if err := addEngine(ctx, boltSetup, db, srv, bot, true); err != nil {
		return setups, err
	}
	for _, n := range []int{1, 4} {
		s := &replicaSetup{name: fmt.Sprintf("PostgreSQL, %d replica", n)}
		if n > 1 {
			s.name += "s"
		}
		setups = append(setups, s)
		schema := fmt.Sprintf("bench_r%d", n)
		for i := range n {
			st, err := pgstore.Open(ctx, dsn, pgstore.Keystore(key), pgstore.WithSchema(schema), pgstore.WithHolder(fmt.Sprintf("bench-%d-%d", n, i)))
			if err != nil {
				return setups, err
			}
			s.closers = append(s.closers, func() { _ = st.Close() })
			if err := addEngine(ctx, s, st, srv, bot, i == 0); err != nil {
				return setups, err
			}
		}
	}
	return setups, nil
}

// addEngine opens an engine of the bot on store (importing the account
// first when create).
func addEngine(ctx context.Context, s *replicaSetup, store keystore.Store, srv *httptest.Server, bot *botAccount, create bool) error {
	if create {
		if err := session.ImportBackup(ctx, store, bot.id, bot.backup, bot.version); err != nil {
			return err
		}
	}
	c, err := api.New(api.WithBaseURL(srv.URL), api.WithBearerToken(bot.token), api.WithHTTPClient(srv.Client()))
	if err != nil {
		return err
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(c))
	if err != nil {
		return err
	}
	s.engines = append(s.engines, e)
	return nil
}

// timeSync has the replicas share out the conversations by lease and sync
// each once, from an empty store, and returns the wall time per event.
func timeSync(ctx context.Context, s *replicaSetup, convs []string, events int) (measured, error) {
	var mu sync.Mutex
	done := map[string]bool{}
	var stored atomic.Int64
	return timeParallel(len(s.engines), events, func(i int) error {
		e := s.engines[i]
		leaser := e.Store().(keystore.Leaser)
		for _, cid := range rotate(convs, i*len(convs)/len(s.engines)) {
			mu.Lock()
			skip := done[cid]
			mu.Unlock()
			if skip {
				continue
			}
			release, ok, err := leaser.TryLease(ctx, "bench/sync/"+cid)
			if err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			mu.Lock()
			skip = done[cid]
			mu.Unlock()
			if !skip {
				res, err := e.Sync(ctx, cid, nil)
				if err != nil {
					release()
					return err
				}
				stored.Add(int64(len(res.Entries)))
				mu.Lock()
				done[cid] = true
				mu.Unlock()
			}
			release()
		}
		return nil
	}, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(done) == len(convs)
	}, func() error {
		if n := stored.Load(); n != int64(events) {
			return fmt.Errorf("bench: synced %d events, want %d", n, events)
		}
		return nil
	})
}

// timeSends has every replica send text messages, one per conversation
// lease, until n were sent, and returns the wall time per send.
func timeSends(ctx context.Context, s *replicaSetup, convs []string, n int) (measured, error) {
	var sent atomic.Int64
	return timeParallel(len(s.engines), n, func(i int) error {
		e := s.engines[i]
		leaser := e.Store().(keystore.Leaser)
		for _, cid := range rotate(convs, i*len(convs)/len(s.engines)) {
			if sent.Add(1) > int64(n) {
				return nil
			}
			release, ok, err := leaser.TryLease(ctx, "bench/"+cid)
			if err != nil {
				return err
			}
			if !ok {
				sent.Add(-1)
				continue
			}
			_, err = e.SendText(ctx, cid, "bench send")
			release()
			if err != nil {
				return err
			}
		}
		return nil
	}, func() bool { return sent.Load() >= int64(n) }, func() error { return nil })
}

// timeParallel runs step on every replica (in its own goroutine, again and
// again) until done, and returns the wall time and allocations per unit.
func timeParallel(replicas, units int, step func(i int) error, done func() bool, check func() error) (measured, error) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.Mallocs
	start := time.Now()
	deadline := start.Add(5 * time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, replicas)
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done() {
				if time.Now().After(deadline) {
					errs <- fmt.Errorf("bench: not done after five minutes")
					return
				}
				if err := step(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return measured{}, err
	}
	if err := check(); err != nil {
		return measured{}, err
	}
	runtime.ReadMemStats(&ms)
	return measured{wall: float64(wall.Nanoseconds()) / float64(units), ns: float64(wall.Nanoseconds()) / float64(units),
		allocs: int64(ms.Mallocs-before) / int64(units)}, nil
}

// rotate returns xs starting at index k, so replicas start on different
// conversations.
func rotate(xs []string, k int) []string {
	k %= max(len(xs), 1)
	return append(append([]string(nil), xs[k:]...), xs[:k]...)
}
