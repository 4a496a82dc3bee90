package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/wire"
)

// world is an emulator served over loopback HTTP and the accounts the
// benchmarks need on it. Every history is made by the engine: alice's
// Engine.Send seals and signs each message, and the emulator wraps and
// chains it as the server does.
type world struct {
	ctx   context.Context
	log   io.Writer
	emu   *emulator.Server
	srv   *httptest.Server
	alice *account
	n     int // accounts provisioned
}

// account is one provisioned, registered emulator account.
type account struct {
	id, token string
	store     keystore.Store
	e         *session.Engine
	api       session.Server
}

func newWorld(ctx context.Context, logw io.Writer) (*world, error) {
	emu := emulator.New(emulator.WithRateLimit(0, time.Minute))
	w := &world{ctx: ctx, log: logw, emu: emu, srv: httptest.NewServer(emu)}
	var err error
	if w.alice, err = w.newAccount(keystore.NewMemory()); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *world) close() {
	w.srv.Close()
	_ = w.emu.Close()
}

// provision creates an emulator account and returns its id and token.
func (w *world) provision() (id, token string, err error) {
	w.n++
	body, err := json.Marshal(emulator.ProvisionRequest{Username: fmt.Sprintf("bench%d", w.n)})
	if err != nil {
		return "", "", err
	}
	resp, err := w.srv.Client().Post(w.srv.URL+"/emulator/v1/users", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", "", fmt.Errorf("bench: provisioning: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("bench: provisioning: status %d", resp.StatusCode)
	}
	var pr emulator.ProvisionResponse
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		return "", "", fmt.Errorf("bench: provisioning: %w", err)
	}
	return pr.ID, pr.AccessToken, nil
}

// apiServer returns a Server talking to the emulator with token.
func (w *world) apiServer(token string) (session.Server, error) {
	c, err := api.New(api.WithBaseURL(w.srv.URL), api.WithBearerToken(token), api.WithHTTPClient(w.srv.Client()))
	if err != nil {
		return nil, err
	}
	return session.NewAPIServer(c), nil
}

// newAccount provisions an account, creates its keys in store and
// registers them.
func (w *world) newAccount(store keystore.Store) (*account, error) {
	id, token, err := w.provision()
	if err != nil {
		return nil, err
	}
	srv, err := w.apiServer(token)
	if err != nil {
		return nil, err
	}
	if err := session.CreateAccount(w.ctx, store, id, nil); err != nil {
		return nil, err
	}
	e, err := session.Open(w.ctx, store, srv)
	if err != nil {
		return nil, err
	}
	if _, err := e.Register(w.ctx); err != nil {
		e.Close()
		return nil, err
	}
	return &account{id: id, token: token, store: store, e: e, api: srv}, nil
}

// conversation provisions a peer whose keys live in store, has alice key
// their one-to-one conversation (a key change posted over HTTP) and seeds n
// messages from alice into it.
func (w *world) conversation(store keystore.Store, n int) (*account, error) {
	peer, err := w.newAccount(store)
	if err != nil {
		return nil, err
	}
	if _, err := w.alice.e.EnsureConversationKey(w.ctx, peer.id); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := w.seed(peer.id, n); err != nil {
		return nil, err
	}
	fmt.Fprintf(w.log, "world: seeded %d messages in %v\n", n, time.Since(start).Round(time.Millisecond))
	return peer, nil
}

// seedChunk bounds the requests held in memory while seeding.
const seedChunk = 2000

