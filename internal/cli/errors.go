package cli

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
)

// describe turns err into the message printed after "xchat: error: ",
// adding the hint a user needs for the common failures.
func describe(err error, base string) string {
	msg := err.Error()
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot reach the API at %s: connection refused (is the server running? see --api)", base)
	case isNetError(err):
		return fmt.Sprintf("cannot reach the API at %s: %s", base, msg)
	case errors.Is(err, api.ErrUnauthorized):
		return msg + " (the token was rejected: run 'xchat login' or pass --token)"
	case errors.Is(err, keystore.ErrCorrupt):
		return msg + " (the keystore file is damaged or was tampered with)"
	case errors.Is(err, session.ErrNotRegistered):
		return msg + " (run 'xchat keys register')"
	case errors.Is(err, session.ErrUnverifiedPeer), errors.Is(err, session.ErrKeyChanged):
		return msg + " (compare safety numbers with 'xchat keys verify USER_ID')"
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
	if err != nil && (errors.Is(err, api.ErrNotFound) || errors.Is(err, session.ErrUnknownConversation)) {
		return fmt.Errorf("unknown conversation %q: %w", id, err)
	}
	return err
}
