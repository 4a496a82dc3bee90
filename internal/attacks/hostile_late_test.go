package attacks

import (
	"fmt"
	"slices"
	"testing"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on what this account stored before the server served a group
// change late (below the stored tip).

var lateAttacks = []attack{
	{"removal-served-late-keeps-key-change", attackRemovalServedLate},
	{"removal-pushed-late-keeps-key-change", attackRemovalPushedLate},
	{"forgeries-pushed-before-removal-served", attackForgeriesPushedFirst},
	{"admin-revocation-served-late-keeps-add", attackAdminRevocationLate},
}

// attackRemovalServedLate (the transcript-mutation fuzzer's seed 0x2f8,
// reduced): the server withholds alice's removal of mallory from bob's
// first sync, so what mallory signs after it — a key change to a newer
// version wrapped to everyone, and a message — verifies: as far as bob
// can tell she is still a member. The next sync serves the removal at its
// place, below everything bob stored. Unless the engine re-judges what it
// stored above the removal, mallory's message stays verified and her key
// stays a verified key of the group.
func attackRemovalServedLate(w *world) (string, error) {
	return removalLate(w, lateBySync)
}

// attackRemovalPushedLate: removal-served-late-keeps-key-change with the
// removal pushed (Engine.Deliver) between the two syncs instead of served
// by the second: stored by the push, it is no longer new to the sync.
func attackRemovalPushedLate(w *world) (string, error) {
	return removalLate(w, lateByPush)
}

// attackForgeriesPushedFirst: bob's first sync ends before the removal;
// mallory's key change and message (signed after it) are pushed
// (Engine.Deliver), above bob's sync position, while the removal is
// withheld; the next sync serves the whole transcript, the removal below
// the pushed events, which are stored already and keep their verdict
// unless the removal re-judges them.
func attackForgeriesPushedFirst(w *world) (string, error) {
	return removalLate(w, forgeriesPushed)
}

// How the late-removal scene serves the removal.
const (
	lateBySync      = iota // withheld from the first sync, served by the second
	lateByPush             // withheld from the first sync, pushed before the second
	forgeriesPushed        // the first sync ends before it; the forgeries are pushed; the second serves it
)

// removalLate plays the late-removal scene as how says.
func removalLate(w *world, how int) (string, error) {
	h, msg, err := removedMemberScene(w, "mallory after her removal, before bob hears of it")
	if err != nil {
		return "", err
	}
	kc, err := h.lateKeyChange(300)
	if err != nil {
		return "", err
	}
	withheld, whole, err := servedLate(h, []*tevent.MessageEvent{kc, msg}, h.removal)
	if err != nil {
		return "", err
	}
	m := lateRounds(withheld, whole)
	switch how {
	case lateByPush:
		for _, it := range h.items {
			if it.seq() == h.removal {
				m.pushes[1] = append(m.pushes[1], it.me)
			}
		}
	case forgeriesPushed:
		before, err := pageBelow(h, h.removal)
		if err != nil {
			return "", err
		}
		m.rounds[0] = []mutPage{before}
		m.pushes[1] = []*tevent.MessageEvent{kc, msg}
	}
	hs := startHarness(w.t, h)
	o := hs.run(w.t, m)
	if len(o.violations) > 0 {
		return "", errorf("removal served late: %v", o.violations)
	}
	if o.failed[kc.GetMessageID()] != nil || o.failed[msg.GetMessageID()] != nil {
		return "", errorf("setup: mallory's key change or message refused in the first sync (%v, %v)", o.failed[kc.GetMessageID()], o.failed[msg.GetMessageID()])
	}
	return "mallory's key change and message re-judged when her removal arrived late", nil
}

// pageWith serves h's items and extra as one page, newest first, without
// the event at skip (if any).
func pageWith(h *history, extra []*tevent.MessageEvent, skip string) (mutPage, error) {
	return pageOf(h, extra, func(seq string) bool { return seq != skip })
}

// servedLate serves h's items and extra as one page twice: withheld
// without the event at skip, whole with it.
func servedLate(h *history, extra []*tevent.MessageEvent, skip string) (withheld, whole mutPage, err error) {
	if withheld, err = pageWith(h, extra, skip); err != nil {
		return withheld, whole, err
	}
	whole, err = pageWith(h, extra, "")
	return withheld, whole, err
}

// oneRound serves p to one sync.
func oneRound(p mutPage) *mutation {
	return &mutation{rounds: [][]mutPage{{p}}, pushes: make([][]*tevent.MessageEvent, 2), kcs: map[string]string{}}
}

// lateRounds serves withheld to a first sync and whole to a second.
func lateRounds(withheld, whole mutPage) *mutation {
	return &mutation{rounds: [][]mutPage{{withheld}, {whole}}, pushes: make([][]*tevent.MessageEvent, 3), kcs: map[string]string{}}
}

// malloryJoined is alice's group with bob and carol, to which alice added
// mallory with her engine, all synced, the server's history read.
func malloryJoined(w *world) (*history, error) {
	h := newBareHistory(w)
	if err := h.synced(h.alice).e.AddMembers(w.ctx, h.g, h.mallory.id); err != nil {
		return nil, err
	}
	h.synced(h.mallory)
	h.synced(h.bob)
	h.readServer()
	return h, nil
}

// pageBelow serves h's items below seq as one page, newest first.
func pageBelow(h *history, seq string) (mutPage, error) {
	return pageOf(h, nil, func(s string) bool { return decimal.Less(s, seq) })
}

// pageOf serves as one page, newest first, the items of h that keep
// takes and extra: key changes in the page's meta, the rest as its data.
func pageOf(h *history, extra []*tevent.MessageEvent, keep func(seq string) bool) (mutPage, error) {
	all := make([]*tevent.MessageEvent, 0, len(h.items)+len(extra))
	for _, it := range h.items {
		if keep(it.seq()) {
			all = append(all, it.me)
		}
	}
	all = append(all, extra...)
	slices.SortFunc(all, func(a, b *tevent.MessageEvent) int { return decimal.Compare(b.GetSequenceID(), a.GetSequenceID()) })
	var p mutPage
	for _, me := range all {
		b, err := hostile.EncodeEvent(me)
		if err != nil {
			return p, err
		}
		if me.GetDetail().ConversationKeyChangeEvent != nil {
			p.keys = append(p.keys, b)
		} else {
			p.data = append(p.data, b)
		}
	}
	return p, nil
}

// attackAdminRevocationLate: alice makes mallory an admin, then revokes
// it; the server withholds the revocation from bob's first sync, so
// mallory's member add of dave (signed after it, as an admin no longer)
// verifies and dave joins bob's roster; the next sync serves the
// revocation at its place, below the add. Unless the engine re-judges
// the add, dave stays on bob's roster and the next key bob makes is
// wrapped to him.
func attackAdminRevocationLate(w *world) (string, error) {
	h, revocation, add, err := revokedAdminAdd(w) // the add between the revocation and alice's message
	if err != nil {
		return "", err
	}
	withheld, whole, err := revocationServedLate(h, revocation, add)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	first := hs.run(w.t, oneRound(withheld))
	if first.conv == nil || !slices.Contains(first.conv.Members, h.dv.id) {
		return "", errorf("setup: mallory's add of dave not taken with the revocation withheld (failed: %v)", first.failed[add.GetMessageID()])
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case slices.Contains(o.conv.Members, h.dv.id):
		return "", errorf("dave, added by mallory after her admin rights were revoked, stays on bob's roster %v", o.conv.Members)
	case o.verified[add.GetMessageID()]:
		return "", errorf("mallory's add after the revocation still shown verified")
	}
	return fmt.Sprintf("mallory's add re-judged and dave dropped from the roster (%d members)", len(o.conv.Members)), nil
}

// TestLateRevocationThenRegrantKeepsAdd: the honest counterpart of
// admin-revocation-served-late-keeps-add. Alice revokes mallory's admin
// rights and grants them again; mallory, an admin again, adds dave. With
// the revocation withheld from bob's first sync and served in the second,
// the re-grant above it restores mallory's rights before her add: the add
// keeps its verdict and dave his place.
func TestLateRevocationThenRegrantKeepsAdd(t *testing.T) {
	w := newWorld(t)
	h, revocation, err := revokedAdminScene(w)
	if err != nil {
		t.Fatal(err)
	}
	h.push(h.adminAdd(h.mallory.id))
	members := []string{h.alice.id, h.bob.id, h.carol.id, h.mallory.id}
	h.push(h.mallory.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, members, []string{h.alice.id, h.mallory.id}))
	add := h.items[len(h.items)-1].me
	h.say(h.alice, "alice after the add")
	h.seal()
	withheld, whole, err := servedLate(h, nil, revocation)
	if err != nil {
		t.Fatal(err)
	}
	hs := startHarness(t, h)
	o := hs.run(t, lateRounds(withheld, whole))
	switch {
	case len(o.violations) > 0:
		t.Fatalf("violations: %v", o.violations)
	case o.conv == nil:
		t.Fatalf("no conversation after the syncs: %v", o.syncErrs)
	case !o.verified[add.GetMessageID()]:
		t.Errorf("mallory's add after the re-grant no longer verified")
	case !slices.Contains(o.conv.Members, h.dv.id):
		t.Errorf("dave, added by mallory after her rights were granted again, dropped from bob's roster %v", o.conv.Members)
	}
}
