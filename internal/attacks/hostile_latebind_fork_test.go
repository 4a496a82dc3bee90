package attacks

import (
	"fmt"
	"strconv"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// A create read unbound whose place the server then gives to another
// event, and which it serves again, with its pair, above that place. Bob's
// first sync reads alice's create without its pair (not stored, remembered
// unbound at its place); the second is served at the create's sequence id
// a verified event instead (a copy of the pair, re-sequenced there), and
// the create again just above the pair. The create read first can no
// longer bind at its place (a verified event holds it), so the copy is no
// replay of it: a fresh device served what bob stores reads the copy as
// the group's create and binds it. Failing the copy as a replay of the
// create that can no longer bind leaves bob with no roster, and alice's
// title change, her admin add and carol's message fail for good.

var lateBindForkAttacks = []attack{
	{"create-place-taken-served-again-honest-changes-fail-for-good", attackCreatePlaceTakenHonest},
	{"create-place-taken-served-again-opens-outsider-below-copy", attackCreatePlaceTakenOutsider},
	{"create-pair-on-later-page-join-starts-roster-first", attackCreateBoundBeforeJoin},
}

// placeTakenScene plays the scene (see above); extra (when not nil) are
// served in the second sync too, given the copy's place and the highest
// sequence id of the emulator's events (the copy lies 600 above it, the
// honest changes 1,000 above it and more). It returns the honest changes'
// message ids.
func placeTakenScene(w *world, extra func(h *history, top, copySeq string) []*tevent.MessageEvent) (*history, *runOutcome, []string, error) {
	h := newBareHistory(w)
	h.readServer()
	create, pair := createAndPairEvents(h)
	if create == nil || pair == nil {
		return nil, nil, nil, errorf("setup: no create or pair in the history")
	}
	createSeq, pairSeq, top := create.GetSequenceID(), pair.GetSequenceID(), h.top()
	if !decimal.Less(createSeq, pairSeq) {
		return nil, nil, nil, errorf("setup: the pair (%s) does not lie above the create (%s)", pairSeq, createSeq)
	}
	mids := honestChanges(h)
	h.seal()
	// The pair served at the create's place, the create 600 above the
	// emulator's events (below alice's title change, 1,000 above them).
	taken := *pair
	taken.SequenceID, taken.PreviousSequenceID = strp(createSeq), create.PreviousSequenceID
	again := *create
	copySeq := hostile.NextSequenceID(top, 600)
	again.SequenceID, again.PreviousSequenceID = strp(copySeq), strp(top)
	served := []*tevent.MessageEvent{&again}
	if extra != nil {
		served = append(served, extra(h, top, copySeq)...)
	}
	first, err := pageOf(h, nil, func(s string) bool { return s != pairSeq })
	if err != nil {
		return nil, nil, nil, err
	}
	second, err := pageOf(h, served, func(s string) bool { return s != createSeq })
	if err != nil {
		return nil, nil, nil, err
	}
	// The pair's copy is served as the page's oldest event and in its
	// metadata, as the emulator serves a key change.
	b, err := hostile.EncodeEvent(&taken)
	if err != nil {
		return nil, nil, nil, err
	}
	second.data, second.keys = append(second.data, b), append(second.keys, b)
	hs := startHarness(w.t, h)
	o := hs.run(w.t, lateRounds(first, second))
	switch {
	case len(o.violations) > 0:
		return nil, nil, nil, errorf("%v", o.violations)
	case o.conv == nil:
		return nil, nil, nil, errorf("no conversation after the syncs: %v", o.syncErrs)
	}
	return h, o, mids, nil
}

// attackCreatePlaceTakenHonest: alice's title change, admin add of carol
// and carol's message, read while no roster is held, must end verified
// once the create's copy is read with its pair, as on a fresh device.
func attackCreatePlaceTakenHonest(w *world) (string, error) {
	_, o, mids, err := placeTakenScene(w, nil)
	if err != nil {
		return "", err
	}
	for _, mid := range mids {
		if !o.verified[mid] {
			return "", errorf("honest event %s read before the create's copy fails for good (%v); roster %s", mid, o.failed[mid], o.conv.Roster)
		}
	}
	return fmt.Sprintf("the create's copy binds where its first reading cannot: the honest title change, admin add and message end verified (roster %s)", o.conv.Roster), nil
}

// attackCreatePlaceTakenOutsider: the server also serves, between the
// create's place and its copy, a message of mallory's (never a member)
// and her title change. The copy binds above them: they lie below the
// group's create, which does not name her, and must stay failed, the
// group's title alice's.
func attackCreatePlaceTakenOutsider(w *world) (string, error) {
	var forged []string
	_, o, mids, err := placeTakenScene(w, func(h *history, top, _ string) []*tevent.MessageEvent {
		v := h.newestVersion()
		e := h.env()
		e.SequenceID, e.PreviousSequenceID = hostile.NextSequenceID(top, 200), top
		msg, err := h.mallory.forger().Message(e, v, h.keys[v], text("mallory below the copy"))
		if err != nil {
			w.t.Fatal(err)
		}
		e = h.env()
		e.SequenceID, e.PreviousSequenceID = hostile.NextSequenceID(top, 400), msg.GetSequenceID()
		title, err := h.retitle(h.mallory, e, v, h.keys[v], "mallory's title below the copy")
		if err != nil {
			w.t.Fatal(err)
		}
		forged = []string{msg.GetMessageID(), title.GetMessageID()}
		return []*tevent.MessageEvent{msg, title}
	})
	if err != nil {
		return "", err
	}
	switch {
	case o.verified[forged[0]]:
		return "", errorf("mallory's message below the create's copy verified")
	case o.verified[forged[1]]:
		return "", errorf("mallory's title change below the create's copy verified")
	case o.conv.Title == "mallory's title below the copy":
		return "", errorf("the group's title is mallory's")
	case !o.verified[mids[0]]:
		// Not what this attack is about (see the one above), but the
		// title check below needs alice's change open.
		return fmt.Sprintf("mallory's message and title change stay failed (%v; %v); alice's title change failed too (%v)", o.failed[forged[0]], o.failed[forged[1]], o.failed[mids[0]]), nil
	}
	return fmt.Sprintf("mallory's message and title change stay failed (%v; %v)", o.failed[forged[0]], o.failed[forged[1]]), nil
}

// attackCreateBoundBeforeJoin replays, deterministically, the scene of the
// extension's seed 0x100000991: alice's group with bob and carol, to
// which she adds dave. Bob's first sync is served the create alone (not stored,
// remembered unbound). The second is served in two pages: the older holds
// a message of mallory's at the create's place (failed: under a key
// version bob holds none of) and the create again just above its pair;
// the newer the rest, the pair in its metadata (stored with that page).
// The copy fails as a replay of the create read first, which must then
// bind at the end of the older page's batch by the pair the sync was
// served (no group change failed there): left unbound, the newer page's
// add of dave, whose signed list of current members names bob, starts a
// roster of its own (trust on first use) and the create never binds,
// where a fresh device served what bob stores binds the copy.
func attackCreateBoundBeforeJoin(w *world) (string, error) {
	h := newBareHistory(w)
	if err := h.synced(h.alice).e.AddMembers(w.ctx, h.g, h.dv.id); err != nil {
		return "", errorf("setup: AddMembers: %v", err)
	}
	h.readServer()
	create, pair := createAndPairEvents(h)
	var add *tevent.MessageEvent
	for _, it := range h.items {
		if groupChangeOf(it.me).GetGroupMemberAdd() != nil {
			add = it.me
			break
		}
	}
	if create == nil || pair == nil || add == nil {
		return "", errorf("setup: no create, pair or add in the history")
	}
	createSeq, pairSeq, addSeq := create.GetSequenceID(), pair.GetSequenceID(), add.GetSequenceID()
	if !decimal.Less(createSeq, pairSeq) || !decimal.Less(pairSeq, addSeq) {
		return "", errorf("setup: create %s, pair %s and add %s out of order", createSeq, pairSeq, addSeq)
	}
	h.retitleHonest(h.alice, "renamed by alice")
	retitle := h.items[len(h.items)-1].me.GetMessageID()
	h.seal()
	// Mallory's message at the create's place, under a key version bob
	// holds none of; the create again halfway between its pair and the add.
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	e := h.env()
	e.SequenceID, e.PreviousSequenceID = createSeq, create.GetPreviousSequenceID()
	forked, err := h.mallory.forger().Message(e, "1700000000001", key, text("mallory at the create's place"))
	if err != nil {
		return "", err
	}
	p, _ := strconv.ParseUint(pairSeq, 10, 64)
	a, _ := strconv.ParseUint(addSeq, 10, 64)
	if a-p < 2 {
		return "", errorf("setup: no room between the pair %s and the add %s", pairSeq, addSeq)
	}
	again := *create
	copySeq := strconv.FormatUint(p+(a-p)/2, 10)
	again.SequenceID, again.PreviousSequenceID = strp(copySeq), strp(pairSeq)
	first, err := pageOf(h, nil, func(s string) bool { return s == createSeq })
	if err != nil {
		return "", err
	}
	older, err := pageOf(h, []*tevent.MessageEvent{forked, &again}, func(string) bool { return false })
	if err != nil {
		return "", err
	}
	newer, err := pageOf(h, nil, func(s string) bool { return s != createSeq && decimal.Less(copySeq, s) || s == pairSeq })
	if err != nil {
		return "", err
	}
	m := lateRounds(first, newer)
	m.rounds[1] = append(m.rounds[1], older)
	hs := startHarness(w.t, h)
	o := hs.run(w.t, m)
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case !o.verified[add.GetMessageID()] || !o.verified[retitle]:
		return "", errorf("alice's add of dave (%v) or her title change (%v) failed", o.failed[add.GetMessageID()], o.failed[retitle])
	case o.verified[forked.GetMessageID()]:
		return "", errorf("mallory's message at the create's place verified")
	case o.conv.Roster != session.RosterConfirmed:
		return "", errorf("roster %s: the create never bound", o.conv.Roster)
	}
	return fmt.Sprintf("the create read first binds before the add naming bob among the members is read: roster %s, the add and the title change verified", o.conv.Roster), nil
}
