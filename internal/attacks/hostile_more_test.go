package attacks

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// forger returns a Forger signing as u.
func (u *user) forger() *hostile.Forger {
	return &hostile.Forger{UserID: u.id, KeyVersion: u.e.PublicKeyVersion(), Signing: u.keys().Signing}
}

// recipient returns u as the recipient of a forged key change.
func (u *user) recipient() hostile.Recipient {
	return hostile.Recipient{UserID: u.id, KeyVersion: u.e.PublicKeyVersion(), Identity: u.keys().Identity.PublicKey()}
}

// publishedKeys returns u's key set as the honest server publishes it.
func (w *world) publishedKeys(u *user) api.PublicKey {
	w.t.Helper()
	c := apiClient(w.t, w.honest.URL, u.token)
	r, _, err := c.GetUserPublicKeys(w.ctx, u.id, nil)
	if err != nil || len(r.Data) == 0 {
		w.t.Fatalf("public keys of %s: %v", u.id, err)
	}
	k := r.Data[0]
	k.UserID = u.id
	return k
}

// substituteKeys makes the proxy answer sub for every lookup of victim's
// keys (batch or single).
func (w *world) substituteKeys(name, of string, sub api.PublicKey) {
	w.proxy.Add(hostile.PublicKeys(name, func(r *http.Request, keys []api.PublicKey) ([]api.PublicKey, error) {
		single := r.URL.Path == "/2/users/"+of+"/public_keys"
		for i := range keys {
			if single || keys[i].UserID == of {
				s := sub
				if !single {
					s.UserID = of
				} else {
					s.UserID = keys[i].UserID
				}
				keys[i] = s
			}
		}
		return keys, nil
	}))
}

// unwrappable reports whether outsider can unwrap any copy of any
// conversation key the server holds for the conversation.
func (w *world) unwrappable(reader *user, pathID string, outsider *user) bool {
	priv := outsider.keys().Identity
	for _, me := range w.serverKeyChanges(reader, pathID) {
		kc := me.GetDetail().GetConversationKeyChangeEvent()
		for _, p := range kc.GetConversationParticipantKeys() {
			ct, err := wire.DecodeB64(p.GetEncryptedConversationKey())
			if err != nil {
				continue
			}
			if _, err := crypto.UnwrapConversationKey(priv, ct); err == nil {
				return true
			}
		}
	}
	return false
}

// injectKeyChange makes the proxy serve me as the newest key change of
// the conversation at path (in meta.conversation_key_events).
func (w *world) injectKeyChange(name, path string, me *tevent.MessageEvent, missing bool) {
	b64, err := hostile.EncodeEvent(me)
	if err != nil {
		w.t.Fatal(err)
	}
	w.proxy.Add(hostile.Events(name, func(r *http.Request, page *api.GetChatConversationEventsResponse) error {
		if hostile.ConversationOf(r.URL.Path) != path {
			return nil
		}
		if page.Meta == nil {
			page.Meta = &api.ChatEventsMeta{}
		}
		if missing {
			page.Meta.MissingConversationKeyChangeEvents = append(page.Meta.MissingConversationKeyChangeEvents, b64)
		} else {
			page.Meta.ConversationKeyEvents = append(page.Meta.ConversationKeyEvents, b64)
		}
		return nil
	}))
}

func futureVersion() string { return strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10) }

// keyVersionHeld checks that victim's encryption key for cid is still want
// and that a new send uses it.
func keyVersionHeld(victim *user, cid, want, forged string) error {
	c, err := victim.e.Conversation(victim.w.ctx, cid)
	if err != nil {
		return err
	}
	s, serr := victim.e.SendText(victim.w.ctx, cid, "after the attack")
	switch {
	case serr == nil && s.KeyVersion == forged:
		return errorf("conversation key version moved from %s to the forged %s and the victim's next message was encrypted under it", want, forged)
	case c.KeyVersion != want:
		sv := ""
		if s != nil {
			sv = s.KeyVersion
		}
		return errorf("conversation key version moved from %s to %s (forged %s); next send: version %s, err %v", want, c.KeyVersion, forged, sv, serr)
	case serr != nil:
		return errorf("send after the attack: %w", serr)
	}
	return nil
}

