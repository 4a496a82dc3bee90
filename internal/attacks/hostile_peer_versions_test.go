package attacks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Attacks found by the one-to-one transcript-mutation harness
// (mutation_dm_test.go): a server that holds a peer's superseded
// private keys (the reason the peer re-keyed) and hides the re-key for a
// while.

var peerVersionAttacks = []attack{
	{"superseded-signer-key-kept-after-rekey-seen", attackSupersededKeyKeptAfterRekey},
	{"participant-list-claims-peers-new-version", attackParticipantListClaimsNewVersion},
}

// hideRekey makes the proxy list only alice's key set from before her
// re-key while hide is set.
func (w *world) hideRekey(aliceID string, old api.PublicKey, hide *atomic.Bool) {
	w.proxy.Add(hostile.PublicKeys("hide-rekey", func(r *http.Request, keys []api.PublicKey) ([]api.PublicKey, error) {
		if !hide.Load() {
			return keys, nil
		}
		single := r.URL.Path == "/2/users/"+aliceID+"/public_keys"
		var out []api.PublicKey
		for _, k := range keys {
			if !single && k.UserID != aliceID {
				out = append(out, k)
			}
		}
		return append(out, old), nil
	}))
}

// sendAfterRekeySeen lets bob see alice's re-key, sends, and returns an
// error when his message was sealed under version forged (whether or not
// the server then took it).
func (d *dm) sendAfterRekeySeen(newVersion, forged string) (string, error) {
	changes, err := d.bob.e.RefreshPeers(d.w.ctx, d.alice.id)
	if err != nil || len(changes) != 1 || changes[0].New.Version != newVersion || !changes[0].Pinned {
		return "", errorf("alice's re-key not pinned: %+v %v", changes, err)
	}
	var mu sync.Mutex
	var sealed []string
	d.w.proxy.Add(hostile.Capture("sealed-versions", http.MethodPost, `/2/chat/conversations/.*`, func(_ *http.Request, b []byte) {
		var req struct {
			Message string `json:"encoded_message_create_event"`
		}
		if json.Unmarshal(b, &req) != nil || req.Message == "" {
			return
		}
		raw, err := wire.DecodeB64(req.Message)
		if err != nil {
			return
		}
		if mce, err := wire.DecodeMessageCreateEvent(raw); err == nil {
			mu.Lock()
			sealed = append(sealed, mce.GetConversationKeyVersion())
			mu.Unlock()
		}
	}))
	s, serr := d.bob.e.SendText(d.w.ctx, d.cid, "bob, after alice's re-key")
	mu.Lock()
	defer mu.Unlock()
	if slices.Contains(sealed, forged) {
		return "", errorf("bob's message after alice's re-key sealed under version %s, which her superseded keys can read (send: %v)", forged, serr)
	}
	if serr != nil || len(sealed) == 0 {
		return "", errorf("bob's send failed: %v (sealed under %v)", serr, sealed)
	}
	return fmt.Sprintf("bob rotated to %s, not %s", s.KeyVersion, forged), nil
}

// attackSupersededKeyKeptAfterRekey: alice re-keys; the server, holding
// her old private keys, hides the re-key from bob and serves a key change
// signed with her old signing key (pinned on bob's side, so it verifies
// and becomes his encryption key), claiming in its unsigned participant
// list to be wrapped to her new version. When bob then sees the re-key
// (pinned, reported) his next send must not go out under that key.
func attackSupersededKeyKeptAfterRekey(w *world) (string, error) {
	d, err := syncedDM(w)
	if err != nil {
		return "", err
	}
	old, oldSigner := w.publishedKeys(d.alice), d.alice.forger()
	var hide atomic.Bool
	hide.Store(true)
	w.hideRekey(d.alice.id, old, &hide)
	newAlice := w.rekey(d.alice)
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	forged := futureVersion()
	kc, err := oldSigner.KeyChange(envAfter(d.sent[2].SequenceID, d.cid, 1, 120), forged, key, []hostile.Recipient{d.bob.recipient(), newAlice.recipient()})
	if err != nil {
		return "", err
	}
	w.injectKeyChange("superseded-signer-key", d.path, kc, false)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", r.err
	}
	hide.Store(false)
	return d.sendAfterRekeySeen(newAlice.e.PublicKeyVersion(), forged)
}

// attackParticipantListClaimsNewVersion: alice rotates honestly (her key
// wrapped to her old keys and bob's), then re-keys; the server, holding
// her old private keys, rewrites the rotation's unsigned participant list
// to name her new version before bob reads it. When bob sees the re-key
// his next send must not stay under the key her old keys can read.
func attackParticipantListClaimsNewVersion(w *world) (string, error) {
	d := newDM(w)
	v, err := d.alice.e.Rotate(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	old := w.publishedKeys(d.alice)
	var hide atomic.Bool
	hide.Store(true)
	w.hideRekey(d.alice.id, old, &hide)
	newAlice := w.rekey(d.alice)
	newVersion := newAlice.e.PublicKeyVersion()
	w.proxy.Add(hostile.Events("claim-new-version", func(r *http.Request, page *api.GetChatConversationEventsResponse) error {
		if page.Meta == nil {
			return nil
		}
		for i, b := range page.Meta.ConversationKeyEvents {
			out, err := hostile.EditEvent(b, func(me *tevent.MessageEvent) error {
				kc := me.GetDetail().GetConversationKeyChangeEvent()
				if kc == nil || kc.GetConversationKeyVersion() != v {
					return nil
				}
				for _, p := range kc.ConversationParticipantKeys {
					if p.GetUserID() == d.alice.id {
						p.PublicKeyVersion = &newVersion
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			page.Meta.ConversationKeyEvents[i] = out
		}
		return nil
	}))
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", r.err
	}
	hide.Store(false)
	return d.sendAfterRekeySeen(newVersion, v)
}
