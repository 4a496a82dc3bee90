package session

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/event"
)

// Unverified is not state. A key from a key change that did not verify
// (a pre-v6 change the pipeline keeps for decryption, flagged
// event.DecryptOnlyUnverified) is kept apart from the conversation keys,
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
func keepUnverifiedKey(ctx context.Context, tx keystore.Tx, cid string, kc *event.KeyChange) error {
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
}

// screenKey makes decrypt-only a verified key change the pipeline found
// usable for encryption but the engine's state forbids: one signed with a
// signing key its sender has since replaced (it may verify history, never
// make a new encryption key) or one whose version lies implausibly far in
// the future (see maxVersionLead).
func (e *Engine) screenKey(r keystore.Tx, keys *storeKeys, ev *event.Event) {
	kc := ev.KeyChange
	if kc == nil || kc.Key == nil || !ev.Verified || !kc.UsableForEncryption {
		return
	}
	switch {
	case ev.Signature == nil || !keys.currentSigner(r, ev.SenderID, ev.Signature.PublicKeyVersion):
		kc.DecryptOnly = event.DecryptOnlySupersededSigner
	case !plausibleVersion(kc.Version, e.now()):
		kc.DecryptOnly = event.DecryptOnlyImplausibleVersion
	default:
		return
	}
	kc.UsableForEncryption = false
}

// adoptKeys stores the keys of the page's key changes in tx (the page's
// storing transaction): one already stored as it would be stored again
// costs a read and no write (see adoptKeyTx). It returns the key changes
// whose key it stored as usable for encryption (see keysAgree).
func (s *syncState) adoptKeys(ctx context.Context, tx keystore.Tx, kcs []*event.Event) (usable []*event.Event, err error) {
	return s.e.adoptKeysTx(ctx, tx, s.cid, s.keys, kcs)
}

// adoptKeysTx is adoptKeys for the key changes kcs of cid, whatever
// reads them (a sync's page, a single received event): each is screened
// (screenKey), its key stored (adoptKeyTx) and added to keys; one whose
// version holds another key fails alone (xchat.ErrKeyConflict, unverified).
func (e *Engine) adoptKeysTx(ctx context.Context, tx keystore.Tx, cid string, keys *storeKeys, kcs []*event.Event) (usable []*event.Event, err error) {
	for _, ev := range kcs {
		kc := ev.KeyChange
		if kc == nil || kc.Key == nil || !decimal.Valid(kc.Version) {
			continue
		}
		e.screenKey(tx, keys, ev)
		made, err := e.adoptKeyTx(ctx, tx, cid, ev)
		if err != nil {
			if errors.Is(err, keystore.ErrConflict) {
				ev.Err = errors.Join(ev.Err, fmt.Errorf("%w: conversation %s, version %s", xchat.ErrKeyConflict, cid, kc.Version))
				ev.Verified = false
				continue
			}
			return nil, err
		}
		if made {
			usable = append(usable, ev)
		}
		keys.addConversationKey(cid, kc.Version, kc.Key, kc.DecryptOnly != event.DecryptOnlyUnverified)
	}
	return usable, nil
}

// keysAgree checks, once a page is stored, that every key change whose key
// adoptKeys stored as usable verified and is stored, byte for byte, at its
// sequence id: no key is usable without its key change in the history.
// Keys are adopted before the page's events are stored (their titles and
// history open with them), on the screening's verdict (screenSenders); the
// storing transaction's gates (gateEvent) must come to the same verdict,
// and the store must hold the change (not other bytes under its sequence
// id). Should either fail, its key must not stay usable: the transaction
// fails (xchat.ErrServerResponse) and nothing of it is stored.
func keysAgree(ctx context.Context, tx keystore.Tx, cid string, usable []*event.Event) error {
	for _, ev := range usable {
		if !ev.Verified {
			return fmt.Errorf("%w: %s: key change %s (version %s) was refused when stored after its key was adopted: %w",
				xchat.ErrServerResponse, cid, ev.SequenceID, ev.KeyChange.Version, ev.Err)
		}
		old, err := eventAt(ctx, tx, cid, ev.SequenceID)
		if err != nil {
			return err
		}
		// Stored now, it is stored verified; served again, it keeps the
		// verdict it was stored with: verified in a group (screenGroup
		// refuses a re-served event stored as failed), and in a
		// one-to-one conversation possibly a failure this account has
		// since overcome (a signing key it verified since: the key change
		// verifies now, and only its two users may make it).
		stored := old != nil && bytes.Equal(old.Raw, ev.Raw)
		if old != nil {
			old.Body.Zero()
		}
		if !stored {
			return fmt.Errorf("%w: %s: key change %s (version %s) is not stored as served after its key was adopted",
				xchat.ErrServerResponse, cid, ev.SequenceID, ev.KeyChange.Version)
		}
	}
	return nil
}

