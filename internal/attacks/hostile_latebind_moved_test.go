package attacks

import (
	"context"
	"fmt"

	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// A group's create read in a first sync before its paired key change (not
// stored: remembered unbound), then served again with its pair in a later
// sync, never at its own place: its signed bytes under a sequence id above
// the whole history (the sequence id is not signed). A fresh device served
// the same events in order binds the create where it was read first and
// fails the copy as a replay; bound at the copy's place, the create would
// lie above the group changes read meanwhile, and they would fail for
// good (a title change or an admin add before any roster).

var lateBindMovedAttacks = []attack{
	{"create-read-unbound-served-again-above-history", attackCreateServedAgainAbove},
}

// attackCreateServedAgainAbove: the create read unbound at its place in
// bob's first sync is served, with its pair, in the second under a
// sequence id above the whole history (never again at its own place).
// Alice's title change, her admin add of carol and carol's message must
// end verified, the create verified at its place and the copy failed.
func attackCreateServedAgainAbove(w *world) (string, error) {
	h := newBareHistory(w)
	h.readServer()
	create, pair := createAndPairEvents(h)
	if create == nil || pair == nil {
		return "", errorf("setup: no create or pair")
	}
	pairSeq := pair.GetSequenceID()
	createSeq := create.GetSequenceID()
	mids := honestChanges(h)
	moved := *create
	top := h.top()
	movedSeq := hostile.NextSequenceID(top, 1500)
	moved.SequenceID, moved.PreviousSequenceID = strp(movedSeq), strp(top)
	h.seal()
	first, err := pageOf(h, nil, func(s string) bool { return s != pairSeq })
	if err != nil {
		return "", err
	}
	second, err := pageOf(h, []*tevent.MessageEvent{&moved}, func(s string) bool { return s != createSeq })
	if err != nil {
		return "", err
	}
	m := lateRounds(first, second)
	got, seen := map[string]bool{}, map[string]bool{} // sequence id -> verified in bob's history at the end
	m.afterStep = func(ctx context.Context, step int, e *session.Engine, _ keystore.Store, fail func(string, ...any)) {
		if step != 2*len(m.rounds) {
			return
		}
		hist, err := e.History(ctx, h.g, "", 0)
		if err != nil {
			fail("History: %v", err)
			return
		}
		for _, en := range hist {
			seen[en.SequenceID], got[en.SequenceID] = true, en.Verified
		}
	}
	hs := startHarness(w.t, h)
	o := hs.run(w.t, m)
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case !got[createSeq]:
		return "", errorf("the create is not bound at its place %s, where it was read first", createSeq)
	case got[movedSeq]:
		return "", errorf("the server's copy of the create at %s stored verified", movedSeq)
	}
	for _, mid := range mids {
		if !o.verified[mid] {
			return "", errorf("honest event %s read before the create was bound fails for good (%v)", mid, o.failed[mid])
		}
	}
	return fmt.Sprintf("the create bound at its place %s, the copy at %s refused (seen: %v), the honest events verified", createSeq, movedSeq, seen[movedSeq]), nil
}
