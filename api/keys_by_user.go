package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xchat-go/xchat/internal/b64"
)

// ErrKeyAttribution is matched (errors.Is) when a key answer would give one
// identity key to two different users, or names a user that was not asked
// for. GetPublicKeysByUser refuses such answers instead of guessing.
var ErrKeyAttribution = errors.New("api: public keys cannot be attributed to users")

// KnownKey is a key set the caller already attributed to UserID from an
// earlier answer (for the engine: its pinned key history). Keys are the
// decoded bytes of public_key and signing_public_key.
type KnownKey struct {
	UserID           string
	Version          string
	PublicKey        []byte
	SigningPublicKey []byte
}

// UserKeys is the answer of GetPublicKeysByUser.
type UserKeys struct {
	// Keys holds each requested user's keys; users without keys are absent.
	Keys map[string][]PublicKey
	// Problems are the batch answer's "errors" (for example unknown users).
	Problems []Problem
	// Calls is the number of API calls made.
	Calls int
}

// attributionFields are the public_key.fields matching needs.
var attributionFields = []string{"public_key", "public_key_version", "signing_public_key"}

// GetPublicKeysByUser fetches the public keys of userIDs and attributes
// every key to exactly one user, in as few calls as it soundly can.
//
// The specification's PublicKey has no user_id, so a batch answer
// (getUsersPublicKeys) does not say whose keys are whose, and its order is
// not a promise. Attribution therefore never comes from order:
//   - one user: one per-user call (getUsersPublicKey), attributed by its URL;
//   - a batch answer whose keys all carry user_id (a server extension) is
//     attributed by it, after checking every id was asked for;
//   - otherwise each batch key is matched, by version and key bytes, to the
//     known key sets of the requested users (the caller's own earlier
//     attributions); a key matching no known set, or the sets of two users,
//     is unmatched. With nothing unmatched the batch alone answers (one
//     call: the usual refresh). Otherwise the users with no known keys are
//     fetched one by one and must account exactly for the unmatched keys;
//     if they do not (someone rotated), every user is fetched one by one and
//     the batch is discarded.
//
// Whatever the path, an answer giving one identity key to two users fails
// with ErrKeyAttribution. fields is extended with what matching needs.
func (c *Client) GetPublicKeysByUser(ctx context.Context, userIDs []string, fields []string, known []KnownKey) (*UserKeys, error) {
	ids := dedupe(userIDs)
	if len(ids) == 0 || len(ids) > PublicKeysMaxIDs {
		return nil, invalid("ids", "", "need between 1 and 100 user ids")
	}
	if err := checkUserIDs("user id", ids); err != nil {
		return nil, err
	}
	fields = withFields(fields, attributionFields)
	out := &UserKeys{Keys: map[string][]PublicKey{}}
	knownBy := map[string][]KnownKey{}
	for _, k := range known {
		if slices.Contains(ids, k.UserID) {
			knownBy[k.UserID] = append(knownBy[k.UserID], k)
		}
	}
	if len(ids) == 1 || (len(knownBy) == 0 && !c.keysLabelled.Load()) {
		// Nothing to match a batch against: per-user calls cost less.
		if err := c.fetchEach(ctx, ids, fields, out); err != nil {
			return nil, err
		}
		return out, checkAttribution(out.Keys)
	}
	resp, _, err := c.GetUsersPublicKeys(ctx, ids, fields)
	out.Calls++
	var pe *PartialError
	if err != nil && !(errors.As(err, &pe) && resp != nil) {
		return nil, err
	}
	out.Problems = resp.Errors
	if labelled(resp.Data) {
		c.keysLabelled.Store(true)
		if err := attributeLabelled(ids, resp.Data, out); err != nil {
			return nil, err
		}
		return out, checkAttribution(out.Keys)
	}
	unmatched := matchKnown(resp.Data, knownBy, out)
	if len(unmatched) == 0 {
		return out, checkAttribution(out.Keys)
	}
	if err := c.reconcile(ctx, ids, fields, knownBy, unmatched, out); err != nil {
		return nil, err
	}
	return out, checkAttribution(out.Keys)
}

// reconcile accounts for unmatched batch keys with per-user calls.
func (c *Client) reconcile(ctx context.Context, ids, fields []string, knownBy map[string][]KnownKey, unmatched []PublicKey, out *UserKeys) error {
	var fresh []string
	for _, id := range ids {
		if len(knownBy[id]) == 0 {
			fresh = append(fresh, id)
		}
	}
	if err := c.fetchEach(ctx, fresh, fields, out); err != nil {
		return err
	}
	var got []PublicKey
	for _, id := range fresh {
		got = append(got, out.Keys[id]...)
	}
	if sameKeyMultiset(unmatched, got) {
		return nil
	}
	// A known user published something new: ask everyone individually.
	var rest []string
	for _, id := range ids {
		if len(knownBy[id]) > 0 {
			delete(out.Keys, id)
			rest = append(rest, id)
		}
	}
	return c.fetchEach(ctx, rest, fields, out)
}

