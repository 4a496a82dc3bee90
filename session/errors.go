package session

import (
	"github.com/xchat-go/xchat/api"
)

// problems turns a response "errors" array into an *api.PartialError, or
// nil.
func problems(op string, ps []api.Problem) error {
	if len(ps) == 0 {
		return nil
	}
	return &api.PartialError{Op: op, Errors: ps}
}
