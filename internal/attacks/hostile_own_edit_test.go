package attacks

import (
	"errors"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/session"
)

// Attacks on what this account signs about events it stored failed (the
// send path: edits).

var ownEditAttacks = []attack{
	{"edit-of-forged-own-message", attackEditOfForgedOwnMessage},
}

// attackEditOfForgedOwnMessage: carol, a member, seals a message under
// the group key and names bob its sender; the signature (carol's) does
// not verify, so bob stores it failed, though it opens under his key and
// names him. Bob edits it (an app lists failed events too, and this one
// reads as his). Unless the engine edits only a message of his that
// verified, bob signs an edit of carol's forgery: every member then holds
// bob's signature on a change to words he never wrote, under his name.
func attackEditOfForgedOwnMessage(w *world) (string, error) {
	gr := newGroup(w)
	me, err := gr.carolForges(gr.bob, "bob: I approve the transfer", 33)
	if err != nil {
		return "", err
	}
	_, err = gr.bob.e.Send(w.ctx, gr.g, session.Outgoing{Edit: me.GetSequenceID(), Text: "bob: I approve the transfer, twice"})
	switch {
	case err == nil:
		return "", errorf("bob signed and sent an edit of the message carol forged as his")
	case !errors.Is(err, xchat.ErrInvalidArgument) && !errors.Is(err, xchat.ErrNotAuthorized):
		return "", err
	}
	return "edit refused: " + err.Error(), nil
}
