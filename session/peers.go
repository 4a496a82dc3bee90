package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
)

// PeerKey is one published version of a user's public keys as the engine
// knows it. Keys are normalised to their 91-byte SPKI encoding.
type PeerKey struct {
	UserID  string
	Version string
	// IdentityKey is the identity (ECDH) public key, SPKI.
	IdentityKey []byte
	// SigningKey is the signing (ECDSA) public key, SPKI.
	SigningKey []byte
	// Fingerprint is the XDK fingerprint of IdentityKey (unpadded
	// base64url SHA-256 of the SPKI bytes).
	Fingerprint string
	// Pinned marks the version the engine encrypts to.
	Pinned bool
	// Verified records an out-of-band verification (Engine.Verify).
	Verified  bool
	FirstSeen time.Time
	LastSeen  time.Time

	// binding is the bindingDigest of the key set as listed (zero for a
	// key set read from the store).
	binding [sha256.Size]byte
}

// Peer is everything the engine knows about one user's keys.
type Peer struct {
	UserID string
	// Current is the pinned key set (nil if none).
	Current *PeerKey
	// Pending is a newer published key set that is not pinned because the
	// trust policy is TrustStrict and it has not been verified yet.
	Pending *PeerKey
	// History lists every stored version in ascending version order.
	History []PeerKey
	// Changed reports whether the peer has unverified new keys: a pending
	// key set (TrustStrict), or current keys that replaced keys seen
	// earlier and have not been verified since.
	Changed bool
}

// changed computes Peer.Changed.
func (p *Peer) changed() bool {
	if p.Pending != nil {
		return true
	}
	if p.Current == nil || p.Current.Verified {
		return false
	}
	for _, k := range p.History {
		if k.FirstSeen.Before(p.Current.FirstSeen) {
			return true
		}
	}
	return false
}

func fromStored(k keystore.PeerKey) PeerKey {
	pk := PeerKey{
		UserID:      k.UserID,
		Version:     k.Version,
		IdentityKey: bytes.Clone(k.IdentityPublicKey),
		SigningKey:  bytes.Clone(k.SigningPublicKey),
		Pinned:      k.Pinned,
		Verified:    k.Verified,
		FirstSeen:   k.FirstSeen,
		LastSeen:    k.LastSeen,
	}
	if id, err := crypto.ParsePublicKey(k.IdentityPublicKey); err == nil {
		pk.Fingerprint = crypto.FingerprintString(id)
	}
	return pk
}

func (k *PeerKey) sameKeys(o *PeerKey) bool {
	return bytes.Equal(k.IdentityKey, o.IdentityKey) && bytes.Equal(k.SigningKey, o.SigningKey)
}

// Peer returns the stored key state of userID without contacting the
// server. A user never fetched yields a Peer with no keys.
func (e *Engine) Peer(ctx context.Context, userID string) (*Peer, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	stored, err := e.store.PeerKeys(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("session: reading peer keys: %w", err)
	}
	return buildPeer(userID, stored), nil
}

// pinnedVersion returns the version of userID's pinned keys, Peer's
// Current ("" when none), without parsing the keys.
func (e *Engine) pinnedVersion(ctx context.Context, userID string) (string, error) {
	return pinnedVersionIn(ctx, e.store, userID)
}

// pinnedVersionIn is pinnedVersion in tx.
func pinnedVersionIn(ctx context.Context, tx keystore.PeerStore, userID string) (string, error) {
	if err := checkUserID(userID); err != nil {
		return "", err
	}
	stored, err := tx.PeerKeys(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("session: reading peer keys: %w", err)
	}
	v := ""
	for _, k := range stored {
		if k.Pinned {
			v = k.Version
		}
	}
	return v, nil
}

func buildPeer(userID string, stored []keystore.PeerKey) *Peer {
	p := &Peer{UserID: userID}
	for _, s := range stored {
		p.History = append(p.History, fromStored(s))
	}
	for i := range p.History {
		if p.History[i].Pinned {
			c := p.History[i]
			p.Current = &c
		}
	}
	if p.Current != nil {
		for i := range p.History {
			k := p.History[i]
			if !k.Pinned && decimal.Less(p.Current.Version, k.Version) {
				p.Pending = &k
			}
		}
	}
	p.Changed = p.changed()
	return p
}

