package session

import (
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/inbound"
)

// TestKeyAndRosterFailure: a message failed for want of its key and
// otherwise only for its author's membership awaits its key once a create
// bound late admits its author; one failed for anything else besides, or
// of another conversation's key, or by another author, does not.
func TestKeyAndRosterFailure(t *testing.T) {
	const sender, cid = "2000", "g1"
	uk := (&inbound.UnknownKeyError{ConversationID: cid, Version: "17"}).Error()
	other := (&inbound.UnknownKeyError{ConversationID: "g2", Version: "17"}).Error()
	nm := xchat.ErrNotMember.Error() + ": sender 2000 is not a member of g1"
	for _, c := range []struct {
		msg     string
		version string
	}{
		{uk + "\n" + nm, "17"},
		{uk + "\n" + nm + "\n" + nm, "17"},
		{uk, ""},                // for want of its key alone: listed when stored
		{nm, ""},                // membership alone: rosterOnlyFailure
		{nm + "\n" + uk, ""},    // not read for want of its key first
		{other + "\n" + nm, ""}, // another conversation's key
		{uk + "\n" + nm + "\nsession: replayed", ""},                                         // something else besides
		{uk + "\n" + nm + "; session: replayed", ""},                                         // flipped for something else
		{uk + "\n" + xchat.ErrNotMember.Error() + ": sender 3000 is not a member of g1", ""}, // another author
		{uk + "x\n" + nm, ""},
	} {
		v, ok := keyAndRosterFailure(cid, c.msg, sender)
		if ok != (c.version != "") || v != c.version {
			t.Errorf("keyAndRosterFailure(%q) = %q, %v; want %q", c.msg, v, ok, c.version)
		}
	}
}
