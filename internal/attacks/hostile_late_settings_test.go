package attacks

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Attacks on what a late change's walk leaves of the group's settings
// (session/latejudge.go: what a group change it fails had set).

var lateSettingsAttacks = []attack{
	{"late-removal-keeps-removed-members-avatar", attackLateRemovalKeepsAvatar},
	{"late-walk-cut-short-add-signs-removed-members-avatar", attackLateWalkCutShortAddAvatar},
	{"late-revocation-keeps-failed-adds-screen-capture", attackLateRevocationKeepsScreenCapture},
}

// malloryAvatar is the avatar URL mallory sets after her removal (a
// tracking URL: every client that shows the group fetches it).
const malloryAvatar = "https://mallory.example/track.png"

// attackLateRemovalKeepsAvatar: alice adds mallory, makes bob an admin
// and removes mallory; mallory, removed, changes the group's avatar above
// the removal (a signed avatar change). The server withholds the removal
// from bob's first sync: the avatar change verifies and the group's
// avatar becomes mallory's. The next sync serves the removal at its
// place; the walk fails mallory's avatar change. A fresh device served
// the same events never takes her avatar. Unless the walk undoes what the
// failed change set, bob's next member add (he is an admin) signs
// mallory's avatar as the group's current one, for every member's client
// to fetch.
func attackLateRemovalKeepsAvatar(w *world) (string, error) {
	return lateRemovalAvatar(w, false)
}

// attackLateWalkCutShortAddAvatar: late-removal-keeps-removed-members-avatar
// with bob's process dying right after the second sync stores the
// removal, before the walk (its own transaction) runs. Started again, bob
// adds dave before he syncs: the walk left pending must run before the
// add reads the group's details (AddMembers syncs the group first, and
// the sync runs it), and the add must not sign them as they stood before
// it.
func attackLateWalkCutShortAddAvatar(w *world) (string, error) {
	return lateRemovalAvatar(w, true)
}

// lateRemovalAvatar plays the late-removal avatar scene; crash: bob's
// process dies before the second sync's walk.
func lateRemovalAvatar(w *world, crash bool) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	h.push(h.adminAdd(h.bob.id))
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(h.removal, 500) // between the removal and alice's message
	avatar, err := h.mallory.avatarChange(e, h.newestVersion(), malloryAvatar)
	if err != nil {
		return "", err
	}
	h.say(h.alice, "alice after the removal")
	h.seal()
	withheld, whole, err := servedLate(h, []*tevent.MessageEvent{avatar}, h.removal)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	add, err := addBobSigns(w, hs, oneRound(whole), false)
	if err != nil {
		return "", errorf("setup: a fresh device's member add: %v", err)
	}
	fresh := add.GetCurrentAvatarURL()
	if fresh == malloryAvatar {
		return "", errorf("setup: a fresh device served the whole transcript signs mallory's avatar")
	}
	if add, err = addBobSigns(w, hs, lateRounds(withheld, whole), crash); err != nil {
		return "", err
	}
	if late := add.GetCurrentAvatarURL(); late != fresh {
		return "", errorf("bob's member add after the late removal signs the avatar %q as the group's (a fresh device signs %q)", late, fresh)
	}
	return fmt.Sprintf("bob's member add after the late removal signs the avatar %q, as a fresh device does", fresh), nil
}

// avatarChange returns a GroupAvatarUrlChange to url signed by u.
func (u *user) avatarChange(env hostile.Envelope, version, url string) (*tevent.MessageEvent, error) {
	p, err := crypto.GroupAvatarChangePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: env.MessageID, SenderID: u.id, ConversationID: env.ConversationID}, version, &url)
	return u.groupAction(env, &tevent.GroupChange{GroupAvatarChange: &tevent.GroupAvatarUrlChange{CustomAvatarURL: &url, ConversationKeyVersion: &version}}, p, err)
}

