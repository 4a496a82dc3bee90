package session

import (
	"context"
	"errors"

	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// Unverified is not state. A key from a key change that did not verify
// (a pre-v6 change the pipeline keeps for decryption, flagged
// inbound.DecryptOnlyUnverified) is kept apart from the conversation keys,
// in a value of its own: it decrypts history, but it is never an
// encryption key, never conflicts with a verified key, never bounds the
// next key version, and a verified key of the same version replaces it.

// unverifiedKeyKey names the value holding an unverified conversation key.
func unverifiedKeyKey(cid, version string) string {
	return "session/unverified-key/" + cid + "/" + version
}

// keepUnverifiedKey stores the key of an unverified key change for
// decryption only, unless a key is already held for its version (held keys
// win; the pipeline dropped a different unverified key already).
func (e *Engine) keepUnverifiedKey(ctx context.Context, cid string, kc *event.KeyChange) error {
	return e.store.Update(ctx, func(tx keystore.Tx) error {
		old, err := tx.ConversationKey(ctx, cid, kc.Version)
		switch {
		case err == nil:
			old.Key.Zero()
			return nil
		case !errors.Is(err, keystore.ErrNotFound):
			return err
		}
		name := unverifiedKeyKey(cid, kc.Version)
		v, err := tx.Value(ctx, name)
		switch {
		case err == nil:
			clear(v)
			return nil
		case !errors.Is(err, keystore.ErrNotFound):
			return err
		}
		b := kc.Key[:]
		return tx.SetValue(ctx, name, b)
	})
}

// screenKey makes decrypt-only a verified key change the pipeline found
// usable for encryption but the engine's state forbids: one signed with a
// signing key its sender has since replaced (it may verify history, never
// make a new encryption key) or one whose version lies implausibly far in
// the future (see maxVersionLead).
func (e *Engine) screenKey(keys *storeKeys, ev *event.Event) {
	kc := ev.KeyChange
	if kc == nil || kc.Key == nil || !ev.Verified || !kc.UsableForEncryption {
		return
	}
	switch {
	case ev.Signature == nil || !keys.currentSigner(ev.SenderID, ev.Signature.PublicKeyVersion):
		kc.DecryptOnly = event.DecryptOnlySupersededSigner
	case !plausibleVersion(kc.Version, e.now()):
		kc.DecryptOnly = event.DecryptOnlyImplausibleVersion
	default:
		return
	}
	kc.UsableForEncryption = false
}