// RefreshPeers fetches the published keys of userIDs from the server (in
// batches of 100), checks each key set's binding signature, pins keys on
// first use and detects key changes. It returns the changes detected (also
// reported to the WithKeyChangeHandler callback). Users with no valid keys
// are reported in the error (wrapping xchat.ErrNoPeerKeys or xchat.ErrKeyBinding) after
// every other user has been processed.
func (e *Engine) RefreshPeers(ctx context.Context, userIDs ...string) ([]KeyChanged, error) {
	defer e.deliverChanges()
	return e.refreshPeers(ctx, userIDs...)
}

// refreshPeers is RefreshPeers queueing the change notifications; the
// public entry point that called it delivers them once its locks are
// released (deliverChanges).
func (e *Engine) refreshPeers(ctx context.Context, userIDs ...string) ([]KeyChanged, error) {
	srv, err := e.srv()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(userIDs))
	seen := map[string]bool{}
	for _, id := range userIDs {
		if err := checkUserID(id); err != nil {
			return nil, err
		}
		if id == e.userID || seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	var changes []KeyChanged
	var errs []error
	for start := 0; start < len(ids); start += 100 {
		batch := ids[start:min(start+100, len(ids))]
		byUser, err := e.publishedKeys(ctx, srv, batch)
		if err != nil {
			return changes, fmt.Errorf("session: fetching public keys: %w", err)
		}
		ch, berrs := e.pinPeers(ctx, batch, byUser)
		changes = append(changes, ch...)
		errs = append(errs, berrs...)
	}
	e.queueChanges(changes)
	return changes, errors.Join(errs...)
}

// parsePublished validates one published key set and normalises it. The
// binding signature is not checked again when known holds the digest of
// exactly these bytes (see bindingDigest); otherwise it is checked against
// memo (nil: always checked).
func parsePublished(uid string, k api.PublicKey, memo *crypto.VerifyMemo, known verifiedBindings) (*PeerKey, error) {
	if !decimal.Valid(k.PublicKeyVersion) {
		return nil, fmt.Errorf("%w: user %s: key version %q is not a decimal", xchat.ErrNoPeerKeys, uid, k.PublicKeyVersion)
	}
	idRaw, err1 := decodeB64(k.PublicKey)
	sgRaw, err2 := decodeB64(k.SigningPublicKey)
	sig, err3 := decodeB64(k.IdentityPublicKeySignature)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("%w: user %s version %s: %w", xchat.ErrNoPeerKeys, uid, k.PublicKeyVersion, err)
	}
	id, err := crypto.ParsePublicKey(idRaw)
	if err != nil {
		return nil, fmt.Errorf("%w: user %s version %s: identity key: %w", xchat.ErrNoPeerKeys, uid, k.PublicKeyVersion, err)
	}
	sg, err := crypto.ParsePublicKey(sgRaw)
	if err != nil {
		return nil, fmt.Errorf("%w: user %s version %s: signing key: %w", xchat.ErrNoPeerKeys, uid, k.PublicKeyVersion, err)
	}
	d := bindingDigest(k.PublicKeyVersion, idRaw, sgRaw, sig)
	if !known.has(uid, k.PublicKeyVersion, d) {
		if err := crypto.VerifyKeyBindingMemo(idRaw, sg, sig, memo); err != nil {
			return nil, fmt.Errorf("%w: user %s version %s: %w", xchat.ErrKeyBinding, uid, k.PublicKeyVersion, err)
		}
	}
	return &PeerKey{
		UserID:      uid,
		Version:     k.PublicKeyVersion,
		IdentityKey: id.SPKI(),
		SigningKey:  sg.SPKI(),
		Fingerprint: crypto.FingerprintString(id),
		binding:     d,
	}, nil
}

