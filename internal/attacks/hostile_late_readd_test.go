package attacks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"

	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on the re-judging of what this account stored above a group
// change the server served late (session/latejudge.go): can the
// server use a late removal or revocation to fail honest events or drop
// honest members beyond what withholding alone does?

var lateReaddAttacks = []attack{
	{"removal-and-readd-served-late-fails-readmitted", attackRemovalReaddLate},
	{"late-revocation-takes-back-redundant-admin-add", attackRedundantAdminAddLate},
}

// attackRemovalReaddLate: alice removes mallory and adds her again, and
// mallory, a member again, speaks. The server withholds the removal and
// the re-add from bob's first sync (mallory's message verifies: as far as
// bob knows she never left), then serves both at their places in the
// next one, in the same page. Stored in order, the removal is re-judged
// before the re-add above it is stored: unless the walk sees the re-add,
// mallory's honest message fails and stays failed — which no withholding
// does (a fresh device served the same transcript verifies it), and which
// an honest server's push arriving ahead of a sync causes as well.
func attackRemovalReaddLate(w *world) (string, error) {
	h, removal, readd, msg := readmittedScene(w)
	withheld, err := pageOf(h, nil, func(seq string) bool { return seq != removal && seq != readd })
	if err != nil {
		return "", err
	}
	whole, err := pageWith(h, nil, "")
	if err != nil {
		return "", err
	}
	hs, err := readmittedBeforeLate(w, h, msg, withheld, whole, "her removal and re-add")
	if err != nil {
		return "", err
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case len(o.violations) > 0:
		return "", errorf("violations: %v", o.violations)
	case !o.verified[msg.GetMessageID()]:
		return "", errorf("mallory's message, signed after her re-add, failed once her removal and re-add were served late (%v)", o.failed[msg.GetMessageID()])
	}
	return fmt.Sprintf("mallory's message after her re-add kept its verdict (%d members)", len(o.conv.Members)), nil
}

// attackRedundantAdminAddLate: alice makes mallory an admin and revokes
// it; mallory, no admin any more, signs an admin add naming alice (an
// admin already: a no-op), and alice then makes carol an admin. The
// server withholds the revocation from bob's first sync, so mallory's
// admin add verifies (changing nothing), then serves the revocation at its
// place. Re-judging fails mallory's add, rightly; unless taking back what
// it granted spares those it granted nothing (alice held her rights from
// the create), alice loses her admin rights on bob's device — which
// neither withholding (the add is a no-op) nor a fresh device served the
// whole transcript (the add fails, alice stays) does — and her later
// admin actions fail with her. (A member add naming a member
// already is refused as it is read: its signed lists do not split.)
func attackRedundantAdminAddLate(w *world) (string, error) {
	h, revocation, err := revokedAdminScene(w)
	if err != nil {
		return "", err
	}
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(revocation, 500) // between the revocation and alice's grant
	redundant, err := h.adminChange(h.mallory, e, crypto.KindGroupAdminAdd, h.alice.id)
	if err != nil {
		return "", err
	}
	h.push(h.adminAdd(h.carol.id))
	grant := h.items[len(h.items)-1].me
	h.say(h.alice, "alice after making carol an admin")
	h.seal()
	withheld, whole, err := servedLate(h, []*tevent.MessageEvent{redundant}, revocation)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	first := hs.run(w.t, oneRound(withheld))
	if !first.verified[redundant.GetMessageID()] {
		return "", errorf("setup: mallory's admin add of alice not verified with the revocation withheld (%v)", first.failed[redundant.GetMessageID()])
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case len(o.violations) > 0:
		return "", errorf("violations: %v", o.violations)
	case o.verified[redundant.GetMessageID()]:
		return "", errorf("mallory's admin add after her revocation still shown verified")
	case !slices.Contains(o.conv.Admins, h.alice.id):
		return "", errorf("alice, an admin since the create, lost her admin rights on bob's device (admins %v)", o.conv.Admins)
	case !o.verified[grant.GetMessageID()] || !slices.Contains(o.conv.Admins, h.carol.id):
		return "", errorf("alice's admin grant to carol lost (verified %v, admins %v)", o.verified[grant.GetMessageID()], o.conv.Admins)
	}
	return fmt.Sprintf("mallory's add re-judged, alice kept her rights (%d admins)", len(o.conv.Admins)), nil
}

// countingStore counts the events read from a store (every Events call,
// in or out of a transaction): the cost of walking the history.
type countingStore struct {
	keystore.Store
	read *atomic.Int64
}

// countingBob opens bob's device (his identity imported from backup) on a
// countingStore, against a harness serving h as m plans: the counter
// says how many events the syncs that follow read from his store.
func countingBob(tb testing.TB, ctx context.Context, h *history, m *mutation) (*session.Engine, *atomic.Int64, error) {
	hs := startHarness(tb, h)
	hs.srv.set(m)
	count := new(atomic.Int64)
	store := countingStore{keystore.NewMemory(), count}
	if err := session.ImportBackup(ctx, store, h.bob.id, h.bobBackup, h.bobVersion); err != nil {
		return nil, nil, err
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(apiClient(tb, hs.url, h.bob.token)))
	if err != nil {
		return nil, nil, err
	}
	return e, count, nil
}

