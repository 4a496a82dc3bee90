package attacks

import (
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on a message stored before its key: the server serves a
// genuine message but withholds the verified key change that distributes
// its key, and serves the change on a later sync. Bob stores the message
// failed ("unknown conversation key version"); a fresh device served the
// transcript in order decrypts and keeps it verified. Unless the key's
// arrival opens the stored message again, the server makes bob's device
// show genuine messages as failed for good.

var awaitingKeyAttacks = []attack{
	{"key-change-withheld-message-stays-failed-dm", attackKeyWithheldDM},
	{"key-change-withheld-message-stays-failed-group", attackKeyWithheldGroup},
	{"key-change-after-removal-served-late-opens-nothing", attackLateKeyAfterRemoval},
	{"key-change-by-non-member-served-late-opens-nothing", attackLateKeyByNonMember},
	{"removed-member-message-under-late-key-opens-nothing", attackRemovedUnderLateKey},
	{"message-below-its-key-change-opens-nothing", attackMessageBelowItsKey},
	{"tampered-message-under-late-key-opens-nothing", attackTamperedUnderLateKey},
	{"messages-awaiting-a-key-bounded", attackAwaitingKeyBounded},
}

// attackKeyWithheldDM: alice rotates the one-to-one conversation's key
// and writes under it; bob's first sync is served the message but not the
// key change, his second the key change.
func attackKeyWithheldDM(w *world) (string, error) {
	return keyWithheldDM(w, "withhold-key-change", "under the withheld key", nil)
}

// keyWithheldDM plays the scene of key-change-withheld-message-stays-
// failed-dm: bob syncs; alice rotates the one-to-one conversation's key
// and writes said and another message under it; bob's first sync is served
// the messages but not the key change (the first must be stored failed),
// his second the pages as then rewrites them (nil: as the server has
// them), under the proxy rule named rule. Both messages must end
// verified (keptOpened).
func keyWithheldDM(w *world, rule, said string, then func(page *api.GetChatConversationEventsResponse, v string) error) (string, error) {
	d := newDM(w)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", errorf("setup: %v", r.err)
	}
	v, err := d.alice.e.Rotate(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	sent := d.alice.send(d.bob.id, said, "and another")
	var second atomic.Bool
	w.proxy.Add(hostile.Events(rule, func(_ *http.Request, page *api.GetChatConversationEventsResponse) error {
		switch {
		case !second.Load():
			return withholdKeyVersion(page, v)
		case then != nil:
			return then(page, v)
		}
		return nil
	}))
	first := d.bob.sync(d.cid)
	if first.err != nil {
		return "", errorf("first sync: %v", first.err)
	}
	if err, seen := first.byMessage(sent[0].MessageID); !seen || err == nil {
		return "", errorf("setup: the message under the withheld key was not stored failed (seen %v, err %v)", seen, err)
	}
	second.Store(true)
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", errorf("second sync: %v", r.err)
	}
	return keptOpened(d.bob, d.cid, sent[0].MessageID, sent[1].MessageID)
}

// withholdKeyVersion drops from page the key change of version v (from
// the metadata and the data).
func withholdKeyVersion(page *api.GetChatConversationEventsResponse, v string) error {
	isIt := func(b string) bool {
		me, err := hostile.DecodeEvent(b)
		if err != nil {
			return false
		}
		kc := me.GetDetail().GetConversationKeyChangeEvent()
		return kc != nil && kc.GetConversationKeyVersion() == v
	}
	if page.Meta != nil {
		kept := page.Meta.ConversationKeyEvents[:0]
		for _, b := range page.Meta.ConversationKeyEvents {
			if !isIt(b) {
				kept = append(kept, b)
			}
		}
		page.Meta.ConversationKeyEvents = kept
	}
	kept := page.Data[:0]
	for _, d := range page.Data {
		if !isIt(d.EncodedEvent) {
			kept = append(kept, d)
		}
	}
	page.Data = kept
	return nil
}

// keptOpened requires u's history to show the messages mids verified.
func keptOpened(u *user, cid string, mids ...string) (string, error) {
	hist, err := u.e.History(u.w.ctx, cid, "", 0)
	if err != nil {
		return "", err
	}
	for _, mid := range mids {
		var got *event.Entry
		for i := range hist {
			if hist[i].MessageID == mid {
				got = &hist[i]
			}
		}
		switch {
		case got == nil:
			return "", errorf("message %s missing from the history", mid)
		case !got.Verified:
			return "", errorf("message %s stays failed (%s) after its key change arrived, where a fresh device served the transcript in order keeps it verified", mid, got.Error)
		}
	}
	return fmt.Sprintf("%d messages stored before their key change opened and verified when it arrived", len(mids)), nil
}