// Verify records that the user compared number, the SafetyNumber shown for
// userID, out of band and found it matching: it pins and marks verified
// userID's newest stored key set (which under TrustStrict unblocks
// encryption to a peer whose keys changed) only when number is that key
// set's SafetyNumber (spaces are ignored). If the keys changed since the
// number was shown (the server published others while the user compared),
// nothing is marked and it fails with xchat.ErrKeyChanged: show the new
// SafetyNumber and compare again. A number that is not 60 digits fails with
// xchat.ErrInvalidArgument. Keys are fetched first if none are stored.
func (e *Engine) Verify(ctx context.Context, userID, number string) error {
	want := strings.ReplaceAll(number, " ", "")
	if len(want) != 60 || strings.Trim(want, "0123456789") != "" {
		return fmt.Errorf("%w: a safety number is 60 digits", xchat.ErrInvalidArgument)
	}
	if userID == e.userID {
		return fmt.Errorf("%w: safety number with oneself", xchat.ErrInvalidArgument)
	}
	kp, _, err := e.identity()
	if err != nil {
		return err
	}
	return e.verify(ctx, userID, func(target *PeerKey) error {
		got := strings.ReplaceAll(safetyNumber(e.userID, kp, userID, target), " ", "")
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return fmt.Errorf("%w: the keys of %s (version %s) are not the ones the safety number was shown for; compare the new safety number", xchat.ErrKeyChanged, userID, target.Version)
		}
		return nil
	})
}

// verify marks userID's newest stored key set pinned and verified, after
// check accepts it. The key set is read under the pinning
// lock, so a refresh cannot slip another one in between.
func (e *Engine) verify(ctx context.Context, userID string, check func(target *PeerKey) error) error {
	defer e.deliverChanges()
	if _, err := e.ensurePeer(ctx, userID); err != nil {
		return err
	}
	e.peerMu.Lock()
	defer e.peerMu.Unlock()
	peer, err := e.Peer(ctx, userID)
	if err != nil {
		return err
	}
	target := peer.Current
	if peer.Pending != nil {
		target = peer.Pending
	}
	if target == nil {
		return fmt.Errorf("%w: user %s", xchat.ErrNoPeerKeys, userID)
	}
	if err := check(target); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx keystore.Tx) error {
		for _, k := range peer.History {
			pinned := k.Version == target.Version
			if k.Pinned == pinned && (!pinned || k.Verified) {
				continue
			}
			if err := tx.PutPeerKey(ctx, keystore.PeerKey{
				UserID: userID, Version: k.Version,
				IdentityPublicKey: k.IdentityKey, SigningPublicKey: k.SigningKey,
				FirstSeen: k.FirstSeen, LastSeen: k.LastSeen,
				Pinned: pinned, Verified: pinned || k.Verified,
			}); err != nil {
				return fmt.Errorf("session: verifying %s: %w", userID, err)
			}
		}
		return nil
	})
}

// ensurePeer returns the stored peer, fetching its keys first when none are
// stored.
func (e *Engine) ensurePeer(ctx context.Context, userID string) (*Peer, error) {
	peer, err := e.Peer(ctx, userID)
	if err != nil {
		return nil, err
	}
	if peer.Current != nil {
		return peer, nil
	}
	if _, err := e.refreshPeers(ctx, userID); err != nil {
		return nil, err
	}
	peer, err = e.Peer(ctx, userID)
	if err != nil {
		return nil, err
	}
	if peer.Current == nil {
		return nil, fmt.Errorf("%w: user %s", xchat.ErrNoPeerKeys, userID)
	}
	return peer, nil
}

// recipient is one participant a conversation key is wrapped to.
type recipient struct {
	userID   string
	version  string
	identity *crypto.PublicKey
}

// wrapTarget returns the key to wrap a conversation key to for userID under
// the trust policy: the pinned identity key, refusing under TrustStrict a
// peer with unverified or changed keys. The account's own identity is used
// for e.userID.
func (e *Engine) wrapTarget(ctx context.Context, userID string) (recipient, error) {
	if userID == e.userID {
		kp, v, err := e.registered()
		if err != nil {
			return recipient{}, err
		}
		return recipient{userID: userID, version: v, identity: kp.Identity.PublicKey()}, nil
	}
	peer, err := e.ensurePeer(ctx, userID)
	if err != nil {
		return recipient{}, err
	}
	if e.cfg.policy.strict() {
		if peer.Pending != nil {
			return recipient{}, fmt.Errorf("%w: user %s published version %s; verify it first", xchat.ErrKeyChanged, userID, peer.Pending.Version)
		}
		if !peer.Current.Verified {
			return recipient{}, fmt.Errorf("%w: user %s", xchat.ErrUnverifiedPeer, userID)
		}
	}
	id, err := crypto.ParsePublicKey(peer.Current.IdentityKey)
	if err != nil {
		return recipient{}, fmt.Errorf("session: stored key of %s: %w", userID, err)
	}
	return recipient{userID: userID, version: peer.Current.Version, identity: id}, nil
}

