package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// gateStore holds back the peer key reads of a store while its gate is
// shut. During the fetch of a staged sync only the fetch verifier reads
// peer keys, so shutting the gate keeps it on its first page while the
// fetch goes on.
type gateStore struct {
	keystore.Store
	mu   sync.Mutex
	gate chan struct{} // nil: open
	// held is closed once a peer key read waits at the shut gate: the
	// fetch verifier has taken its first page.
	held chan struct{}
	// failSet, when set, is asked before each single write outside a
	// transaction (staging in the keystore is one), and fails it with
	// the error it returns.
	failSet func(name string) error
}

func (g *gateStore) SetValue(ctx context.Context, name string, v []byte) error {
	g.mu.Lock()
	fail := g.failSet
	g.mu.Unlock()
	if fail != nil {
		if err := fail(name); err != nil {
			return err
		}
	}
	return g.Store.SetValue(ctx, name, v)
}

func (g *gateStore) PeerKeys(ctx context.Context, userID string) ([]keystore.PeerKey, error) {
	g.mu.Lock()
	gate := g.gate
	if gate != nil && g.held != nil {
		close(g.held)
		g.held = nil
	}
	g.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Store.PeerKeys(ctx, userID)
}

// shut shuts the gate and returns a channel closed once a peer key read
// waits at it.
func (g *gateStore) shut() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate, g.held = make(chan struct{}), make(chan struct{})
	return g.held
}

func (g *gateStore) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

// lastPageServer calls onLast when it serves the last page of a
// conversation's events, after edit (if set) has changed every page.
type lastPageServer struct {
	Server
	mu     sync.Mutex
	edit   func(*api.GetChatConversationEventsResponse)
	onLast func()
	// later, when set, is waited for before serving any page but the
	// first.
	later <-chan struct{}
}

