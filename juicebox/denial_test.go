package juicebox_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/emulator/realm"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/juicebox/proto"
)

// denyStep answers status (NotRegistered or NoGuesses) in place of the
// software realm's answer to a request of kind.
type denyStep struct {
	kind   proto.Kind
	status proto.Status
}

func (d denyStep) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !strings.Contains(r.URL.Path, "realm-b") {
		return res, err
	}
	b, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, err
	}
	if got, derr := proto.DecodeSecretsResponse(b); derr == nil && got.Kind == d.kind {
		lie := &proto.SecretsResponse{Kind: d.kind, Status: d.status}
		if b, err = lie.Marshal(); err != nil {
			return nil, err
		}
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	res.ContentLength = int64(len(b))
	return res, nil
}

// TestDenialAfterRecover1IsNoVerdict: with realm-east down, the two other
// realms name the registration in Recover1; the software realm then
// answers Recover2 (or Recover3) NotRegistered, or Recover2 NoGuesses. It
// contradicts itself: a protocol violation (ErrAssertion), never "not
// registered" or "locked", which would tell the user there is no backup
// to restore, or that it is lost.
func TestDenialAfterRecover1IsNoVerdict(t *testing.T) {
	for _, d := range []denyStep{{proto.Recover2, proto.StatusNotRegistered}, {proto.Recover3, proto.StatusNotRegistered}, {proto.Recover2, proto.StatusNoGuesses}} {
		w := newWorld(t)
		c, _ := w.client("84", juicebox.WithHTTPClient(&http.Client{Transport: d}))
		register(t, c, "2580", 20)
		w.set.Realm("realm-east").SetFaults(realm.Faults{Down: true})
		_, err := c.Recover(ctx, []byte("2580"), juicebox.XUserInfo)
		if errors.Is(err, juicebox.ErrNotRegistered) || errors.Is(err, juicebox.ErrNoGuesses) || !errors.Is(err, juicebox.ErrAssertion) {
			t.Fatalf("%v answered %v after Recover1, one realm down: %v, want ErrAssertion", d.kind, d.status, err)
		}
		w.set.Realm("realm-east").SetFaults(realm.Faults{})
		plain, _ := w.client("84")
		if got, err := plain.Recover(ctx, []byte("2580"), juicebox.XUserInfo); err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("recover without the lie: %v", err)
		}
	}
}
