package juicebox_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/juicebox/proto"
)

// dropGuessAnswers forwards every request and, while on, answers 503 in
// place of the realm's answer to each one that may carry a Recover2 (a
// software realm's Recover2, a hardware realm's transport message, which
// may also be a Recover1 in a session still open).
type dropGuessAnswers struct {
	on      atomic.Bool
	dropped atomic.Int32
}

func (d *dropGuessAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	guess := false
	if strings.Contains(r.URL.Path, "realm-b") {
		q, err := proto.DecodeSecretsRequest(b)
		guess = err == nil && q.Kind == proto.Recover2
	} else {
		cr, err := proto.DecodeClientRequest(b)
		guess = err == nil && cr.Transport != nil
	}
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !guess || !d.on.Load() {
		return res, err
	}
	_ = res.Body.Close()
	d.dropped.Add(1)
	return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: r}, nil
}

// TestRecover2NeverResent: the network lets every Recover2 reach its realm
// and answers 503 instead of the realm. Retried (as the SDK does: five
// times on a hardware realm, twice on a software one), each would cost
// another guess, and a few restores with the right PIN would use up the
// limit. It is sent once: one guess per realm per attempt, and the right
// PIN recovers once the answers come through.
func TestRecover2NeverResent(t *testing.T) {
	w := newWorld(t)
	d := &dropGuessAnswers{}
	c, _ := w.client("82", juicebox.WithHTTPClient(&http.Client{Transport: d}))
	register(t, c, "2580", 20)
	d.on.Store(true)
	if _, err := c.Recover(ctx, []byte("2580"), juicebox.XUserInfo); !errors.Is(err, juicebox.ErrTransient) {
		t.Fatalf("recover with every Recover2 answer dropped: %v", err)
	}
	if d.dropped.Load() == 0 {
		t.Fatal("no answer dropped")
	}
	for _, r := range w.set.Realms() {
		if n := r.Record(w.set.Tenant(), "82").GuessCount; n > 1 {
			t.Fatalf("realm %s spent %d guesses on one attempt", r.Name(), n)
		}
	}
	d.on.Store(false)
	if got, err := c.Recover(ctx, []byte("2580"), juicebox.XUserInfo); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("recover once the answers come through: %v", err)
	}
}
