package attacks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// The transcript-mutation harness, racing histories: honest group
// histories in which key rotations race membership changes, as they do
// when two members act at once and the server sequences their events in
// either order:
//
//   - mallory rotates the key (to everyone, herself included) just before
//     alice's removal of her is sequenced (every racing history);
//   - carol rotates with a participant list made before mallory's removal
//     (mallory among the recipients) that is sequenced after it, before or
//     after alice's own rotation that follows the removal (or not at all);
//   - carol rotates concurrently with alice's add of dave: her list made
//     before the add and sequenced after it (dave left out), or made after
//     it and sequenced before it (dave already among the recipients), when
//     the engines' part of the script did not add dave.
//
// The keys of the rotations mallory can open join h.malloryKeys, so the
// sending invariant requires bob never to seal under them once his roster
// excludes her; the rest of the invariants are the group harness's.

// racingHistories is how many racing histories make test runs (history
// seeds mutationHistories+1 on).
const racingHistories = 3

// newRacingHistory plays the honest script chosen by rng with rotations
// racing the membership changes; variant picks the races (each of the
// first three a different race with the removal, the even ones carol's
// list made before the add, the odd ones after).
func newRacingHistory(w *world, rng *rand.Rand, variant int) *history {
	h := newBareHistory(w)
	h.playEngines(rng)
	h.readServer()
	h.playRacing(rng, variant)
	h.forge(rng)
	h.seal()
	return h
}

// playRacing continues the history with signed events: mallory's removal
// raced by rotations, then talk and an add of dave raced by carol's
// rotation.
func (h *history) playRacing(rng *rand.Rand, variant int) {
	members := []*user{h.alice, h.bob, h.carol}
	if h.isMember(h.dv) {
		members = append(members, h.dv)
	}
	withMallory := append(slices.Clone(members), h.mallory)
	h.malloryKeys = append(h.malloryKeys, h.keys[h.rotate(h.mallory, withMallory)])
	h.push(h.alice.removal(h.env(), h.mallory.id))
	h.removal = h.top()
	holders := members
	switch variant % 3 {
	case 0: // carol's stale rotation sequenced after the removal, before alice's
		h.malloryKeys = append(h.malloryKeys, h.keys[h.rotate(h.carol, withMallory)])
		h.rotate(h.alice, members)
	case 1: // after alice's
		h.rotate(h.alice, members)
		h.malloryKeys = append(h.malloryKeys, h.keys[h.rotate(h.carol, withMallory)])
		holders = withMallory
	default:
		h.rotate(h.alice, members)
	}
	admins := []string{h.alice.id}
	for i := range 3 + rng.IntN(3) {
		switch op := rng.IntN(4); {
		case (i == 0 || op == 0) && !slices.Contains(members, h.dv):
			holders = h.racingAdd(rng, variant%2 == 0, members, admins)
			members = append(members, h.dv)
		default:
			var speakers []*user
			for _, u := range members {
				if slices.Contains(holders, u) {
					speakers = append(speakers, u)
				}
			}
			u := speakers[rng.IntN(len(speakers))]
			h.say(u, fmt.Sprintf("racing message %d by %s", i, u.id))
		}
	}
}

// racingAdd appends alice's add of dave raced by carol's rotation, her
// list made before the add and sequenced after it, or the reverse, perhaps followed by alice's rotation; it returns the
// holders of the newest key.
func (h *history) racingAdd(rng *rand.Rand, before bool, members []*user, admins []string) []*user {
	after := append(slices.Clone(members), h.dv)
	holders := members
	if before { // carol's list made before the add, sequenced after it
		h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, ids(members), admins))
		h.rotate(h.carol, members)
	} else { // made after the add, sequenced before it
		h.rotate(h.carol, after)
		h.push(h.alice.memberAdd(h.env(), h.newestVersion(), []string{h.dv.id}, ids(members), admins))
		holders = after
	}
	if rng.IntN(2) == 0 {
		h.rotate(h.alice, after)
		holders = after
	}
	return holders
}

// FuzzTranscriptMutationRacing explores mutation seeds (strict ones among
// them) of the first racing history (scripts/fuzz.sh runs it): every
// invariant must hold for each.
func FuzzTranscriptMutationRacing(f *testing.F) {
	hs := newHarness(f, mutationHistories+1)
	for s := uint64(1); s <= 8; s++ {
		f.Add((mutationHistories+1)<<32 | s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		o := hs.run(t, hs.h.mutateSeed(seed))
		if len(o.violations) > 0 {
			t.Fatalf("mutation seed %#x: %d violations:\n  %s\nmutation:\n  %s", seed, len(o.violations), joinLines(o.violations), joinLines(o.m.ops))
		}
	})
}
