package attacks

import (
	"errors"
	"fmt"
	"slices"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/internal/inbound"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Two ways late judging was skipped. A create read before its pair is
// bound only while a sync holds from fn what it stores: a device that
// syncs with no fn at all (Engine.Reconcile(ctx, nil, …)) never bound
// it. And a key change served only as an event of a page's data, not in
// its metadata, did not open the messages stored failed for want of its
// key.

var lateGapsAttacks = []attack{
	{"create-pair-synced-without-fn-honest-changes-fail-for-good", attackCreatePairNoFn},
	{"unbound-creates-stored-past-list-synced-without-fn-honest-changes-fail-for-good", func(w *world) (string, error) { return createUnboundCrowdedOut(w, 5, true) }},
	{"key-change-served-as-page-event-message-stays-failed", attackKeyAsEventHonest},
	{"key-change-served-as-page-event-message-stays-failed-dm", attackKeyAsEventDM},
	{"key-change-by-non-member-served-as-page-event-opens-nothing", attackKeyAsEventOutsider},
	{"key-change-after-removal-served-as-page-event-opens-nothing", attackKeyAsEventRemoved},
	{"key-change-replayed-as-page-event-opens-nothing", attackKeyAsEventReplayed},
}

// attackCreatePairNoFn: alice's group with bob and carol; bob's device
// syncs only through Engine.Reconcile with no fn. Its first sync comes
// between alice's create and her key change paired with it (all an
// honest server holds then: the create cannot be bound yet), its second
// what follows (what an honest server serves above it): the pair, alice's title change, her admin add of
// carol and carol's message. A fresh device binds the create and keeps
// them verified; so must bob's.
func attackCreatePairNoFn(w *world) (string, error) {
	h := newBareHistory(w)
	h.readServer()
	createSeq, pairSeq, err := createAndPair(h)
	if err != nil || !decimal.Less(createSeq, pairSeq) {
		return "", errorf("setup: no create (%q) below its pair (%q) in the history", createSeq, pairSeq)
	}
	mids := honestChanges(h)
	h.seal()
	first, err := pageBelow(h, pairSeq)
	if err != nil {
		return "", err
	}
	rest, err := pageOf(h, nil, func(s string) bool { return !decimal.Less(s, pairSeq) })
	if err != nil {
		return "", err
	}
	m := lateRounds(first, rest)
	m.withoutFn = true
	o := startHarness(w.t, h).run(w.t, m)
	switch {
	case len(o.violations) > 0:
		return "", errorf("%v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	}
	for _, mid := range mids {
		if !o.verified[mid] {
			return "", errorf("honest event %s stays failed on a device syncing with no fn, where a fresh device binds the create and keeps it (roster %s)", mid, o.conv.Roster)
		}
	}
	return fmt.Sprintf("the create bound with no fn: the honest title change, admin add and message end verified (roster %s)", o.conv.Roster), nil
}

// pageKeyAsEvent is pageOf, the key changes at seqs served as events of
// the page's data instead of in its metadata.
func pageKeyAsEvent(h *history, extra []*tevent.MessageEvent, keep func(string) bool, seqs ...string) (mutPage, error) {
	p, err := pageOf(h, extra, keep)
	if err != nil {
		return p, err
	}
	var moved []string
	p.keys = slices.DeleteFunc(p.keys, func(b string) bool {
		me, err := hostile.DecodeEvent(b)
		if err == nil && slices.Contains(seqs, me.GetSequenceID()) {
			moved = append(moved, b)
			return true
		}
		return false
	})
	if len(moved) != len(seqs) {
		return p, errorf("setup: key changes %v not all in the page's metadata", seqs)
	}
	p.data = append(p.data, moved...)
	// The data is newest first: each key change goes at its place.
	var err2 error
	slices.SortStableFunc(p.data, func(a, b string) int {
		ma, ea := hostile.DecodeEvent(a)
		mb, eb := hostile.DecodeEvent(b)
		if ea != nil || eb != nil {
			err2 = errors.Join(ea, eb)
			return 0
		}
		return decimal.Compare(mb.GetSequenceID(), ma.GetSequenceID())
	})
	return p, err2
}

// keyAsEventRounds serves bob's first sync h's items and extra without
// the key change at kcSeq, his second all of them with that key change as
// an event of the page's data only; and a fresh device all of them so in
// one sync; the items at never are served to none.
func keyAsEventRounds(w *world, h *history, extra []*tevent.MessageEvent, kcSeq string, never ...string) (fresh, lateRun *runOutcome, err error) {
	rest := slices.DeleteFunc(slices.Clone(extra), func(me *tevent.MessageEvent) bool { return me.GetSequenceID() == kcSeq })
	withheld, err := pageOf(h, rest, func(seq string) bool { return seq != kcSeq && !slices.Contains(never, seq) })
	if err != nil {
		return nil, nil, err
	}
	whole, err := pageKeyAsEvent(h, extra, func(seq string) bool { return !slices.Contains(never, seq) }, kcSeq)
	if err != nil {
		return nil, nil, err
	}
	hs := startHarness(w.t, h)
	return hs.run(w.t, oneRound(whole)), hs.run(w.t, lateRounds(withheld, whole)), nil
}

// attackKeyAsEventHonest: alice rotates the group's key and writes under
// it, carol answers; bob's first sync is served everything but the key
// change, his second all of it, the key change as an event of the page's
// data only: a verified key change wherever the server lists it. Both
// messages must end verified, on bob's device as on a fresh one served
// that page.
func attackKeyAsEventHonest(w *world) (string, error) {
	h := newBareHistory(w)
	h.synced(h.bob)
	h.readServer()
	h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	kc := h.items[len(h.items)-1].me
	h.say(h.alice, "under the key served as an event")
	msg := h.items[len(h.items)-1].me
	h.say(h.carol, "carol under it too")
	reply := h.items[len(h.items)-1].me
	h.seal()
	fresh, o, err := keyAsEventRounds(w, h, nil, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	switch {
	case len(o.violations) > 0:
		return "", errorf("key change served late as an event: %v", o.violations)
	case o.failed[msg.GetMessageID()] == nil:
		return "", errorf("setup: the message was not stored failed by the first sync")
	}
	for _, me := range []*tevent.MessageEvent{msg, reply} {
		mid := me.GetMessageID()
		switch {
		case !fresh.verified[mid]:
			return "", errorf("message %s under a verified key change served as a page event fails on a fresh device (%v): the key change's key was never adopted", mid, fresh.failed[mid])
		case !o.verified[mid]:
			return "", errorf("message %s stays failed (%v) after its key change arrived as a page event", mid, o.failed[mid])
		}
	}
	return "the messages stored before their key change opened when it arrived as a page event", nil
}

// attackKeyAsEventOutsider: dave, never a member, makes a key change
// wrapped to everyone, and alice's genuine signature is on a message under
// it (the worst case); bob's first sync is served the message without the
// key change, his second the key change as a page event. The message
// stays failed.
func attackKeyAsEventOutsider(w *world) (string, error) {
	h, kc, msg, err := outsiderKeyScene(w)
	if err != nil {
		return "", err
	}
	_, o, err := keyAsEventRounds(w, h, []*tevent.MessageEvent{kc, msg}, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	if o.verified[kc.GetMessageID()] {
		return "", errorf("dave's key change, served as a page event, verified")
	}
	return staysFailed(o, msg.GetMessageID(), "alice's message under dave's key change served as a page event")
}

// attackKeyAsEventRemoved: mallory, removed, makes a key change wrapped
// to everyone and writes under it; bob's second sync serves the key
// change as a page event. The message stays failed, as on a fresh device.
func attackKeyAsEventRemoved(w *world) (string, error) {
	h, kc, msg, err := removedKeyScene(w, 500, "mallory, removed, under her key")
	if err != nil {
		return "", err
	}
	fresh, o, err := keyAsEventRounds(w, h, []*tevent.MessageEvent{kc, msg}, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	switch {
	case fresh.verified[msg.GetMessageID()]:
		return "", errorf("a fresh device keeps mallory's message verified")
	case o.verified[kc.GetMessageID()]:
		return "", errorf("mallory's key change, made after her removal, verified served as a page event")
	}
	return staysFailed(o, msg.GetMessageID(), "mallory's message under her key change served as a page event after her removal")
}

// removedKeyScene: mallory, removed (removedMemberScene), makes a key
// change wrapped to everyone (kc, h.lateKeyChange) and writes what under
// it (msg, not in h) at delta above her removal.
func removedKeyScene(w *world, delta uint64, what string) (h *history, kc, msg *tevent.MessageEvent, err error) {
	h, _, err = removedMemberScene(w, "unused")
	if err != nil {
		return nil, nil, nil, err
	}
	kc, err = h.lateKeyChange(300)
	if err != nil {
		return nil, nil, nil, err
	}
	v := kc.GetDetail().GetConversationKeyChangeEvent().GetConversationKeyVersion()
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(h.removal, delta)
	msg, err = h.mallory.forger().Message(e, v, h.malloryKeys[len(h.malloryKeys)-1], text(what))
	if err != nil {
		return nil, nil, nil, err
	}
	return h, kc, msg, nil
}

// attackKeyAsEventReplayed: mallory, removed, makes a key change wrapped
// to everyone and writes under it; bob's first sync is served both (the
// key change stored failed, its key not adopted: the message awaits it),
// his second a copy of the key change's signed bytes as a page event,
// re-sequenced between the two. The copy must not open the message: as
// on a fresh device, it fails as its author's key change did.
func attackKeyAsEventReplayed(w *world) (string, error) {
	h, kc, msg, err := removedKeyScene(w, 600, "mallory, removed, under her key replayed")
	if err != nil {
		return "", err
	}
	re := *kc
	seq := hostile.NextSequenceID(h.removal, 450)
	re.SequenceID = &seq
	h.seal()
	all := func(string) bool { return true }
	// The first sync reads the message before the key change (data is
	// newest first): it fails for want of its key alone.
	first, err := pageKeyAsEvent(h, []*tevent.MessageEvent{kc, msg}, all, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	second, err := pageKeyAsEvent(h, []*tevent.MessageEvent{kc, &re, msg}, all, kc.GetSequenceID(), seq)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	fresh, o := hs.run(w.t, oneRound(second)), hs.run(w.t, lateRounds(first, second))
	if aw := o.failed[msg.GetMessageID()]; !errors.As(aw, new(*inbound.UnknownKeyError)) {
		return "", errorf("setup: mallory's message was not stored failed for want of its key (%v)", aw)
	}
	switch {
	case fresh.verified[msg.GetMessageID()]:
		return "", errorf("a fresh device keeps mallory's message verified")
	case o.verified[kc.GetMessageID()]:
		return "", errorf("mallory's key change, made after her removal, verified once replayed as a page event")
	}
	return staysFailed(o, msg.GetMessageID(), "mallory's message under her key change replayed as a page event")
}

// attackKeyAsEventDM: as key-change-withheld-message-stays-failed-dm,
// bob's second sync served alice's key change only as an event of the
// page's data, at its place: both messages must end verified.
func attackKeyAsEventDM(w *world) (string, error) {
	return keyWithheldDM(w, "key-change-as-page-event", "under the key served as an event", keyVersionAsEvent)
}

// keyVersionAsEvent moves the key change of version v from page's
// metadata to its data, at its place (the data is newest first).
func keyVersionAsEvent(page *api.GetChatConversationEventsResponse, v string) error {
	if page.Meta == nil {
		return nil
	}
	seqOf := func(b string) (string, *tevent.MessageEvent) {
		me, err := hostile.DecodeEvent(b)
		if err != nil {
			return "", nil
		}
		return me.GetSequenceID(), me
	}
	kept := page.Meta.ConversationKeyEvents[:0]
	for _, b := range page.Meta.ConversationKeyEvents {
		seq, me := seqOf(b)
		if kc := me.GetDetail().GetConversationKeyChangeEvent(); kc == nil || kc.GetConversationKeyVersion() != v {
			kept = append(kept, b)
			continue
		}
		i := slices.IndexFunc(page.Data, func(d api.ChatMessageEvent) bool {
			s, _ := seqOf(d.EncodedEvent)
			return decimal.Less(s, seq)
		})
		if i < 0 {
			i = len(page.Data)
		}
		page.Data = slices.Insert(page.Data, i, api.ChatMessageEvent{EncodedEvent: b})
	}
	page.Meta.ConversationKeyEvents = kept
	return nil
}
