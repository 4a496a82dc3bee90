package attacks

import (
	"fmt"
	"slices"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"

	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Content read while no roster is held, the group's create served after
// it: in a later page of the same sync, in a later sync, or below content
// stored first (sequence ids are unsigned, so the server chooses which
// side of the create an event lies on).

var lateCreateAttacks = []attack{
	{"outsider-message-below-create-served-late-verifies", func(w *world) (string, error) { return attackOutsiderBelowCreate(w, belowCreateServedLate) }},
	{"outsider-message-below-create-on-later-page-verifies", func(w *world) (string, error) { return attackOutsiderBelowCreate(w, belowCreateLaterPage) }},
	{"outsider-message-above-create-served-late-verifies", attackOutsiderAboveLateCreate},
	{"member-message-moved-below-create-on-later-page-stays-verified", func(w *world) (string, error) { return memberMessageBelowCreate(w, belowCreateLaterPage) }},
	{"later-member-message-below-create-opened-by-late-key", attackLaterMemberBelowCreateLateKey},
}

// attackLaterMemberBelowCreateLateKey: alice adds mallory, rotates the key
// to the four of them and mallory writes under it. The server places that
// key change and mallory's message below everything, the group's create
// included, and withholds the key change from bob's first sync (the
// message is stored failed for want of its key), serving it in the next.
// A fresh device served the transcript in order reads the message below
// the create, which does not name mallory, and fails it
// (outsiderBelowCreate); the message opened by its key change must fail
// as well: with no group change stored below it, it was opened as read
// where no roster is held.
func attackLaterMemberBelowCreateLateKey(w *world) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	v := h.rotate(h.alice, []*user{h.alice, h.bob, h.carol, h.mallory})
	kc := h.items[len(h.items)-1].me
	h.say(h.mallory, "mallory, a member since alice's add")
	msg := h.items[len(h.items)-1].me
	if messageKeyVersion(msg) != v {
		return "", errorf("setup: mallory's message is not under the new key %s", v)
	}
	low := lowestSeq(h)
	kcSeq, msgSeq := prevSeq(low, 4), prevSeq(low, 2)
	kc.SequenceID, kc.PreviousSequenceID = &kcSeq, nil
	msg.SequenceID, msg.PreviousSequenceID = &msgSeq, &kcSeq
	h.sortItems()
	h.seal()
	fresh, late, err := keyServedLate(w, h, nil, kcSeq)
	if err != nil {
		return "", err
	}
	mid := msg.GetMessageID()
	switch {
	case fresh.verified[mid]:
		return "", errorf("setup: a fresh device keeps mallory's message below the create verified")
	case len(late.violations) > 0:
		return "", errorf("%v", late.violations)
	case late.failed[mid] == nil:
		return "", errorf("setup: mallory's message was not stored failed by the first sync")
	case late.verified[mid]:
		return "", errorf("mallory's message below the create was opened verified by its key change, where a fresh device fails it (%v)", fresh.failed[mid])
	}
	return fmt.Sprintf("mallory's message below the create stays failed (%v)", late.failed[mid]), nil
}

// attackOutsiderAboveLateCreate: mallory, never a member, distributes a
// key of her own (wrapped to alice, bob, carol and herself) and says
// something under it, both placed above the group's whole history; the
// server serves them alone to bob's first sync (no roster held: the
// roster step admits every author, so both were stored verified and her
// key became the group's) and the history, create included, below them
// in the next. A fresh device served the transcript in order reads
// mallory's events against the roster the create starts, and fails them;
// nothing re-judged them on bob's device.
func attackOutsiderAboveLateCreate(w *world) (string, error) {
	h := newBareHistory(w)
	h.readServer()
	h.say(h.alice, "alice in the group")
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	h.malloryKeys = append(h.malloryKeys, key)
	version, top := h.nextVersion(1000), h.top()
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(top, 1000)
	kc, err := h.mallory.forger().KeyChange(e, version, key,
		[]hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient()})
	if err != nil {
		return "", err
	}
	e = h.env()
	e.SequenceID, e.PreviousSequenceID = hostile.NextSequenceID(top, 2000), kc.GetSequenceID()
	msg, err := h.mallory.forger().Message(e, version, key, text("mallory above a create served later"))
	if err != nil {
		return "", err
	}
	h.seal()
	extra := []*tevent.MessageEvent{kc, msg}
	first, err := pageOf(h, extra, func(string) bool { return false })
	if err != nil {
		return "", err
	}
	whole, err := pageOf(h, extra, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	o := hs.run(w.t, lateRounds(first, whole))
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case o.verified[msg.GetMessageID()]:
		return "", errorf("mallory's message above the create served later verified (kept by a fresh device: %v)", o.kept)
	case o.conv.KeyVersion == version:
		return "", errorf("mallory's key (version %s), read before the create, is the group's key for new messages", version)
	}
	return fmt.Sprintf("mallory's message above the create served later fails (%v)", o.failed[msg.GetMessageID()]), nil
}

