package attacks

import "github.com/xchat-go/xchat/session"

// The synced-DM scene: alice's texts to bob (newDM), which bob has synced
// before the server starts lying; many attacks then forge above what he
// holds, reading his view of the conversation (its key version) first.

// syncedDM is newDM with bob synced to alice's texts.
func syncedDM(w *world, texts ...string) (*dm, error) {
	d := newDM(w, texts...)
	if r := d.bob.sync(d.cid); r.err != nil {
		return nil, r.err
	}
	return d, nil
}

// syncedDMView is syncedDM with bob's view of the conversation.
func syncedDMView(w *world) (*dm, *session.Conversation, error) {
	d, err := syncedDM(w)
	if err != nil {
		return nil, nil, err
	}
	c, err := d.bob.e.Conversation(w.ctx, d.cid)
	if err != nil {
		return nil, nil, err
	}
	return d, c, nil
}
