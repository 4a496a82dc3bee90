package api

import (
	"context"
	"errors"
	"strconv"
	"testing"
)

// TestPagesStopAtMaxPages: a listing whose every page brings an item and a
// fresh token ends with ErrPaginationStalled once it would fetch page
// MaxPages+1 (the fetches are in-process: MaxPages HTTP round trips are
// too slow for a unit test).
func TestPagesStopAtMaxPages(t *testing.T) {
	fetches := 0
	src := pages(context.Background(), "", func(int) bool { return false }, func(_ context.Context, token string) (int, string, error) {
		fetches++
		return fetches, "token-" + strconv.Itoa(fetches), nil
	})
	var got error
	n := 0
	for _, err := range src {
		if err != nil {
			got = err
			break
		}
		n++
	}
	if !errors.Is(got, ErrPaginationStalled) {
		t.Fatalf("err = %v after %d pages, want ErrPaginationStalled", got, n)
	}
	if n != MaxPages || fetches != MaxPages {
		t.Fatalf("pages = %d, fetches = %d, want %d", n, fetches, MaxPages)
	}
}
