package attacks

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
)

// Attacks on events the server backfills: an honest event it withheld
// from bob's sync and serves later at its place, below a change bob
// stored since. A fresh device served the transcript in order judges it
// against the roster at its place; so must bob, in both directions.

var backfillContentAttacks = []attack{
	{"backfill-below-removal-fails-honest-message", attackBackfillMessage},
	{"backfill-below-removal-fails-honest-edit", attackBackfillEdit},
	{"backfill-below-removal-fails-honest-reaction", attackBackfillReaction},
	{"backfill-below-removal-under-later-key", attackBackfillLaterKey},
	{"backfill-below-removal-replayed", attackBackfillReplayed},
	{"backfill-below-removal-by-non-member", attackBackfillNonMember},
	{"backfill-below-join-by-removed-member", attackBackfillBelowJoin},
}

// backfillScene is malloryJoined with, in order, what honest (mallory's
// signed event, before her removal; its message id is returned), alice's
// removal of mallory and alice's next message.
func backfillScene(w *world, honest func(h *history) (*tevent.MessageEvent, error)) (*history, *tevent.MessageEvent, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return nil, nil, err
	}
	me, err := honest(h)
	if err != nil {
		return nil, nil, err
	}
	h.push(me, nil)
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	h.say(h.alice, "alice after the removal")
	h.seal()
	return h, me, nil
}

// backfilled serves h to a fresh device in order and, to bob, first
// without the event at seq and then whole: the event is backfilled
// below the removal bob stored. It fails when the fresh device and bob
// disagree on the event (message id mid), or an invariant broke.
func backfilled(w *world, h *history, seq, mid string) (string, error) {
	withheld, whole, err := servedLate(h, nil, seq)
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	fresh := hs.run(w.t, oneRound(whole))
	if len(fresh.violations) > 0 {
		return "", errorf("fresh device: %v", fresh.violations)
	}
	if !fresh.verified[mid] {
		return "", errorf("setup: a fresh device served the transcript in order fails mallory's event: %v", fresh.failed[mid])
	}
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case len(o.violations) > 0:
		return "", errorf("backfill: %v", o.violations)
	case o.failed[mid] != nil:
		return "", errorf("mallory's honest event, backfilled below her removal, failed (%v) where a fresh device keeps it", o.failed[mid])
	case !o.verified[mid]:
		return "", errorf("mallory's honest event, backfilled below her removal, not verified where a fresh device keeps it (sync errors %v)", o.syncErrs)
	}
	return "backfilled event judged at its place: verified, as on a fresh device", nil
}

// attackBackfillMessage: mallory, a member, says something; alice removes
// her. The server withholds mallory's message from bob's first sync (bob
// stores the removal) and serves it at its place in the next: judged
// against the roster as it stands when stored, the genuine message
// failed (ErrNotMember), so the server could make bob show it as a
// forgery while a fresh device keeps it.
func attackBackfillMessage(w *world) (string, error) {
	h, me, err := backfillScene(w, func(h *history) (*tevent.MessageEvent, error) {
		v := h.newestVersion()
		return h.mallory.forger().Message(h.env(), v, h.keys[v], text("mallory, a member still"))
	})
	if err != nil {
		return "", err
	}
	return backfilled(w, h, me.GetSequenceID(), me.GetMessageID())
}

// attackBackfillEdit: as backfill-below-removal-fails-honest-message with
// mallory's edit of her own earlier message withheld and backfilled.
func attackBackfillEdit(w *world) (string, error) {
	h, me, err := backfillScene(w, func(h *history) (*tevent.MessageEvent, error) {
		h.say(h.mallory, "mallory's first words")
		target := h.top()
		v := h.newestVersion()
		return editEvent(h.mallory.forger(), h.env(), v, h.keys[v], target, "mallory's words, edited")
	})
	if err != nil {
		return "", err
	}
	return backfilled(w, h, me.GetSequenceID(), me.GetMessageID())
}

