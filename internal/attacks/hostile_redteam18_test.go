package attacks

import (
	"fmt"
	"slices"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on the keys and records a late change's walk leaves behind
// (session/latejudge.go: distrustKey and what a send reads afterwards).

var redteam18Attacks = []attack{
	{"late-removal-unlisted-key-leaves-held-key-current", attackLateRemovalUnlistedKey},
	{"late-removal-unlisted-key-leaves-own-key-current", attackLateRemovalUnlistedOwnKey},
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
