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
	fresh, err := avatarBobSigns(w, hs, oneRound(whole))
	switch {
	case err != nil:
		return "", errorf("setup: a fresh device's member add: %v", err)
	case fresh == malloryAvatar:
		return "", errorf("setup: a fresh device served the whole transcript signs mallory's avatar")
	}
	late, err := avatarBobSigns(w, hs, lateRounds(withheld, whole))
	switch {
	case err != nil:
		return "", err
	case late == malloryAvatar:
		return "", errorf("bob's member add after the late removal signs mallory's avatar %q as the group's (a fresh device signs %q)", late, fresh)
	}
	return fmt.Sprintf("bob's member add after the late removal signs the avatar %q, as a fresh device does", late), nil
}

// avatarChange returns a GroupAvatarUrlChange to url signed by u.
func (u *user) avatarChange(env hostile.Envelope, version, url string) (*tevent.MessageEvent, error) {
	p, err := crypto.GroupAvatarChangePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: env.MessageID, SenderID: u.id, ConversationID: env.ConversationID}, version, &url)
	return u.groupAction(env, &tevent.GroupChange{GroupAvatarChange: &tevent.GroupAvatarUrlChange{CustomAvatarURL: &url, ConversationKeyVersion: &version}}, p, err)
}

// avatarBobSigns serves m to a fresh device of bob's (its rounds as
// syncs), has bob add dave, and returns the current avatar URL bob's
// signed member add names ("" for none).
func avatarBobSigns(w *world, hs *harness, m *mutation) (string, error) {
	h, ctx := hs.h, w.ctx
	hs.srv.set(m)
	store := keystore.NewMemory()
	if err := session.ImportBackup(ctx, store, h.bob.id, h.bobBackup, h.bobVersion); err != nil {
		return "", err
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(apiClient(w.t, hs.url, h.bob.token)))
	if err != nil {
		return "", err
	}
	defer e.Close()
	for i := range m.rounds {
		if _, err := e.Sync(ctx, h.g, nil); err != nil {
			return "", errorf("sync %d: %v", i, err)
		}
	}
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
				add := gc.GroupChange.GroupMemberAdd
				return add.GetCurrentAvatarURL(), nil
			}
		}
	}
	return "", errorf("bob's member add posted no signed add (add: %v)", aerr)
}
