package attacks

import (
	"errors"
	"fmt"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks of h11ak: syncs of a group the server cuts short. Found by
// FuzzTranscriptMutationExt (seeds 0x1000002af, 0x1000006f5, 0xfffffc18,
// 0x1000007e2): the server serves the newest pages of bob's first sync of
// a group and then stalls the pagination (pages that bring nothing new
// while it claims more), so the sync ends with xchat.ErrServerResponse
// before it reaches the group's create. Stored, those pages' group changes
// were judged before any roster existed (xchat.ErrRosterUnknown) and their
// failure was final: the create, served in a later sync below them, left
// them failed where a device served the same events in order keeps them.

// cutShortAttacks are this file's attacks.
func cutShortAttacks() []attack {
	return []attack{
		{"sync-cut-short-before-create-leaves-changes-failed", attackCutShortBeforeCreate},
		{"sync-cut-short-forged-change-still-fails", attackCutShortForgedChange},
		{"sync-cut-short-removed-member-change-still-fails", attackCutShortRemovedMemberChange},
	}
}

// cutShortScene is alice's group with bob and carol, to which alice's
// engine added mallory, continued with what alice signs: her removal of
// mallory, a key change to the rest, her admin add of carol and a message.
// The removal and the admin add are the honest group changes above the
// create that a cut-short sync serves first. The history is sealed.
func cutShortScene(w *world) (h *history, removal, adminAdd string, err error) {
	h, err = malloryJoined(w)
	if err != nil {
		return nil, "", "", err
	}
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	removal = h.items[len(h.items)-1].me.GetMessageID()
	h.rotate(h.alice, []*user{h.alice, h.bob, h.carol})
	h.push(h.adminAdd(h.carol.id))
	adminAdd = h.items[len(h.items)-1].me.GetMessageID()
	h.say(h.alice, "alice after her changes")
	h.seal()
	return h, removal, adminAdd, nil
}

// runCutShort serves bob's fresh device two syncs of h (with extra, each
// placed by its sequence id): the first is cut short — the page of
// everything from mallory's removal up, then two empty pages claiming
// more (a pagination stall), the older history never reached — and the
// second serves the whole transcript as one page. The first must end
// with xchat.ErrServerResponse.
func runCutShort(w *world, h *history, extra ...*tevent.MessageEvent) (*runOutcome, error) {
	above, err := pageOf(h, extra, func(s string) bool { return !decimal.Less(s, h.removal) })
	if err != nil {
		return nil, err
	}
	below, err := pageBelow(h, h.removal)
	if err != nil {
		return nil, err
	}
	whole, err := pageOf(h, extra, func(string) bool { return true })
	if err != nil {
		return nil, err
	}
	hs := startHarness(w.t, h)
	o := hs.run(w.t, &mutation{
		rounds: [][]mutPage{{above, {}, {}, below}, {whole}},
		pushes: make([][]*tevent.MessageEvent, 3), kcs: map[string]string{},
	})
	if len(o.syncErrs) == 0 || !errors.Is(o.syncErrs[0], xchat.ErrServerResponse) {
		return nil, fmt.Errorf("the cut-short sync ended with %v, want ErrServerResponse", o.syncErrs)
	}
	return o, nil
}

// honestChangesStand requires the run to have broken no invariant (the
// reference device's verdicts among them), alice's removal of mallory and
// admin add of carol to be verified, and the roster to follow them.
func honestChangesStand(o *runOutcome, h *history, removal, adminAdd string) error {
	if len(o.violations) > 0 {
		return errorf("%v", o.violations)
	}
	for what, mid := range map[string]string{"alice's removal of mallory": removal, "alice's admin add of carol": adminAdd} {
		if !o.verified[mid] {
			return errorf("%s served in the cut-short sync, then in order with the create below it: not verified (%v)", what, o.failed[mid])
		}
	}
	if c := o.conv; slices.Contains(c.Members, h.mallory.id) || !slices.Contains(c.Admins, h.carol.id) {
		return errorf("roster members %v admins %v after alice's removal of mallory and admin add of carol", c.Members, c.Admins)
	}
	return nil
}

// attackCutShortBeforeCreate: the server stalls bob's first sync of the
// group after the page that holds alice's removal of mallory and her
// admin add of carol, above the create, and serves the whole transcript
// in the next sync. Nothing of the cut-short sync may be judged final
// before the roster below it is read: both changes must end verified, as
// on a device served the events in order, and the roster follow them.
func attackCutShortBeforeCreate(w *world) (string, error) {
	h, removal, adminAdd, err := cutShortScene(w)
	if err != nil {
		return "", err
	}
	o, err := runCutShort(w, h)
	if err != nil {
		return "", err
	}
	if err := honestChangesStand(o, h, removal, adminAdd); err != nil {
		return "", err
	}
	return fmt.Sprintf("cut-short sync refused (%v); the next sync read the changes with their create: verified", o.syncErrs[0]), nil
}

// attackCutShortForgedChange: the cut-short page also carries dave's admin
// add of himself (dave was never a member), and the next sync serves it
// again with the whole transcript: read in order it must fail, while
// alice's changes stand.
func attackCutShortForgedChange(w *world) (string, error) {
	h, removal, adminAdd, err := cutShortScene(w)
	if err != nil {
		return "", err
	}
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(h.removal, 700) // above the removal, on the cut-short page
	forged, err := h.adminChange(h.dv, e, crypto.KindGroupAdminAdd, h.dv.id)
	if err != nil {
		return "", err
	}
	return cutShortForgeryFails(w, h, forged, removal, adminAdd, "dave's admin add of himself")
}

// attackCutShortRemovedMemberChange: the cut-short page also carries
// mallory's title change, signed after alice removed her, under the last
// key she held; the next sync serves it again with the whole transcript:
// read in order it must fail (she is no member there), while alice's
// changes stand.
func attackCutShortRemovedMemberChange(w *world) (string, error) {
	h, removal, adminAdd, err := cutShortScene(w)
	if err != nil {
		return "", err
	}
	version, key := "", (*crypto.ConversationKey)(nil)
	for v, k := range h.keysOf(h.mallory) {
		if version == "" || decimal.Less(version, v) {
			version, key = v, k
		}
	}
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(h.removal, 700)
	forged, err := h.retitle(h.mallory, e, version, key, "mallory's title after her removal")
	if err != nil {
		return "", err
	}
	return cutShortForgeryFails(w, h, forged, removal, adminAdd, "mallory's title change after her removal")
}

// cutShortForgeryFails serves forged in both syncs of runCutShort and
// requires it failed at the end, alice's changes standing.
func cutShortForgeryFails(w *world, h *history, forged *tevent.MessageEvent, removal, adminAdd, what string) (string, error) {
	o, err := runCutShort(w, h, forged)
	if err != nil {
		return "", err
	}
	if o.verified[forged.GetMessageID()] {
		return "", errorf("%s verified after the cut-short sync and the full one", what)
	}
	if err := honestChangesStand(o, h, removal, adminAdd); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s failed (%v); alice's changes verified", what, o.failed[forged.GetMessageID()]), nil
}