// attackBackfillReaction: as backfill-below-removal-fails-honest-message
// with mallory's reaction to alice's message withheld and backfilled.
func attackBackfillReaction(w *world) (string, error) {
	h, me, err := backfillScene(w, func(h *history) (*tevent.MessageEvent, error) {
		h.say(h.alice, "alice before the removal")
		target, emoji := h.top(), "👍"
		v := h.newestVersion()
		return h.mallory.forger().Message(h.env(), v, h.keys[v], &product.MessageEntryHolder{Contents: &product.MessageEntryContents{
			ReactionAdd: &product.MessageReactionAdd{MessageSequenceID: &target, Emoji: &emoji}}})
	})
	if err != nil {
		return "", err
	}
	return backfilled(w, h, me.GetSequenceID(), me.GetMessageID())
}

// openChain makes the honest event just above seq name seq as its
// predecessor (the chain is unsigned): the server plans the place of the
// forgery it serves there later, so the stored chain shows a gap there and
// a fresh device a closed chain.
func openChain(h *history, seq string) {
	for _, it := range h.items {
		if decimal.Less(seq, it.seq()) {
			prev := seq
			it.me.PreviousSequenceID = &prev
			return
		}
	}
}

// backfillForgery serves the removed-member scene (removedMemberScene
// without mallory's message) to bob with forged withheld from the first
// sync and extra (beside it) in neither, then everything, the chain left
// open at its place (openChain): forged must
// fail (want) on bob's device as on a fresh device served the whole
// transcript in order.
func backfillForgery(w *world, h *history, extra []*tevent.MessageEvent, forged *tevent.MessageEvent, want error) (string, error) {
	openChain(h, forged.GetSequenceID())
	fresh, o, err := backfilledForgery(w, h, extra, forged)
	if err != nil {
		return "", err
	}
	mid := forged.GetMessageID()
	switch {
	case len(o.violations) > 0:
		return "", errorf("backfill: %v", o.violations)
	case o.verified[mid] && !fresh.verified[mid]:
		return "", errorf("backfilled forgery (seq %s) verified on bob's device, failed on a fresh one (%v)", forged.GetSequenceID(), fresh.failed[mid])
	case o.verified[mid]:
		return "", errorf("backfilled forgery (seq %s) verified, on a fresh device too", forged.GetSequenceID())
	case want != nil && !errors.Is(o.failed[mid], want):
		return "", errorf("backfilled forgery failed with %v, want %v", o.failed[mid], want)
	}
	return fmt.Sprintf("backfilled forgery failed: %v (fresh device: %v, verified %v)", o.failed[mid], fresh.failed[mid], fresh.verified[mid]), nil
}

// backfilledForgery serves h and extra to a fresh device with forged, in
// order, and to bob first without forged and then with it (a backfill),
// and returns both outcomes.
func backfilledForgery(w *world, h *history, extra []*tevent.MessageEvent, forged *tevent.MessageEvent) (fresh, late *runOutcome, err error) {
	withheld, err := pageWith(h, extra, "")
	if err != nil {
		return nil, nil, err
	}
	whole, err := pageWith(h, append(slices.Clip(extra), forged), "")
	if err != nil {
		return nil, nil, err
	}
	hs := startHarness(w.t, h)
	return hs.run(w.t, oneRound(whole)), hs.run(w.t, lateRounds(withheld, whole)), nil
}

// belowRemoval is an envelope placed delta below h's removal.
func belowRemoval(h *history, delta uint64) hostile.Envelope {
	e := h.env()
	e.SequenceID = prevSeq(h.removal, delta)
	return e
}

