package attacks

import (
	"errors"
	"fmt"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// More attacks found by the transcript-mutation harness (mutation_test.go),
// each reduced to the events that matter.

var rosterSeedAttacks = []attack{
	{"add-moved-after-removal-readmits", attackAddMovedAfterRemoval},
	{"key-change-served-at-stored-sequence", attackKeyChangeAtStoredSequence},
	{"key-change-without-sequence-id", attackKeyChangeWithoutSequenceID},
	{"stale-add-seeds-roster-after-removal", attackStaleAddSeedsRosterAfterRemoval},
	{"push-before-roster-keeps-verdict", attackPushBeforeRoster},
	{"push-key-change-before-roster", attackPushKeyChangeBeforeRoster},
}

// onePage serves items (ascending) as one page, newest first, key changes
// in its meta.
func onePage(items []*mutItem) (mutPage, error) {
	var p mutPage
	for i := len(items) - 1; i >= 0; i-- {
		b, err := hostile.EncodeEvent(items[i].me)
		if err != nil {
			return p, err
		}
		if items[i].kc {
			p.keys = append(p.keys, b)
		} else {
			p.data = append(p.data, b)
		}
	}
	return p, nil
}

// cloneItems copies h's honest items so that their sequence ids can
// change.
func cloneItems(h *history) []*mutItem {
	out := make([]*mutItem, 0, len(h.items))
	for _, it := range h.items {
		out = append(out, cloneItem(it))
	}
	return out
}

// runRounds serves bob's fresh device one round per list of items.
func runRounds(h *history, rounds ...[]*mutItem) (*runOutcome, error) {
	m := &mutation{pushes: make([][]*tevent.MessageEvent, len(rounds)+1), kcs: map[string]string{}}
	for _, items := range rounds {
		sortItems(items)
		p, err := onePage(items)
		if err != nil {
			return nil, err
		}
		m.rounds = append(m.rounds, []mutPage{p})
	}
	hs := startHarness(h.w.t, h)
	return hs.run(h.w.t, m), nil
}

// attackAddMovedAfterRemoval (mutation seed 0x200000016): sequence ids are
// not signed, and a removal signs no key version, so no signed byte orders
// alice's add of mallory and her later removal of mallory. The server
// serves the add under a sequence id just above the removal. Read in that
// order the removal names a non-member and the add, whose signed current
// members fit the roster after the removal exactly, would re-admit
// mallory: her message signed after the removal would verify, and bob's
// keys would be wrapped to her.
func attackAddMovedAfterRemoval(w *world) (string, error) {
	said := "mallory after her removal, re-admitted by the moved add"
	h, msg, err := removedMemberScene(w, said)
	if err != nil {
		return "", err
	}
	items := cloneItems(h)
	var add *mutItem
	for _, it := range items {
		if a := groupChangeOf(it.me).GroupMemberAdd; a != nil && slices.Contains(a.GetMemberIds(), h.mallory.id) {
			add = it
		}
	}
	if add == nil {
		return "", errors.New("no add of mallory in the history")
	}
	moved := hostile.NextSequenceID(h.removal, 100) // between the removal and mallory's message
	add.me.SequenceID, add.me.PreviousSequenceID = strp(moved), strp(h.removal)
	items = append(items, &mutItem{me: msg, forged: true})
	o, err := runRounds(h, items)
	if err != nil {
		return "", err
	}
	if len(o.violations) > 0 {
		return "", errorf("add moved after the removal: %v", o.violations)
	}
	addErr, msgErr := o.failed[add.me.GetMessageID()], o.failed[msg.GetMessageID()]
	if !errors.Is(addErr, xchat.ErrRosterDivergence) || msgErr == nil {
		return "", fmt.Errorf("the moved add (err %v) or mallory's message (err %v) was taken", addErr, msgErr)
	}
	return "the add refused: " + addErr.Error() + "; mallory's message refused: " + msgErr.Error(), nil
}

// attackKeyChangeAtStoredSequence (fuzz seed 0x8 of history 1): the
// server serves bob the transcript with mallory's key change signed after
// her removal (refused: she is no member there); then, in the next sync,
// serves that key change under the sequence id of one of alice's messages
// from before the removal, which bob holds already. A stored event's
// verdict must not stand for other bytes under its sequence id: the key
// change would skip the roster checks, its key would be stored as verified
// (bob's newest key, wrapped to mallory) while its key change is never
// stored.
func attackKeyChangeAtStoredSequence(w *world) (string, error) {
	h := newBareHistory(w)
	if err := h.synced(h.alice).e.AddMembers(w.ctx, h.g, h.mallory.id); err != nil {
		return "", err
	}
	h.synced(h.alice).send(h.g, "alice before the removal")
	h.synced(h.mallory)
	h.synced(h.bob)
	h.readServer()
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	h.say(h.alice, "alice after the removal")
	h.seal()
	kc, err := h.lateKeyChange(500)
	if err != nil {
		return "", err
	}
	var target *mutItem // alice's last message before the removal
	for _, it := range h.items {
		if decimal.Less(it.seq(), h.removal) && it.me.GetSenderID() == h.alice.id && it.me.GetDetail().MessageCreateEvent != nil {
			target = it
		}
	}
	if target == nil {
		return "", errors.New("no message of alice's before the removal")
	}
	first := append(cloneItems(h), &mutItem{me: kc, kc: true, forged: true})
	moved := cloneItem(&mutItem{me: kc, kc: true, forged: true})
	moved.me.SequenceID, moved.me.PreviousSequenceID = strp(target.seq()), strp(target.me.GetPreviousSequenceID())
	second := append(cloneItems(h), moved)
	o, err := runRounds(h, first, second)
	if err != nil {
		return "", err
	}
	return o.refused("key change at a stored sequence id", "mallory's key change", kc.GetMessageID())
}

// attackKeyChangeWithoutSequenceID: the server serves mallory's key change
// signed after her removal (a newer version, wrapped to everyone) without
// a sequence id. An event without one has no place in the transcript to
// be read at, and is never stored: its key must not become usable either.
func attackKeyChangeWithoutSequenceID(w *world) (string, error) {
	h, _, err := removedMemberScene(w, "unused")
	if err != nil {
		return "", err
	}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	kc, err := h.mallory.forger().KeyChange(h.env(), h.nextVersion(10), key,
		[]hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient()})
	if err != nil {
		return "", err
	}
	kc.SequenceID, kc.PreviousSequenceID = nil, nil
	h.malloryKeys = append(h.malloryKeys, key)
	o, err := runRounds(h, append(cloneItems(h), &mutItem{me: kc, kc: true, forged: true}))
	if err != nil {
		return "", err
	}
	return o.refused("key change without a sequence id", "mallory's key change", kc.GetMessageID())
}

