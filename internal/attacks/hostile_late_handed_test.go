package attacks

import (
	"testing"

	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/hostile"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on what a sync hands its fn while a change served late is still
// to be re-judged.

var lateHandedAttacks = []attack{
	{"late-revocation-new-message-handed-verified", attackLateRevocationHandsVerified},
}

// attackLateRevocationHandsVerified: alice revokes mallory's admin rights;
// mallory, an admin no longer, adds dave. The server withholds the
// revocation from bob's first sync (the add verifies, dave joins bob's
// roster). The second sync serves the revocation at its place, below the
// add, and with it a message dave signed after the add, new to bob. The
// engine has the revocation before it judges dave's message: unless it
// re-judges the add first, it hands dave's message to the application as
// verified (a bot would act on it) and only fails it afterwards in the
// store.
func attackLateRevocationHandsVerified(w *world) (string, error) {
	h, revocation, add, err := revokedAdminAdd(w)
	if err != nil {
		return "", err
	}
	h.say(h.alice, "alice after the revocation")
	h.seal()
	e := h.env()
	e.SequenceID = hostile.NextSequenceID(h.top(), 700) // above everything bob stored first
	v := h.newestVersion()
	said, err := h.dv.forger().Message(e, v, h.keys[v], text("dave's command, new in the second sync"))
	if err != nil {
		return "", err
	}
	withheld, err := pageOf(h, []*tevent.MessageEvent{add}, func(seq string) bool { return seq != revocation })
	if err != nil {
		return "", err
	}
	whole, err := pageOf(h, []*tevent.MessageEvent{add, said}, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	hs := startHarness(w.t, h)
	o := hs.run(w.t, lateRounds(withheld, whole))
	switch {
	case len(o.violations) > 0:
		return "", errorf("late revocation: %v", o.violations)
	case o.conv == nil:
		return "", errorf("no conversation after the syncs: %v", o.syncErrs)
	case o.handed[said.GetMessageID()]:
		return "", errorf("dave's message, signed as a member only by mallory's add after her revocation, handed to the application verified by the sync that brought the revocation")
	case o.verified[said.GetMessageID()]:
		return "", errorf("dave's message still shown verified")
	}
	return "dave's message judged after the late revocation was: refused (" + errString(o.failed[said.GetMessageID()]) + ")", nil
}

// errString is err's text, or "no error".
func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// TestLateRevocationHoldsPastTheCap: late-revocation-new-message-handed-verified
// with 1,100 honest messages of alice's between the late revocation and
// dave's message, more than a sync holds from fn (the walk then runs
// before the rest is stored): alice's messages are all handed verified,
// dave's failed, and the sync is served in pages of 400.
func TestLateRevocationHoldsPastTheCap(t *testing.T) {
	w := newWorld(t)
	h, revocation, add, err := revokedAdminAdd(w)
	if err != nil {
		t.Fatal(err)
	}
	h.say(h.alice, "alice after the revocation")
	h.seal()
	firstTop := h.top()
	const many = 1100
	h.aliceSaysMany(many, "of the second sync")
	e := h.env()
	v := h.newestVersion()
	said, err := h.dv.forger().Message(e, v, h.keys[v], text("dave's command after alice's many"))
	if err != nil {
		t.Fatal(err)
	}
	withheld, err := pageOf(h, []*tevent.MessageEvent{add}, func(seq string) bool {
		return seq != revocation && !decimal.Less(firstTop, seq)
	})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := pageOf(h, []*tevent.MessageEvent{add, said}, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	o, handedAlice := pagedLateRun(t, h, withheld, whole, splitPage(whole, 400))
	switch {
	case len(o.violations) > 0:
		t.Fatalf("violations: %v", o.violations)
	case o.handed[said.GetMessageID()] || o.verified[said.GetMessageID()]:
		t.Errorf("dave's message handed verified (%v) or shown verified (%v)", o.handed[said.GetMessageID()], o.verified[said.GetMessageID()])
	case handedAlice != many:
		t.Errorf("%d of alice's %d messages handed verified (sync errors %v)", handedAlice, many, o.syncErrs)
	}
}

// splitPage serves p (newest first) as pages of at most n data events, its
// key changes with the first (newest) page.
func splitPage(p mutPage, n int) []mutPage {
	var out []mutPage
	for data := p.data; len(data) > 0; data = data[min(n, len(data)):] {
		out = append(out, mutPage{data: data[:min(n, len(data))]})
	}
	if len(out) == 0 {
		out = append(out, mutPage{})
	}
	out[0].keys = p.keys
	return out
}
