package attacks

import (
	"fmt"

	"github.com/xchat-go/xchat/session"

	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on the group's details the server backfills: an honest change
// that sets the title or avatar, withheld from bob's sync and served later
// at its place, below a later change that set them again. A fresh device
// served the transcript in order shows what the later change set; bob
// applied the backfilled change as it was stored, so the server could
// make his device show the group's old title (or avatar) for good, each
// one genuinely signed by a member, none of them current.

var backfillDetailAttacks = []attack{
	{"backfill-old-title-below-later-title", attackBackfillOldTitle},
	{"backfill-old-avatar-below-later-avatar", attackBackfillOldAvatar},
	{"backfill-member-add-below-later-title", attackBackfillAddBelowTitle},
	{"create-synced-before-its-key-change", attackCreateBeforeItsKeyChange},
}

// backfilledDetails is runBackfill of the change at seq (message id mid):
// bob must show the title the fresh device shows, and his next member add
// sign the avatar the fresh device's signs.
func backfilledDetails(w *world, h *history, seq, mid string) (string, error) {
	r, err := runBackfill(w, h, seq, mid)
	if err != nil {
		return "", err
	}
	if late, fresh := r.late.conv.Title, r.fresh.conv.Title; late != fresh {
		return "", errorf("bob shows the title %q, a fresh device %q: the backfilled change set the group's title over a later one", late, fresh)
	}
	// The avatar is not shown; bob's next member add signs it as the
	// group's (bob is an admin in every scene).
	freshAdd, err := addBobSigns(w, r.hs, oneRound(r.whole), false)
	if err != nil {
		return "", errorf("setup: a fresh device's member add: %v", err)
	}
	lateAdd, err := addBobSigns(w, r.hs, lateRounds(r.withheld, r.whole), false)
	if err != nil {
		return "", err
	}
	if late, want := lateAdd.GetCurrentAvatarURL(), freshAdd.GetCurrentAvatarURL(); late != want {
		return "", errorf("bob's member add signs the avatar %q as the group's, a fresh device's %q: the backfilled change set it over a later one", late, want)
	}
	return fmt.Sprintf("backfilled change kept verified; title %q and the avatar bob's add signs as on a fresh device", r.late.conv.Title), nil
}

// attackBackfillOldTitle: alice retitles the group twice; the server
// withholds the first title change from bob's first sync (he stores the
// second) and serves it at its place in the next.
func attackBackfillOldTitle(w *world) (string, error) {
	h, err := bobAdminJoined(w)
	if err != nil {
		return "", err
	}
	h.retitleHonest(h.alice, "first")
	old := h.items[len(h.items)-1].me
	h.retitleHonest(h.alice, "second")
	h.say(h.alice, "after the titles")
	h.seal()
	return backfilledDetails(w, h, old.GetSequenceID(), old.GetMessageID())
}

// attackBackfillOldAvatar: as attackBackfillOldTitle with two avatar
// changes.
func attackBackfillOldAvatar(w *world) (string, error) {
	h, err := bobAdminJoined(w)
	if err != nil {
		return "", err
	}
	v := h.newestVersion()
	h.push(h.alice.avatarChange(h.env(), v, "https://example.com/old.png"))
	old := h.items[len(h.items)-1].me
	h.push(h.alice.avatarChange(h.env(), v, "https://example.com/new.png"))
	h.say(h.alice, "after the avatars")
	h.seal()
	return backfilledDetails(w, h, old.GetSequenceID(), old.GetMessageID())
}

// attackBackfillAddBelowTitle: alice adds mallory with her engine (the
// add signs the group's title then as its current title), then retitles
// the group; the server withholds the add from bob's first sync and
// serves it at its place in the next.
func attackBackfillAddBelowTitle(w *world) (string, error) {
	h := newTitledHistory(w, "the first title")
	h.synced(h.bob)
	if err := h.synced(h.alice).e.AddMembers(w.ctx, h.g, h.mallory.id); err != nil {
		return "", err
	}
	h.readServer()
	h.push(h.adminAdd(h.bob.id))
	add := lastMemberAdd(h)
	if add == nil || memberAddOf(add).GetCurrentTitle() == "" {
		return "", errorf("setup: alice's member add signs no current title")
	}
	h.retitleHonest(h.alice, "second")
	h.say(h.alice, "after the title")
	h.seal()
	return backfilledDetails(w, h, add.GetSequenceID(), add.GetMessageID())
}

// bobAdminJoined is malloryJoined with bob made an admin (so that his
// member add can show what he signs as the group's details).
func bobAdminJoined(w *world) (*history, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return nil, err
	}
	h.push(h.adminAdd(h.bob.id))
	return h, nil
}

// lastMemberAdd returns the newest member add of h's honest history (nil:
// none).
func lastMemberAdd(h *history) *tevent.MessageEvent {
	for i := len(h.items) - 1; i >= 0; i-- {
		if memberAddOf(h.items[i].me) != nil {
			return h.items[i].me
		}
	}
	return nil
}

// memberAddOf returns me's member add (nil: me is none).
func memberAddOf(me *tevent.MessageEvent) *tevent.GroupMemberAddChange {
	d := me.GetDetail()
	if d == nil || d.GroupChangeEvent == nil || d.GroupChangeEvent.GroupChange == nil {
		return nil
	}
	return d.GroupChangeEvent.GroupChange.GroupMemberAdd
}

// attackCreateBeforeItsKeyChange: bob's first sync ends between alice's
// group create and its paired key change (the create alone was served:
// an honest race with her client, or a server that chose the moment).
// Stored failed as not bound to the group, the create kept the roster
// from ever being established: every later group change failed as judged
// before a roster, where a fresh device served the transcript keeps them.
func attackCreateBeforeItsKeyChange(w *world) (string, error) {
	h, err := bobAdminJoined(w)
	if err != nil {
		return "", err
	}
	h.seal()
	create := h.items[0].me
	if create.GetDetail().GetGroupChangeEvent() == nil || create.GetDetail().GetGroupChangeEvent().GetGroupChange().GetGroupCreate() == nil {
		return "", errorf("setup: the first event is no group create")
	}
	first, err := pageOf(h, nil, func(seq string) bool { return seq == create.GetSequenceID() })
	if err != nil {
		return "", err
	}
	whole, err := pageWith(h, nil, "")
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	fresh := hs.run(w.t, oneRound(whole))
	if fresh.conv == nil || fresh.conv.Roster != session.RosterConfirmed {
		return "", errorf("setup: a fresh device served the transcript holds no confirmed roster")
	}
	o := hs.run(w.t, lateRounds(first, whole))
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case o.conv.Roster != fresh.conv.Roster || !sameSet(o.conv.Members, fresh.conv.Members) || !sameSet(o.conv.Admins, fresh.conv.Admins):
		return "", errorf("bob's roster (%s, members %v, admins %v) is not a fresh device's (%s, %v, %v): the create read before its key change never established it",
			o.conv.Roster, o.conv.Members, o.conv.Admins, fresh.conv.Roster, fresh.conv.Members, fresh.conv.Admins)
	case !o.verified[create.GetMessageID()]:
		return "", errorf("the group's create, read again with its key change, is not kept verified")
	}
	return fmt.Sprintf("the create read before its key change was not kept; read again with it, the roster is a fresh device's (%d members, %d admins)", len(o.conv.Members), len(o.conv.Admins)), nil
}
