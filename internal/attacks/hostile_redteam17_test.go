package attacks

import (
	"fmt"
	"slices"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on what re-judging a change served late gives back
// (session/latejudge.go: rejudge.reread, putBack, doubt): whom it puts
// back on the roster (keys are then wrapped to them), which admin rights,
// with what confirmation.

var redteam17Attacks = []attack{
	{"late-removal-moved-below-add-puts-back", attackRemovalMovedBelowAdd},
}

// attackRemovalMovedBelowAdd: alice adds mallory and later removes her;
// mallory speaks after her removal. The server withholds the removal from
// bob's first sync (mallory a member, her message verifies), then serves
// it in the next under a sequence id just below alice's add of her:
// sequence ids are not signed, and a removal signs no key version. A
// fresh device served that transcript reads the removal as naming a
// non-member (a tombstone) and refuses the add (add-moved-after-removal-
// readmits, the other way round): mallory is no member. Unless the walk
// reads the add above the late removal as a fresh device does, the add
// "re-admits" her (its signed list names her among the new ids), she is
// put back on bob's roster, her message stays verified and bob's next key
// is wrapped to her, though bob holds her removal.
func attackRemovalMovedBelowAdd(w *world) (string, error) {
	h := newBareHistory(w)
	if err := h.synced(h.alice).e.AddMembers(w.ctx, h.g, h.mallory.id); err != nil {
		return "", err
	}
	h.synced(h.mallory)
	h.synced(h.bob)
	h.readServer()
	at := slices.IndexFunc(h.items, func(it *mutItem) bool {
		a := groupChangeOf(it.me).GroupMemberAdd
		return a != nil && slices.Contains(a.MemberIds, h.mallory.id)
	})
	if at < 1 {
		return "", errorf("setup: no add of mallory in the history")
	}
	add := h.items[at].me
	e := h.env()
	e.SequenceID, e.PreviousSequenceID = hostile.NextSequenceID(h.items[at-1].seq(), 1), h.items[at-1].seq()
	if !decimal.Less(e.SequenceID, add.GetSequenceID()) {
		return "", errorf("setup: no sequence id free below the add")
	}
	removal, err := h.alice.removal(e, h.mallory.id)
	if err != nil {
		return "", err
	}
	h.say(h.mallory, "mallory after her removal")
	said := h.items[len(h.items)-1].me
	h.say(h.alice, "alice after the removal")
	h.seal()
	withheld, err := pageOf(h, nil, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	whole, err := pageOf(h, []*tevent.MessageEvent{removal}, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	first := hs.run(w.t, oneRound(withheld))
	if first.conv == nil || !slices.Contains(first.conv.Members, h.mallory.id) || !first.verified[said.GetMessageID()] {
		return "", errorf("setup: with the removal withheld mallory is no member or her message fails (%v)", first.failed[said.GetMessageID()])
	}
	fresh := hs.run(w.t, oneRound(whole))
	if fresh.conv == nil || slices.Contains(fresh.conv.Members, h.mallory.id) || fresh.verified[said.GetMessageID()] {
		return "", errorf("setup: a fresh device served the whole transcript keeps mallory (%v)", fresh.conv)
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case slices.Contains(o.conv.Members, h.mallory.id):
		return "", errorf("mallory, whose removal bob holds below alice's add of her, is put back on bob's roster %v (a fresh device refuses the add)", o.conv.Members)
	case o.verified[said.GetMessageID()]:
		return "", errorf("mallory's message after her removal still verified")
	case o.verified[add.GetMessageID()]:
		return "", errorf("alice's add of mallory, above the removal that tombstones her, still verified")
	}
	return fmt.Sprintf("the add above the late removal no longer verified; mallory stays off bob's roster (%d members)", len(o.conv.Members)), nil
}
