package testutil

import "testing"

// Must turns a call's (value, error) results into the value, failing the
// test at once when the error is not nil, so that a test can assert on a
// result without discarding its error:
//
//	conv := testutil.Must(e.Conversation(ctx, id))(t)
//
// The returned function must run on the test's goroutine (it calls
// t.Fatalf).
func Must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

// Must2 is Must for calls with two results before the error.
func Must2[A, B any](a A, b B, err error) func(testing.TB) (A, B) {
	return func(t testing.TB) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return a, b
	}
}
