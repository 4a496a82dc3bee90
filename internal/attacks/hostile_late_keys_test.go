package attacks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Attacks on the keys and records a late change's walk leaves behind
// (session/latejudge.go: distrustKey and what a send reads afterwards).

var lateKeyAttacks = []attack{
	{"late-removal-unlisted-key-leaves-held-key-current", attackLateRemovalUnlistedKey},
	{"late-removal-unlisted-key-leaves-own-key-current", attackLateRemovalUnlistedOwnKey},
	{"late-walk-cut-short-send-wraps-to-grantee", attackLateWalkCutShortSends},
}

// attackLateRemovalUnlistedKey: alice adds mallory (the group's key is
// then one mallory holds) and removes her; nobody rotates after it.
// Mallory, removed, distributes a key of her own above the removal, its
// participant list (unsigned) naming alice, bob and carol but not her.
// The server withholds the removal from bob's first sync: mallory's key
// change verifies, its key is bob's newest, and the recipients bob records
// for it name no outsider. The next sync serves the removal at its place;
// the walk fails mallory's key change and distrusts her key, and bob's
// newest usable key is again the one mallory held as a member. A fresh
// device served the same events records that key's recipients (mallory
// among them), finds it exposed after her removal and makes a new key
// before it sends. Unless the walk restores what the current key's
// recipients are, bob's next message is sealed under a key she holds.
func attackLateRemovalUnlistedKey(w *world) (string, error) {
	return lateRemovalUnlistedKey(w, false)
}

// attackLateRemovalUnlistedOwnKey: late-removal-unlisted-key-leaves-held-key-current
// with the key mallory held as a member one bob made (he rotated after
// alice added her): no key change of another's records its recipients, and
// the list bob chose was replaced by mallory's when her key was adopted.
func attackLateRemovalUnlistedOwnKey(w *world) (string, error) {
	return lateRemovalUnlistedKey(w, true)
}

