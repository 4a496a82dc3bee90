package attacks

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto/secretstream"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/internal/inbound"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Attacks of the seventh red-team pass: the performance shortcuts
// of the receive path, each a place where a cached or fast result could
// stand in for a check — the stored peer-binding digests, the fast JSON
// page decoder and the in-place media decryption (ReadAllHint).

var signerMediaAttacks = []attack{
	{"cached-binding-signing-key-substituted", attackCachedBindingSubstituted},
	{"events-page-duplicate-keys", attackEventsPageDuplicateKeys},
	{"media-chunks-reordered", attackMediaChunksReordered},
	{"media-data-after-final", attackMediaDataAfterFinal},
	{"media-streams-spliced", attackMediaStreamsSpliced},
}

// attackCachedBindingSubstituted: bob has pinned alice's keys, so the
// digest of her listed key set is stored and her binding signature is not
// checked again while the listing stays byte for byte the same. The server
// lists, beside that cached set, a newer version made of alice's identity
// key and binding signature with mallory's signing key, and serves alice's
// next message re-signed by mallory under that version. The new set's
// digest matches nothing stored, so its binding is checked in full and
// fails: it must never be stored, and the message must not verify.
func attackCachedBindingSubstituted(w *world) (string, error) {
	d := newDM(w, "m1")
	if r := d.bob.sync(d.cid); r.err != nil {
		return "", r.err
	}
	mallory := w.newUser("mallory", false)
	genuine, evil := w.publishedKeys(d.alice), w.publishedKeys(mallory)
	sub := genuine
	sub.PublicKeyVersion = futureVersion()
	sub.SigningPublicKey = evil.SigningPublicKey // alice's binding signature kept
	w.proxy.Add(hostile.PublicKeys("append-substituted", func(_ *http.Request, keys []api.PublicKey) ([]api.PublicKey, error) {
		for _, k := range keys {
			if k.UserID == d.alice.id || k.PublicKeyVersion == genuine.PublicKeyVersion {
				s := sub
				s.UserID = k.UserID
				return append(keys, s), nil
			}
		}
		return keys, nil
	}))
	m2 := d.alice.send(d.cid, "m2 re-signed by mallory")[0]
	f := &hostile.Forger{UserID: d.alice.id, KeyVersion: sub.PublicKeyVersion, Signing: mallory.keys().Signing}
	var resignErr error
	w.tamper("resign", m2.MessageID, func(me *tevent.MessageEvent) { resignErr = f.Resign(me) })
	r := d.bob.sync(d.cid)
	switch {
	case resignErr != nil:
		return "", resignErr
	case r.err != nil:
		return "", errorf("sync failed instead of reporting the event: %w", r.err)
	case w.proxy.Hits("append-substituted") == 0:
		return "", errorf("setup: bob never looked alice's keys up again")
	}
	if err := d.bob.forgedShown(d.cid, []string{m2.MessageID}, []string{"m2 re-signed by mallory"}); err != nil {
		return "", err
	}
	p, err := d.bob.e.Peer(w.ctx, d.alice.id)
	if err != nil {
		return "", err
	}
	for _, k := range p.History {
		if k.Version == sub.PublicKeyVersion {
			return "", errorf("alice's key set %s with mallory's signing key stored (pinned %v)", k.Version, k.Pinned)
		}
	}
	ev := r.eventOf(m2.MessageID)
	if ev == nil || ev.Err == nil {
		return "", errorf("the re-signed message was not reported as failed: %+v", ev)
	}
	if err := d.honestIntact("m1"); err != nil {
		return "", err
	}
	return "substituted key set refused, message rejected: " + ev.Err.Error(), nil
}

// attackEventsPageDuplicateKeys: the page decoder reads the common shape
// of a page itself and leaves the rest to encoding/json, which takes the
// last of repeated keys and matches keys case-insensitively and after
// unescaping. The server gives three items of the page a second
// encoded_event — repeated as is, in another case and with an escaped
// letter — each carrying the item's envelope with another message's
// contents. Whichever copy the decoder takes must be the one verified:
// a disagreement would let the server show one event and verify another.
func attackEventsPageDuplicateKeys(w *world) (string, error) {
	d := newDM(w, "m1", "m2", "m3", "m4")
	swapped := map[string]string{}
	for i := 1; i <= 3; i++ {
		other, _, err := d.honestEnvelope(d.mid(0))
		if err != nil {
			return "", err
		}
		me, _, err := d.honestEnvelope(d.mid(i))
		if err != nil {
			return "", err
		}
		me.Detail.MessageCreateEvent.Contents = other.GetDetail().GetMessageCreateEvent().Contents
		b64, err := hostile.EncodeEvent(me)
		if err != nil {
			return "", err
		}
		swapped[d.mid(i)] = b64
	}
	keys := map[string]string{d.mid(1): "encoded_event", d.mid(2): "Encoded_Event", d.mid(3): `encoded_\u0065vent`}
	w.proxy.Add(hostile.Rule{Name: "duplicate-keys", Method: http.MethodGet, Path: hostile.PathEvents, Token: d.bob.token,
		Rewrite: func(_ *http.Request, resp *hostile.Response) error {
			for mid, forged := range swapped {
				genuine := honestEncoded(w, d, mid)
				old := []byte(`"encoded_event":"` + genuine + `"`)
				if !bytes.Contains(resp.Body, old) {
					return fmt.Errorf("message %s not found in the page", mid)
				}
				dup := append(append([]byte(nil), old...), `,"`+keys[mid]+`":"`+forged+`"`...)
				resp.Body = bytes.Replace(resp.Body, old, dup, 1)
			}
			return nil
		}})
	r := d.bob.sync(d.cid)
	if r.err != nil {
		return "", errorf("sync failed instead of reporting the events: %w", r.err)
	}
	if err := w.proxy.Err(); err != nil {
		return "", err
	}
	var got []string
	for i := 1; i <= 3; i++ {
		err, seen := r.byMessage(d.mid(i))
		if !seen || !errors.Is(err, inbound.ErrBadSignature) {
			return "", errorf("message %d, served twice under %q: seen %v, error %v (want ErrBadSignature)", i, keys[d.mid(i)], seen, err)
		}
		got = append(got, keys[d.mid(i)])
	}
	if err := d.bob.forgedShown(d.cid, []string{d.mid(1), d.mid(2), d.mid(3)}, nil); err != nil {
		return "", err
	}
	if err := d.honestIntact("m1"); err != nil {
		return "", err
	}
	return fmt.Sprintf("the last copy (under %q) decoded and verified, each rejected: ErrBadSignature", got), nil
}

