package attacks

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/session"
)

// Attacks on sending and receiving media.

var mediaAttacks = []attack{
	{"media-send-sealed-under-key-rotated-away", attackMediaKeyRotatedAway},
	{"media-download-redirected-to-local-service", attackMediaRedirected},
}

// attackMediaRedirected: the API answers a media download (and every other
// call) only with its own bodies; the specification lists no redirect. The
// server answers bob's download of alice's photo with a redirect to a
// service on bob's own machine or network (a router's admin page, a
// development server), which the HTTP client followed: the server makes
// bob's device send requests it chooses to hosts only bob can reach.
func attackMediaRedirected(w *world) (string, error) {
	d, atts, versions, _ := mediaDM(w, 3000)
	var hits atomic.Int64
	local := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer local.Close()
	w.proxy.Add(hostile.Rule{Name: "redirect", Method: http.MethodGet, Path: hostile.PathMedia,
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			resp.Status, resp.Body = http.StatusFound, nil
			resp.Header = http.Header{"Location": {local.URL + "/admin/factory-reset?confirm=1"}}
			return nil
		}})
	_, err := d.bob.e.DownloadMedia(w.ctx, d.cid, atts[0], versions[0], 0)
	if n := hits.Load(); n > 0 {
		return "", errorf("the redirect was followed: %d request(s) to %s (download: %v)", n, local.URL, err)
	}
	if err == nil {
		return "", errorf("the download succeeded through a redirect")
	}
	return "redirect not followed: " + err.Error(), nil
}

// attackMediaKeyRotatedAway: a media send picks its conversation key
// before the upload (the file is encrypted under it as it streams) and
// seals its message under the same version after it. The server holds
// bob's upload of a photo to alice until alice has re-keyed (a new
// device, her old keys in someone else's hands) and bob's engine has
// pinned her new keys: from then on the key bob held is stale (wrapped to
// alice's superseded identity key) and any send rotates first. The
// photo's message was still sealed, and the photo encrypted, under the
// stale key: whoever holds alice's old identity key reads both.
func attackMediaKeyRotatedAway(w *world) (string, error) {
	d, err := syncedDM(w)
	if err != nil {
		return "", err
	}
	old, err := d.bob.e.Conversation(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	held, release := make(chan struct{}), make(chan struct{})
	w.proxy.Add(hostile.Rule{Name: "hold-upload", Method: http.MethodPost, Path: `/2/chat/media/upload/initialize`, Times: 1,
		Request: func(*http.Request) {
			close(held)
			<-release
		}})
	type result struct {
		s   *session.Sent
		err error
	}
	done := make(chan result, 1)
	body := bytes.Repeat([]byte("photo "), 500)
	go func() {
		s, err := d.bob.e.Send(w.ctx, d.cid, session.Outgoing{Text: "the photo", Media: &session.Media{
			Data: bytes.NewReader(body), Size: int64(len(body)), Filename: "p.jpg"}})
		done <- result{s, err}
	}()
	select {
	case <-held:
	case r := <-done:
		return "", errorf("setup: the send ended before its upload: %+v %v", r.s, r.err)
	}
	newAlice := w.rekey(d.alice)
	changes, err := d.bob.e.RefreshPeers(w.ctx, d.alice.id)
	close(release)
	if err != nil || len(changes) != 1 || changes[0].New.Version != newAlice.e.PublicKeyVersion() || !changes[0].Pinned {
		return "", errorf("setup: alice's re-key not pinned: %+v %v", changes, err)
	}
	r := <-done
	if r.err == nil {
		if r.s.KeyVersion == old.KeyVersion {
			return "", errorf("the photo's message was sealed under key version %s, wrapped to alice's superseded keys, after bob pinned her new ones", old.KeyVersion)
		}
		return "sent under the new key " + r.s.KeyVersion, nil
	}
	now, err := d.bob.e.Conversation(w.ctx, d.cid)
	if err != nil {
		return "", err
	}
	hist, err := d.bob.e.History(w.ctx, d.cid, "", 0)
	if err != nil {
		return "", err
	}
	for _, en := range hist {
		if en.KeyVersion == old.KeyVersion && en.SenderID == d.bob.id {
			return "", errorf("the send failed (%v) but a message of bob's under the stale key is stored", r.err)
		}
	}
	return "refused: " + r.err.Error() + " (key now " + now.KeyVersion + ")", nil
}
