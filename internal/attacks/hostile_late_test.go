package attacks

import (
	"slices"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on what this account stored before the server served a group
// change late (below the stored tip).

var lateAttacks = []attack{
	{"removal-served-late-keeps-key-change", attackRemovalServedLate},
}

// attackRemovalServedLate (the transcript-mutation fuzzer's seed 0x2f8,
// reduced): the server withholds alice's removal of mallory from bob's
// first sync, so what mallory signs after it — a key change to a newer
// version wrapped to everyone, and a message — verifies: as far as bob
// can tell she is still a member. The next sync serves the removal at its
// place, below everything bob stored. Unless the engine re-judges what it
// stored above the removal, mallory's message stays verified and her key
// stays a verified key of the group.
func attackRemovalServedLate(w *world) (string, error) {
	h, msg, err := removedMemberScene(w, "mallory after her removal, before bob hears of it")
	if err != nil {
		return "", err
	}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(h.removal, 300)
	kc, err := h.mallory.forger().KeyChange(e, h.nextVersion(10), key,
		[]hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient()})
	if err != nil {
		return "", err
	}
	h.malloryKeys = append(h.malloryKeys, key)
	withheld, err := pageWith(h, []*tevent.MessageEvent{kc, msg}, h.removal)
	if err != nil {
		return "", err
	}
	whole, err := pageWith(h, []*tevent.MessageEvent{kc, msg}, "")
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	o := hs.run(w.t, &mutation{rounds: [][]mutPage{{withheld}, {whole}}, pushes: make([][]*tevent.MessageEvent, 3), kcs: map[string]string{}})
	if len(o.violations) > 0 {
		return "", errorf("removal served late: %v", o.violations)
	}
	if o.failed[kc.GetMessageID()] != nil || o.failed[msg.GetMessageID()] != nil {
		return "", errorf("setup: mallory's key change or message refused in the first sync (%v, %v)", o.failed[kc.GetMessageID()], o.failed[msg.GetMessageID()])
	}
	return "mallory's key change and message re-judged when her removal arrived late", nil
}

// pageWith serves h's items and extra as one page, newest first, without
// the event at skip (if any).
func pageWith(h *history, extra []*tevent.MessageEvent, skip string) (mutPage, error) {
	all := make([]*tevent.MessageEvent, 0, len(h.items)+len(extra))
	for _, it := range h.items {
		if it.seq() != skip {
			all = append(all, it.me)
		}
	}
	all = append(all, extra...)
	slices.SortFunc(all, func(a, b *tevent.MessageEvent) int { return decimal.Compare(b.GetSequenceID(), a.GetSequenceID()) })
	var p mutPage
	for _, me := range all {
		b, err := hostile.EncodeEvent(me)
		if err != nil {
			return p, err
		}
		if me.GetDetail().ConversationKeyChangeEvent != nil {
			p.keys = append(p.keys, b)
		} else {
			p.data = append(p.data, b)
		}
	}
	return p, nil
}
