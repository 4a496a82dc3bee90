package bench

import (
	"testing"
	"time"
)

// TestLatencyRuns checks the latency measurement end to end on a few
// messages, through the stream and by polling: every message is
// displayed, and the rows are filled. Times are reported, not asserted.
func TestLatencyRuns(t *testing.T) {
	for _, poll := range []time.Duration{0, 50 * time.Millisecond} {
		l, err := measureLatency(10, poll)
		if err != nil {
			t.Fatalf("poll %v: %v", poll, err)
		}
		if l.n != 10 || l.median <= 0 || l.p99 < l.median || l.max < l.p99 || l.allocs <= 0 {
			t.Fatalf("poll %v: %+v", poll, l)
		}
		t.Logf("poll %v: median %v, p99 %v", poll, l.median, l.p99)
	}
}
