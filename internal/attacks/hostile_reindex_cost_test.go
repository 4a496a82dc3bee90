package attacks

import (
	"errors"
	"fmt"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
)

// The cost of giving edit indexes back when the group's create, read late,
// fails many indexed edits: each was given back by its own read of the
// history from its start (quadratic in what the server chose to serve).

var reindexCostAttacks = []attack{
	{"create-read-late-failing-many-indexed-edits-read-cost", attackCreateLateFailedEditsCost},
	{"create-bound-late-failing-many-indexed-edits-read-cost", attackCreateBoundFailedEditsCost},
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
	return secondSyncCost(w, h, first, whole, edits, "failing %d indexed edits below the create read late")
}

// attackCreateBoundFailedEditsCost: alice's group with bob, carol and
// mallory; alice gives the four a new key, removes mallory, and mallory
// says 100 things under that key and edits each. The server serves bob's
// first sync everything but the create's pair (alice's first key change):
// the create, read before its pair, is not stored and starts no roster,
// the removal fails (no roster to change) and mallory's events are stored
// verified, each edit indexed. The next sync serves everything but the
// create: the pair stored, the create is bound and the group read again
// from it (rereadFromCreate), which opens the removal and fails her
// events above it; giving each failed edit's index back read the history
// from its start, once per edit.
func attackCreateBoundFailedEditsCost(w *world) (string, error) {
	const n, stretch = 100, 200
	w = newWorld(w.t, emulator.WithRateLimit(0, 0))
	h := &history{w: w, texts: map[string][]string{}, changeAt: map[string]int{}, keys: map[string]*crypto.ConversationKey{}}
	h.alice, h.bob, h.carol = w.newUser("alice", false), w.newUser("bob", false), w.newUser("carol", false)
	h.mallory, h.dv = w.newUser("mallory", false), w.newUser("dave", false)
	g, err := h.alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{h.bob.id, h.carol.id, h.mallory.id}})
	if err != nil {
		return "", errorf("setup: CreateGroup: %v", err)
	}
	h.g = g
	h.readServer()
	createSeq, pairSeq := "", ""
	for _, it := range h.items {
		d := it.me.GetDetail()
		switch {
		case d.GroupChangeEvent != nil && d.GroupChangeEvent.GroupChange != nil && d.GroupChangeEvent.GroupChange.GroupCreate != nil && createSeq == "":
			createSeq = it.seq()
		case d.ConversationKeyChangeEvent != nil && pairSeq == "" && it.me.GetSenderID() == h.alice.id:
			pairSeq = it.seq()
		}
	}
	if createSeq == "" || pairSeq == "" {
		return "", errorf("setup: no create (%q) or pair (%q) in the history", createSeq, pairSeq)
	}
	for i := range stretch {
		h.say(h.alice, fmt.Sprintf("alice in the group %d", i))
	}
	v := h.rotate(h.alice, []*user{h.alice, h.bob, h.carol, h.mallory})
	h.push(h.alice.removal(h.env(), h.mallory.id))
	var targets []string
	for i := range n {
		h.push(h.mallory.forger().Message(h.env(), v, h.keys[v], text(fmt.Sprintf("mallory, removed %d", i))))
		targets = append(targets, h.top())
	}
	var edits []string
	for i, t := range targets {
		h.push(editEvent(h.mallory.forger(), h.env(), v, h.keys[v], t, fmt.Sprintf("mallory, removed: void %d", i)))
		edits = append(edits, h.items[len(h.items)-1].me.GetMessageID())
	}
	h.seal()
	first, err := pageWith(h, nil, pairSeq)
	if err != nil {
		return "", err
	}
	second, err := pageWith(h, nil, createSeq)
	if err != nil {
		return "", err
	}
	return secondSyncCost(w, h, first, second, edits, "failing %d indexed edits above a removal opened by the create bound late")
}

// secondSyncCost serves first to bob's first sync, which must store every
// one of edits verified, and whole to his second, which must fail them
// all, and returns an error when that second sync read more than 8 times
// the history's events from the store (what is said names the edits'
// count with what).
func secondSyncCost(w *world, h *history, first, whole mutPage, edits []string, what string) (string, error) {
	n := len(edits)
	ctx := w.ctx
	e, count, err := countingBob(w.t, ctx, h, &mutation{rounds: [][]mutPage{{first}, {whole}}})
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
		return "", errorf("setup: %d of mallory's %d edits failed by the second sync", failed, n)
	}
	size := int64(len(h.items))
	if bound := 8 * size; read > bound {
		return "", errorf("bob's second sync read %d events "+what+" (history %d events, bound %d): the history is read once per edit",
			read, n, size, bound)
	}
	return fmt.Sprintf("the second sync "+what+" read %d events (history %d)", n, read, size), nil
}
