package attacks

import (
	"encoding/json"
	"fmt"

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

var redteam19Attacks = []attack{
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
	h.say(h.alice, "alice after the revocation")
	h.seal()
	withheld, whole, err := servedLate(h, []*tevent.MessageEvent{add}, revocation)
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