// countingTx is a transaction of a countingStore.
type countingTx struct {
	keystore.Tx
	read *atomic.Int64
}

// Events implements keystore.Tx, counting.
func (t countingTx) Events(ctx context.Context, cid, after string, limit int) ([]keystore.StoredEvent, error) {
	evs, err := t.Tx.Events(ctx, cid, after, limit)
	t.read.Add(int64(len(evs)))
	return evs, err
}

// Events implements keystore.Tx, counting.
func (s countingStore) Events(ctx context.Context, cid, after string, limit int) ([]keystore.StoredEvent, error) {
	return countingTx{s.Store, s.read}.Events(ctx, cid, after, limit)
}

// Update implements keystore.Store, counting in the transaction.
func (s countingStore) Update(ctx context.Context, fn func(keystore.Tx) error) error {
	return s.Store.Update(ctx, func(tx keystore.Tx) error { return fn(countingTx{tx, s.read}) })
}

// View implements keystore.Store, counting in the snapshot.
func (s countingStore) View(ctx context.Context, fn func(keystore.Tx) error) error {
	return s.Store.View(ctx, func(tx keystore.Tx) error { return fn(countingTx{tx, s.read}) })
}

// lateRemovalsCost plays n removals of mallory (each followed by her
// re-add) below stored messages by alice: bob's first sync withholds
// them all, the second serves them. It returns the events bob's store
// read during the second sync, and whether everything verified.
func lateRemovalsCost(tb testing.TB, n, stored int) (read int64, err error) {
	return lateCost(tb, stored, func(h *history, late map[string]bool) {
		members := []string{h.alice.id, h.bob.id, h.carol.id}
		for range n {
			h.push(h.alice.removal(h.env(), h.mallory.id))
			late[h.top()] = true
			h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.mallory.id}, members, []string{h.alice.id}))
			late[h.top()] = true
		}
	}, nil)
}

// lateCost plays the events play adds to mallory's group (those it marks
// late withheld from bob's first sync) below stored messages by alice,
// then what top adds (nil: nothing), and serves bob the whole in his
// second sync. It returns the events bob's store read during the second
// sync, and whether everything verified.
func lateCost(tb testing.TB, stored int, play func(h *history, late map[string]bool), top func(h *history)) (read int64, err error) {
	w := newWorld(tb, emulator.WithRateLimit(0, 0))
	h, err := malloryJoined(w)
	if err != nil {
		return 0, err
	}
	late := map[string]bool{}
	play(h, late)
	for i := range stored {
		h.say(h.alice, fmt.Sprintf("alice's message %d", i))
	}
	if top != nil {
		top(h)
	}
	h.seal()
	withheld, err := pageOf(h, nil, func(seq string) bool { return !late[seq] })
	if err != nil {
		return 0, err
	}
	whole, err := pageWith(h, nil, "")
	if err != nil {
		return 0, err
	}
	ctx := w.ctx
	e, count, err := countingBob(tb, ctx, h, &mutation{rounds: [][]mutPage{{withheld}, {whole}}})
	if err != nil {
		return 0, err
	}
	defer e.Close()
	if _, err := e.Sync(ctx, h.g, nil); err != nil {
		return 0, err
	}
	count.Store(0)
	if _, err := e.Sync(ctx, h.g, nil); err != nil {
		return 0, err
	}
	read = count.Load()
	hist, err := e.History(ctx, h.g, "", 0)
	if err != nil {
		return read, err
	}
	for _, en := range hist {
		if !en.Verified {
			return read, errorf("%s %s by %s at %s not verified: %s", en.Type, en.MessageID, en.SenderID, en.SequenceID, en.Error)
		}
	}
	return read, nil
}

// TestLateRemovalsReadCost measures what re-judging costs when the server
// serves many genuine removals late, below a long stored history: the
// events bob's store reads in the sync that brings them (counted, not
// timed). One walk per sync covering all its late changes reads the
// history above the lowest once; a walk per removal read it once per
// removal (quadratic).
func TestLateRemovalsReadCost(t *testing.T) {
	const n, stored = 40, 600
	read, err := lateRemovalsCost(t, n, stored)
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("rejudge-cost: %d late removals below %d stored events: %d events read", n, stored, read)
	t.Log(line)
	addSummary(line)
	if bound := int64(4 * (stored + 2*n)); read > bound {
		t.Errorf("the sync read %d events, over %d: re-judging walks the history more than once", read, bound)
	}
}