// replayOldKeyChange replays the conversation's first key change, re-sequenced
// as the newest event, after a rotation; withhold also hides the newer key
// change.
func replayOldKeyChange(w *world, withhold bool) (string, error) {
	d, err := syncedDM(w)
	if err != nil {
		return "", err
	}
	old := w.serverKeyChanges(d.alice, d.path)
	if len(old) == 0 {
		return "", errorf("no key change served")
	}
	oldKC := old[0]
	v2, err := d.alice.e.Rotate(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	d.alice.send(d.cid, "under v2")
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", r.err
	}
	more := d.alice.send(d.cid, "more")[0]
	oldKC.SequenceID = strp(hostile.NextSequenceID(more.SequenceID, 1))
	oldKC.PreviousSequenceID = strp(more.SequenceID)
	b64, err := hostile.EncodeEvent(oldKC)
	if err != nil {
		return "", err
	}
	w.proxy.Add(hostile.Events("replay", func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		if withhold {
			page.Meta.ConversationKeyEvents = []string{b64}
			page.Meta.MissingConversationKeyChangeEvents = nil
		} else {
			page.Meta.ConversationKeyEvents = append(page.Meta.ConversationKeyEvents, b64)
		}
		return nil
	}))
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", r.err
	}
	if err := keyVersionHeld(d.bob, d.cid, v2, oldKC.GetDetail().GetConversationKeyChangeEvent().GetConversationKeyVersion()); err != nil {
		return "", err
	}
	for _, ev := range r.events {
		if ev.MessageID == oldKC.GetMessageID() && ev.SequenceID == oldKC.GetSequenceID() {
			if ev.Err != nil {
				return "replay rejected: " + ev.Err.Error(), nil
			}
		}
	}
	if a, ok := r.anomaly(event.AnomalyDuplicate, event.AnomalyConflict, event.AnomalyReorder, event.AnomalyGap, event.AnomalyFork); ok {
		return "key version kept at " + v2 + ", replay exposed: " + a.String(), nil
	}
	return "", errorf("key version kept at %s but the replayed key change (message %s re-sequenced as %s) was not reported", v2, short(oldKC.GetMessageID()), oldKC.GetSequenceID())
}

