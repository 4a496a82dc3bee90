package attacks

import (
	"fmt"
	"slices"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/session"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on what re-judging a change served late gives back
// (session/latejudge.go: rejudge.reread, putBack, doubt): whom it puts
// back on the roster (keys are then wrapped to them), which admin rights,
// with what confirmation.

var latePutBackAttacks = []attack{
	{"late-removal-moved-below-add-puts-back", attackRemovalMovedBelowAdd},
	{"late-revocation-regrant-by-claimed-admin-confirmed", attackRegrantByClaimedConfirmed},
	{"late-removal-readd-by-claimed-admin-confirmed", attackReaddByClaimedConfirmed},
	{"put-back-survives-later-late-revocation", attackPutBackSurvivesLaterRevocation},
	{"regrant-survives-later-late-revocation", attackRegrantSurvivesLaterRevocation},
	{"late-revocation-regrant-outlives-admin-list", attackRegrantOutlivesAdminList},
	{"late-revocation-failed-grantee-still-admin", attackFailedGranteeStillAdmin},
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
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
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

// claimedAdminHistory is alice's group with bob, carol and mallory, which
// alice created naming carol an admin too: the create's admin list is not
// signed, so carol's rights are claimed on bob's device until a signed
// change by a confirmed admin names her (pick chooses whom it names: carol
// in the doc comments below, unless they say otherwise).
func claimedAdminHistory(w *world, pick func(h *history) []*user) *history {
	h := &history{w: w, texts: map[string][]string{}, changeAt: map[string]int{}, keys: map[string]*crypto.ConversationKey{}}
	h.alice, h.bob, h.carol = w.newUser("alice", false), w.newUser("bob", false), w.newUser("carol", false)
	h.mallory, h.dv = w.newUser("mallory", false), w.newUser("dave", false)
	admins := []string{h.alice.id}
	for _, u := range pick(h) {
		admins = append(admins, u.id)
	}
	g, err := h.alice.e.CreateGroup(w.ctx, session.GroupOptions{Members: []string{h.bob.id, h.carol.id, h.mallory.id}, Admins: admins})
	if err != nil {
		w.t.Fatalf("CreateGroup: %v", err)
	}
	h.g = g
	h.synced(h.mallory)
	h.synced(h.bob)
	h.readServer()
	return h
}

// claimedGiveBack plays the scene of the two attacks below: take is
// alice's change taking mallory's place or rights (withheld from bob's
// first sync, served at its place in the second), giveBack carol's signed
// change giving them back above it while her rights are claimed; then
// alice makes carol an admin (confirmed from then on). It returns the
// outcomes of a fresh device served the whole transcript and of bob's.
func claimedGiveBack(w *world, take, giveBack func(h *history) (*tevent.MessageEvent, error)) (h *history, fresh, late *runOutcome, err error) {
	h = claimedAdminHistory(w, func(h *history) []*user { return []*user{h.carol} })
	h.push(take(h))
	taken := h.top()
	h.push(giveBack(h))
	h.push(h.adminAdd(h.carol.id))
	h.say(h.alice, "alice after carol's confirmation")
	h.seal()
	withheld, whole, err := servedLate(h, nil, taken)
	if err != nil {
		return nil, nil, nil, err
	}
	hs := startHarness(w.t, h)
	if fresh = hs.run(w.t, oneRound(whole)); fresh.conv == nil {
		return nil, nil, nil, errorf("setup: no conversation on a fresh device: %v", fresh.syncErrs)
	}
	if late = hs.run(w.t, lateRounds(withheld, whole)); late.conv == nil {
		return nil, nil, nil, errorf("no conversation after the syncs: %v", late.syncErrs)
	}
	return h, fresh, late, nil
}

// attackRegrantByClaimedConfirmed: alice makes mallory an admin and
// revokes it; carol, whose admin rights rest on the create's unsigned
// list, grants them again; alice then makes carol an admin. A fresh
// device served the whole transcript holds mallory a claimed admin (her
// rights rest on carol's, which were claimed when she granted them). The
// server withholds the revocation from bob's first sync (carol's re-grant
// changes nothing there) and serves it at its place in the next. Unless
// the walk reads carol's standing when she granted, not at the end, it
// puts mallory back among the confirmed admins: the member adds she signs
// then confirm whom they add, and one re-signs the whole roster as
// confirmed, on unsigned authority.
func attackRegrantByClaimedConfirmed(w *world) (string, error) {
	h, fresh, o, err := claimedGiveBack(w, func(h *history) (*tevent.MessageEvent, error) {
		h.push(h.adminAdd(h.mallory.id))
		return h.adminRemove(h.mallory.id)
	}, func(h *history) (*tevent.MessageEvent, error) {
		return h.adminChange(h.carol, h.env(), crypto.KindGroupAdminAdd, h.mallory.id)
	})
	if err != nil {
		return "", err
	}
	if !slices.Contains(fresh.conv.ClaimedAdmins, h.mallory.id) || slices.Contains(fresh.conv.Admins, h.mallory.id) {
		return "", errorf("setup: a fresh device does not hold mallory a claimed admin (admins %v, claimed %v)", fresh.conv.Admins, fresh.conv.ClaimedAdmins)
	}
	if slices.Contains(o.conv.Admins, h.mallory.id) {
		return "", errorf("mallory, re-granted by carol while carol's rights were claimed, is put back a confirmed admin on bob's device (admins %v, claimed %v)", o.conv.Admins, o.conv.ClaimedAdmins)
	}
	return fmt.Sprintf("mallory put back as a claimed admin (admins %v, claimed %d)", len(o.conv.Admins), len(o.conv.ClaimedAdmins)), nil
}

// attackReaddByClaimedConfirmed: alice removes mallory; carol, whose admin
// rights rest on the create's unsigned list, adds her again; alice then
// makes carol an admin. A fresh device served the whole transcript holds
// mallory an unconfirmed member (TrustStrict wraps no key to her). The
// server withholds the removal from bob's first sync (carol's re-add adds
// nobody there) and serves it at its place in the next. Unless the walk
// reads carol's standing when she re-added mallory, it puts mallory back
// as a confirmed member.
func attackReaddByClaimedConfirmed(w *world) (string, error) {
	h, fresh, o, err := claimedGiveBack(w, func(h *history) (*tevent.MessageEvent, error) {
		return h.alice.removal(h.env(), h.mallory.id)
	}, func(h *history) (*tevent.MessageEvent, error) {
		members := []string{h.alice.id, h.bob.id, h.carol.id}
		return h.carol.memberAdd(h.env(), h.newestVersion(), []string{h.mallory.id}, members, []string{h.alice.id, h.carol.id})
	})
	if err != nil {
		return "", err
	}
	if !slices.Contains(fresh.conv.Members, h.mallory.id) || !slices.Contains(fresh.conv.UnconfirmedMembers, h.mallory.id) {
		return "", errorf("setup: a fresh device does not hold mallory an unconfirmed member (members %v, unconfirmed %v)", fresh.conv.Members, fresh.conv.UnconfirmedMembers)
	}
	if !slices.Contains(o.conv.UnconfirmedMembers, h.mallory.id) {
		return "", errorf("mallory, re-added by carol while carol's rights were claimed, is put back a confirmed member on bob's device (members %v, unconfirmed %v)", o.conv.Members, o.conv.UnconfirmedMembers)
	}
	return fmt.Sprintf("mallory put back as an unconfirmed member (%d members, %d unconfirmed)", len(o.conv.Members), len(o.conv.UnconfirmedMembers)), nil
}

// attackPutBackSurvivesLaterRevocation: alice makes carol an admin and
// revokes it, then removes mallory; carol, an admin no longer, adds
// mallory again (her signed lists still name herself an admin), and
// mallory speaks. A fresh device served the whole transcript fails
// carol's add (she is no admin) and mallory's message: mallory is out.
// The server serves it to bob in three syncs: the first withholds the
// revocation and the removal (carol's add reads as adding nobody), the
// second serves the removal late (the walk reads carol's add as
// re-admitting mallory and puts her back), the third the revocation late
// (the walk fails carol's add). Unless what the add gave back in the
// second walk counts as granted by it in the third, failing it takes
// nothing back (as stored, mallory held her place before it): mallory
// stays on bob's roster and her message verified.
func attackPutBackSurvivesLaterRevocation(w *world) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	h.push(h.adminAdd(h.carol.id))
	h.push(h.adminRemove(h.carol.id))
	revocation := h.top()
	h.push(h.alice.removal(h.env(), h.mallory.id))
	removal := h.top()
	members := []string{h.alice.id, h.bob.id, h.carol.id}
	h.push(h.carol.memberAdd(h.env(), h.newestVersion(), []string{h.mallory.id}, members, []string{h.alice.id, h.carol.id}))
	readd := h.items[len(h.items)-1].me
	h.say(h.mallory, "mallory after carol's add")
	said := h.items[len(h.items)-1].me
	h.say(h.alice, "alice at the end")
	h.seal()
	first, second, whole, err := servedTwiceLate(h, removal, revocation)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	fresh := hs.run(w.t, oneRound(whole))
	if fresh.conv == nil || slices.Contains(fresh.conv.Members, h.mallory.id) || fresh.verified[readd.GetMessageID()] {
		return "", errorf("setup: a fresh device served the whole transcript keeps mallory or carol's add (%v)", fresh.conv)
	}
	two := hs.run(w.t, lateRounds(first, second))
	if two.conv == nil || !slices.Contains(two.conv.Members, h.mallory.id) || !two.verified[said.GetMessageID()] {
		return "", errorf("setup: the removal served late does not put mallory back through carol's add (%v)", two.conv)
	}
	o := hs.run(w.t, threeRounds(first, second, whole))
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case slices.Contains(o.conv.Members, h.mallory.id):
		return "", errorf("mallory, put back by carol's add, stays on bob's roster %v once carol's revocation below it was served late", o.conv.Members)
	case o.verified[said.GetMessageID()] || o.verified[readd.GetMessageID()]:
		return "", errorf("carol's add (%v) or mallory's message after it (%v) still verified", o.verified[readd.GetMessageID()], o.verified[said.GetMessageID()])
	}
	return fmt.Sprintf("carol's add failed and mallory taken off bob's roster again (%d members)", len(o.conv.Members)), nil
}

