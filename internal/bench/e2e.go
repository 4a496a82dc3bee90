package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/session"
)

// e2eUser is one provisioned emulator account with its engine.
type e2eUser struct {
	id string
	e  *session.Engine
}

// runE2E seeds an in-process emulator (served over loopback HTTP) with n
// text messages from alice to bob, then times bob's Sync of the whole
// conversation through api.Client and session.Engine into an on-disk
// keystore (bbolt) in dir.
func runE2E(n int, dir string, logw io.Writer) (*childResult, error) {
	ctx := context.Background()
	emu := emulator.New(emulator.WithRateLimit(0, time.Minute))
	defer emu.Close()
	srv := httptest.NewServer(emu)
	defer srv.Close()

	newUser := func(name string, store keystore.Store) (*e2eUser, error) {
		body, _ := json.Marshal(emulator.ProvisionRequest{Username: name})
		resp, err := srv.Client().Post(srv.URL+"/emulator/v1/users", "application/json", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("bench: provisioning %s: status %d", name, resp.StatusCode)
		}
		var pr emulator.ProvisionResponse
		if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
			return nil, err
		}
		c, err := api.New(api.WithBaseURL(srv.URL), api.WithBearerToken(pr.AccessToken), api.WithHTTPClient(srv.Client()))
		if err != nil {
			return nil, err
		}
		if err := session.CreateAccount(ctx, store, pr.ID, nil); err != nil {
			return nil, err
		}
		e, err := session.Open(ctx, store, session.NewAPIServer(c))
		if err != nil {
			return nil, err
		}
		if _, err := e.Register(ctx); err != nil {
			return nil, err
		}
		return &e2eUser{id: pr.ID, e: e}, nil
	}
	alice, err := newUser("alice", keystore.NewMemory())
	if err != nil {
		return nil, err
	}
	defer alice.e.Close()
	var dbKey [32]byte
	_, _ = rand.Read(dbKey[:])
	db, err := boltstore.Open(filepath.Join(dir, "bob.db"), keystore.WithKey(dbKey))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	bob, err := newUser("bob", db)
	if err != nil {
		return nil, err
	}
	defer bob.e.Close()

	seedStart := time.Now()
	for i := range n {
		if _, err := alice.e.SendText(ctx, bob.id, historyText(i)); err != nil {
			return nil, fmt.Errorf("bench: seeding message %d: %w", i, err)
		}
	}
	seedNs := time.Since(seedStart).Nanoseconds()
	fmt.Fprintf(logw, "e2e: seeded %d messages in %v\n", n, time.Duration(seedNs))

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.Mallocs
	start := time.Now()
	res, err := bob.e.Sync(ctx, alice.id)
	if err != nil {
		return nil, fmt.Errorf("bench: sync: %w", err)
	}
	ns := time.Since(start).Nanoseconds()
	runtime.ReadMemStats(&ms)
	msgs := 0
	for _, en := range res.Entries {
		if en.Type == session.TypeMessage && en.Verified {
			msgs++
		}
	}
	if msgs != n || res.Failed != 0 {
		return nil, fmt.Errorf("bench: sync stored %d verified messages (want %d), %d failed", msgs, n, res.Failed)
	}
	return &childResult{Events: res.Events, Ns: ns, SeedNs: seedNs, Allocs: (ms.Mallocs - before) / uint64(max(res.Events, 1)),
		EventsPS: float64(res.Events) / (float64(ns) / 1e9), Failed: res.Failed}, nil
}
