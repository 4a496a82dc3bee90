package juicebox

import "testing"

// TestGuessesRemainingMinorityZero: a zero claimed by too few realms to rule
// recovery out (no more than n-threshold) gives way to the smallest count
// the others claim, also when the agreeing group is just threshold realms
// because another realm is down; enough zeros still mean locked.
func TestGuessesRemainingMinorityZero(t *testing.T) {
	for _, c := range []struct {
		counts       []uint16
		threshold, n int
		want         uint16
	}{
		{[]uint16{19, 0}, 2, 3, 19},     // realm-east down, one realm claims zero
		{[]uint16{0, 0}, 2, 3, 0},       // two zeros rule recovery out
		{[]uint16{19, 0, 19}, 2, 3, 19}, // outvoted, as before
		{[]uint16{19, 0, 0}, 2, 3, 0},
		{[]uint16{5, 3}, 2, 3, 3},       // no zero: the group's smallest
		{[]uint16{19, 19, 0}, 3, 3, 0},  // 3 of 3: one locked realm rules it out
		{[]uint16{7, 0, 9}, 3, 5, 7},    // 3 of 5: one zero of two tolerated
		{[]uint16{7, 0, 0}, 3, 5, 7},    // two zeros, still tolerated
		{[]uint16{0, 0, 0, 9}, 3, 5, 0}, // three zeros: locked
	} {
		group := make([]*evaluation, len(c.counts))
		for i, n := range c.counts {
			group[i] = &evaluation{remaining: n}
		}
		if got := guessesRemaining(group, c.threshold, c.n); got != c.want {
			t.Errorf("counts %v, threshold %d of %d: %d, want %d", c.counts, c.threshold, c.n, got, c.want)
		}
	}
}