// attackRegrantSurvivesLaterRevocation: put-back-survives-later-late-
// revocation for admin rights. Alice makes carol and mallory admins,
// revokes carol's rights, then mallory's; carol, an admin no longer,
// grants mallory's again. A fresh device fails carol's grant: mallory is
// no admin. Bob's first sync lacks both revocations (carol's grant changes
// nothing), the second brings mallory's late (the walk puts her rights
// back through carol's grant), the third carol's late (the walk fails the
// grant). Unless what the grant gave back counts as granted by it,
// mallory keeps her admin rights on bob's device.
func attackRegrantSurvivesLaterRevocation(w *world) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	h.push(h.adminAdd(h.carol.id))
	h.push(h.adminAdd(h.mallory.id))
	h.push(h.adminRemove(h.carol.id))
	carols := h.top()
	h.push(h.adminRemove(h.mallory.id))
	mallorys := h.top()
	h.push(h.adminChange(h.carol, h.env(), crypto.KindGroupAdminAdd, h.mallory.id))
	grant := h.items[len(h.items)-1].me
	h.say(h.alice, "alice at the end")
	h.seal()
	first, second, whole, err := servedTwiceLate(h, mallorys, carols)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	fresh := hs.run(w.t, oneRound(whole))
	if fresh.conv == nil || slices.Contains(fresh.conv.Admins, h.mallory.id) || slices.Contains(fresh.conv.ClaimedAdmins, h.mallory.id) {
		return "", errorf("setup: a fresh device served the whole transcript holds mallory an admin (%v)", fresh.conv)
	}
	two := hs.run(w.t, lateRounds(first, second))
	if two.conv == nil || !slices.Contains(two.conv.Admins, h.mallory.id) {
		return "", errorf("setup: mallory's revocation served late does not put her rights back through carol's grant (%v)", two.conv)
	}
	o := hs.run(w.t, threeRounds(first, second, whole))
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case slices.Contains(o.conv.Admins, h.mallory.id) || slices.Contains(o.conv.ClaimedAdmins, h.mallory.id):
		return "", errorf("mallory, given her rights back by carol, stays an admin on bob's device (admins %v, claimed %v) once carol's revocation below the grant was served late", o.conv.Admins, o.conv.ClaimedAdmins)
	case o.verified[grant.GetMessageID()]:
		return "", errorf("carol's grant still verified")
	}
	return fmt.Sprintf("carol's grant failed and mallory's rights taken again (%d admins)", len(o.conv.Admins)), nil
}