// addBobSigns serves m to a fresh device of bob's (its rounds as
// syncs), has bob add dave, and returns the member add bob signs. crash: bob's process dies right
// after the last sync stores a change recorded as late (crashAfterLate),
// and is started again before the add.
func addBobSigns(w *world, hs *harness, m *mutation, crash bool) (*tevent.GroupMemberAddChange, error) {
	h, ctx := hs.h, w.ctx
	hs.srv.set(m)
	mem := keystore.NewMemory()
	if err := session.ImportBackup(ctx, mem, h.bob.id, h.bobBackup, h.bobVersion); err != nil {
		return nil, err
	}
	store := &crashAfterLate{Store: mem, cid: h.g}
	open := func() (*session.Engine, error) {
		return session.Open(ctx, store, session.NewAPIServer(apiClient(w.t, hs.url, h.bob.token)))
	}
	e, err := open()
	if err != nil {
		return nil, err
	}
	for i := range m.rounds {
		store.armed = crash && i == len(m.rounds)-1
		if _, err := e.Sync(ctx, h.g, nil); err != nil && !store.down {
			e.Close()
			return nil, errorf("sync %d: %v", i, err)
		}
	}
	if crash {
		if !store.down {
			e.Close()
			return nil, errorf("setup: the last sync recorded no late change")
		}
		if err := e.Close(); err != nil {
			return nil, err
		}
		store.armed, store.down = false, false
		if e, err = open(); err != nil {
			return nil, err
		}
	}
	defer e.Close()
	before := len(hs.srv.written())
	aerr := e.AddMembers(ctx, h.g, h.dv.id)
	for _, b := range hs.srv.written()[before:] {
		var req api.AddChatGroupMembersRequest
		if json.Unmarshal(b, &req) != nil {
			continue
		}
		for _, sig := range req.ActionSignatures {
			raw, err := wire.DecodeB64(sig.EncodedMessageEventDetail)
			if err != nil {
				continue
			}
			d, err := wire.DecodeMessageEventDetail(raw)
			if err != nil {
				continue
			}
			if gc := d.GroupChangeEvent; gc != nil && gc.GroupChange != nil && gc.GroupChange.GroupMemberAdd != nil {
				return gc.GroupChange.GroupMemberAdd, nil
			}
		}
	}
	return nil, errorf("bob's member add posted no signed add (add: %v)", aerr)
}

// attackLateRevocationKeepsScreenCapture: alice makes bob an admin, makes
// mallory one and revokes it; mallory, no admin, adds dave in a member add
// that turns the group's screen-capture blocking off (signed). The server
// withholds the revocation from bob's first sync (the add verifies and
// sets the flag) and serves it at its place in the next: the walk fails
// the add and takes dave back. A fresh device served the same events
// never takes the flag. Unless the walk undoes what the failed add set,
// bob's next member add signs mallory's setting as the group's.
func attackLateRevocationKeepsScreenCapture(w *world) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	h.push(h.adminAdd(h.bob.id))
	h.push(h.adminAdd(h.mallory.id))
	h.push(h.adminRemove(h.mallory.id))
	revocation := h.top()
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(revocation, 500)
	members := []string{h.alice.id, h.bob.id, h.carol.id, h.mallory.id}
	off := false
	add, err := h.mallory.memberAddSetting(e, h.newestVersion(), []string{h.dv.id}, members, []string{h.alice.id, h.bob.id, h.mallory.id}, &off)
	if err != nil {
		return "", err
	}
	withheld, whole, err := revocationServedLate(h, revocation, add)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	signed, err := addBobSigns(w, hs, oneRound(whole), false)
	if err != nil {
		return "", errorf("setup: a fresh device's member add: %v", err)
	}
	if signed.ScreenCaptureBlockingEnabled != nil {
		return "", errorf("setup: a fresh device served the whole transcript signs a screen-capture setting (%v)", *signed.ScreenCaptureBlockingEnabled)
	}
	if signed, err = addBobSigns(w, hs, lateRounds(withheld, whole), false); err != nil {
		return "", err
	}
	if b := signed.ScreenCaptureBlockingEnabled; b != nil {
		return "", errorf("bob's member add after the late revocation signs mallory's screen-capture setting (%v) as the group's, where a fresh device signs none", *b)
	}
	return "bob's member add after the late revocation signs no screen-capture setting, as a fresh device does", nil
}