func (s *lastPageServer) GetConversationEvents(ctx context.Context, id string, max int, tok string) (*api.GetChatConversationEventsResponse, error) {
	s.mu.Lock()
	later := s.later
	s.mu.Unlock()
	if later != nil && tok != "" {
		select {
		case <-later:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r, err := s.Server.GetConversationEvents(ctx, id, max, tok)
	s.mu.Lock()
	edit, onLast := s.edit, s.onLast
	s.mu.Unlock()
	if err == nil && edit != nil {
		edit(r)
	}
	if err == nil && onLast != nil && (r.Meta == nil || !r.Meta.HasMore || r.Meta.NextToken == "") {
		onLast()
	}
	return r, err
}

func (s *lastPageServer) set(edit func(*api.GetChatConversationEventsResponse), onLast func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.edit, s.onLast = edit, onLast
}

// gatedUser is a reader of a conversation whose store and server the
// test controls.
type gatedUser struct {
	*testUser
	gs  *gateStore
	srv *lastPageServer
}

// reader provisions a reader on a gated store, its server wrapped, with
// pages of two events.
func (n *testNet) reader(name string, opts ...Option) *gatedUser {
	n.t.Helper()
	ctx := context.Background()
	id, token := n.provision(name)
	gs := &gateStore{Store: keystore.NewMemory()}
	if err := CreateAccount(ctx, gs, id, nil); err != nil {
		n.t.Fatalf("CreateAccount: %v", err)
	}
	srv := &lastPageServer{Server: NewAPIServer(n.client(token))}
	e, err := Open(ctx, gs, srv, append([]Option{WithPageSize(2)}, opts...)...)
	if err != nil {
		n.t.Fatalf("Open: %v", err)
	}
	if _, err := e.Register(ctx); err != nil {
		n.t.Fatalf("Register %s: %v", name, err)
	}
	n.t.Cleanup(func() { _ = e.Close() })
	return &gatedUser{testUser: &testUser{id: id, name: name, token: token, e: e, store: gs, server: srv}, gs: gs, srv: srv}
}

// sendTexts has from send count messages to to, numbered from first, and
// returns their texts and message ids.
func sendTexts(t *testing.T, ctx context.Context, from, to *testUser, first, count int) (texts, ids []string) {
	t.Helper()
	for i := first; i < first+count; i++ {
		m := fmt.Sprintf("m%02d", i)
		s, err := from.e.SendText(ctx, to.id, m)
		if err != nil {
			t.Fatal(err)
		}
		texts, ids = append(texts, m), append(ids, s.MessageID)
	}
	return texts, ids
}

// traced records syncTrace calls for the rest of the test.
type traced struct {
	mu    sync.Mutex
	steps []string
	memo  map[string]int
	all   map[string]bool
}

func traceSync(t *testing.T) *traced {
	tr := &traced{memo: map[string]int{}, all: map[string]bool{}}
	syncTrace = func(step string, n, memo int, all bool) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		k := fmt.Sprintf("%s %d", step, n)
		tr.steps = append(tr.steps, k)
		tr.memo[k], tr.all[k] = memo, all
	}
	t.Cleanup(func() { syncTrace = nil })
	return tr
}

// at returns where step n was traced (-1: never), the count of
// signatures its memo held, and whether every signature had verified.
func (tr *traced) at(step string, n int) (at, memo int, all bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	k := fmt.Sprintf("%s %d", step, n)
	return slices.Index(tr.steps, k), tr.memo[k], tr.all[k]
}

// gatedSync has r sync with alice while the fetch verifier is held on its
// first page until the last page is served: pages 1 and 2 are verified
// while fetching, and staged after the pages fetched after them (3 on),
// which are staged unverified.
func gatedSync(t *testing.T, ctx context.Context, r *gatedUser, peer string) (*SyncResult, []*event.Event, error) {
	t.Helper()
	held := r.gs.shut()
	r.srv.set(r.srv.edit, r.gs.open)
	// Page 2 is served only once the verifier waits on page 1: otherwise
	// page 1 may still sit in the verifier's queue when page 2 is
	// offered, and which pages are staged verified becomes the
	// scheduler's choice.
	r.srv.mu.Lock()
	r.srv.later = held
	r.srv.mu.Unlock()
	defer func() {
		r.srv.mu.Lock()
		r.srv.later = nil
		r.srv.mu.Unlock()
	}()
	defer r.srv.set(r.srv.edit, nil)
	defer r.gs.open()
	var seen []*event.Event
	res, err := r.e.Sync(ctx, peer, func(ev *event.Event) error {
		seen = append(seen, ev)
		return nil
	})

	return res, seen, err
}

// pinned has r sync alice's first message: her keys are pinned before the
// sync under test (the fetch verifier uses pinned keys only), which pages
// down to that message.
func pinned(t *testing.T, ctx context.Context, alice *testUser, r *gatedUser) []string {
	t.Helper()
	first, _ := sendTexts(t, ctx, alice, r.testUser, 0, 1)
	if _, err := r.e.Sync(ctx, alice.id, nil); err != nil {
		t.Fatal(err)
	}
	return first
}

// TestSyncStagedOutOfOrder: pages verified while fetching are staged after
// pages fetched after them; the pages staged unverified are verified
// ahead of the store loop (spill file) or at their turn (keystore); the
// sync stores and hands to fn exactly what a sync verifying every page at
// its turn does, oldest first.
func TestSyncStagedOutOfOrder(t *testing.T) {
	for _, spillFile := range []bool{true, false} {
		t.Run(fmt.Sprintf("spillFile=%v", spillFile), func(t *testing.T) {
			ctx := ctxT(t)
			n := newNet(t)
			alice := n.user("alice")
			dir := t.TempDir()
			if !spillFile {
				dir = filepath.Join(dir, "no", "such", "dir")
			}
			bob, carol := n.reader("bob", WithSpillDir(dir)), n.reader("carol", WithSpillDir(dir))
			want := pinned(t, ctx, alice, bob)
			pinned(t, ctx, alice, carol)
			more, _ := sendTexts(t, ctx, alice, bob.testUser, 1, 16)
			sendTexts(t, ctx, alice, carol.testUser, 1, 16)
			want = append(want, more...)

			tr := traceSync(t)
			res, seen, err := gatedSync(t, ctx, bob, alice.id)
			if err != nil || res.Failed != 0 || len(res.Anomalies) != 0 {
				t.Fatalf("sync: %v, failed %d, anomalies %v", err, res.Failed, res.Anomalies)
			}
			// Page 1 always goes to the verifier (its queue is empty), which
			// is held on it until the last page is served; whether page 2
			// joins it depends on scheduling, so the page checked as staged
			// unverified is the first one staged, fetched after page 1.
			first, memo1, all1 := tr.at("staged", 1)
			u := unverifiedFirst(tr)
			at, memoU, allU := tr.at("staged", u)
			if first < 0 || u <= 1 || at > first || memo1 < 3 || !all1 || memoU != 0 || allU {
				t.Fatalf("staging order %v (page 1 at %d memo %d, page %d at %d memo %d)", tr.steps, first, memo1, u, at, memoU)
			}
			if at, memo, all := tr.at("ahead", u); spillFile != (at >= 0) || (spillFile && (memo < 3 || !all)) {
				t.Fatalf("page %d verified ahead at %d with %d signatures (spill file %v): %v", u, at, memo, spillFile, tr.steps)
			}
			if at, _, _ := tr.at("ahead", 1); at >= 0 {
				t.Fatalf("a page verified while fetching was verified again: %v", tr.steps)
			}
			var fnTexts []string
			for _, ev := range seen {
				if ev.Err != nil || !ev.Verified {
					t.Fatalf("fn saw %+v", ev)
				}
				if txt := ev.Text(); txt != "" {
					fnTexts = append(fnTexts, txt)
				}
			}
			if !slices.Equal(fnTexts, more) {
				t.Fatalf("fn saw %q", fnTexts)
			}
			if got := texts(mustHistory(t, bob.testUser, alice.id)); !slices.Equal(got, want) {
				t.Fatalf("history %q", got)
			}

			// The same sync, every page verified at its turn.
			defer func(v bool) { verifyWhileFetching = v }(verifyWhileFetching)
			verifyWhileFetching = false
			ref, err := carol.e.Sync(ctx, alice.id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := unplaced(transcript(t, bob.testUser, alice.id)), unplaced(transcript(t, carol.testUser, alice.id)); !slices.Equal(a, b) {
				t.Fatalf("transcripts differ:\n%q\n%q", a, b)
			}
			if ref.Events != res.Events || ref.Failed != 0 || len(ref.Anomalies) != 0 || !slices.Equal(texts(ref.Entries), more) {
				t.Fatalf("results differ: %d/%d events, verified at their turn %+v", res.Events, ref.Events, ref)
			}
		})
	}
}

// unverifiedFirst returns the stage number of the first page staged (0
// when none was).
func unverifiedFirst(tr *traced) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, k := range tr.steps {
		if n, ok := strings.CutPrefix(k, "staged "); ok {
			v, err := strconv.Atoi(n)
			if err != nil {
				return 0
			}
			return v
		}
	}
	return 0
}

// unplaced drops the sequence ids of a transcript (two conversations'
// transcripts are compared).
func unplaced(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		_, rest, _ := strings.Cut(l, " ")
		out[i] = rest
	}
	return out
}