// attackRegrantOutlivesAdminList: alice's create names carol and mallory
// admins too (claimed on bob's device: the create's admin list is not
// signed). Alice revokes mallory's rights; carol grants them again (a
// claimed admin's grant: claimed); alice then adds dave, her signed admin
// list naming only herself. A fresh device reads alice's add as ending
// every claimed admin's rights that her list leaves out: mallory is no
// admin. The server withholds the revocation from bob's first sync and
// serves it at its place in the next. Unless the walk reads alice's admin
// list above carol's grant, it puts mallory's rights back (claimed) on
// bob's device: she can remove members and add them.
func attackRegrantOutlivesAdminList(w *world) (string, error) {
	h := claimedAdminHistory(w, func(h *history) []*user { return []*user{h.carol, h.mallory} })
	h.push(h.adminRemove(h.mallory.id))
	revocation := h.top()
	h.push(h.adminChange(h.carol, h.env(), crypto.KindGroupAdminAdd, h.mallory.id))
	members := []string{h.alice.id, h.bob.id, h.carol.id, h.mallory.id}
	h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, members, []string{h.alice.id}))
	h.say(h.alice, "alice after adding dave")
	h.seal()
	withheld, whole, err := servedLate(h, nil, revocation)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	fresh := hs.run(w.t, oneRound(whole))
	if fresh.conv == nil || slices.Contains(fresh.conv.Admins, h.mallory.id) || slices.Contains(fresh.conv.ClaimedAdmins, h.mallory.id) {
		return "", errorf("setup: a fresh device served the whole transcript holds mallory an admin (%v)", fresh.conv)
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case slices.Contains(o.conv.Admins, h.mallory.id) || slices.Contains(o.conv.ClaimedAdmins, h.mallory.id):
		return "", errorf("mallory, whose rights alice's signed admin list ended above carol's grant, is put back an admin on bob's device (admins %v, claimed %v)", o.conv.Admins, o.conv.ClaimedAdmins)
	}
	return fmt.Sprintf("mallory stays no admin (%d admins, %d claimed)", len(o.conv.Admins), len(o.conv.ClaimedAdmins)), nil
}

