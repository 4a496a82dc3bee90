package attacks

import (
	"fmt"
	"testing"
)

// The cap-walk scene: a group change served late in a second sync that
// holds more of alice's messages than a sync keeps for its fn (the walk
// runs before the rest is stored), served in pages.

// aliceSaysMany has alice say n messages, "alice's message <i> <what>".
func (h *history) aliceSaysMany(n int, what string) {
	for i := range n {
		h.say(h.alice, fmt.Sprintf("alice's message %d %s", i, what))
	}
}

// pagedLateRun serves withheld to bob's first sync and whole, as the pages
// paged, to his second. It returns what the device saw and how many of
// alice's messages (aliceSaysMany's) it handed verified.
func pagedLateRun(t testing.TB, h *history, withheld, whole mutPage, paged []mutPage) (*runOutcome, int) {
	m := lateRounds(withheld, whole)
	m.rounds[1] = paged
	o := startHarness(t, h).run(t, m)
	return o, o.handedSaying(h, "alice's message ")
}