// lateRemovalUnlistedKey plays the unlisted-key scene; bobRotates: bob
// makes the group's key after mallory's add.
func lateRemovalUnlistedKey(w *world, bobRotates bool) (string, error) {
	h := newBareHistory(w)
	if err := h.synced(h.alice).e.AddMembers(w.ctx, h.g, h.mallory.id); err != nil {
		return "", err
	}
	h.synced(h.bob)
	if bobRotates {
		if _, err := h.bob.e.Rotate(w.ctx, h.g); err != nil {
			return "", err
		}
		h.bob.send(h.g, "bob under his new key")
		for v, k := range h.keysOf(h.bob) {
			h.keys[v] = k // an honest key
		}
	}
	h.readServer()
	for _, k := range h.keysOf(h.synced(h.mallory)) {
		h.malloryKeys = append(h.malloryKeys, k)
	}
	held := len(h.malloryKeys)
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	e := h.env()
	kc, err := h.mallory.forger().KeyChange(e, h.nextVersion(10), key,
		[]hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient()})
	if err != nil {
		return "", err
	}
	h.malloryKeys = append(h.malloryKeys, key)
	h.seal()
	if held == 0 {
		return "", errorf("setup: mallory holds no key of the group before her removal")
	}
	withheld, err := pageOf(h, []*tevent.MessageEvent{kc}, func(seq string) bool { return seq != h.removal })
	if err != nil {
		return "", err
	}
	whole, err := pageOf(h, []*tevent.MessageEvent{kc}, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	first := hs.run(w.t, oneRound(withheld))
	if first.conv == nil || !slices.Contains(first.conv.Members, h.mallory.id) {
		return "", errorf("setup: with the removal withheld mallory is no member (%v)", first.syncErrs)
	}
	if fresh := hs.run(w.t, oneRound(whole)); len(fresh.violations) > 0 {
		return "", errorf("setup: a fresh device served the whole transcript: %v", fresh.violations)
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case len(o.violations) > 0:
		return "", errorf("removal served late below mallory's unlisted key: %v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case slices.Contains(o.conv.Members, h.mallory.id):
		return "", errorf("mallory still on bob's roster %v", o.conv.Members)
	}
	return fmt.Sprintf("bob's send after the late removal sealed under none of the %d keys mallory holds", len(h.malloryKeys)), nil
}

// crashAfterLate is bob's keystore in a process that dies right after a
// sync commits a change recorded as late (the walk's transaction, which
// follows, never runs): once that record appears, every write fails until
// restart (the process started again on the same store).
type crashAfterLate struct {
	keystore.Store
	cid         string
	armed, down bool
}

// Update implements keystore.Store.
func (s *crashAfterLate) Update(ctx context.Context, fn func(tx keystore.Tx) error) error {
	if s.down {
		return errors.New("the process is gone")
	}
	if err := s.Store.Update(ctx, fn); err != nil {
		return err
	}
	// The record noteLate writes (session/latejudge.go:lateChangesKey).
	if _, err := s.Store.Value(ctx, "session/late-changes/"+s.cid); s.armed && err == nil {
		s.down = true
	}
	return nil
}

// attackLateWalkCutShortSends: alice revokes mallory's admin rights;
// mallory, no admin, adds dave. The server withholds the revocation from
// bob's first sync (dave joins bob's roster), then serves it in the next,
// and bob's process dies right after that sync stores it, before the walk
// that re-judges what lies above it. Started again, bob sends before he
// syncs; dave, on his roster, holds no key of the group, so the send makes
// a new key for the roster. Unless the engine runs the walk the late
// change still waits for before it reads the roster to wrap a key, the new
// key is wrapped to dave, whom a fresh device served the same events never
// admits.
func attackLateWalkCutShortSends(w *world) (string, error) {
	h, revocation, add, err := revokedAdminAdd(w)
	if err != nil {
		return "", err
	}
	withheld, whole, err := revocationServedLate(h, revocation, add)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	if fresh := hs.run(w.t, oneRound(whole)); fresh.conv == nil || slices.Contains(fresh.conv.Members, h.dv.id) {
		return "", errorf("setup: a fresh device served the whole transcript admits dave (%v)", fresh.syncErrs)
	}
	hs.srv.set(lateRounds(withheld, whole))
	ctx := w.ctx
	mem := keystore.NewMemory()
	if err := session.ImportBackup(ctx, mem, h.bob.id, h.bobBackup, h.bobVersion); err != nil {
		return "", err
	}
	store := &crashAfterLate{Store: mem, cid: h.g}
	open := func() (*session.Engine, error) {
		return session.Open(ctx, store, session.NewAPIServer(apiClient(w.t, hs.url, h.bob.token)))
	}
	e, err := open()
	if err != nil {
		return "", err
	}
	if _, err := e.Sync(ctx, h.g, nil); err != nil {
		return "", errorf("setup: first sync: %v", err)
	}
	if c, err := e.Conversation(ctx, h.g); err != nil || !slices.Contains(c.Members, h.dv.id) {
		return "", errorf("setup: with the revocation withheld dave is no member (%v)", err)
	}
	store.armed = true
	_, serr := e.Sync(ctx, h.g, nil)
	if !store.down {
		return "", errorf("setup: the second sync recorded no late change (sync: %v)", serr)
	}
	if err := e.Close(); err != nil {
		return "", err
	}
	store.armed, store.down = false, false
	if e, err = open(); err != nil {
		return "", err
	}
	defer e.Close()
	_, rerr := e.SendText(ctx, h.g, "bob after his restart")
	dave := h.dv.keys().Identity
	for _, b := range hs.srv.written() {
		var req struct {
			Keys []api.ConversationParticipantKey `json:"conversation_participant_keys"`
		}
		if json.Unmarshal(b, &req) != nil {
			continue
		}
		for _, pk := range req.Keys {
			if ct, err := wire.DecodeB64(pk.EncryptedConversationKey); err == nil {
				if k, err := crypto.UnwrapConversationKey(dave, ct); err == nil {
					k.Zero()
					return "", errorf("bob's send after his process died before the walk wrapped a new key to dave, whom mallory added after her revocation (send: %v)", rerr)
				}
			}
		}
	}
	if len(hs.srv.written()) == 0 {
		return "", errorf("bob's send wrote nothing (%v)", rerr)
	}
	return fmt.Sprintf("bob's send after the cut-short walk wrapped no key to dave (send: %v)", rerr), nil
}
