package attacks

import (
	"fmt"

	"github.com/xchat-go/xchat/internal/decimal"
)

// A create read before its pair is bound only while a sync holds from fn
// what it stores: a device that syncs with no fn at all
// (Engine.Reconcile(ctx, nil, …)) never bound it.

var lateGapsAttacks = []attack{
	{"create-pair-synced-without-fn-honest-changes-fail-for-good", attackCreatePairNoFn},
}

// attackCreatePairNoFn: alice's group with bob and carol; bob's device
// syncs only through Engine.Reconcile with no fn. Its first sync comes
// between alice's create and her key change paired with it (all an
// honest server holds then: the create cannot be bound yet), its second
// what follows (what an honest server serves above it): the pair, alice's title change, her admin add of
// carol and carol's message. A fresh device binds the create and keeps
// them verified; so must bob's.
func attackCreatePairNoFn(w *world) (string, error) {
	h := newBareHistory(w)
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
	if createSeq == "" || pairSeq == "" || !decimal.Less(createSeq, pairSeq) {
		return "", errorf("setup: no create (%q) below its pair (%q) in the history", createSeq, pairSeq)
	}
	h.retitleHonest(h.alice, "renamed by alice")
	h.push(h.adminAdd(h.carol.id))
	h.say(h.carol, "carol, an admin now")
	var mids []string
	for _, it := range h.items[len(h.items)-3:] {
		mids = append(mids, it.me.GetMessageID())
	}
	h.seal()
	first, err := pageBelow(h, pairSeq)
	if err != nil {
		return "", err
	}
	rest, err := pageOf(h, nil, func(s string) bool { return !decimal.Less(s, pairSeq) })
	if err != nil {
		return "", err
	}
	m := lateRounds(first, rest)
	m.withoutFn = true
	o := startHarness(w.t, h).run(w.t, m)
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	}
	for _, mid := range mids {
		if !o.verified[mid] {
			return "", errorf("honest event %s stays failed on a device syncing with no fn, where a fresh device binds the create and keeps it (roster %s)", mid, o.conv.Roster)
		}
	}
	return fmt.Sprintf("the create bound with no fn: the honest title change, admin add and message end verified (roster %s)", o.conv.Roster), nil
}
