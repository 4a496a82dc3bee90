package attacks

import (
	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/session"
)

// The roster's typed state and errors, in one place (the attacks of
// hostile_roster_test.go check the harm with the engine's older API, so
// that they also run against the engine before issue #11).
var (
	errRosterUnknown     = xchat.ErrRosterUnknown
	errRosterUnconfirmed = xchat.ErrRosterUnconfirmed
	errRosterDivergence  = xchat.ErrRosterDivergence
)

// rosterView returns how far c's roster rests on signed changes.
func rosterView(c *session.Conversation) (state, since string, unconfirmed []string) {
	return string(c.Roster), c.RosterSince, c.UnconfirmedMembers
}
