package session

import (
	"bytes"
	"context"
	"fmt"

	"github.com/xchat-go/xchat/keystore"
)

// makerSupersededIn reports, reading tx, whether the key change that distributed version
// of cid was signed by a peer with a signing key that is no longer the
// peer's current one: the peer re-keyed since, and this account has pinned
// the new version. Whoever holds the superseded private keys (the reason a
// peer re-keys) can read such a key: its copy wrapped to the peer's old
// identity, or the key itself when the holder signed the change while the
// re-key was hidden. The change's participant list, which names the key
// versions it was wrapped to, is not signed, so it cannot vouch that the
// key reached only the peer's new keys. Such a key is stale: the next send
// makes a new one (as for a peer whose key was wrapped to an older
// version). A key this account made, one without a stored key change, or
// one whose maker has no pinned keys here is judged by the other checks.
func (e *Engine) makerSupersededIn(ctx context.Context, tx keystore.Tx, cid, version string) (bool, error) {
	me, found, err := storedKeyChange(ctx, tx, cid, version)
	switch {
	case err != nil || !found:
		return false, err
	case me == nil:
		return true, nil // an unreadable record vouches for nothing: make a new key
	}
	maker := me.GetSenderID()
	if maker == e.userID {
		return false, nil
	}
	stored, err := tx.PeerKeys(ctx, maker)
	if err != nil {
		return false, fmt.Errorf("session: reading peer keys: %w", err)
	}
	if pinnedOf(stored) == nil {
		return false, nil
	}
	return !signerCurrentIn(stored, me.GetMessageEventSignature().GetPublicKeyVersion()), nil
}

// signerCurrentIn reports whether version is the current signing key among
// a peer's stored key sets: the pinned version, or one carrying the same
// signing key (re-registered under a new version).
func signerCurrentIn(stored []keystore.PeerKey, version string) bool {
	pinned := pinnedOf(stored)
	if pinned == nil {
		return false
	}
	if pinned.Version == version {
		return true
	}
	for _, s := range stored {
		if s.Version == version {
			return bytes.Equal(s.SigningPublicKey, pinned.SigningPublicKey)
		}
	}
	return false
}