// attackStaleAddSeedsRosterAfterRemoval (fuzz seed 0xa0 of history 1): the
// server withholds the group's create from bob's fresh device and serves
// alice's removal of mallory, then alice's old add of mallory moved above
// it, then alice's later admin add of carol. The removal comes before any
// roster is held, so its author's rights cannot be checked and it is
// refused; the add names bob among its members, so bob would take his
// roster from it on trust (as a late joiner does), mallory in it, and
// keep her there while he verifies changes made after her removal.
func attackStaleAddSeedsRosterAfterRemoval(w *world) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	h.push(h.adminAdd(h.carol.id))
	h.seal()
	var items []*mutItem
	var add *mutItem
	for _, it := range cloneItems(h) {
		gc := groupChangeOf(it.me)
		switch {
		case gc.GroupCreate != nil: // withheld
			continue
		case gc.GroupMemberAdd != nil && slices.Contains(gc.GroupMemberAdd.GetMemberIds(), h.mallory.id):
			add = it
			it.me.SequenceID, it.me.PreviousSequenceID = strp(hostile.NextSequenceID(h.removal, 100)), strp(h.removal)
		}
		items = append(items, it)
	}
	if add == nil {
		return "", errors.New("no add of mallory in the history")
	}
	o, err := runRounds(h, items)
	if err != nil {
		return "", err
	}
	if len(o.violations) > 0 {
		return "", errorf("stale add after a removal read without a roster: %v", o.violations)
	}
	if err := o.failed[add.me.GetMessageID()]; !errors.Is(err, xchat.ErrRosterDivergence) {
		return "", fmt.Errorf("the moved add was not refused as divergent: %v", err)
	}
	return "the add refused: " + o.failed[add.me.GetMessageID()].Error(), nil
}