var moreAttacks = []attack{
	{"substituted-peer-key-tofu-loud", func(w *world) (string, error) {
		d, err := syncedDM(w)
		if err != nil {
			return "", err
		}
		mallory := w.newUser("mallory", false)
		sub := w.publishedKeys(mallory)
		sub.PublicKeyVersion = futureVersion()
		w.substituteKeys("swap-keys", d.alice.id, sub)
		changes, err := d.bob.e.RefreshPeers(w.ctx, d.alice.id)
		if err != nil {
			return "", errorf("RefreshPeers: %w", err)
		}
		if len(changes) != 1 || changes[0].Old == nil || changes[0].UserID != d.alice.id || changes[0].New.Version != sub.PublicKeyVersion {
			return "", errorf("key change not reported: %+v", changes)
		}
		if len(d.bob.keyChanges()) != 1 {
			return "", errorf("KeyChanged handler called %d times", len(d.bob.keyChanges()))
		}
		p, err := d.bob.e.Peer(w.ctx, d.alice.id)
		if err != nil || !p.Changed {
			return "", errorf("peer not marked changed: %+v %v", p, err)
		}
		return fmt.Sprintf("KeyChanged for %s: %s -> %s (Peer.Changed)", short(d.alice.id), changes[0].Old.Fingerprint[:8], changes[0].New.Fingerprint[:8]), nil
	}},
	{"substituted-peer-key-strict-refuses", func(w *world) (string, error) {
		alice := w.newUser("alice", false)
		bob := w.newUser("bob", true, session.WithTrustPolicy(session.TrustStrict))
		s := alice.send(bob.id, "hello")[0]
		if err := verifyPeer(bob, alice.id); err != nil {
			return "", err
		}
		if r := bob.sync(s.ConversationID); r.err != nil {
			return "", r.err
		}
		mallory := w.newUser("mallory", false)
		sub := w.publishedKeys(mallory)
		sub.PublicKeyVersion = futureVersion()
		w.substituteKeys("swap-keys", alice.id, sub)
		r := bob.sync(s.ConversationID)
		if r.err != nil {
			return "", r.err
		}
		if len(r.res.KeyChanges) == 0 || r.res.KeyChanges[0].Pinned {
			return "", errorf("strict sync: key changes %+v", r.res.KeyChanges)
		}
		_, err := bob.e.Rotate(w.ctx, s.ConversationID)
		if !errors.Is(err, xchat.ErrKeyChanged) {
			return "", errorf("Rotate to a substituted key: %v, want ErrKeyChanged", err)
		}
		if _, err := bob.e.SendText(w.ctx, s.ConversationID, "secret"); err != nil && !errors.Is(err, xchat.ErrKeyChanged) {
			return "", errorf("SendText: %v", err)
		}
		if w.unwrappable(alice, api.ConversationPathID(s.ConversationID), mallory) {
			return "", errorf("a conversation key was wrapped to the substituted key")
		}
		return "strict: change pending (not pinned), Rotate refused: " + err.Error(), nil
	}},
	{"substituted-identity-key-only", func(w *world) (string, error) {
		d, err := syncedDM(w)
		if err != nil {
			return "", err
		}
		mallory := w.newUser("mallory", false)
		sub := w.publishedKeys(d.alice)
		sub.PublicKey = w.publishedKeys(mallory).PublicKey // binding no longer verifies
		sub.PublicKeyVersion = futureVersion()
		w.substituteKeys("swap-identity", d.alice.id, sub)
		_, err = d.bob.e.RefreshPeers(w.ctx, d.alice.id)
		if !errors.Is(err, xchat.ErrKeyBinding) {
			return "", errorf("RefreshPeers: %v, want ErrKeyBinding", err)
		}
		p, perr := d.bob.e.Peer(w.ctx, d.alice.id)
		if perr != nil {
			return "", perr
		}
		if p == nil || p.Current == nil || p.Current.Version == sub.PublicKeyVersion {
			return "", errorf("forged key set pinned: %+v", p)
		}
		return "binding rejected: " + err.Error(), nil
	}},
	{"replayed-old-key-change-downgrade", func(w *world) (string, error) { return replayOldKeyChange(w, true) }},
	{"replayed-old-key-change-alongside-new", func(w *world) (string, error) { return replayOldKeyChange(w, false) }},
	{"key-change-signed-by-non-member-1to1", func(w *world) (string, error) {
		d, c, err := syncedDMView(w)
		if err != nil {
			return "", err
		}
		mallory := w.newUser("mallory", false)
		key, err := crypto.NewConversationKey(nil)
		if err != nil {
			return "", err
		}
		forged := futureVersion()
		me, err := mallory.forger().KeyChange(hostile.Envelope{
			SequenceID: hostile.NextSequenceID(d.sent[2].SequenceID, 1), PreviousSequenceID: d.sent[2].SequenceID,
			MessageID: "0b7c1a52-1111-4c4c-8888-000000000001", ConversationID: d.cid,
		}, forged, key, []hostile.Recipient{d.bob.recipient(), mallory.recipient()})
		if err != nil {
			return "", err
		}
		w.injectKeyChange("nonmember-kc", d.path, me, false)
		r := d.bob.sync(d.cid)
		if r.err != nil {
			return "", r.err
		}
		if err := keyVersionHeld(d.bob, d.cid, c.KeyVersion, forged); err != nil {
			return "", err
		}
		ev, seen := r.byMessage(me.GetMessageID())
		if !seen || !errors.Is(ev, inbound.ErrSenderNotParticipant) {
			return "", errorf("forged key change: seen %v, error %v", seen, ev)
		}
		return "rejected: " + ev.Error(), nil
	}},
	{"key-change-signed-by-non-member-group", func(w *world) (string, error) {
		gr, err := groupScene(w, groupSetup{hello: "group hello", bobSyncs: true})
		if err != nil {
			return "", err
		}
		alice, bob, carol, g, s := gr.alice, gr.bob, gr.carol, gr.g, gr.hello
		c, err := bob.e.Conversation(w.ctx, g)
		if err != nil {
			return "", err
		}
		mallory := w.newUser("mallory", false)
		key, err := crypto.NewConversationKey(nil)
		if err != nil {
			return "", err
		}
		forged := futureVersion()
		me, err := mallory.forger().KeyChange(hostile.Envelope{
			SequenceID: hostile.NextSequenceID(s.SequenceID, 1), PreviousSequenceID: s.SequenceID,
			MessageID: "0b7c1a52-1111-4c4c-8888-000000000002", ConversationID: g,
		}, forged, key, []hostile.Recipient{bob.recipient(), alice.recipient(), carol.recipient(), mallory.recipient()})
		if err != nil {
			return "", err
		}
		w.injectKeyChange("nonmember-kc", g, me, false)
		r := bob.sync(g)
		if r.err != nil {
			return "", r.err
		}
		var report error
		for _, ev := range r.events {
			if ev.MessageID != me.GetMessageID() {
				continue
			}
			report = ev.Err
			for _, wn := range ev.Warnings {
				if report == nil && errors.Is(wn, xchat.ErrNotMember) {
					report = wn
				}
			}
			if ev.KeyChange != nil && ev.KeyChange.UsableForEncryption {
				return "", errorf("outsider's key change usable for encryption")
			}
		}
		if err := keyVersionHeld(bob, g, c.KeyVersion, forged); err != nil {
			return "", errorf("%w (the key change itself was reported: %v)", err, report)
		}
		if report == nil {
			return "", errorf("outsider's key change accepted silently")
		}
		return "reported: " + report.Error(), nil
	}},
	{"embedded-signing-key-forgery", func(w *world) (string, error) {
		// The server re-signs alice's event with its own key and embeds
		// that key in the event, hoping the client trusts it.
		d := newDM(w)
		mallory := w.newUser("mallory", false)
		// Signed by mallory's key, in alice's name and key version.
		f := &hostile.Forger{UserID: d.alice.id, KeyVersion: d.alice.e.PublicKeyVersion(), Signing: mallory.keys().Signing}
		spki := wire.EncodeB64(f.Signing.PublicKey().SPKI())
		var ferr error
		w.tamper("embedded-key", d.mid(1), func(me *tevent.MessageEvent) {
			ferr = f.Resign(me)
			me.MessageEventSignature.SigningPublicKey = &spki
			me.MessageEventSignature.MessageSigningKeyInfoList = []*tevent.MessageSigningKeyInfo{{MemberID: &f.UserID, PublicKeyVersion: &f.KeyVersion, SigningPublicKey: &spki}}
		})
		got, err := d.expectEventErr(d.mid(1), inbound.ErrBadSignature)
		if ferr != nil {
			return "", ferr
		}
		return got, err
	}},
}