// attackBackfillLaterKey: mallory makes a key of her own after her
// removal (a key change above it, wrapped to everyone) and signs a
// message under it that the server places below her removal and serves
// only after bob stored the removal. Read at its place she was a member,
// but the key it is sealed under is one no member made before it: the
// message must fail, as on a fresh device.
func attackBackfillLaterKey(w *world) (string, error) {
	h, _, err := removedMemberScene(w, "unused")
	if err != nil {
		return "", err
	}
	kc, err := h.lateKeyChange(300)
	if err != nil {
		return "", err
	}
	key := h.malloryKeys[len(h.malloryKeys)-1]
	v := h.nextVersion(10)
	msg, err := h.mallory.forger().Message(belowRemoval(h, 7), v, key, text("mallory under her own later key"))
	if err != nil {
		return "", err
	}
	return backfillForgery(w, h, []*tevent.MessageEvent{kc}, msg, nil)
}

// attackBackfillReplayed: mallory's message from before her removal is
// withheld from bob's first sync (bob stores the removal) and served in
// the next at its place and again under a new sequence id above it, still
// below the removal: the copy is a replay (ErrReplayed), whatever her
// membership at its place, and the original stays verified.
func attackBackfillReplayed(w *world) (string, error) {
	h, me, err := backfillScene(w, func(h *history) (*tevent.MessageEvent, error) {
		v := h.newestVersion()
		return h.mallory.forger().Message(h.env(), v, h.keys[v], text("mallory, said once"))
	})
	if err != nil {
		return "", err
	}
	re := *me
	seq := prevSeq(h.removal, 3)
	re.SequenceID = &seq
	withheld, err := pageWith(h, nil, me.GetSequenceID())
	if err != nil {
		return "", err
	}
	whole, err := pageWith(h, []*tevent.MessageEvent{&re}, "")
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	o := hs.run(w.t, lateRounds(withheld, whole))
	mid := me.GetMessageID()
	switch {
	case len(o.violations) > 0:
		return "", errorf("backfill: %v", o.violations)
	case !errors.Is(o.failed[mid], xchat.ErrReplayed):
		return "", errorf("the copy of mallory's message at %s: %v, want ErrReplayed", seq, o.failed[mid])
	case !o.verified[mid]:
		return "", errorf("mallory's backfilled message not verified at its place (sync errors %v)", o.syncErrs)
	}
	return fmt.Sprintf("backfilled copy refused: %v", o.failed[mid]), nil
}

// attackBackfillNonMember: dave, never a member, signs a message under
// the group key (as if it leaked) placed below mallory's removal and
// served after bob stored it: no removal took dave's place, so he was no
// member at its place either.
func attackBackfillNonMember(w *world) (string, error) {
	h, _, err := removedMemberScene(w, "unused")
	if err != nil {
		return "", err
	}
	v := h.newestVersion()
	msg, err := h.dv.forger().Message(belowRemoval(h, 5), v, h.keys[v], text("dave, never a member"))
	if err != nil {
		return "", err
	}
	return backfillForgery(w, h, nil, msg, xchat.ErrNotMember)
}

// attackBackfillBelowJoin: mallory's message placed below alice's add of
// her (before she was a member) and served after bob stored her removal:
// her removal above it took a place she did not hold yet at its place.
func attackBackfillBelowJoin(w *world) (string, error) {
	h, _, err := removedMemberScene(w, "unused")
	if err != nil {
		return "", err
	}
	add := ""
	for _, it := range h.items {
		if a := groupChangeOf(it.me).GroupMemberAdd; a != nil {
			add = it.seq()
		}
	}
	if add == "" {
		return "", errorf("setup: no member add of mallory in the history")
	}
	v := "" // the oldest key, distributed below the add
	for k := range h.keys {
		if v == "" || decimal.Less(k, v) {
			v = k
		}
	}
	e := h.env()
	e.SequenceID = prevSeq(add, 1)
	msg, err := h.mallory.forger().Message(e, v, h.keys[v], text("mallory before she was added"))
	if err != nil {
		return "", err
	}
	return backfillForgery(w, h, nil, msg, xchat.ErrNotMember)
}

// prevSeq is the sequence id delta below seq (decimal).
func prevSeq(seq string, delta uint64) string {
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil || n <= delta {
		return "1" // below every sequence id the scenes use
	}
	return strconv.FormatUint(n-delta, 10)
}