// TestLateSettingsReadCost measures what reading the group's details
// again costs when the server serves many genuine avatar changes late,
// below a later one: the events bob's store reads in the sync that brings
// them (counted, not timed). The details are read again once per storing
// step; read again for each backfilled change, the sync read every stored
// group change once per change (quadratic).
func TestLateSettingsReadCost(t *testing.T) {
	const n, stored = 150, 50
	read, err := lateCost(t, stored, func(h *history, late map[string]bool) {
		for i := range n {
			h.push(h.alice.avatarChange(h.env(), h.newestVersion(), fmt.Sprintf("https://pbs.twimg.com/group/%d.jpg", i)))
			late[h.top()] = true
		}
	}, func(h *history) {
		h.push(h.alice.avatarChange(h.env(), h.newestVersion(), "https://pbs.twimg.com/group/last.jpg"))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d avatar changes backfilled below a later one and %d messages: %d events read", n, stored, read)
	if bound := int64(4 * (stored + 2*n)); read > bound {
		t.Errorf("the sync read %d events, over %d: the group's details were read again once per backfilled change", read, bound)
	}
}

// TestLateRevocationReplayedRejudgesNothing: alice revokes mallory's
// admin rights, grants them again, and mallory adds dave; bob's device
// stores all of it. The server then re-serves the genuine revocation
// under a new sequence id between the re-grant and the add (below the
// stored tip, as a late change). A replay fails (ErrReplayed) and must
// re-judge nothing: the add keeps its verdict and dave his place.
func TestLateRevocationReplayedRejudgesNothing(t *testing.T) {
	w := newWorld(t)
	h, _, err := revokedAdminScene(w)
	if err != nil {
		t.Fatal(err)
	}
	revocation := h.items[len(h.items)-1]
	h.push(h.adminAdd(h.mallory.id))
	regrant := h.top()
	members := []string{h.alice.id, h.bob.id, h.carol.id, h.mallory.id}
	h.push(h.mallory.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, members, []string{h.alice.id, h.mallory.id}))
	add := h.items[len(h.items)-1].me
	h.say(h.alice, "alice after the add")
	h.seal()
	replay := cloneItem(revocation)
	replay.me.SequenceID, replay.me.PreviousSequenceID = strp(hostile.NextSequenceID(regrant, 7)), strp(regrant)
	whole, err := pageWith(h, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	replayed, err := pageWith(h, []*tevent.MessageEvent{replay.me}, "")
	if err != nil {
		t.Fatal(err)
	}
	hs := startHarness(t, h)
	o := hs.run(t, &mutation{rounds: [][]mutPage{{whole}, {replayed}}, pushes: make([][]*tevent.MessageEvent, 3), kcs: map[string]string{}})
	switch {
	case len(o.violations) > 0:
		t.Fatalf("violations: %v", o.violations)
	case o.conv == nil:
		t.Fatalf("no conversation after the syncs: %v", o.syncErrs)
	case !errors.Is(o.failed[replay.me.GetMessageID()], xchat.ErrReplayed) && o.verified[replay.me.GetMessageID()]:
		t.Errorf("the replayed revocation was not refused: %v", o.failed[replay.me.GetMessageID()])
	case !o.verified[add.GetMessageID()]:
		t.Errorf("mallory's add after the re-grant failed once the revocation was replayed below it")
	case !slices.Contains(o.conv.Members, h.dv.id):
		t.Errorf("dave dropped from bob's roster %v by a replayed revocation", o.conv.Members)
	}
}

// TestLateRevocationFailsWhatTheUnadmittedSigned: alice revokes mallory's
// admin rights; mallory, no admin any more, adds dave, and dave speaks.
// With the revocation withheld from bob's first sync, the add and dave's
// message verify; served late, the revocation fails the add and takes
// dave's place back — and what dave signed above the failed add, as a
// member only by it, fails too, as on a fresh device served the whole
// transcript (a withholding server's outcome is no better for dave).
func TestLateRevocationFailsWhatTheUnadmittedSigned(t *testing.T) {
	w := newWorld(t)
	h, revocation, add, err := revokedAdminAdd(w)
	if err != nil {
		t.Fatal(err)
	}
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(revocation, 700)
	v := h.newestVersion()
	said, err := h.dv.forger().Message(e, v, h.keys[v], text("dave, let in by mallory"))
	if err != nil {
		t.Fatal(err)
	}
	h.say(h.alice, "alice after the revocation")
	h.seal()
	extra := []*tevent.MessageEvent{add, said}
	withheld, whole, err := servedLate(h, extra, revocation)
	if err != nil {
		t.Fatal(err)
	}
	hs := startHarness(t, h)
	first := hs.run(t, oneRound(withheld))
	if !first.verified[said.GetMessageID()] {
		t.Fatalf("setup: dave's message not verified with the revocation withheld (%v)", first.failed[said.GetMessageID()])
	}
	fresh := hs.run(t, oneRound(whole))
	o := hs.run(t, lateRounds(withheld, whole))
	switch {
	case fresh.verified[said.GetMessageID()]:
		t.Fatalf("setup: a fresh device served the whole transcript verifies dave's message")
	case o.conv == nil:
		t.Fatalf("no conversation after the syncs: %v", o.syncErrs)
	case slices.Contains(o.conv.Members, h.dv.id):
		t.Errorf("dave stays on bob's roster %v", o.conv.Members)
	case o.verified[said.GetMessageID()]:
		t.Errorf("dave's message, signed as a member only by mallory's failed add, still verified")
	}
}