// attackKeyWithheldGroup: alice rotates the group's key and writes under
// it, carol answers; bob's first sync is served everything but the key
// change, his second all of it.
func attackKeyWithheldGroup(w *world) (string, error) {
	h := newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	h.say(h.alice, "under the withheld key")
	msg := h.items[len(h.items)-1].me
	h.say(h.carol, "carol under it too")
	h.seal()
	withheld, whole, err := servedLate(h, nil, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	fresh := hs.run(w.t, oneRound(whole))
	if !fresh.verified[msg.GetMessageID()] {
		return "", errorf("setup: a fresh device fails the message (%v)", fresh.failed[msg.GetMessageID()])
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case len(o.violations) > 0:
		return "", errorf("key change served late: %v", o.violations)
	case o.failed[msg.GetMessageID()] == nil:
		return "", errorf("setup: the message was not stored failed by the first sync")
	case !o.verified[msg.GetMessageID()]:
		return "", errorf("alice's message stays failed (%v) after its key change arrived, where a fresh device keeps it verified", o.failed[msg.GetMessageID()])
	}
	return "the message stored before its key change opened and verified when it arrived", nil
}

// keyServedLate serves bob's first sync h's items and extra without the
// events at late (the key change, perhaps more), his second all of them,
// and a fresh device all of them in one sync.
func keyServedLate(w *world, h *history, extra []*tevent.MessageEvent, late ...string) (fresh, lateRun *runOutcome, err error) {
	rest := slices.DeleteFunc(slices.Clone(extra), func(me *tevent.MessageEvent) bool { return slices.Contains(late, me.GetSequenceID()) })
	withheld, err := pageOf(h, rest, func(seq string) bool { return !slices.Contains(late, seq) })
	if err != nil {
		return nil, nil, err
	}
	whole, err := pageOf(h, extra, func(string) bool { return true })
	if err != nil {
		return nil, nil, err
	}
	hs := startHarness(w.t, h)
	return hs.run(w.t, oneRound(whole)), hs.run(w.t, lateRounds(withheld, whole)), nil
}

// staysFailed requires the message mid failed by bob's device after its
// key change was served late, as it was failed when stored.
func staysFailed(o *runOutcome, mid, what string) (string, error) {
	switch {
	case len(o.violations) > 0:
		return "", errorf("%s: %v", what, o.violations)
	case o.failed[mid] == nil:
		return "", errorf("setup: %s: the message was not failed when stored", what)
	case o.verified[mid]:
		return "", errorf("%s: the message was opened verified once its key change arrived", what)
	}
	return fmt.Sprintf("%s: stays failed (%v)", what, o.failed[mid]), nil
}

// attackLateKeyAfterRemoval: mallory, removed, makes a key change wrapped
// to everyone and writes under it; bob's first sync is served the message
// but not the key change, his second the key change.
func attackLateKeyAfterRemoval(w *world) (string, error) {
	h, _, err := removedMemberScene(w, "unused")
	if err != nil {
		return "", err
	}
	kc, err := h.lateKeyChange(300)
	if err != nil {
		return "", err
	}
	v := kc.GetDetail().GetConversationKeyChangeEvent().GetConversationKeyVersion()
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(h.removal, 500)
	msg, err := h.mallory.forger().Message(e, v, h.malloryKeys[len(h.malloryKeys)-1], text("mallory under her late key"))
	if err != nil {
		return "", err
	}
	fresh, late, err := keyServedLate(w, h, []*tevent.MessageEvent{kc, msg}, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	if fresh.verified[msg.GetMessageID()] {
		return "", errorf("a fresh device keeps mallory's message verified")
	}
	return staysFailed(late, msg.GetMessageID(), "mallory's message under her key change made after her removal")
}

// attackLateKeyByNonMember: dave, never a member, makes a key change
// wrapped to everyone, and alice's genuine signature is on a message under
// it (her keys sign it: the worst case); bob's first sync is served the
// message without the key change, his second with it.
func attackLateKeyByNonMember(w *world) (string, error) {
	h, kc, msg, err := outsiderKeyScene(w)
	if err != nil {
		return "", err
	}
	_, late, err := keyServedLate(w, h, []*tevent.MessageEvent{kc, msg}, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	return staysFailed(late, msg.GetMessageID(), "alice's message under dave's key change")
}

// outsiderKeyScene is the scene of late-key-by-non-member: on a bare
// history bob has synced, alice says one message; dave, never a member,
// makes a key change wrapped to everyone (kc, not in h), and alice's
// genuine signature is on msg above it under its key (not in h), the
// worst case. h is sealed.
func outsiderKeyScene(w *world) (h *history, kc, msg *tevent.MessageEvent, err error) {
	h = newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	h.say(h.alice, "before dave's key")
	h.seal()
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return nil, nil, nil, err
	}
	v := h.nextVersion(7)
	kc, err = h.dv.forger().KeyChange(h.env(), v, key, []hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.dv.recipient()})
	if err != nil {
		return nil, nil, nil, err
	}
	e := h.env()
	e.SequenceID, e.PreviousSequenceID = hostile.NextSequenceID(kc.GetSequenceID(), 1000), kc.GetSequenceID()
	msg, err = h.alice.forger().Message(e, v, key, text("alice under dave's key"))
	if err != nil {
		return nil, nil, nil, err
	}
	return h, kc, msg, nil
}

// attackRemovedUnderLateKey: alice removes mallory and rotates the key to
// the members left; a message of mallory's under that key (the worst
// case: she learnt it) is served to bob's first sync without the removal
// and the key change (so it fails for its key alone), his second with
// them, the removal below what he stored. The key is genuine and
// verified; only the roster at the message's place keeps it out.
func attackRemovedUnderLateKey(w *world) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	v := h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	e := h.env()
	msg, err := h.mallory.forger().Message(e, v, h.keys[v], text("mallory under the key made after her removal"))
	if err != nil {
		return "", err
	}
	return removedUnderLateKey(w, h, msg, kc, v, "mallory's message")
}