// fetchEach attributes keys by per-user calls; a user the server does not
// know simply has no keys.
func (c *Client) fetchEach(ctx context.Context, ids, fields []string, out *UserKeys) error {
	for _, id := range ids {
		resp, _, err := c.GetUserPublicKeys(ctx, id, fields)
		out.Calls++
		var pe *PartialError
		switch {
		case err == nil, errors.As(err, &pe) && resp != nil:
		case errors.Is(err, ErrNotFound):
			continue
		default:
			return err
		}
		if len(resp.Data) > 0 {
			keys := slices.Clone(resp.Data)
			for i := range keys {
				keys[i].UserID = id
			}
			out.Keys[id] = keys
		}
	}
	return nil
}

func labelled(keys []PublicKey) bool {
	if len(keys) == 0 {
		return false
	}
	for _, k := range keys {
		if k.UserID == "" {
			return false
		}
	}
	return true
}

func attributeLabelled(ids []string, keys []PublicKey, out *UserKeys) error {
	for _, k := range keys {
		if !slices.Contains(ids, k.UserID) {
			return fmt.Errorf("%w: the answer names user %s, who was not asked for", ErrKeyAttribution, truncate(k.UserID, 32))
		}
		out.Keys[k.UserID] = append(out.Keys[k.UserID], k)
	}
	return nil
}

// matchKnown attributes each batch key to the one requested user whose
// known key set it equals; it returns the keys it could not attribute. A
// known set is used at most once, so a key repeated in the answer is
// unmatched the second time.
func matchKnown(keys []PublicKey, knownBy map[string][]KnownKey, out *UserKeys) []PublicKey {
	used := map[string]bool{}
	var unmatched []PublicKey
	for _, k := range keys {
		owner, slot := "", ""
		ambiguous := false
		for uid, ks := range knownBy {
			for i, kk := range ks {
				s := uid + "#" + fmt.Sprint(i)
				if used[s] || !sameKey(k, kk) {
					continue
				}
				if owner != "" && owner != uid {
					ambiguous = true
				}
				owner, slot = uid, s
			}
		}
		if owner == "" || ambiguous {
			unmatched = append(unmatched, k)
			continue
		}
		used[slot] = true
		k.UserID = owner
		out.Keys[owner] = append(out.Keys[owner], k)
	}
	return unmatched
}

// keyID is the identity of a published key set: version and key bytes.
func keyID(k PublicKey) (string, bool) {
	pk, ok1 := b64.DecodeAny(k.PublicKey)
	sk, ok2 := b64.DecodeAny(k.SigningPublicKey)
	if !ok1 || !ok2 || k.PublicKeyVersion == "" {
		return "", false
	}
	return k.PublicKeyVersion + "|" + base64.StdEncoding.EncodeToString(pk) + "|" + base64.StdEncoding.EncodeToString(sk), true
}

func sameKey(k PublicKey, kk KnownKey) bool {
	pk, ok1 := b64.DecodeAny(k.PublicKey)
	sk, ok2 := b64.DecodeAny(k.SigningPublicKey)
	return ok1 && ok2 && k.PublicKeyVersion == kk.Version && bytes.Equal(pk, kk.PublicKey) && bytes.Equal(sk, kk.SigningPublicKey)
}

func sameKeyMultiset(a, b []PublicKey) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, k := range a {
		id, ok := keyID(k)
		if !ok {
			return false
		}
		count[id]++
	}
	for _, k := range b {
		id, ok := keyID(k)
		if !ok || count[id] == 0 {
			return false
		}
		count[id]--
	}
	return true
}

// checkAttribution refuses a result giving one identity key to two users.
func checkAttribution(keys map[string][]PublicKey) error {
	owner := map[string]string{}
	for uid, ks := range keys {
		for _, k := range ks {
			pk, ok := b64.DecodeAny(k.PublicKey)
			if !ok {
				continue // the caller rejects undecodable keys itself
			}
			id := string(pk)
			if o, dup := owner[id]; dup && o != uid {
				a, b := min(o, uid), max(o, uid)
				return fmt.Errorf("%w: users %s and %s were given the same identity key", ErrKeyAttribution, a, b)
			}
			owner[id] = uid
		}
	}
	return nil
}

func withFields(fields, need []string) []string {
	if len(fields) == 0 {
		return nil // all fields
	}
	out := slices.Clone(fields)
	for _, f := range need {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, strings.Compare)
	return out
}
