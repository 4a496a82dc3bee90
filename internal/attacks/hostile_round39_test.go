package attacks

import (
	"errors"
	"fmt"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
)

// Red team round 39: settle's overflow of pending actions (past
// maxPending per target) and the send's unopened echo.

var round39Attacks = []attack{
	{"delete-flood-overflowing-many-targets-read-cost", attackDeleteFloodManyTargetsCost},
	{"authors-edit-placed-below-its-target-under-non-author-edit", attackAuthorsEditBelowTarget},
	{"non-author-edits-far-above-many-targets-read-cost", attackNonAuthorEditsFarAboveCost},
	{"late-removal-failed-edit-hides-honest-edit-placed-below-its-target", attackLateFailedEditHonestBelow},
	{"late-removal-failing-many-indexed-edits-read-cost", attackLateFailedEditsCost},
}

// attackLateFailedEditsCost: mallory says n things, alice says more, alice
// removes mallory, and mallory, removed, edits each of her n messages. The
// server withholds the removal from bob's first sync (every edit verifies
// and is indexed) and serves it at its place in the second: the walk fails
// every edit, each the one its target's index names, and gives each index
// back to mallory's newest standing edit below it. Read from the history
// once per failed edit, that walk read the history n times (quadratic in
// what one member signs). The events bob's store reads in the second sync
// are counted (not timed) against a few walks of the history; every edit
// must fail.
func attackLateFailedEditsCost(w *world) (string, error) {
	const n, stretch = 100, 200
	w = newWorld(w.t, emulator.WithRateLimit(0, 0))
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	var targets []string
	for i := range n {
		h.say(h.mallory, fmt.Sprintf("mallory, a member %d", i))
		targets = append(targets, h.top())
	}
	for i := range stretch {
		h.say(h.alice, fmt.Sprintf("alice between %d", i))
	}
	h.push(h.alice.removal(h.env(), h.mallory.id))
	removal := h.top()
	v := h.newestVersion()
	var edits []string
	for i, t := range targets {
		h.push(editEvent(h.mallory.forger(), h.env(), v, h.keys[v], t, fmt.Sprintf("mallory, removed: void %d", i)))
		edits = append(edits, h.items[len(h.items)-1].me.GetMessageID())
	}
	h.seal()
	withheld, err := pageOf(h, nil, func(seq string) bool { return seq != removal })
	if err != nil {
		return "", err
	}
	whole, err := pageWith(h, nil, "")
	if err != nil {
		return "", err
	}
	return secondSyncCost(w, h, withheld, whole, edits, "failing %d indexed edits")
}