// attackFailedGranteeStillAdmin: alice's create names mallory an admin
// too (claimed on bob's device). Alice revokes mallory's rights; mallory,
// no admin any more, makes carol an admin; carol adds dave, her signed
// admin list naming alice and herself. A fresh device fails mallory's
// grant and so carol's add (carol is no admin): dave is no member. The
// server withholds the revocation from bob's first sync (carol a claimed
// admin there, her add fits) and serves it at its place in the next.
// The walk fails mallory's grant and takes carol's rights back; unless
// carol's admin actions above the failed grant fail with it, her add of
// dave stands and dave stays on bob's roster, where keys are wrapped to
// him.
func attackFailedGranteeStillAdmin(w *world) (string, error) {
	h := claimedAdminHistory(w, func(h *history) []*user { return []*user{h.mallory} })
	h.push(h.adminRemove(h.mallory.id))
	revocation := h.top()
	h.push(h.adminChange(h.mallory, h.env(), crypto.KindGroupAdminAdd, h.carol.id))
	members := []string{h.alice.id, h.bob.id, h.carol.id, h.mallory.id}
	h.push(h.carol.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, members, []string{h.alice.id, h.carol.id}))
	add := h.items[len(h.items)-1].me
	h.say(h.alice, "alice after carol's add")
	h.seal()
	withheld, whole, err := servedLate(h, nil, revocation)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	first := hs.run(w.t, oneRound(withheld))
	if first.conv == nil || !slices.Contains(first.conv.Members, h.dv.id) {
		return "", errorf("setup: with the revocation withheld carol's add of dave does not stand (%v)", first.conv)
	}
	fresh := hs.run(w.t, oneRound(whole))
	if fresh.conv == nil || slices.Contains(fresh.conv.Members, h.dv.id) {
		return "", errorf("setup: a fresh device served the whole transcript holds dave a member (%v)", fresh.conv)
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case slices.Contains(o.conv.Members, h.dv.id):
		return "", errorf("dave, added by carol whose rights came only from mallory's failed grant, stays on bob's roster %v", o.conv.Members)
	case o.verified[add.GetMessageID()]:
		return "", errorf("carol's add still verified")
	}
	return fmt.Sprintf("carol's add failed with mallory's grant; dave off bob's roster (%d members)", len(o.conv.Members)), nil
}
