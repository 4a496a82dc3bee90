package attacks

import (
	"fmt"
	"net/http"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/hostile"
	"github.com/xchat-go/xchat/wire"
)

// Attacks of the third outside review: what an unsigned field of
// the server's answers still decided.

var exposedTitleAttacks = []attack{
	{"group-title-under-exposed-key", attackTitleUnderExposedKey},
	{"group-title-under-superseded-exposed-key", attackTitleUnderSupersededKey},
}

// serveGroupName makes the server's conversation record of every group
// carry title sealed under key as its (unsigned) group_name, as a holder of
// key could post it.
func (w *world) serveGroupName(name, title string, key *crypto.ConversationKey) error {
	box, err := crypto.Seal(nil, key, []byte(title))
	if err != nil {
		return err
	}
	sealed := wire.EncodeB64(box)
	w.proxy.Add(hostile.Conversation(name, func(_ *http.Request, v *api.GetChatConversationResponse) error {
		if v.Data != nil {
			v.Data.GroupName = sealed
		}
		return nil
	}))
	return nil
}

// forgedTitleUnshown checks that bob read the group's record carrying the
// forged title (the proxy rule "forged-title" served it) and shows no
// title; sealed says under which key the forged title was sealed.
func forgedTitleUnshown(w *world, gr *group, sealed string) error {
	if w.proxy.Hits("forged-title") == 0 {
		return errorf("bob never read the group's record: the attack did not run")
	}
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return err
	}
	if c.Title != "" {
		return errorf("bob shows the title %q, %s", c.Title, sealed)
	}
	return nil
}

// attackTitleUnderExposedKey: the group has no title. alice rotates its
// key; the server lists outsider mallory among the rotation's recipients
// (its word that she holds the key), and serves as the group's name a
// title sealed under that key. A title in the server's record is signed by
// nobody: the secretbox is its only authentication, and a key the server
// says an outsider holds authenticates nothing. bob must report the
// exposure and keep the title unknown.
func attackTitleUnderExposedKey(w *world) (string, error) {
	x, err := rotationWrappedToOutsider(w)
	if err != nil {
		return "", err
	}
	gr, mallory, v2, rotation := x.gr, x.mallory, x.version, x.rotation
	const forged = "mallory's group"
	key := gr.alice.convKey(gr.g, v2)
	defer key.Zero()
	if err := w.serveGroupName("forged-title", forged, key); err != nil {
		return "", err
	}
	r := gr.bob.sync(gr.g)
	if r.err != nil {
		return "", r.err
	}
	a, err := exposureReported(r.res.Anomalies, gr.g, rotation.GetSequenceID(), mallory.id)
	if err != nil {
		return "", err
	}
	if err := forgedTitleUnshown(w, gr, fmt.Sprintf("sealed under version %s which the server says outsider %s holds", v2, mallory.id)); err != nil {
		return "", err
	}
	return "reported " + a.String() + "; the title sealed under the exposed key stays unknown", nil
}

// attackTitleUnderSupersededKey: as attackTitleUnderExposedKey, but the
// forged title is served only after bob has answered the exposure with a
// key of his own: the exposed key is no longer the newest, and no record
// says whom an older key reached, so an older key vouches for no title
// either. A title sealed under bob's own new key (as a member posts it) is
// then shown.
func attackTitleUnderSupersededKey(w *world) (string, error) {
	x, err := rotationWrappedToOutsider(w)
	if err != nil {
		return "", err
	}
	gr, v2 := x.gr, x.version
	if r := gr.bob.sync(gr.g); r.err != nil {
		return "", r.err
	}
	fresh, err := sendsUnderFreshKey(w, gr.bob, gr.g, v2, []string{gr.alice.id, gr.bob.id, gr.carol.id})
	if err != nil {
		return "", err
	}
	exposed := gr.alice.convKey(gr.g, v2)
	defer exposed.Zero()
	if err := w.serveGroupName("forged-title", "mallory's group", exposed); err != nil {
		return "", err
	}
	if r := gr.bob.sync(gr.g); r.err != nil {
		return "", r.err
	}
	if err := forgedTitleUnshown(w, gr, fmt.Sprintf("sealed under the exposed version %s after he replaced it with %s", v2, fresh)); err != nil {
		return "", err
	}
	// Honest traffic of the same shape: the name sealed under the newest
	// key, which bob made for the members.
	w.proxy.Reset()
	own := gr.bob.convKey(gr.g, fresh)
	defer own.Zero()
	if err := w.serveGroupName("honest-title", "Team", own); err != nil {
		return "", err
	}
	if r := gr.bob.sync(gr.g); r.err != nil {
		return "", r.err
	}
	c, err := gr.bob.e.Conversation(w.ctx, gr.g)
	if err != nil {
		return "", err
	}
	if c.Title != "Team" {
		return "", errorf("the name sealed under bob's own newest key %s was not shown: title %q", fresh, c.Title)
	}
	return "the title under the superseded exposed key stays unknown; one under bob's new key " + fresh + " is shown", nil
}