// TestSyncForgedSignatureVerifiedAhead: a forged signature on a page
// verified while fetching (page 1) and on one verified ahead of the store
// loop (page 4) fails as when every page is verified at its turn: the
// event is xchat.ErrSignature (a bad signature), stored as failed; every other
// event verifies.
func TestSyncForgedSignatureVerifiedAhead(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	dir := t.TempDir()
	bob, carol := n.reader("bob", WithSpillDir(dir)), n.reader("carol", WithSpillDir(dir))
	pinned(t, ctx, alice, bob)
	pinned(t, ctx, alice, carol)
	// Newest first, two a page: m16 is on page 1, m10 on page 4.
	_, bobIDs := sendTexts(t, ctx, alice, bob.testUser, 1, 16)
	_, carolIDs := sendTexts(t, ctx, alice, carol.testUser, 1, 16)
	forge := func(t *testing.T, ids ...string) func(*api.GetChatConversationEventsResponse) {
		return func(r *api.GetChatConversationEventsResponse) {
			for i := range r.Data {
				r.Data[i].EncodedEvent = editEvent(t, r.Data[i].EncodedEvent, func(me *tevent.MessageEvent) {
					if slices.Contains(ids, me.GetMessageID()) {
						sig := []byte(*me.MessageEventSignature.Signature)
						sig[3] ^= 1
						s := string(sig)
						me.MessageEventSignature.Signature = &s
					}
				})
			}
		}
	}
	bob.srv.set(forge(t, bobIDs[15], bobIDs[9]), nil)
	carol.srv.set(forge(t, carolIDs[15], carolIDs[9]), nil)

	tr := traceSync(t)
	res, seen, err := gatedSync(t, ctx, bob, alice.id)
	if err != nil {
		t.Fatal(err)
	}
	// Each page holds the key change and two messages: one of those two
	// verifies.
	if at, memo, all := tr.at("staged", 1); at < 0 || memo != 2 || all {
		t.Fatalf("page 1 verified while fetching: %d signatures, all %v: %v", memo, all, tr.steps)
	}
	if at, memo, all := tr.at("ahead", 4); at < 0 || memo != 2 || all {
		t.Fatalf("page 4 verified ahead of the store loop: %d signatures, all %v: %v", memo, all, tr.steps)
	}
	verdicts := func(seen []*event.Event, ids []string) []string {
		var out []string
		for _, ev := range seen {
			i := slices.Index(ids, ev.MessageID)
			if i < 0 {
				continue
			}
			v := fmt.Sprintf("m%02d verified=%v", i+1, ev.Verified)
			if ev.Err != nil {
				v += fmt.Sprintf(" signature=%v bad=%v", errors.Is(ev.Err, xchat.ErrSignature), errors.Is(ev.Err, inbound.ErrBadSignature))
			}
			out = append(out, v)
		}
		return out
	}
	got := verdicts(seen, bobIDs)
	if len(got) != 16 || got[9] != "m10 verified=false signature=true bad=true" || got[15] != "m16 verified=false signature=true bad=true" || res.Failed != 2 {
		t.Fatalf("verdicts %q, failed %d", got, res.Failed)
	}
	for i, v := range got {
		if i != 9 && i != 15 && v != fmt.Sprintf("m%02d verified=true", i+1) {
			t.Fatalf("verdicts %q", got)
		}
	}
	for _, e := range mustHistory(t, bob.testUser, alice.id) {
		if (e.MessageID == bobIDs[15] || e.MessageID == bobIDs[9]) && (e.Verified || e.Text != "" || e.Error == "") {
			t.Fatalf("forged event stored as %+v", e)
		}
	}

	defer func(v bool) { verifyWhileFetching = v }(verifyWhileFetching)
	verifyWhileFetching = false
	var ref []*event.Event
	if _, err := carol.e.Sync(ctx, alice.id, func(ev *event.Event) error { ref = append(ref, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := verdicts(ref, carolIDs); !slices.Equal(got, want) {
		t.Fatalf("verdicts %q, verified at their turn %q", got, want)
	}
	if a, b := unplaced(transcript(t, bob.testUser, alice.id)), unplaced(transcript(t, carol.testUser, alice.id)); !slices.Equal(a, b) {
		t.Fatalf("transcripts differ:\n%q\n%q", a, b)
	}
}

// cancellingKeys cancels a context at its first signing key lookup.
type cancellingKeys struct {
	inbound.Keys
	cancel context.CancelFunc
}

func (k cancellingKeys) SigningKey(userID, version string) (*crypto.PublicKey, bool) {
	k.cancel()
	return k.Keys.SigningKey(userID, version)
}

// pageScene is bob's sync state with his keys after syncing alice's key
// change and three messages, and page, which fetches and decodes that
// conversation's page of four events afresh.
func pageScene(t *testing.T, ctx context.Context) (*syncState, func() *syncPage) {
	t.Helper()
	n := newNet(t)
	alice, bob := n.user("alice"), n.user("bob")
	sendTexts(t, ctx, alice, bob, 0, 3)
	if _, err := bob.e.Sync(ctx, alice.id, nil); err != nil {
		t.Fatal(err)
	}
	cid := oneToOne(t, alice, bob)
	s := &syncState{e: bob.e, res: &SyncResult{}, cid: cid, pass: newRosterPass(), unwraps: crypto.NewUnwrapMemo(0)}
	t.Cleanup(s.unwraps.Close)
	keys, err := bob.e.keysFor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.keys = keys
	page := func() *syncPage {
		resp, err := bob.server.GetConversationEvents(ctx, api.ConversationPathID(cid), 50, "")
		if err != nil {
			t.Fatal(err)
		}
		p := decodePage(resp)
		if p.err() != nil || len(p.raws) != 4 || p.kcCount != 1 {
			t.Fatalf("page of %d events (%d key changes): %v", len(p.raws), p.kcCount, p.err())
		}
		return p
	}
	return s, page
}

// TestVerifyPageCancelled: a page whose verification ahead is cancelled
// keeps no memo, and is verified in full at its turn: every signature is
// checked then (each recorded in the page's memo as it verifies), while
// a page verified ahead to the end has each one checked once, ahead.
func TestVerifyPageCancelled(t *testing.T) {
	ctx := ctxT(t)
	s, page := pageScene(t, ctx)

	cancelled, whole := page(), page()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.verifyPage(cctx, cancellingKeys{Keys: s.preKeys(ctx), cancel: cancel}, cancelled, true) || cancelled.memo != nil {
		t.Fatalf("a cancelled verification kept a memo of %d", len(cancelled.memo))
	}
	if !s.verifyPage(ctx, s.preKeys(ctx), whole, true) || len(whole.memo) != 4 {
		t.Fatalf("verification ahead recorded %d signatures", len(whole.memo))
	}
	for _, c := range []struct {
		p            *syncPage
		before, want int
	}{{cancelled, 0, 4}, {whole, 4, 4}} {
		if got := c.p.memoOf().Len(); got != c.before {
			t.Fatalf("memo of %d before the page's turn, want %d", got, c.before)
		}
		evs, err := s.decrypt(ctx, s.keys, c.p)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Err != nil || !ev.Verified {
				t.Fatalf("event at its turn: %+v", ev)
			}
		}
		dropEvents(evs)
		if got := c.p.sigs.Len(); got != c.want {
			t.Fatalf("memo of %d after the page's turn, want %d", got, c.want)
		}
	}
}

// TestVerifyPageKeepsDecoded: a page verified ahead by the reader (kept
// in memory until its turn) keeps what was decoded of each event, and its
// turn starts from all of it, judging every event as a page never
// verified ahead is judged; a page verified by the fetch verifier (to be
// staged) keeps nothing but its memo.
func TestVerifyPageKeepsDecoded(t *testing.T) {
	ctx := ctxT(t)
	s, page := pageScene(t, ctx)
	staged, kept, plain := page(), page(), page()
	if !s.verifyPage(ctx, s.preKeys(ctx), staged, false) || staged.decoded != nil {
		t.Fatalf("a page verified to be staged kept %d decoded events", staged.decoded.Len())
	}
	if !s.verifyPage(ctx, s.preKeys(ctx), kept, true) || kept.decoded.Len() != len(kept.raws) {
		t.Fatalf("a page verified ahead kept %d decoded events of %d", kept.decoded.Len(), len(kept.raws))
	}
	want, err := s.decrypt(ctx, s.keys, plain)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.decrypt(ctx, s.keys, kept)
	if err != nil {
		t.Fatal(err)
	}
	if left := kept.decoded.Len(); left != 0 {
		t.Fatalf("the page's turn left %d decoded events unused", left)
	}
	if len(got) != len(want) || len(got) != 4 {
		t.Fatalf("%d events at the turn, %d without verifying ahead", len(got), len(want))
	}
	for i := range want {
		if got[i].Err != nil || !got[i].Verified || got[i].Text() != want[i].Text() || !bytes.Equal(got[i].Raw, want[i].Raw) {
			t.Fatalf("event %d at its turn: %v %v %q, without verifying ahead %q", i, got[i].Err, got[i].Verified, got[i].Text(), want[i].Text())
		}
	}
	dropEvents(got)
	dropEvents(want)
}

// syncGoroutines returns the stacks of the goroutines running this
// package's sync or the receive pipeline.
func syncGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "xchat/session.(*syncState)") || strings.Contains(g, "xchat/session.(*fetchVerifier)") ||
			strings.Contains(g, "xchat/internal/inbound.") {
			out = append(out, g)
		}
	}
	return out
}

