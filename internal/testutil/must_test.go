package testutil

import (
	"errors"
	"strconv"
	"testing"
)

// recorder is a testing.TB that records Fatalf instead of stopping.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = true
	r.msg = format
}

func TestMust(t *testing.T) {
	if got := Must(strconv.Atoi("42"))(t); got != 42 {
		t.Fatalf("Must(Atoi(42)) = %d", got)
	}
	r := &recorder{TB: t}
	Must(strconv.Atoi("x"))(r)
	if !r.failed {
		t.Fatal("Must did not fail on an error")
	}
	r = &recorder{TB: t}
	if a, b := Must2(1, "b", nil)(r); r.failed || a != 1 || b != "b" {
		t.Fatalf("Must2 = %v, %v (failed %v)", a, b, r.failed)
	}
	Must2(1, "b", errors.New("boom"))(r)
	if !r.failed {
		t.Fatal("Must2 did not fail on an error")
	}
}

func TestClock(t *testing.T) {
	c := NewClock()
	start := c.Now()
	c.Advance(90)
	if err := c.Sleep(t.Context(), 10); err != nil {
		t.Fatal(err)
	}
	if got := c.Now().Sub(start); got != 100 {
		t.Fatalf("clock moved %v, want 100ns", got)
	}
	if s := c.Sleeps(); len(s) != 1 || s[0] != 10 {
		t.Fatalf("sleeps %v", s)
	}
}
