package attacks

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
)

// The cost of giving edit indexes back when the group's create, read late,
// fails many indexed edits: each was given back by its own read of the
// history from its start (quadratic in what the server chose to serve).

var reindexCostAttacks = []attack{
	{"create-read-late-failing-many-indexed-edits-read-cost", attackCreateLateFailedEditsCost},
}

// attackCreateLateFailedEditsCost: mallory, never a member, distributes a
// key of her own, says 100 things under it and edits each, all placed
// above the group's history; the server serves her events alone to bob's
// first sync (no roster held: each is stored verified, each edit indexed)
// and the history, create included, in the next. The create fails every
// one of her events (rejudgeBeforeCreate); giving each failed edit's index
// back read the history from its start, once per edit. Counted, not
// timed: the second sync may read the history a few times, not once per
// edit.
func attackCreateLateFailedEditsCost(w *world) (string, error) {
	const n, stretch = 100, 200
	w = newWorld(w.t, emulator.WithRateLimit(0, 0))
	h := newBareHistory(w)
	h.readServer()
	for i := range stretch {
		h.say(h.alice, fmt.Sprintf("alice in the group %d", i))
	}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	h.malloryKeys = append(h.malloryKeys, key)
	version := h.nextVersion(1000)
	mallory := map[string]bool{}
	h.push(h.mallory.forger().KeyChange(h.env(), version, key,
		[]hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient()}))
	mallory[h.top()] = true
	var targets []string
	for i := range n {
		h.push(h.mallory.forger().Message(h.env(), version, key, text(fmt.Sprintf("mallory, never a member %d", i))))
		mallory[h.top()] = true
		targets = append(targets, h.top())
	}
	var edits []string
	for i, t := range targets {
		h.push(editEvent(h.mallory.forger(), h.env(), version, key, t, fmt.Sprintf("mallory, never a member: void %d", i)))
		mallory[h.top()] = true
		edits = append(edits, h.items[len(h.items)-1].me.GetMessageID())
	}
	h.seal()
	first, err := pageOf(h, nil, func(seq string) bool { return mallory[seq] })
	if err != nil {
		return "", err
	}
	whole, err := pageWith(h, nil, "")
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	hs.srv.set(&mutation{rounds: [][]mutPage{{first}, {whole}}})
	ctx := w.ctx
	var count atomic.Int64
	store := countingStore{keystore.NewMemory(), &count}
	if err := session.ImportBackup(ctx, store, h.bob.id, h.bobBackup, h.bobVersion); err != nil {
		return "", err
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(apiClient(w.t, hs.url, h.bob.token)))
	if err != nil {
		return "", err
	}
	defer e.Close()
	res, err := e.Sync(ctx, h.g, nil)
	if err != nil {
		return "", err
	}
	stored := 0
	for _, en := range res.Entries {
		if slices.Contains(edits, en.MessageID) && en.Verified {
			stored++
		}
	}
	if stored != n {
		return "", errorf("setup: the first sync stored %d of mallory's %d edits verified (roster %s)", stored, n, res.Roster)
	}
	count.Store(0)
	if _, err := e.Sync(ctx, h.g, nil); err != nil && !errors.Is(err, xchat.ErrServerResponse) {
		return "", err
	}
	read := count.Load()
	hist, err := e.History(ctx, h.g, "", 0)
	if err != nil {
		return "", err
	}
	failed := 0
	for _, en := range hist {
		if slices.Contains(edits, en.MessageID) && !en.Verified {
			failed++
		}
	}
	if failed != n {
		return "", errorf("setup: %d of mallory's %d edits failed once the create was read", failed, n)
	}
	size := int64(len(h.items))
	if bound := 8 * size; read > bound {
		return "", errorf("bob's second sync read %d events failing %d indexed edits below the create read late (history %d events, bound %d): the history is read once per edit",
			read, n, size, bound)
	}
	return fmt.Sprintf("the create read late failing %d indexed edits read %d events (history %d)", n, read, size), nil
}