// attackLateFailedEditHonestBelow: late-removal-failed-edit-hides-honest-edit
// with carol's honest edit placed by the server below her message (nobody
// signs an edit's place). Bob's first sync, the removal withheld, indexes
// carol's later edit; the second serves the removal at its place and the
// walk fails that edit. Giving the index back, the walk looked for carol's
// newest standing edit only between the message and the failed edit: it
// cleared the index, and bob's reply quoted carol's original words, where
// a fresh device served everything (the honest edit pending, kept when
// the message arrives) quotes her honest edit.
func attackLateFailedEditHonestBelow(w *world) (string, error) {
	const fixed, rewrite = "carol, a member (the meeting is at 9)", "carol after her removal: send the keys to me"
	gr := newGroup(w)
	base := gr.alice.send(gr.g, "before the scene")[0]
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	key := gr.alice.convKey(gr.g, c.KeyVersion)
	target := hostile.NextSequenceID(base.SequenceID, 2)
	honest, err := editEvent(gr.carol.forger(), envAfter(base.SequenceID, gr.g, 1, 3911), c.KeyVersion, key, target, fixed)
	if err != nil {
		return "", err
	}
	msg, err := gr.carol.forger().Message(envAfter(base.SequenceID, gr.g, 2, 3912), c.KeyVersion, key, textHolder("carol, a member"))
	if err != nil {
		return "", err
	}
	removal, err := gr.alice.removal(envAfter(base.SequenceID, gr.g, 3, 3913), gr.carol.id)
	if err != nil {
		return "", err
	}
	late, err := editEvent(gr.carol.forger(), envAfter(base.SequenceID, gr.g, 4, 3914), c.KeyVersion, key, target, rewrite)
	if err != nil {
		return "", err
	}
	backup, err := gr.bob.e.ExportBackup()
	if err != nil {
		return "", err
	}
	w.injectData("edits-without-removal", gr.g, encodeAll(w, late, msg, honest)...)
	if r := gr.bob.sync(gr.g); r.err != nil || r.eventOf(late.GetMessageID()) == nil || r.eventOf(late.GetMessageID()).Err != nil {
		return "", errorf("setup: carol's edit not verified with her removal withheld (%v)", r.err)
	}
	w.proxy.Reset()
	w.injectData("removal-late", gr.g, encodeAll(w, late, removal, msg, honest)...)
	if r := gr.bob.sync(gr.g); r.err != nil && !errors.Is(r.err, xchat.ErrServerResponse) {
		return "", r.err
	}
	hist, err := gr.bob.e.History(w.ctx, gr.g, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range hist {
		switch {
		case en.MessageID == late.GetMessageID() && en.Verified:
			return "", errorf("setup: carol's edit after her removal still verified once the removal was served")
		case en.MessageID == honest.GetMessageID() && !en.Verified:
			return "", errorf("setup: carol's honest edit failed: %s", en.Error)
		}
	}
	pieces, err := quoteInPost(w, gr.bob, gr.g, target)
	if err != nil {
		return "", errorf("bob's reply to carol's message: %v", err)
	}
	w.proxy.Reset()
	w.injectData("whole", gr.g, encodeAll(w, late, removal, msg, honest)...)
	fresh, err := freshDevice(w, gr.bob, backup)
	if err != nil {
		return "", err
	}
	defer fresh.e.Close()
	if r := fresh.sync(gr.g); r.err != nil && !errors.Is(r.err, xchat.ErrServerResponse) {
		return "", r.err
	}
	once, err := quoteInPost(w, fresh, gr.g, target)
	switch {
	case err != nil:
		return "", errorf("a fresh device's reply to carol's message: %v", err)
	case once != fixed:
		return "", errorf("setup: a fresh device quotes %q, not carol's honest edit", once)
	case pieces != once:
		return "", errorf("bob's reply quotes %q, where a fresh device quotes carol's honest edit %q (placed below her message)", pieces, once)
	}
	return fmt.Sprintf("bob's reply quotes carol's honest edit %q, as a fresh device does", pieces), nil
}

// attackAuthorsEditBelowTarget: alice's edit of her message and carol's
// edit of it, both given sequence ids below the message by the server
// (nobody signs an edit's place). A device served the message first (the
// edits withheld, then served below it) indexes alice's edit and rejects
// carol's at once: its replies quote alice's edit. A fresh device served
// all three in order stores both edits before the message (pending,
// carol's indexed as the later), and settle, rejecting carol's, looked for
// alice's newest edit only above the message: it cleared the index, so
// its replies quoted alice's original words. Both devices must quote
// alice's edit.
func attackAuthorsEditBelowTarget(w *world) (string, error) {
	gr := newGroup(w)
	base := gr.alice.send(gr.g, "before the scene")[0]
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	key := gr.alice.convKey(gr.g, c.KeyVersion)
	target := hostile.NextSequenceID(base.SequenceID, 3)
	const edited = "the meeting is at 10"
	byAlice, err := editEvent(gr.alice.forger(), envAfter(base.SequenceID, gr.g, 1, 3901), c.KeyVersion, key, target, edited)
	if err != nil {
		return "", err
	}
	byCarol, err := editEvent(gr.carol.forger(), envAfter(base.SequenceID, gr.g, 2, 3902), c.KeyVersion, key, target, "carol: the meeting is off")
	if err != nil {
		return "", err
	}
	msg, err := gr.alice.forger().Message(envAfter(base.SequenceID, gr.g, 3, 3903), c.KeyVersion, key, textHolder("the meeting is at 9"))
	if err != nil {
		return "", err
	}
	backup, err := gr.bob.e.ExportBackup()
	if err != nil {
		return "", err
	}
	path := api.ConversationPathID(gr.g)
	w.injectData("message-first", path, encodeAll(w, msg)...)
	if r := gr.bob.sync(gr.g); r.err != nil {
		return "", r.err
	}
	w.proxy.Reset()
	w.injectData("edits-below-the-message", path, encodeAll(w, msg, byCarol, byAlice)...)
	if r := gr.bob.sync(gr.g); r.err != nil {
		return "", r.err
	}
	pieces, err := quoteInPost(w, gr.bob, gr.g, target)
	if err != nil {
		return "", errorf("bob's reply to alice's message: %v", err)
	}
	w.proxy.Reset()
	w.injectData("edits-below-the-message", path, encodeAll(w, msg, byCarol, byAlice)...)
	fresh, err := freshDevice(w, gr.bob, backup)
	if err != nil {
		return "", err
	}
	defer fresh.e.Close()
	if r := fresh.sync(gr.g); r.err != nil {
		return "", r.err
	}
	once, err := quoteInPost(w, fresh, gr.g, target)
	if err != nil {
		return "", errorf("a fresh device's reply to alice's message: %v", err)
	}
	switch {
	case pieces != edited:
		return "", errorf("setup: bob, served the message before the edits, quotes %q, not alice's edit", pieces)
	case once != pieces:
		return "", errorf("a fresh device, served alice's and carol's edits below alice's message, quotes %q; bob, served the message first, quotes alice's edit %q", once, pieces)
	}
	return fmt.Sprintf("bob and a fresh device both quote alice's edit %q", once), nil
}

// freshDevice is a new device of u, restored from backup, not synced.
func freshDevice(w *world, u *user, backup []byte) (*user, error) {
	store := keystore.NewMemory()
	if err := session.ImportBackup(w.ctx, store, u.id, backup, u.e.PublicKeyVersion()); err != nil {
		return nil, err
	}
	e, err := session.Open(w.ctx, store, session.NewAPIServer(u.client))
	if err != nil {
		return nil, err
	}
	return &user{w: w, id: u.id, token: u.token, store: store, e: e, client: u.client}, nil
}

// attackNonAuthorEditsFarAboveCost: mallory, a member, signs an edit of
// each of n messages of alice, placed far above them (a stored stretch
// between); the server serves bob the edits with the messages withheld
// (each edit pending and indexed for its target), then the messages.
// Settling each rejects mallory's edit, which the index names, and looks
// for alice's newest edit of the message: reading the history from the
// message up to mallory's edit for each target would read the stretch n
// times (quadratic in what one member signs). Counted, not timed.
func attackNonAuthorEditsFarAboveCost(w *world) (string, error) {
	const n, stretch = 160, 200
	return settleFloodCost(w, n, stretch, func(h *history, targets []string) []string {
		v := h.newestVersion()
		var mids []string
		for i, t := range targets {
			h.push(editEvent(h.mallory.forger(), h.env(), v, h.keys[v], t, fmt.Sprintf("mallory: void %d", i)))
			mids = append(mids, h.items[len(h.items)-1].me.GetMessageID())
		}
		return mids
	})
}

// attackDeleteFloodManyTargetsCost: mallory, a member, signs 17 deletes for
// everyone, each naming the same n messages of alice; the server serves
// bob the deletes with alice's messages withheld (each target's pending
// deletes overflow the bound of 16) and then the messages below them.
// Settling each target that overflowed must not read the whole history
// once per target: n targets would cost n walks of a history that holds
// them all (quadratic in what one member can sign). The events bob's store
// reads in the second sync are counted (not timed) against a few walks of
// the history; every delete must still fail and every message stand.
func attackDeleteFloodManyTargetsCost(w *world) (string, error) {
	const n, k = 160, 17
	return settleFloodCost(w, n, 0, func(h *history, targets []string) []string {
		var mids []string
		for range k {
			h.push(deleteEvent(h.mallory.forger(), h.env(), targets...))
			mids = append(mids, h.items[len(h.items)-1].me.GetMessageID())
		}
		return mids
	})
}

// settleFloodCost plays a settle cost scene in mallory's group: n
// messages of alice (withheld from bob's first sync), stretch more of
// hers, the actions act signs naming the n (their message ids returned:
// each must fail), and 20 more of alice's messages. The second sync
// serves everything; the events bob's store reads in it are counted
// against a few walks of the history and a look-up of each action for
// each target it names (what the actions signed).
func settleFloodCost(w *world, n, stretch int, act func(h *history, targets []string) []string) (string, error) {
	const stored = 20
	w = newWorld(w.t, emulator.WithRateLimit(0, 0))
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	late := map[string]bool{}
	var targets []string
	for i := range n {
		h.say(h.alice, fmt.Sprintf("alice's message %d", i))
		late[h.top()] = true
		targets = append(targets, h.top())
	}
	for i := range stretch {
		h.say(h.alice, fmt.Sprintf("alice between %d", i))
	}
	failing := act(h, targets)
	pairs := int64(0)
	for _, it := range h.items[len(h.items)-len(failing):] {
		if d := it.me.GetDetail().GetMessageDeleteEvent(); d != nil {
			pairs += int64(len(d.GetSequenceIds()))
		} else {
			pairs++
		}
	}
	for i := range stored {
		h.say(h.alice, fmt.Sprintf("alice after the actions %d", i))
	}
	h.seal()
	withheld, err := pageOf(h, nil, func(seq string) bool { return !late[seq] })
	if err != nil {
		return "", err
	}
	whole, err := pageWith(h, nil, "")
	if err != nil {
		return "", err
	}
	ctx := w.ctx
	e, count, err := countingBob(w.t, ctx, h, &mutation{rounds: [][]mutPage{{withheld}, {whole}}})
	if err != nil {
		return "", err
	}
	defer e.Close()
	if _, err := e.Sync(ctx, h.g, nil); err != nil {
		return "", err
	}
	count.Store(0)
	if _, err := e.Sync(ctx, h.g, nil); err != nil {
		return "", err
	}
	read := count.Load()
	hist, err := e.History(ctx, h.g, "", 0)
	if err != nil {
		return "", err
	}
	byMID := map[string]event.Entry{}
	for _, en := range hist {
		byMID[en.MessageID] = en
	}
	for _, mid := range failing {
		if en, ok := byMID[mid]; !ok || en.Verified {
			return "", errorf("mallory's action %s naming alice's messages stored %v, verified %v", mid, ok, en.Verified)
		}
	}
	standing := 0
	for _, en := range hist {
		if en.SenderID == h.alice.id && en.Type == event.TypeMessage && en.Verified && !en.Removed {
			standing++
		}
	}
	if standing < n+stretch+stored {
		return "", errorf("only %d of alice's %d messages stand after mallory's actions", standing, n+stretch+stored)
	}
	size := int64(len(h.items))
	if bound := 8*size + pairs; read > bound {
		return "", errorf("bob's second sync read %d events settling %d targets named by %d of mallory's actions (history %d events, bound %d): the history is walked once per target",
			read, n, len(failing), size, bound)
	}
	return fmt.Sprintf("settling %d targets named by %d actions read %d events (history %d)", n, len(failing), read, size), nil
}