// safetyNumberIterations is the number of SHA-512 iterations per party.
const safetyNumberIterations = 5200

// SafetyNumber returns a 60-digit number, shown as twelve groups of five
// digits, that both parties of a conversation compute identically when each
// holds the other's authentic keys; comparing it out of band authenticates
// the keys (then call Verify).
//
// Construction (inspired by Signal's numeric fingerprints): for each party P
// with user id U, identity key SPKI I and signing key SPKI S,
//
//	h0 = SHA-512("XChat-SafetyNumber-v1" ‖ len(U) as uint16 big-endian ‖ U ‖ I ‖ S)
//	h(i+1) = SHA-512(h(i) ‖ I ‖ S), 5200 iterations in total
//
// and the first 30 bytes of the final hash, read as six 40-bit big-endian
// integers each reduced modulo 100000, give P's 30 digits. The two 30-digit
// halves are concatenated with the numerically smaller user id first, so the
// result does not depend on who computes it. The number covers the peer's
// newest stored keys (the pending ones under TrustStrict).
func (e *Engine) SafetyNumber(ctx context.Context, userID string) (string, error) {
	defer e.deliverChanges()
	if userID == e.userID {
		return "", fmt.Errorf("%w: safety number with oneself", xchat.ErrInvalidArgument)
	}
	kp, _, err := e.identity()
	if err != nil {
		return "", err
	}
	peer, err := e.ensurePeer(ctx, userID)
	if err != nil {
		return "", err
	}
	target := peer.Current
	if peer.Pending != nil {
		target = peer.Pending
	}
	return safetyNumber(e.userID, kp, userID, target), nil
}

// safetyNumber is the safety number of self (keys kp) and userID (keys
// target), in SafetyNumber's form.
func safetyNumber(self string, kp *crypto.KeyPair, userID string, target *PeerKey) string {
	mine := safetyHalf(self, kp.Identity.PublicKey().SPKI(), kp.Signing.PublicKey().SPKI())
	theirs := safetyHalf(userID, target.IdentityKey, target.SigningKey)
	digits := mine + theirs
	if decimal.Less(userID, self) {
		digits = theirs + mine
	}
	var b strings.Builder
	for i := 0; i < len(digits); i += 5 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(digits[i : i+5])
	}
	return b.String()
}

func safetyHalf(userID string, identitySPKI, signingSPKI []byte) string {
	h := sha512.New()
	h.Write([]byte("XChat-SafetyNumber-v1"))
	var l [2]byte
	binary.BigEndian.PutUint16(l[:], uint16(len(userID)))
	h.Write(l[:])
	h.Write([]byte(userID))
	h.Write(identitySPKI)
	h.Write(signingSPKI)
	sum := h.Sum(nil)
	for i := 1; i < safetyNumberIterations; i++ {
		h.Reset()
		h.Write(sum)
		h.Write(identitySPKI)
		h.Write(signingSPKI)
		sum = h.Sum(sum[:0])
	}
	var b strings.Builder
	for i := 0; i < 6; i++ {
		c := sum[i*5 : i*5+5]
		v := uint64(c[0])<<32 | uint64(c[1])<<24 | uint64(c[2])<<16 | uint64(c[3])<<8 | uint64(c[4])
		fmt.Fprintf(&b, "%05d", v%100000)
	}
	return b.String()
}

// decodeB64 accepts standard base64 with or without padding.
func decodeB64(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty base64 field", xchat.ErrInvalidArgument)
	}
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.Strict().DecodeString(s)
	}
	return base64.RawStdEncoding.Strict().DecodeString(s)
}

// deliverChanges hands queued key change notifications to the
// WithKeyChangeHandler callback. Public entry points defer it before taking
// any lock, so the callback runs without engine locks held and may call
// back into the engine.
func (e *Engine) deliverChanges() {
	if e.cfg.onChange == nil {
		return
	}
	e.notifyMu.Lock()
	queued := e.pending
	e.pending = nil
	e.notifyMu.Unlock()
	for _, c := range queued {
		e.cfg.onChange(c)
	}
}