// seed has alice send n text messages to peer: her engines (one per core,
// on her store) seal and sign each one with Engine.Send against a server
// that captures the request, and the emulator appends them in bulk
// (emulator.SeedMessages) as if each had been posted.
func (w *world) seed(peer string, n int) error {
	workers := runtime.GOMAXPROCS(0)
	engines := make([]*session.Engine, workers)
	caps := make([]*captureServer, workers)
	for i := range engines {
		caps[i] = &captureServer{Server: w.alice.api}
		e, err := session.Open(w.ctx, w.alice.store, caps[i])
		if err != nil {
			return err
		}
		defer e.Close()
		engines[i] = e
	}
	for done := 0; done < n; {
		chunk := min(seedChunk, n-done)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for k := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := done + k; i < done+chunk && errs[k] == nil; i += workers {
					_, errs[k] = engines[k].SendText(w.ctx, peer, historyText(i))
				}
			}()
		}
		wg.Wait()
		var reqs []api.SendChatMessageRequest
		for k := range workers {
			if errs[k] != nil {
				return fmt.Errorf("bench: seeding: %w", errs[k])
			}
			reqs = append(reqs, caps[k].take()...)
		}
		if _, err := w.emu.SeedMessages(w.alice.id, peer, reqs); err != nil {
			return err
		}
		done += chunk
	}
	return nil
}

// captureServer keeps the messages an engine sends instead of posting them
// (answering, as a server may, without the stored event); every other call
// goes to Server.
type captureServer struct {
	session.Server
	mu   sync.Mutex
	reqs []api.SendChatMessageRequest
}

// SendMessage captures req.
func (c *captureServer) SendMessage(_ context.Context, _ string, req *api.SendChatMessageRequest) (*api.SendChatMessageResponse, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, *req)
	c.mu.Unlock()
	return &api.SendChatMessageResponse{Data: &api.SendChatMessageData{}}, nil
}

func (c *captureServer) take() []api.SendChatMessageRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.reqs
	c.reqs = nil
	return out
}

// pages records every page of the conversation between a and alice as the
// emulator serves it to a, newest first.
func (w *world) pages(a *account) ([]*api.GetChatConversationEventsResponse, error) {
	cid, err := session.CanonicalID(a.id, w.alice.id)
	if err != nil {
		return nil, err
	}
	var out []*api.GetChatConversationEventsResponse
	token := ""
	for {
		p, err := a.api.GetConversationEvents(w.ctx, api.ConversationPathID(cid), 100, token)
		if err != nil {
			return nil, fmt.Errorf("bench: recording pages: %w", err)
		}
		out = append(out, p)
		if p.Meta == nil || !p.Meta.HasMore || p.Meta.NextToken == "" {
			return out, nil
		}
		token = p.Meta.NextToken
	}
}

// history returns the raw events of recorded pages, oldest first, after
// the distinct key changes they carry.
func history(pages []*api.GetChatConversationEventsResponse) ([][]byte, error) {
	var kcs, msgs [][]byte
	seen := map[string]bool{}
	for _, p := range pages {
		if p.Meta != nil {
			for _, k := range p.Meta.KeyChangeEvents() {
				if seen[k] {
					continue
				}
				seen[k] = true
				raw, err := wire.DecodeB64(k)
				if err != nil {
					return nil, err
				}
				kcs = append(kcs, raw)
			}
		}
		for _, d := range p.Data {
			raw, err := wire.DecodeB64(d.EncodedEvent)
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, raw)
		}
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return append(kcs, msgs...), nil
}

// publicKeys returns the keys the emulator publishes for a, labelled with
// a's id.
func (w *world) publicKeys(a *account) ([]api.PublicKey, error) {
	resp, err := w.alice.api.GetPublicKeys(w.ctx, []string{a.id})
	if err != nil {
		return nil, err
	}
	if len(resp.Data) == 0 {
		return nil, fmt.Errorf("bench: no published keys for %s", a.id)
	}
	for i := range resp.Data {
		resp.Data[i].UserID = a.id
	}
	return resp.Data, nil
}

// historyText is the text of the i-th history message (about 100 bytes, a
// typical chat line).
func historyText(i int) string {
	return fmt.Sprintf("history message %06d: the quick brown fox jumps over the lazy dog, then naps in the sun.", i)
}