// TestCreateServedLateReportsWhatItFails: mallory's key change and message
// placed below the group's create and served alone (stored verified, no
// roster held), then the history with the create: the second sync fails
// both in the store and reports each (AnomalyRosterDivergence, Related
// the create); a third sync, served the same, finds nothing more.
func TestCreateServedLateReportsWhatItFails(t *testing.T) {
	w := newWorld(t, emulator.WithRateLimit(0, 0))
	h := newBareHistory(w)
	h.readServer()
	h.say(h.alice, "alice in the group")
	first, kc, key, version, err := outsiderKeyBelowAll(h)
	if err != nil {
		t.Fatal(err)
	}
	e := h.env()
	e.SequenceID = prevSeq(first, 3)
	msg, err := h.mallory.forger().Message(e, version, key, text("mallory before the group existed"))
	if err != nil {
		t.Fatal(err)
	}
	create := ""
	for _, it := range h.items {
		if g := it.me.GetDetail().GetGroupChangeEvent(); g != nil && g.GetGroupChange().GetGroupCreate() != nil {
			create = it.seq()
		}
	}
	h.seal()
	m, err := belowCreateRounds(h, []*tevent.MessageEvent{kc, msg}, belowCreateServedLate)
	if err != nil {
		t.Fatal(err)
	}
	m.rounds = append(m.rounds, m.rounds[1])
	hs := startHarness(t, h)
	hs.srv.set(m)
	ctx := w.ctx
	store := keystore.NewMemory()
	if err := session.ImportBackup(ctx, store, h.bob.id, h.bobBackup, h.bobVersion); err != nil {
		t.Fatal(err)
	}
	bob, err := session.Open(ctx, store, session.NewAPIServer(apiClient(t, hs.url, h.bob.token)))
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	res, err := bob.Sync(ctx, h.g, nil)
	if err != nil {
		t.Fatal(err)
	}
	verdict := func(entries []event.Entry, seq string) (found, verified bool) {
		for _, en := range entries {
			if en.SequenceID == seq {
				return true, en.Verified
			}
		}
		return false, false
	}
	if found, verified := verdict(res.Entries, msg.GetSequenceID()); !found || !verified || res.Roster != session.RosterUnknown {
		t.Fatalf("setup: the first sync stored mallory's message found %v verified %v, roster %s; want it verified, no roster held", found, verified, res.Roster)
	}
	res, err = bob.Sync(ctx, h.g, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []string{kc.GetSequenceID(), msg.GetSequenceID()} {
		if !slices.ContainsFunc(res.Anomalies, func(a event.Anomaly) bool {
			return a.Kind == event.AnomalyRosterDivergence && a.SequenceID == seq && a.Related == create
		}) {
			t.Errorf("the sync storing the create reports no roster divergence at %s related to the create at %s: %+v", seq, create, res.Anomalies)
		}
	}
	hist, err := bob.History(ctx, h.g, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []string{kc.GetSequenceID(), msg.GetSequenceID()} {
		if found, verified := verdict(hist, seq); !found || verified {
			t.Errorf("mallory's event at %s after the create: stored %v, verified %v; want it failed", seq, found, verified)
		}
	}
	res, err = bob.Sync(ctx, h.g, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range res.Anomalies {
		if a.Kind == event.AnomalyRosterDivergence && a.Related == create {
			t.Errorf("a later sync reports again what the create failed: %+v", a)
		}
	}
}