// memberAddSetting is memberAdd with the group's screen-capture blocking
// setting signed in it.
func (u *user) memberAddSetting(env hostile.Envelope, version string, added, current, admins []string, blocking *bool) (*tevent.MessageEvent, error) {
	ma := crypto.GroupMemberAdd{NewMemberIDs: added, CurrentMemberIDs: current, CurrentAdminIDs: admins, ConversationKeyVersion: version, ScreenCaptureBlockingEnabled: blocking}
	p, err := crypto.GroupMemberAddPayload(crypto.SignatureVersion,
		crypto.Header{MessageID: env.MessageID, SenderID: u.id, ConversationID: env.ConversationID}, ma)
	return u.groupAction(env, &tevent.GroupChange{GroupMemberAdd: &tevent.GroupMemberAddChange{MemberIds: added,
		CurrentMemberIds: current, CurrentAdminIds: admins, ConversationKeyVersion: &version, CurrentPendingMemberIds: []string{},
		ScreenCaptureBlockingEnabled: blocking}}, p, err)
}

// TestSecondLateChangeAfterCapWalk: a second late change stored after a
// walk the hold cap ran mid-sync. Alice revokes mallory's admin rights
// (R1); mallory, no admin, adds dave; alice writes 1,300 messages and
// then removes carol (R2); carol, removed, writes a message. The server
// withholds R1, alice's 1,300 and R2 from bob's first sync (mallory's add
// and carol's message verify) and serves everything in the second,
// oldest page first in pages of 256 (so that the sync reads every page:
// one paging newest first stops at the page that reaches what it
// stored; and R2 comes in a batch after the one that fills the hold): the
// walk from R1 runs past the cap, before R2 is stored, and R2 is stored
// by a later batch of the same sync. The rest of the sync must read the
// state that walk left (dave off the roster) and walk again from R2:
// carol's message is neither handed nor shown verified, alice's messages
// are all handed, and no invariant breaks.
func TestSecondLateChangeAfterCapWalk(t *testing.T) {
	w := newWorld(t)
	h, r1, add, err := revokedAdminAdd(w)
	if err != nil {
		t.Fatal(err)
	}
	const many = 1300
	h.aliceSaysMany(many, "between the late changes")
	withheldSeqs := map[string]bool{r1: true}
	for _, it := range h.items[len(h.items)-many:] {
		withheldSeqs[it.seq()] = true
	}
	h.push(h.alice.removal(h.env(), h.carol.id))
	r2 := h.top()
	withheldSeqs[r2] = true
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(r2, 500)
	v := h.newestVersion()
	said, err := h.carol.forger().Message(e, v, h.keys[v], text("carol after her removal"))
	if err != nil {
		t.Fatal(err)
	}
	h.say(h.alice, "alice after carol's removal")
	h.seal()
	withheld, err := pageOf(h, []*tevent.MessageEvent{add, said}, func(seq string) bool { return !withheldSeqs[seq] })
	if err != nil {
		t.Fatal(err)
	}
	whole, err := pageOf(h, []*tevent.MessageEvent{add, said}, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	o, handedAlice := pagedLateRun(t, h, withheld, whole, ascendingPages(whole, 256))
	switch {
	case len(o.violations) > 0:
		t.Fatalf("violations: %v", o.violations)
	case o.conv == nil:
		t.Fatalf("no conversation: %v", o.syncErrs)
	case o.handed[said.GetMessageID()] || o.verified[said.GetMessageID()]:
		t.Errorf("carol's message after R2 handed verified (%v) or shown verified (%v)", o.handed[said.GetMessageID()], o.verified[said.GetMessageID()])
	case slices.Contains(o.conv.Members, h.dv.id) || slices.Contains(o.conv.Members, h.carol.id):
		t.Errorf("dave or carol still on bob's roster %v", o.conv.Members)
	case o.verified[add.GetMessageID()]:
		t.Errorf("mallory's add after R1 still shown verified")
	case handedAlice != many:
		t.Errorf("%d of alice's %d messages handed verified (sync errors %v)", handedAlice, many, o.syncErrs)
	}
}

// ascendingPages serves p (newest first) as pages of at most n data
// events oldest first, each page's events oldest first, its key changes
// with the first page.
func ascendingPages(p mutPage, n int) []mutPage {
	pages := splitPage(p, n)
	keys := pages[0].keys
	pages[0].keys = nil
	slices.Reverse(pages)
	for i := range pages {
		pages[i].data = slices.Clone(pages[i].data)
		slices.Reverse(pages[i].data)
	}
	pages[0].keys = keys
	return pages
}
