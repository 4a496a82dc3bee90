package attacks

import (
	"slices"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks on the exposure finding of a backfilled key change. A key
// change is reported wrapped to a non-member (AnomalyKeyWrappedToNonMember)
// when its participant list names someone off the roster where it
// stands. A member's key change withheld and served at its place below
// her removal stands there (backfillkey.go): judged against the roster
// held now, it named her and whoever left since, a false alarm the
// server could raise against any honest member's key, where a fresh
// device served the transcript in order finds nothing. One that names
// someone who was no member at its place must still be reported.

var backfillExposureAttacks = []attack{
	{"backfilled-key-change-false-exposure-alarm", func(w *world) (string, error) { return backfilledKeyExposure(w, false, false) }},
	{"backfilled-key-change-wrapped-to-outsider-reported", func(w *world) (string, error) { return backfilledKeyExposure(w, true, false) }},
	{"pushed-backfilled-key-change-false-exposure-alarm", func(w *world) (string, error) { return backfilledKeyExposure(w, false, true) }},
}

// backfilledKeyExposure: mallory, a member, distributes a key to alice,
// bob, carol and herself (and, with outsider, the server adds dave, never
// a member, to the unsigned participant list) and alice writes under it;
// alice removes mallory. Mallory's key change is withheld from bob's
// first sync and served at its place in the next, where it stands. Bob
// must report dave, and only him: not mallory, a member at its place.
// With pushed, alice's last message is withheld from bob's syncs too and
// pushed to him after the first, carrying the key change.
func backfilledKeyExposure(w *world, outsider, pushed bool) (string, error) {
	h, err := malloryJoined(w)
	if err != nil {
		return "", err
	}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		return "", err
	}
	v := h.nextVersion(1)
	to := []hostile.Recipient{h.alice.recipient(), h.bob.recipient(), h.carol.recipient(), h.mallory.recipient()}
	if outsider {
		to = append(to, h.dv.recipient())
	}
	h.push(h.mallory.forger().KeyChange(h.env(), v, key, to))
	h.keys[v] = key
	h.malloryKeys = append(h.malloryKeys, key)
	kc := h.items[len(h.items)-1].me
	h.say(h.alice, "alice under mallory's key")
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	h.say(h.alice, "alice after mallory's removal")
	after := h.items[len(h.items)-1].me
	h.seal()
	withheld, whole, err := servedLate(h, nil, kc.GetSequenceID())
	if err != nil {
		return "", err
	}
	late := lateRounds(withheld, whole)
	if pushed {
		withheld, err := pageOf(h, nil, func(seq string) bool { return seq != kc.GetSequenceID() && seq != after.GetSequenceID() })
		if err != nil {
			return "", err
		}
		b, err := hostile.EncodeEvent(kc)
		if err != nil {
			return "", err
		}
		late = &mutation{rounds: [][]mutPage{{withheld}}, pushes: [][]*tevent.MessageEvent{nil, {after}},
			kcs: map[string]string{keyChangeVersion(kc): b}}
	}
	hs := startHarness(w.t, h)
	want := []string(nil)
	if outsider {
		want = []string{h.dv.id}
	}
	fresh := hs.run(w.t, oneRound(whole))
	if got := wrappedToNonMember(fresh.anomalies, kc.GetSequenceID()); len(fresh.violations) > 0 || !fresh.verified[kc.GetMessageID()] || !slices.Equal(got, want) {
		return "", errorf("setup: a fresh device (violations %v) keeps mallory's key change: %v, reports it wrapped to %v, want %v",
			fresh.violations, fresh.verified[kc.GetMessageID()], got, want)
	}
	o := hs.run(w.t, late)
	switch got := wrappedToNonMember(o.anomalies, kc.GetSequenceID()); {
	case len(o.violations) > 0:
		return "", errorf("key change backfilled: %v", o.violations)
	case !o.verified[kc.GetMessageID()]:
		return "", errorf("setup: mallory's key change, backfilled at its place, failed (%v)", o.failed[kc.GetMessageID()])
	case !slices.Equal(got, want):
		return "", errorf("mallory's key change, backfilled and standing at its place, reported wrapped to non-members %v, want %v (mallory is %s): a fresh device reports %v",
			got, want, h.mallory.id, wrappedToNonMember(fresh.anomalies, kc.GetSequenceID()))
	case outsider:
		return "backfilled key change wrapped to an outsider at its place: reported, naming only him", nil
	}
	return "backfilled key change standing at its place: no exposure reported for its members there", nil
}

// wrappedToNonMember returns the users the AnomalyKeyWrappedToNonMember
// findings at seq name, sorted.
func wrappedToNonMember(as []event.Anomaly, seq string) []string {
	var out []string
	for _, a := range as {
		if a.Kind == event.AnomalyKeyWrappedToNonMember && a.SequenceID == seq && !slices.Contains(out, a.Related) {
			out = append(out, a.Related)
		}
	}
	slices.Sort(out)
	return out
}