// removedUnderLateKey serves forged, what mallory signed after her removal
// under the key alice distributed by kc (version v), with carol's message
// above it, kc withheld from bob's first sync: a fresh device fails it,
// and bob's device must keep it failed once kc arrives.
func removedUnderLateKey(w *world, h *history, forged, kc *tevent.MessageEvent, v, what string) (string, error) {
	e := h.env()
	e.SequenceID, e.PreviousSequenceID = hostile.NextSequenceID(forged.GetSequenceID(), 1000), forged.GetSequenceID()
	h.push(h.carol.forger().Message(e, v, h.keys[v], text("carol above it")))
	h.seal()
	fresh, late, err := keyServedLate(w, h, []*tevent.MessageEvent{forged}, kc.GetSequenceID(), h.removal)
	if err != nil {
		return "", err
	}
	if fresh.verified[forged.GetMessageID()] {
		return "", errorf("a fresh device keeps %s verified", what)
	}
	return staysFailed(late, forged.GetMessageID(), what+", after her removal, under alice's key")
}

// attackMessageBelowItsKey: alice rotates the group's key and writes under
// it; the server serves her message at a sequence id below her key
// change (the signature covers no sequence id), withheld from bob's first
// sync. Opened, it would stand under a key distributed after it.
func attackMessageBelowItsKey(w *world) (string, error) {
	h := newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	below := hostile.NextSequenceID(h.top(), 10)
	v := h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	e := h.env()
	e.SequenceID = below
	msg, err := h.alice.forger().Message(e, v, h.keys[v], text("alice, moved below her key change"))
	if err != nil {
		return "", err
	}
	h.say(h.carol, "carol above it")
	h.seal()
	_, late, err := keyServedLate(w, h, []*tevent.MessageEvent{msg}, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	return staysFailed(late, msg.GetMessageID(), "alice's message moved below its key change")
}

// attackTamperedUnderLateKey: alice rotates and writes under the new key;
// the server alters her message's ciphertext and withholds the key change
// from bob's first sync. It failed its signature, not only its key.
func attackTamperedUnderLateKey(w *world) (string, error) {
	h := newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	v := h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	h.seal()
	msg, err := h.alice.forger().Message(h.env(), v, h.keys[v], text("alice, tampered"))
	if err != nil {
		return "", err
	}
	return tamperedUnderLateKey(w, h, msg, kc, "alice's message")
}

// tamperedUnderLateKey alters the last byte of me's ciphertext (sealed
// under the key kc distributes) and serves it with kc withheld from bob's
// first sync: it must stay failed once kc arrives.
func tamperedUnderLateKey(w *world, h *history, me, kc *tevent.MessageEvent, what string) (string, error) {
	c := me.GetDetail().GetMessageCreateEvent().Contents
	c[len(c)-1] ^= 1
	_, late, err := keyServedLate(w, h, []*tevent.MessageEvent{me}, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	return staysFailed(late, me.GetMessageID(), what+", its ciphertext altered")
}

// attackAwaitingKeyBounded: alice writes more messages under a new key
// than are listed as awaiting it; the key change is withheld from bob's
// first sync. Opening them when it arrives costs one bounded pass: past
// the bound they stay failed.
func attackAwaitingKeyBounded(w *world) (string, error) {
	const n, bound = 300, 256 // session.maxAwaitingKey
	h := newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	var mids []string
	for i := range n {
		h.say(h.alice, fmt.Sprintf("alice %d", i))
		mids = append(mids, h.items[len(h.items)-1].me.GetMessageID())
	}
	h.seal()
	_, late, err := keyServedLate(w, h, nil, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	opened := 0
	for _, mid := range mids {
		if late.verified[mid] {
			opened++
		}
	}
	if opened != bound {
		return "", errorf("%d of %d messages stored before their key opened, want the bound %d (violations %v)", opened, n, bound, late.violations)
	}
	return fmt.Sprintf("%d of %d messages stored before their key opened: the bound", opened, n), nil
}
