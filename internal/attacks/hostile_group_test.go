package attacks

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// group is a group of honest alice and carol with bob (groupScene builds
// it); mallory, registered but no member, is set if the scene asked for her.
type group struct {
	w                          *world
	alice, bob, carol, mallory *user
	g                          string
	hello                      *session.Sent
}

// newGroup is the group scene with bob, the victim, synced to alice's
// "group hello".
func newGroup(w *world) *group {
	gr, err := groupScene(w, groupSetup{hello: "group hello", bobSyncs: true})
	if err != nil {
		w.t.Fatalf("group scene: %v", err)
	}
	return gr
}

var groupAttacks = []attack{
	{"group-member-add-signed-by-non-member", func(w *world) (string, error) {
		// mallory, registered but not a member, signs a GroupMemberAdd
		// adding herself; the server delivers it.
		gr := newGroup(w)
		mallory := w.newUser("mallory", false)
		c, err := gr.bob.e.Conversation(w.ctx, gr.g)
		if err != nil {
			return "", err
		}
		env := hostile.Envelope{SequenceID: hostile.NextSequenceID(gr.hello.SequenceID, 1), PreviousSequenceID: gr.hello.SequenceID,
			MessageID: "0b7c1a52-1111-4c4c-8888-000000000010", ConversationID: gr.g}
		current := []string{gr.alice.id, gr.bob.id, gr.carol.id}
		ma := crypto.GroupMemberAdd{NewMemberIDs: []string{mallory.id}, CurrentMemberIDs: current,
			CurrentAdminIDs: []string{gr.alice.id}, ConversationKeyVersion: c.KeyVersion}
		p, err := crypto.GroupMemberAddPayload(crypto.SignatureVersion,
			crypto.Header{MessageID: env.MessageID, SenderID: mallory.id, ConversationID: gr.g}, ma)
		if err != nil {
			return "", err
		}
		no := false
		detail := &event.MessageEventDetail{GroupChangeEvent: &event.GroupChangeEvent{ForKeyRotation: &no, GroupChange: &event.GroupChange{
			GroupMemberAdd: &event.GroupMemberAddChange{MemberIds: ma.NewMemberIDs, CurrentMemberIds: current,
				CurrentAdminIds: ma.CurrentAdminIDs, ConversationKeyVersion: &c.KeyVersion, CurrentPendingMemberIds: []string{}},
		}}}
		me, err := mallory.forger().Action(env, detail, p)
		if err != nil {
			return "", err
		}
		b64, err := hostile.EncodeEvent(me)
		if err != nil {
			return "", err
		}
		w.injectData("self-add", gr.g, b64)
		r := gr.bob.sync(gr.g)
		if r.err != nil {
			return "", r.err
		}
		after, err := gr.bob.e.Conversation(w.ctx, gr.g)
		if err != nil {
			return "", err
		}
		// Watch what bob discloses when he rotates the group key.
		var mu sync.Mutex
		var posted []api.AddConversationKeysRequest
		w.proxy.Add(hostile.Capture("keys", http.MethodPost, hostile.PathKeys, func(_ *http.Request, b []byte) {
			var req api.AddConversationKeysRequest
			if json.Unmarshal(b, &req) == nil {
				mu.Lock()
				posted = append(posted, req)
				mu.Unlock()
			}
		}))
		_, rerr := gr.bob.e.Rotate(w.ctx, gr.g)
		priv := mallory.keys().Identity
		mu.Lock()
		defer mu.Unlock()
		for _, req := range posted {
			for _, pk := range req.ConversationParticipantKeys {
				ct, err := wire.DecodeB64(pk.EncryptedConversationKey)
				if err != nil {
					continue
				}
				if _, err := crypto.UnwrapConversationKey(priv, ct); err == nil {
					return "", errorf("non-member's self-add accepted: roster %v; the victim's next group key (version %s) was wrapped to the intruder (the honest emulator then refused it: %v)",
						after.Members, req.ConversationKeyVersion, rerr)
				}
			}
		}
		if rerr != nil {
			return "", errorf("Rotate: %w", rerr)
		}
		if slices.Contains(after.Members, mallory.id) {
			return "", errorf("non-member's self-add entered the roster: %v", after.Members)
		}
		ev, seen := r.byMessage(me.GetMessageID())
		if !seen || ev == nil {
			return "", errorf("self-add by a non-member not reported (seen %v)", seen)
		}
		return "rejected: " + ev.Error(), nil
	}},
	{"delete-for-all-of-another-members-message", func(w *world) (string, error) {
		// carol, a member, signs a delete-for-all of alice's message.
		gr := newGroup(w)
		env := hostile.Envelope{SequenceID: hostile.NextSequenceID(gr.hello.SequenceID, 1), PreviousSequenceID: gr.hello.SequenceID,
			MessageID: "0b7c1a52-1111-4c4c-8888-000000000011", ConversationID: gr.g}
		p, err := crypto.MessageDeletePayload(crypto.SignatureVersion,
			crypto.Header{MessageID: env.MessageID, SenderID: gr.carol.id, ConversationID: gr.g}, crypto.DeleteForAll, []string{gr.hello.SequenceID})
		if err != nil {
			return "", err
		}
		action := event.DeleteMessageAction(crypto.DeleteForAll)
		detail := &event.MessageEventDetail{MessageDeleteEvent: &event.MessageDeleteEvent{
			SequenceIds: []string{gr.hello.SequenceID}, DeleteMessageAction: &action}}
		me, err := gr.carol.forger().Action(env, detail, p)
		if err != nil {
			return "", err
		}
		b64, err := hostile.EncodeEvent(me)
		if err != nil {
			return "", err
		}
		w.injectData("delete-other", gr.g, b64)
		r := gr.bob.sync(gr.g)
		if r.err != nil {
			return "", r.err
		}
		if !slices.Contains(gr.bob.verifiedTexts(gr.g), "group hello") {
			return "", errorf("another member's delete-for-all erased alice's message")
		}
		ev, _ := r.byMessage(me.GetMessageID())
		if ev == nil {
			return "", errorf("not applied, but the unauthorised delete is shown as a valid event")
		}
		return "not applied; reported: " + ev.Error(), nil
	}},
	{"key-change-conflicting-key-same-version", func(w *world) (string, error) {
		// alice (dishonest) re-issues the current key version with another
		// key, hoping bob replaces the key he holds.
		d, c, err := syncedDMView(w)
		if err != nil {
			return "", err
		}
		key, err := crypto.NewConversationKey(nil)
		if err != nil {
			return "", err
		}
		me, err := d.alice.forger().KeyChange(hostile.Envelope{
			SequenceID: hostile.NextSequenceID(d.sent[2].SequenceID, 1), PreviousSequenceID: d.sent[2].SequenceID,
			MessageID: "0b7c1a52-1111-4c4c-8888-000000000012", ConversationID: d.cid,
		}, c.KeyVersion, key, []hostile.Recipient{d.bob.recipient(), d.alice.recipient()})
		if err != nil {
			return "", err
		}
		w.injectKeyChange("conflict", d.path, me, false)
		r := d.bob.sync(d.cid)
		if r.err != nil {
			return "", r.err
		}
		held := d.bob.convKey(d.cid, c.KeyVersion)
		if held.Equal(key) {
			return "", errorf("held key for version %s replaced", c.KeyVersion)
		}
		ev, seen := r.byMessage(me.GetMessageID())
		if !seen || !errors.Is(ev, inbound.ErrKeyConflict) {
			return "", errorf("conflicting key change: seen %v, err %v", seen, ev)
		}
		return "rejected, held key kept: " + ev.Error(), nil
	}},
	{"signature-version-above-max", func(w *world) (string, error) {
		d := newDM(w)
		w.tamper("v8", d.mid(1), func(me *event.MessageEvent) { me.MessageEventSignature.SignatureVersion = strp("8") })
		return d.expectEventErr(d.mid(1), inbound.ErrSignatureVersion)
	}},
	{"phantom-member-in-listing-before-first-sync", func(w *world) (string, error) {
		// bob learns of a new group from the (unsigned) conversation list,
		// which also names mallory, and rotates its key before any sync.
		gr, err := groupScene(w, groupSetup{hello: "group hello", mallory: true})
		if err != nil {
			return "", err
		}
		bob, mallory, g := gr.bob, gr.mallory, gr.g
		w.claimMember(g, mallory.id)
		var mu sync.Mutex
		var wrapped []string
		priv := mallory.keys().Identity
		w.proxy.Add(hostile.Capture("keys", http.MethodPost, hostile.PathKeys, func(_ *http.Request, b []byte) {
			var req api.AddConversationKeysRequest
			if json.Unmarshal(b, &req) != nil {
				return
			}
			for _, pk := range req.ConversationParticipantKeys {
				if ct, err := wire.DecodeB64(pk.EncryptedConversationKey); err == nil {
					if _, err := crypto.UnwrapConversationKey(priv, ct); err == nil {
						mu.Lock()
						wrapped = append(wrapped, req.ConversationKeyVersion)
						mu.Unlock()
					}
				}
			}
		}))
		if _, err := bob.e.RefreshConversations(w.ctx); err != nil {
			return "", err
		}
		_, rerr := bob.e.Rotate(w.ctx, g)
		c, err := bob.e.Conversation(w.ctx, g)
		if err != nil {
			return "", err
		}
		mu.Lock()
		defer mu.Unlock()
		if len(wrapped) > 0 {
			return "", errorf("group key %v wrapped to a member only the server claimed (roster %v, rotate: %v)", wrapped, c.Members, rerr)
		}
		if c != nil && slices.Contains(c.Members, mallory.id) {
			return "", errorf("server-claimed member kept in the roster: %v", c.Members)
		}
		if rerr != nil {
			return "resisted: not wrapped to the phantom; rotate refused: " + rerr.Error(), nil
		}
		return "resisted: roster taken from the signed group create, phantom member ignored", nil
	}},
}