// honestEncoded returns the base64 envelope of message mid as the honest
// server serves it.
func honestEncoded(w *world, d *dm, mid string) string {
	w.t.Helper()
	c := apiClient(w.t, w.honest.URL, d.bob.token)
	for ev, err := range c.ConversationEvents(w.ctx, d.path, &api.ConversationEventsOptions{MaxResults: 100}) {
		if err != nil {
			w.t.Fatalf("listing events: %v", err)
		}
		if hostile.MessageID(ev.EncodedEvent) == mid {
			return ev.EncodedEvent
		}
	}
	w.t.Fatalf("message %s not on the server", mid)
	return ""
}

// mediaFrames splits an encrypted media blob into its header and frames.
func mediaFrames(b []byte) (header []byte, frames [][]byte) {
	header, b = b[:secretstream.HeaderSize], b[secretstream.HeaderSize:]
	for len(b) > 0 {
		n := min(len(b), secretstream.EncryptedChunkSize)
		frames, b = append(frames, b[:n]), b[n:]
	}
	return header, frames
}

// mediaAttack downloads bob's first attachment of two of size bytes each,
// served as rewrite makes it, and requires the download to fail.
func mediaAttack(w *world, size int, rewrite func(blob, other []byte) []byte) (string, error) {
	d, atts, vers, _ := mediaDM(w, size, size)
	c := apiClient(w.t, w.honest.URL, d.alice.token)
	other, _, err := c.DownloadMedia(w.ctx, d.path, atts[1].MediaHashKey)
	if err != nil {
		return "", err
	}
	target := atts[0].MediaHashKey
	w.proxy.Add(hostile.Media("rewrite", func(r *http.Request, b []byte) ([]byte, error) {
		if !strings.HasSuffix(r.URL.Path, "/"+target) {
			return b, nil
		}
		return rewrite(b, other), nil
	}))
	out, err := d.bob.e.DownloadMedia(w.ctx, d.cid, atts[0], vers[0], 0)
	if w.proxy.Hits("rewrite") == 0 {
		return "", errorf("setup: the download was not rewritten")
	}
	if err == nil {
		return "", errorf("rewritten stream accepted as a %d-byte file", len(out))
	}
	if !errors.Is(err, secretstream.ErrDecrypt) && !errors.Is(err, secretstream.ErrDataAfterFinal) && !errors.Is(err, secretstream.ErrTruncated) {
		return "", errorf("download failed, but not as a stream error: %w", err)
	}
	return "download failed: " + err.Error(), nil
}

// attackMediaChunksReordered: the server swaps two full frames of the
// stream; the in-place decryption must refuse the first one out of place.
func attackMediaChunksReordered(w *world) (string, error) {
	return mediaAttack(w, 5500, func(b, _ []byte) []byte {
		h, fr := mediaFrames(b)
		fr[1], fr[2] = fr[2], fr[1]
		return slices.Concat(append([][]byte{h}, fr...)...)
	})
}

// attackMediaDataAfterFinal: the server appends a copy of the first frame
// after the FINAL one, a full frame (the plaintext fills whole chunks), so
// that every frame authenticates and only the framing tells (a stream
// longer than the size hint, read into the buffer sized from it).
func attackMediaDataAfterFinal(w *world) (string, error) {
	return mediaAttack(w, 5*secretstream.ChunkSize, func(b, _ []byte) []byte {
		_, fr := mediaFrames(b)
		return slices.Concat(b, fr[0])
	})
}

// attackMediaStreamsSpliced: the server serves the header and first two
// frames of the attachment followed by the frames, FINAL included, of
// another attachment of the same size under the same conversation key.
func attackMediaStreamsSpliced(w *world) (string, error) {
	return mediaAttack(w, 5500, func(b, other []byte) []byte {
		h, fr := mediaFrames(b)
		_, ofr := mediaFrames(other)
		return slices.Concat(append(append([][]byte{h}, fr[:2]...), ofr[2:]...)...)
	})
}