// spillFiles counts the spill files this process holds open (Linux).
func spillFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.Contains(target, "xchat-sync-") {
			n++
		}
	}
	return n
}

// settled waits for the goroutines a sync started to end, and fails the
// test if any is left, or more goroutines run than before.
func settled(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for (len(syncGoroutines()) > 0 || runtime.NumGoroutine() > before) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if left := syncGoroutines(); len(left) > 0 || runtime.NumGoroutine() > before {
		t.Fatalf("%d goroutines (%d before), left:\n%s", runtime.NumGoroutine(), before, strings.Join(left, "\n\n"))
	}
}

// TestSyncEndsItsGoroutines: a staged sync whose context is cancelled
// while its pages are fetched and verified, or whose fn fails while they
// are stored, ends every goroutine it started and closes its spill file;
// what it stored is whole batches, oldest first, and the next sync
// completes the history.
func TestSyncEndsItsGoroutines(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts open spill files through /proc")
	}
	for _, when := range []string{"fetching", "storing"} {
		t.Run(when, func(t *testing.T) {
			ctx := ctxT(t)
			n := newNet(t)
			alice := n.user("alice")
			bob := n.reader("bob", WithSpillDir(t.TempDir()))
			want := pinned(t, ctx, alice, bob)
			more, _ := sendTexts(t, ctx, alice, bob.testUser, 1, 40)
			want = append(want, more...)
			before := runtime.NumGoroutine()

			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			fnErr := errors.New("test: fn fails")
			seen := 0
			fn := func(*event.Event) error {
				if seen++; when == "storing" && seen == 3 {
					return fnErr
				}
				return nil
			}
			if when == "fetching" {
				bob.gs.shut()
				bob.srv.set(nil, cancel)
			}
			_, err := bob.e.Sync(sctx, alice.id, fn)
			bob.srv.set(nil, nil)
			bob.gs.open()
			if wantErr := map[string]error{"fetching": context.Canceled, "storing": fnErr}[when]; !errors.Is(err, wantErr) {
				t.Fatalf("sync: %v, want %v", err, wantErr)
			}
			settled(t, before)
			if open := spillFiles(t); open != 0 {
				t.Fatalf("%d spill files left open", open)
			}
			got := texts(mustHistory(t, bob.testUser, alice.id))
			if !slices.Equal(got, want[:len(got)]) || (when == "storing" && len(got) <= 1) {
				t.Fatalf("stored after the failed sync: %q", got)
			}
			if _, err := bob.e.Sync(ctx, alice.id, nil); err != nil {
				t.Fatal(err)
			}
			if got := texts(mustHistory(t, bob.testUser, alice.id)); !slices.Equal(got, want) {
				t.Fatalf("history %q", got)
			}
		})
	}
}

