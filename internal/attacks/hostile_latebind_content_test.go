package attacks

import (
	"fmt"
	"slices"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Content stored failed for the roster before a create bound late. The
// create is read before its pair (unbound), then served again with it:
// stored, it starts the roster and fails the messages stored meanwhile
// whose authors it does not name; the reading again from it then opens
// the member adds read before any roster. A message by a member such an
// add let in must open with it, as a fresh device keeps it; one by an
// author a refused add names must not.

var lateBindContentAttacks = []attack{
	{"create-bound-late-honest-add-opens-but-its-member-message-stays-failed", attackLateBindAddedMessage},
	{"create-bound-late-reopens-message-of-outsider-added-by-non-admin", attackLateBindForgedAddMessage},
}

// daveReaddedScene is alice's group with bob, carol and dave as the
// server holds it, then alice's removal of dave and her add of him again
// pushed onto it (not sealed). It returns the history and the sequence id
// of the create's pair.
func daveReaddedScene(w *world) (*history, string, error) {
	h := &history{w: w, texts: map[string][]string{}, changeAt: map[string]int{}, keys: map[string]*crypto.ConversationKey{}}
	h.alice, h.bob, h.carol = w.newUser("alice", false), w.newUser("bob", false), w.newUser("carol", false)
	h.mallory, h.dv = w.newUser("mallory", false), w.newUser("dave", false)
	g, err := h.alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{h.bob.id, h.carol.id, h.dv.id}})
	if err != nil {
		return nil, "", errorf("setup: CreateGroup: %v", err)
	}
	h.g = g
	h.readServer()
	_, pairSeq, err := createAndPair(h)
	if err != nil {
		return nil, "", err
	}
	h.push(h.alice.removal(h.env(), h.dv.id))
	h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, []string{h.alice.id, h.bob.id, h.carol.id}, []string{h.alice.id}))
	return h, pairSeq, nil
}

// attackLateBindAddedMessage: alice's group with bob, carol and dave;
// alice removes dave (read before any roster: failed, dave a tombstone),
// adds him again (cannot start the roster over the tombstone: failed),
// rotates the key (to a version served, so that what follows decrypts),
// dave speaks. The create, served again with its pair, starts the roster
// without dave (the tombstone) and fails his message; reading the group
// again from it opens the removal and the add, and must open his message
// with them, as a fresh device keeps it.
func attackLateBindAddedMessage(w *world) (string, error) {
	h, pairSeq, err := daveReaddedScene(w)
	if err != nil {
		return "", err
	}
	h.rotate(h.alice, []*user{h.alice, h.bob, h.carol, h.dv})
	h.say(h.dv, "dave, added again")
	var mids []string
	for _, it := range h.items[len(h.items)-4:] {
		mids = append(mids, it.me.GetMessageID())
	}
	mids = slices.Delete(mids, 2, 3) // the key change
	h.seal()
	first, err := pageOf(h, nil, func(s string) bool { return s != pairSeq })
	if err != nil {
		return "", err
	}
	second, err := pageOf(h, nil, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	o := startHarness(w.t, h).run(w.t, lateRounds(first, second))
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case !o.verified[mids[0]] || !o.verified[mids[1]]:
		return "", errorf("setup: alice's removal and add of dave were not opened (%v; %v)", o.failed[mids[0]], o.failed[mids[1]])
	case !o.verified[mids[2]]:
		return "", errorf("dave's message above alice's add of him stays failed (%v)", o.failed[mids[2]])
	case !o.handed[mids[2]]:
		return "", errorf("dave's message opened but never handed to fn verified")
	}
	return "dave's message opens with alice's removal and add of him, handed to fn", nil
}

// attackLateBindForgedAddMessage: bob (a member, no admin) adds mallory,
// naming himself nowhere (so it cannot start a roster), and mallory
// speaks; both read before any roster. The reading again refuses the
// add, and mallory's message, failed by the create, must stay failed.
func attackLateBindForgedAddMessage(w *world) (string, error) {
	var forged []string
	_, o, _, err := pairLateScene(w, true, func(h *history) []*tevent.MessageEvent {
		h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
		top, v := h.top(), h.newestVersion()
		e := h.env()
		e.SequenceID = hostile.NextSequenceID(top, 1500)
		add, err := h.bob.memberAdd(e, v, []string{h.mallory.id}, []string{h.alice.id, h.carol.id}, []string{h.alice.id, h.carol.id})
		if err != nil {
			w.t.Fatal(err)
		}
		e = h.env()
		e.SequenceID = hostile.NextSequenceID(top, 1700)
		say, err := h.mallory.forger().Message(e, v, h.keys[v], text("mallory, added by bob"))
		if err != nil {
			w.t.Fatal(err)
		}
		forged = []string{add.GetMessageID(), say.GetMessageID()}
		return []*tevent.MessageEvent{add, say}
	})
	if err != nil {
		return "", err
	}
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case o.verified[forged[0]]:
		return "", errorf("bob's add of mallory, read before the create, opened verified")
	case o.verified[forged[1]] || o.handed[forged[1]]:
		return "", errorf("mallory's message above bob's add of her opened verified")
	}
	return fmt.Sprintf("bob's add of mallory and her message stay failed (%v; %v)", o.failed[forged[0]], o.failed[forged[1]]), nil
}