// attackPushBeforeRoster (fuzz seed 0xffffffb3 of history 1): before bob's
// fresh device has synced the group (no roster held), the server pushes
// mallory's message signed after her removal, under the key she kept.
// Without a roster only its signature could be checked: stored verified,
// it would keep that verdict once the sync brings the removal below it.
func attackPushBeforeRoster(w *world) (string, error) {
	h, msg, err := removedMemberScene(w, "mallory after her removal, pushed first")
	if err != nil {
		return "", err
	}
	items := append(cloneItems(h), &mutItem{me: msg, forged: true})
	sortItems(items)
	p, err := onePage(items)
	if err != nil {
		return "", err
	}
	m := &mutation{rounds: [][]mutPage{{p}}, pushes: [][]*tevent.MessageEvent{{msg}, nil}, kcs: map[string]string{}}
	for _, it := range h.items { // the push carries the key change of its key, as X's pushes do
		if v := keyChangeVersion(it.me); it.kc && v == messageKeyVersion(msg) {
			if m.kcs[v], err = hostile.EncodeEvent(it.me); err != nil {
				return "", err
			}
		}
	}
	if m.kcs[messageKeyVersion(msg)] == "" {
		return "", errors.New("no key change for mallory's key")
	}
	o := startHarness(w.t, h).run(w.t, m)
	if len(o.violations) > 0 {
		return "", errorf("push before any roster: %v", o.violations)
	}
	if err := o.failed[msg.GetMessageID()]; err != nil {
		return "mallory's message refused: " + err.Error(), nil
	}
	return "", fmt.Errorf("mallory's message neither verified nor refused (sync errors %v)", o.syncErrs)
}

// attackPushKeyChangeBeforeRoster (fuzz seed 0x100000132 of history 1):
// the push twin of push-before-roster-keeps-verdict for a key change.
// Before bob's fresh device has synced the group, the server pushes
// mallory's add of herself (a group change) carrying her key change
// signed after her removal (a newer version, wrapped to everyone). With no
// roster held the key change's author could not be judged: stored
// verified, her key would stay bob's newest once the sync brings her
// removal below it.
func attackPushKeyChangeBeforeRoster(w *world) (string, error) {
	h, _, err := removedMemberScene(w, "unused")
	if err != nil {
		return "", err
	}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	version := h.nextVersion(10)
	kc, err := h.mallory.forger().KeyChange(h.env(), version, key,
		[]hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient()})
	if err != nil {
		return "", err
	}
	h.malloryKeys = append(h.malloryKeys, key)
	rp := h.rosterBefore(h.top())
	add, err := h.mallory.memberAdd(h.env(), version, []string{h.mallory.id}, rp.members, rp.admins)
	if err != nil {
		return "", err
	}
	kb, err := hostile.EncodeEvent(kc)
	if err != nil {
		return "", err
	}
	items := append(cloneItems(h), &mutItem{me: kc, kc: true, forged: true}, &mutItem{me: add, forged: true})
	sortItems(items)
	p, err := onePage(items)
	if err != nil {
		return "", err
	}
	m := &mutation{rounds: [][]mutPage{{p}}, pushes: [][]*tevent.MessageEvent{{add}, nil}, kcs: map[string]string{version: kb}}
	o := startHarness(w.t, h).run(w.t, m)
	if len(o.violations) > 0 {
		return "", errorf("key change pushed before any roster: %v", o.violations)
	}
	if err := o.failed[kc.GetMessageID()]; err != nil {
		return "mallory's key change refused: " + err.Error(), nil
	}
	return "", fmt.Errorf("mallory's key change neither verified nor refused (sync errors %v)", o.syncErrs)
}
