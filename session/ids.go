package session

import (
	"fmt"
	"strings"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/wire"
)

// oneToOneID returns the canonical id of the one-to-one conversation between
// users a and b, the form carried inside events and covered by signatures:
// the two user ids ordered numerically and joined by ':' ("9:10").
func oneToOneID(a, b string) (string, error) {
	if err := checkUserID(a); err != nil {
		return "", err
	}
	if err := checkUserID(b); err != nil {
		return "", err
	}
	if a == b {
		return "", fmt.Errorf("%w: a conversation needs two distinct users", xchat.ErrInvalidArgument)
	}
	return wire.OneToOneID(a, b), nil
}

// CanonicalID normalises any accepted conversation id form to the form used
// in events and signatures: "A:B" or "A-B" in either order becomes the
// numerically sorted "min:max"; a bare user id names the one-to-one
// conversation between that user and self (so CanonicalID(a, b) is the
// id of the one-to-one conversation of users a and b); a group id
// "g<digits>" is returned unchanged. Anything else fails with
// xchat.ErrInvalidArgument.
func CanonicalID(id, self string) (string, error) {
	if isGroupID(id) {
		return id, nil
	}
	if i := strings.IndexAny(id, ":-"); i >= 0 {
		return oneToOneID(id[:i], id[i+1:])
	}
	if isUserID(id) {
		return oneToOneID(id, self)
	}
	return "", fmt.Errorf("%w: conversation id %q", xchat.ErrInvalidArgument, id)
}

// IsGroup reports whether id is a group conversation id ("g" followed by
// 1-19 digits).
func IsGroup(id string) bool { return isGroupID(id) }

func isGroupID(id string) bool {
	return len(id) >= 2 && id[0] == 'g' && isUserID(id[1:])
}

// peerOf returns the other participant of a canonical one-to-one id.
func peerOf(canonical, self string) (string, error) {
	a, b, ok := strings.Cut(canonical, ":")
	if !ok {
		return "", fmt.Errorf("%w: %q is not a one-to-one conversation", xchat.ErrInvalidArgument, canonical)
	}
	switch self {
	case a:
		return b, nil
	case b:
		return a, nil
	}
	return "", fmt.Errorf("%w: %q", xchat.ErrNotMember, canonical)
}