// adoptKeyTx stores a key change's key. It is marked usable for encryption
// only when the change verified at signature version 6+ and is not
// decrypt-only (see screenKey), and then, when it is the newest usable
// version, records its recipients. A key whose change did not verify is
// kept apart, for decryption only (keepUnverifiedKey); a verified key of
// the same version replaces it. A different key already stored under the
// version fails with keystore.ErrConflict before anything is written, so
// tx stays usable; the same key stored verified (or when this change may
// not make it usable) is left as it is. made reports that it stored the
// key as usable.
func (e *Engine) adoptKeyTx(ctx context.Context, tx keystore.Tx, cid string, ev *event.Event) (made bool, err error) {
	kc := ev.KeyChange
	if kc.DecryptOnly == event.DecryptOnlyUnverified {
		return false, keepUnverifiedKey(ctx, tx, cid, kc)
	}
	usable := ev.Verified && kc.UsableForEncryption
	old, err := tx.ConversationKey(ctx, cid, kc.Version)
	held := err == nil
	switch {
	case held:
		same := subtle.ConstantTimeCompare(old.Key[:], kc.Key[:]) == 1
		oldVerified := old.Verified
		old.Key.Zero()
		if !same {
			return false, keystore.ErrConflict
		}
		if err := tx.SetValue(ctx, unverifiedKeyKey(cid, kc.Version), nil); err != nil {
			return false, err
		}
		if oldVerified {
			return false, placeOwnKey(ctx, tx, cid, e.userID, ev)
		}
		if !usable {
			return false, nil
		}
	case !errors.Is(err, keystore.ErrNotFound):
		return false, err
	default:
		if err := tx.SetValue(ctx, unverifiedKeyKey(cid, kc.Version), nil); err != nil {
			return false, err
		}
	}
	newest := newestUsable(ctx, tx, cid, kc.Version)
	if err := tx.PutConversationKey(ctx, keystore.ConversationKey{
		ConversationID: cid, Version: kc.Version, Key: keystore.SecretKey(*kc.Key),
		Verified: usable, CreatedBy: ev.SenderID, CreatedAt: ev.CreatedAt,
	}); err != nil {
		return false, err
	}
	if len(ev.Raw) > 0 {
		if err := tx.SetValue(ctx, keyChangeIndexKey(cid, kc.Version), ev.Raw); err != nil {
			return false, err
		}
	}
	if !usable || !newest {
		return usable, nil
	}
	return true, e.recordRecipients(ctx, tx, cid, kc)
}

// newestUsable reports whether no other verified key of cid has a version
// at or above version (true when the keys cannot be read).
func newestUsable(ctx context.Context, tx keystore.Tx, cid, version string) bool {
	// The highest version held decides it without reading every key
	// (which would make a sync of many key changes quadratic), unless it
	// is above version but not verified.
	latest, err := tx.LatestConversationKey(ctx, cid)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return true
	case err == nil:
		above, verified := decimal.Less(version, latest.Version), latest.Verified
		latest.Key.Zero()
		if !above {
			return true
		}
		if verified {
			return false
		}
	}
	newest := true
	if all, err := tx.ConversationKeys(ctx, cid); err == nil {
		for i := range all {
			if all[i].Verified && !decimal.Less(all[i].Version, version) && all[i].Version != version {
				newest = false
			}
			all[i].Key.Zero()
		}
	}
	return newest
}

// recordRecipients records whom the newest usable key was (said to be)
// wrapped to.
func (e *Engine) recordRecipients(ctx context.Context, tx keystore.Tx, cid string, kc *event.KeyChange) error {
	c, err := e.conversationRecord(ctx, tx, cid)
	if err != nil {
		return err
	}
	m := loadMeta(c)
	// The participant list is not signed: it records whom the key was
	// (said to be) wrapped to, never who is a member.
	m.KeyRecipients = map[string]string{}
	for _, p := range kc.Participants {
		m.KeyRecipients[p.UserID] = p.PublicKeyVersion
	}
	c.Meta = m.encode()
	return tx.PutConversation(ctx, c)
}
