package attacks

import (
	"errors"
	"net/http"
	"slices"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
)

// Attacks of the fifth outside review: the send path.

var resealAttacks = []attack{
	{"stale-reseal-widens-audience", attackStaleResealWidens},
}

// attackStaleResealWidens: bob writes to the group {alice, bob, carol};
// the server answers his post 503 without storing it, waits until alice
// adds mallory (a signed add that rotates the key to the enlarged
// roster), then refuses bob's retry for its stale key. Sealing the
// message again under the current key would hand words written for three
// people to a fourth who was not there when they were written: the send
// must be refused (its text given back), not re-addressed.
func attackStaleResealWidens(w *world) (string, error) {
	gr := newGroup(w)
	mallory := w.newUser("mallory", false)
	w.proxy.Add(hostile.Rule{Name: "swallow-post", Method: http.MethodPost, Path: hostile.PathMessages, Token: gr.bob.token, Times: 1,
		Request: func(r *http.Request) { r.URL.Path = "/2/swallowed" }, // never reaches the group
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			resp.Status, resp.Body = http.StatusServiceUnavailable, []byte(`{"title":"Service Unavailable"}`)
			return nil
		}})
	secret := "mallory's surprise party is at 8, keep it quiet"
	if _, err := gr.bob.e.Send(w.ctx, gr.g, session.Outgoing{Text: secret}); !errors.Is(err, xchat.ErrQueued) {
		return "", errorf("setup: bob's swallowed post: %v, want ErrQueued", err)
	}
	if err := gr.alice.e.AddMembers(w.ctx, gr.g, mallory.id); err != nil {
		return "", err
	}
	_, flushErr := gr.bob.e.FlushOutbox(w.ctx)
	if r := mallory.sync(gr.g); r.err != nil {
		return "", r.err
	}
	if slices.Contains(mallory.verifiedTexts(gr.g), secret) {
		return "", errorf("bob's message, written before mallory's add, resealed to her (flush: %v)", flushErr)
	}
	var rej *xchat.RejectedError
	if !errors.As(flushErr, &rej) || rej.Text != secret {
		return "", errorf("bob's unsent message not given back as rejected: %v", flushErr)
	}
	return "not resealed to the enlarged group: " + rej.Reason, nil
}
