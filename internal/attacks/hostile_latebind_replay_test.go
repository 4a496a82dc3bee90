package attacks

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// A group change served twice, its signed bytes under a second, newer
// sequence id (the server re-sequences it: the message id is signed, the
// sequence id is not), both read while no roster is held (the create
// unbound) and so both stored failed as read before any roster. When the
// create binds late and the group is read again from it, a fresh device
// served the same events in order keeps the first and fails the second
// as a replay. A replay check read off the store's message-id index
// (which, among unverified events, answers the highest sequence id)
// fails the first as a replay of the copy and opens the copy: the change
// moves to the place the server chose, and what lies between is judged
// on a roster without it.

var lateBindReplayAttacks = []attack{
	{"create-bound-late-opens-replayed-change-in-place-of-original", attackCreateBoundLateReplayedChange},
	{"create-served-again-keeps-verified-copy-of-failed-change", attackCreateServedAgainReplayedChange},
}

// attackCreateBoundLateReplayedChange: alice's admin add of carol is
// served again under a sequence id above everything else; the pair binds
// the create in bob's second sync. The add must end verified at its own
// place and the copy failed, as on a fresh device.
func attackCreateBoundLateReplayedChange(w *world) (string, error) {
	orig, cp, err := replayedChangeBoundLate(w, true)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("the admin add verified at its place %s, the copy at %s not", orig, cp), nil
}

// attackCreateServedAgainReplayedChange: the create served again with
// its pair in the second sync, the copy of alice's admin add with it
// (above the whole history), none in the first: the copy verifies as
// stored (the add, held only failed, makes it no replay), and the reading
// again from the create must keep the add at its place and fail the copy,
// as a fresh device does.
func attackCreateServedAgainReplayedChange(w *world) (string, error) {
	orig, cp, err := replayedChangeScene(w, true, true)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("the admin add verified at its place %s, the copy at %s failed as its replay", orig, cp), nil
}

// TestCreateBoundLateReplayBelow: the copy of alice's admin add served
// below it (between her title change and the add): a fresh device reads
// the copy first and keeps it, and fails the add as its replay; so must
// the reading again from the create bound late.
func TestCreateBoundLateReplayBelow(t *testing.T) {
	w := newWorld(t)
	if _, _, err := replayedChangeBoundLate(w, false); err != nil {
		t.Fatal(err)
	}
}

// replayedChangeBoundLate runs the scene: alice's admin add of carol
// served again, above the whole history when above is set, else just
// below the add. It checks that the first of the two in transcript order
// ends verified and the other failed, and returns the add's and the
// copy's sequence ids.
func replayedChangeBoundLate(w *world, above bool) (origSeq, copySeq string, err error) {
	return replayedChangeScene(w, above, false)
}

// replayedChangeScene is replayedChangeBoundLate; with servedAgain, the
// first sync is served no copy, and the second serves the create again,
// with its pair and the copy: the create stored starts the roster and the
// copy, the add stored failed its only other holder, verifies at its
// place before the group is read again from the create.
func replayedChangeScene(w *world, above, servedAgain bool) (origSeq, copySeq string, err error) {
	var cid string
	var cp string            // the copy, encoded
	got := map[string]bool{} // sequence id -> verified in bob's history at the end
	seen := map[string]bool{}
	_, o, _, err := pairLateSceneWith(w, servedAgain, func(h *history) []*tevent.MessageEvent {
		cid = h.g
		add := h.items[len(h.items)-2].me
		c := *add
		origSeq = add.GetSequenceID()
		prev := h.top()
		if above {
			copySeq = hostile.NextSequenceID(prev, 1500)
		} else {
			prev = h.items[len(h.items)-3].seq()
			copySeq = hostile.NextSequenceID(prev, 500) // the items lie 1,000 apart
		}
		c.SequenceID, c.PreviousSequenceID = strp(copySeq), strp(prev)
		if cp, err = hostile.EncodeEvent(&c); err != nil {
			w.t.Fatal(err)
		}
		return []*tevent.MessageEvent{&c}
	}, func(m *mutation) {
		if servedAgain {
			first := &m.rounds[0][0]
			first.data = slices.DeleteFunc(first.data, func(d string) bool { return d == cp })
		}
		m.afterStep = func(ctx context.Context, step int, e *session.Engine, _ keystore.Store, fail func(string, ...any)) {
			if step != 2*len(m.rounds) {
				return
			}
			hist, err := e.History(ctx, cid, "", 0)
			if err != nil {
				fail("History: %v", err)
				return
			}
			for _, en := range hist {
				seen[en.SequenceID], got[en.SequenceID] = true, en.Verified
			}
		}
	})
	if err != nil {
		return "", "", err
	}
	first, second := origSeq, copySeq
	if !above {
		first, second = copySeq, origSeq
	}
	switch {
	case len(o.violations) > 0:
		return "", "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case !seen[origSeq] || !seen[copySeq]:
		return "", "", errorf("setup: the admin add (%s: %v) or its copy (%s: %v) not stored", origSeq, seen[origSeq], copySeq, seen[copySeq])
	case !got[first]:
		return "", "", errorf("the admin add stays failed at %s, the first of its two places: the late binding took it for a replay of the one at %s", first, second)
	case got[second]:
		return "", "", errorf("the admin add's replay at %s opened verified: the change moved to the place the server chose", second)
	}
	return origSeq, copySeq, nil
}
