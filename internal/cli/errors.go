package cli

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/keystore"
)

// describe turns err into the message printed after "xchat: error: ",
// adding the hint a user needs for the common failures. A send that is
// kept in the outbox always says so and how it will be delivered, whatever
// else went wrong.
func describe(err error, base string) string {
	msg := cause(err, base)
	var q *xchat.QueuedError
	switch {
	case errors.As(err, &q) && q.Duplicate:
		msg += ". It is already waiting in the outbox, so no second copy was queued: 'xchat outbox --flush' (or your next send to the conversation) delivers it"
	case errors.Is(err, xchat.ErrQueued):
		msg += ". It is kept, encrypted, in the outbox: retry with 'xchat outbox --flush' (your next send to the conversation also delivers it first); do not send it again"
	}
	return msg
}

// cause describes err itself, with the hint for its kind.
func cause(err error, base string) string {
	msg := err.Error()
	var q *xchat.QueuedError
	if errors.As(err, &q) && q.Err != nil {
		// "message "hi" not delivered yet: <why>": describe the why.
		prefix := strings.TrimSuffix(msg, q.Err.Error())
		if prefix != msg {
			return prefix + cause(q.Err, base)
		}
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot reach the API at %s: connection refused (is the server running? see --api)", base)
	case isNetError(err):
		return fmt.Sprintf("cannot reach the API at %s: %s", base, msg)
	case errors.Is(err, api.ErrUnauthorized):
		return msg + " (the token was rejected: run 'xchat login' or pass --token)"
	case errors.Is(err, keystore.ErrDamaged):
		return msg + " (nothing was changed. Move the file aside and restore the account into a new --home with " +
			"'xchat import-keys' from an export-keys backup; 'xchat read' then fetches the history again)"
	case errors.Is(err, xchat.ErrNotRegistered):
		return msg + " (run 'xchat keys register')"
	case errors.Is(err, xchat.ErrUnverifiedPeer), errors.Is(err, xchat.ErrKeyChanged):
		return msg + " (compare safety numbers with 'xchat keys verify USER_ID')"
	case errors.Is(err, xchat.ErrKeyReplaced):
		return msg + " (nothing was sent: send the file again)"
	case errors.Is(err, xchat.ErrNoPeerKeys):
		return msg + " (they have not published keys yet: they need to run 'xchat init' and 'xchat keys register' first)"
	}
	return msg
}

// isNetError reports a transport failure (DNS, connect, reset, timeout).
func isNetError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	return strings.Contains(err.Error(), "connection reset by peer")
}

// notFound rewrites a server 404 for a conversation as an unknown
// conversation.
func notFound(id string, err error) error {
	if err != nil && (errors.Is(err, api.ErrNotFound) || errors.Is(err, xchat.ErrUnknownConversation)) {
		return fmt.Errorf("unknown conversation %q: %w", id, err)
	}
	return err
}
