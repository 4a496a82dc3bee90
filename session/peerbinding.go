package session

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/xchat-go/xchat/keystore"
)

// A peer's key sets are listed again at every sync of a conversation with
// them and every rotation of a group, almost always unchanged. Checking a
// key set's binding signature (ECDSA) again gives the same answer for the
// same bytes, so the store records, for each stored version of a peer's
// keys, the digest of the exact published bytes whose binding verified
// (bindingDigest: version, identity key, signing key and signature as
// listed). A key set listed again with the digest of its version is not
// verified again, by this engine or by one opened later on the same store;
// a set that differs in any byte (another signature, even a valid twin;
// another encoding of the same key) is verified in full. The digest is
// written only by this engine, after a verification, in the sealed store,
// next to the pinned keys it vouches for: the server chooses the bytes it
// lists, never the digest they are compared with.

// bindingDigest is the SHA-256 of a published key set as listed: the
// version and the decoded identity key, signing key and binding signature,
// each length-prefixed.
func bindingDigest(version string, identity, signing, sig []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte("xchat-go peer key binding v1\x00"))
	var n [4]byte
	for _, b := range [][]byte{[]byte(version), identity, signing, sig} {
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// bindingKey names the stored digest of userID's key set version.
func bindingKey(userID, version string) string {
	return "session/binding/" + userID + "/" + version
}

// verifiedBindings are the stored binding digests of some users' listed
// versions, by user and version.
type verifiedBindings map[string]map[string][]byte

// has reports, in constant time over the digest, whether d is the stored
// digest of uid's version.
func (v verifiedBindings) has(uid, version string, d [sha256.Size]byte) bool {
	stored := v[uid][version]
	return len(stored) == sha256.Size && subtle.ConstantTimeCompare(stored, d[:]) == 1
}

// storedBindings reads the stored binding digests of the versions listed
// in byUser for uids.
func (e *Engine) storedBindings(ctx context.Context, uids []string, listed func(uid string) []string) (verifiedBindings, error) {
	out := verifiedBindings{}
	err := e.store.View(ctx, func(tx keystore.Tx) error {
		for _, uid := range uids {
			for _, v := range listed(uid) {
				d, err := tx.Value(ctx, bindingKey(uid, v))
				if errors.Is(err, keystore.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if out[uid] == nil {
					out[uid] = map[string][]byte{}
				}
				out[uid][v] = d
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("session: reading peer key bindings: %w", err)
	}
	return out, nil
}

// recordBindings stores, in tx, the binding digests of the valid key sets
// of p's user that are now stored under their version (known before or
// stored by p), where the digest stored differs.
func (p *pinning) recordBindings(valid []*PeerKey, stored verifiedBindings) error {
	for _, k := range valid {
		if !p.kept[k.Version] || stored.has(p.uid, k.Version, k.binding) {
			continue
		}
		if err := p.tx.SetValue(p.ctx, bindingKey(p.uid, k.Version), k.binding[:]); err != nil {
			return fmt.Errorf("session: recording the key binding of %s version %s: %w", p.uid, k.Version, err)
		}
		p.wrote = true
	}
	return nil
}
