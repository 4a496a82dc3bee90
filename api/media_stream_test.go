package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xchat-go/xchat/api"
)

// TestOpenMediaBodyBounds is TestResponseBodyBounds for the streamed body:
// the bytes read are the bytes served, a body announcing more than the
// limit fails before it is handed over, one carrying more fails the read
// that passes the limit (having handed over no byte past it), and a short
// one fails the read; every failure says what DownloadMedia says on its
// last attempt.
func TestOpenMediaBodyBounds(t *testing.T) {
	const limit = 4096
	body := func(n int) []byte { return bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n] }
	for _, tc := range []struct {
		name             string
		n                int
		announce         int // Content-Length sent (0: chunked)
		openErr, readErr string
	}{
		{"announced, small", 100, 100, "", ""},
		{"announced, at the limit", limit, limit, "", ""},
		{"announced, past the limit", limit + 1, limit + 1, "exceeds", ""},
		{"chunked, at the limit", limit, 0, "", ""},
		{"chunked, past the limit", limit + 1, 0, "", "exceeds"},
		{"chunked, far past the limit", 3 * limit, 0, "", "exceeds"},
		{"announced more than sent", 100, 2000, "", "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := body(tc.n)
			c, cnt, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.announce > 0 {
					w.Header().Set("Content-Length", strconv.Itoa(tc.announce))
				}
				for chunk := range slices.Chunk(want, 1000) {
					_, _ = w.Write(chunk)
					if tc.announce == 0 {
						w.(http.Flusher).Flush()
					}
				}
			}, api.WithMaxMediaBytes(limit), api.WithMaxAttempts(1))
			_, _, bufErr := c.DownloadMedia(context.Background(), "g1", "hk1")
			rc, _, err := c.OpenMedia(context.Background(), "g1", "hk1")
			if tc.openErr != "" {
				if rc != nil || err == nil || !strings.Contains(err.Error(), tc.openErr) || err.Error() != bufErr.Error() {
					t.Fatalf("open: %v, want %q (DownloadMedia: %v)", err, tc.openErr, bufErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if tc.readErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.readErr) || err.Error() != bufErr.Error() || len(got) > limit {
					t.Fatalf("read %d bytes, %v; want at most %d and %q (DownloadMedia: %v)", len(got), err, limit, tc.readErr, bufErr)
				}
				if _, again := rc.Read(make([]byte, 10)); again == nil || again.Error() != err.Error() {
					t.Fatalf("read after the failure: %v, want %v again", again, err)
				}
				if cnt.Count() != 2 {
					t.Fatalf("%d requests, want one for each call", cnt.Count())
				}
				return
			}
			if err != nil || bufErr != nil || !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, want the %d served (%v; DownloadMedia: %v)", len(got), len(want), err, bufErr)
			}
		})
	}
}

// TestOpenMediaRetriesOnlyBeforeHandover: a failed answer (a 503, a 429
// asking to wait) is retried before the body is handed over, its wait
// taken from Retry-After; a connection cut mid-body after it is not (the
// read fails with io.ErrUnexpectedEOF inside), where DownloadMedia, which
// owns the whole body, retries it.
func TestOpenMediaRetriesOnlyBeforeHandover(t *testing.T) {
	blob := bytes.Repeat([]byte{9}, 3000)
	var (
		cut   atomic.Bool
		calls atomic.Int64
	)
	c, cnt, clk := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch n := calls.Add(1); {
		case n == 1:
			w.Header().Set("Retry-After", "7")
			writeProblem(w, http.StatusTooManyRequests, api.Problem{Title: "Too Many Requests"})
		case n%2 == 1:
			writeProblem(w, http.StatusServiceUnavailable, api.Problem{Title: "Service Unavailable"})
		case cut.Load():
			w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
			_, _ = w.Write(blob[:1000])
		default:
			_, _ = w.Write(blob)
		}
	})
	ctx := context.Background()
	rc, resp, err := c.OpenMedia(ctx, "g1", "hk1")
	if err != nil || resp.Attempts != 2 || !slices.Equal(clk.Sleeps(), []time.Duration{7 * time.Second}) {
		t.Fatalf("after a 429: %v, %+v, slept %v; want the second attempt's body after 7s", err, resp, clk.Sleeps())
	}
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, blob) || rc.Close() != nil {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}

	cut.Store(true)
	before := cnt.Count()
	rc, resp, err = c.OpenMedia(ctx, "g1", "hk1")
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(rc)
	_ = rc.Close() // the read's failure is what this asserts
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 1000 || resp.Attempts != 2 || cnt.Count()-before != 2 {
		t.Fatalf("cut body: %d bytes, %v, %d requests; want 1000 bytes, io.ErrUnexpectedEOF and no retry", len(got), err, cnt.Count()-before)
	}
	before = cnt.Count()
	if _, resp, err := c.DownloadMedia(ctx, "g1", "hk1"); !errors.Is(err, io.ErrUnexpectedEOF) || resp.Attempts != api.DefaultMaxAttempts || cnt.Count()-before != api.DefaultMaxAttempts {
		t.Fatalf("DownloadMedia of a cut body: %v after %d requests, want every attempt made", err, cnt.Count()-before)
	}
}
