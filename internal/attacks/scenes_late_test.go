package attacks

import (
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// The late-revocation scene: alice makes mallory an admin and revokes it;
// mallory, an admin no longer, adds dave above the revocation; the server
// withholds the revocation from bob's first sync and serves it at its
// place in the next (see docs/late-judging.md).

// revokedAdminScene is alice's group with bob and carol, to which alice
// added mallory with her engine and then, in signed changes, made her an
// admin and revoked it again. It returns the history and the
// revocation's sequence id (the top of the history).
func revokedAdminScene(w *world) (*history, string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return nil, "", err
	}
	h.push(h.adminAdd(h.mallory.id))
	h.push(h.adminRemove(h.mallory.id))
	return h, h.top(), nil
}

// addAfterRevocation is mallory's member add of dave, signed after alice
// revoked her admin rights (revocation is revokedAdminScene's): served
// 500 above the revocation, below what the history holds after it.
func addAfterRevocation(h *history, revocation string) (*tevent.MessageEvent, error) {
	members := []string{h.alice.id, h.bob.id, h.carol.id, h.mallory.id}
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(revocation, 500)
	return h.mallory.memberAdd(e, h.newestVersion(), []string{h.dv.id}, members, []string{h.alice.id, h.mallory.id})
}

// revokedAdminAdd is revokedAdminScene with mallory's add of dave signed
// above the revocation (addAfterRevocation); the add is not in the
// history, which is not sealed yet.
func revokedAdminAdd(w *world) (h *history, revocation string, add *tevent.MessageEvent, err error) {
	if h, revocation, err = revokedAdminScene(w); err != nil {
		return nil, "", nil, err
	}
	add, err = addAfterRevocation(h, revocation)
	return h, revocation, add, err
}

// revocationServedLate tops h with alice's "alice after the revocation",
// seals it, and serves it with add twice: withheld without the revocation
// (bob's first sync), whole with it.
func revocationServedLate(h *history, revocation string, add *tevent.MessageEvent) (withheld, whole mutPage, err error) {
	h.say(h.alice, "alice after the revocation")
	h.seal()
	return servedLate(h, []*tevent.MessageEvent{add}, revocation)
}

// The twice-late scene: two changes withheld from bob's first sync, one
// served late by the second and the other by the third.

// servedTwiceLate serves h's items as one page three times: first without
// the events at early and late, second without the one at late, whole
// with both (early comes late in the second sync, late in the third).
func servedTwiceLate(h *history, early, late string) (first, second, whole mutPage, err error) {
	if first, err = pageOf(h, nil, func(seq string) bool { return seq != late && seq != early }); err != nil {
		return first, second, whole, err
	}
	if second, err = pageOf(h, nil, func(seq string) bool { return seq != late }); err != nil {
		return first, second, whole, err
	}
	whole, err = pageWith(h, nil, "")
	return first, second, whole, err
}

// threeRounds serves first, second and whole to three syncs in turn.
func threeRounds(first, second, whole mutPage) *mutation {
	return &mutation{rounds: [][]mutPage{{first}, {second}, {whole}}, pushes: make([][]*tevent.MessageEvent, 4), kcs: map[string]string{}}
}