// TestSyncFirstContactVerifiedAhead: in a staged sync of a group whose
// members' keys are not yet pinned (a first sync), nothing verifies while
// fetching; the keys are pinned as the sync reads the key changes served
// (collectPairs) or at the first page's turn, and the pages after it are
// verified ahead of the store loop with them.
func TestSyncFirstContactVerifiedAhead(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	bob := n.reader("bob", WithSpillDir(t.TempDir()))
	gid, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id}})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 32 {
		m := fmt.Sprintf("g%02d", i)
		if _, err := alice.e.SendText(ctx, gid, m); err != nil {
			t.Fatal(err)
		}
		want = append(want, m)
	}
	tr := traceSync(t)
	res, err := bob.e.Sync(ctx, gid, nil)
	if err != nil || res.Failed != 0 || len(res.Anomalies) != 0 || !slices.Equal(texts(res.Entries), want) {
		t.Fatalf("sync: %v, failed %d, anomalies %v, %q", err, res.Failed, res.Anomalies, texts(res.Entries))
	}
	staged := 0
	for _, step := range tr.steps {
		if num, ok := strings.CutPrefix(step, "staged "); ok {
			staged++
			if _, memo, all := tr.at("staged", atoi(t, num)); memo != 0 || all {
				t.Fatalf("page %s verified with keys not pinned (%d signatures): %v", num, memo, tr.steps)
			}
		}
	}
	// Page 1, the newest, is stored last.
	if at, memo, all := tr.at("ahead", 1); staged < 16 || at < 0 || memo < 3 || !all {
		t.Fatalf("the newest page verified ahead with %d signatures (all %v): %v", memo, all, tr.steps)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSyncStagingFails: when a page cannot be staged (here in the
// keystore), the pages the fetch verifier still holds are taken back and
// staged all the same, the sync processes the pages fetched before the
// one that failed (as when pages were staged in fetch order) and reports
// the failure, leaves nothing staged, and the next sync completes the
// history.
func TestSyncStagingFails(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	bob := n.reader("bob", WithSpillDir(filepath.Join(t.TempDir(), "no", "such", "dir")))
	want := pinned(t, ctx, alice, bob)
	more, _ := sendTexts(t, ctx, alice, bob.testUser, 1, 16)
	want = append(want, more...)
	cid := oneToOne(t, alice, bob.testUser)
	errDisk := errors.New("test: disk full")
	bob.gs.mu.Lock()
	bob.gs.failSet = func(name string) error {
		if name == stageKey(cid, 3) {
			bob.gs.open() // the verifier holds pages 1 and 2
			return errDisk
		}
		return nil
	}
	bob.gs.mu.Unlock()
	tr := traceSync(t)
	_, _, err := gatedSync(t, ctx, bob, alice.id)
	if !errors.Is(err, errDisk) {
		t.Fatalf("sync: %v", err)
	}
	bob.gs.mu.Lock()
	bob.gs.failSet = nil
	bob.gs.mu.Unlock()
	if at1, _, all1 := tr.at("staged", 1); at1 < 0 || !all1 || len(tr.steps) != 2 {
		t.Fatalf("staged %v", tr.steps)
	}
	// Pages 1 and 2 are the four newest messages.
	if got := texts(mustHistory(t, bob.testUser, alice.id)); !slices.Equal(got, append(want[:1:1], want[13:]...)) {
		t.Fatalf("stored %q", got)
	}
	for i := 1; i <= 9; i++ {
		if _, err := bob.store.Value(ctx, stageKey(cid, i)); !errors.Is(err, keystore.ErrNotFound) {
			t.Fatalf("staged page %d left behind: %v", i, err)
		}
	}
	if _, err := bob.e.Sync(ctx, alice.id, nil); err != nil {
		t.Fatal(err)
	}
	if got := texts(mustHistory(t, bob.testUser, alice.id)); !slices.Equal(got, want) {
		t.Fatalf("history %q", got)
	}
}
