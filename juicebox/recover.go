package juicebox

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/xchat-go/xchat/juicebox/oprf"
	"github.com/xchat-go/xchat/juicebox/proto"
	"github.com/xchat-go/xchat/juicebox/shamir"
)

// Recover retrieves the secret protected by pin. A wrong PIN fails with
// *InvalidPinError (and uses up one guess on every realm asked); a locked
// secret with an error matching ErrNoGuesses; no registration with
// ErrNotRegistered, after trying the previous configurations, newest first.
//
// Phase 1 finds RecoverThreshold realms agreeing on one registration
// version; phase 2 runs the threshold OPRF on them, checking every realm's
// signed public key and DLEQ proof and the unlock key commitment; phase 3
// proves the PIN with per-realm tags and rebuilds the encryption key from
// the shares whose commitments verify.
func (c *Client) Recover(ctx context.Context, pin, info []byte) ([]byte, error) {
	cfgs := append([]*Configuration{c.cfg}, c.opts.previous...)
	var err error
	for _, cfg := range cfgs {
		var secret []byte
		secret, err = c.recoverWith(ctx, cfg, pin, info)
		if err == nil {
			return secret, nil
		}
		if !errors.Is(err, ErrNotRegistered) {
			break
		}
	}
	return nil, fmt.Errorf("juicebox: recover: %w", err)
}

func (c *Client) recoverWith(ctx context.Context, cfg *Configuration, pin, info []byte) ([]byte, error) {
	version, realms, err := c.recover1(ctx, cfg)
	if err != nil {
		return nil, err
	}
	accessKey, encSeed := stretchPIN(cfg.PinHashingMode, pin, version, info)
	defer clear(accessKey[:])
	defer clear(encSeed[:])
	unlockKey, err := c.recover2(ctx, cfg, realms, version, accessKey)
	if err != nil {
		return nil, err
	}
	defer clear(unlockKey[:])
	return c.recover3(ctx, cfg, realms, version, unlockKey, encSeed)
}

// recover1 asks every realm for its registration version and returns the
// version at least RecoverThreshold realms agree on, with those realms.
// (With a majority threshold at most one version can qualify.) When none
// does, the secret is reported not registered only if the realms that
// failed to answer could not have made up the difference; otherwise their
// failure (an outage) is the error, not a verdict on the backup.
func (c *Client) recover1(ctx context.Context, cfg *Configuration) (proto.Version, []*Realm, error) {
	var mu sync.Mutex
	var failed []error
	results, err := joinThreshold(ctx, realmPtrs(cfg), cfg.RecoverThreshold, func(ctx context.Context, r *Realm) (proto.Version, error) {
		v, err := c.recover1On(ctx, r)
		if err != nil && !verdict(err) {
			mu.Lock()
			failed = append(failed, err)
			mu.Unlock()
		}
		return v, err
	})
	if err != nil {
		return proto.Version{}, nil, err
	}
	byVersion := map[proto.Version][]*Realm{}
	most := 0
	for _, res := range results {
		byVersion[res.val] = append(byVersion[res.val], res.realm)
		most = max(most, len(byVersion[res.val]))
	}
	for v, rs := range byVersion {
		if len(rs) >= cfg.RecoverThreshold {
			return v, rs, nil
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if most+len(failed) >= cfg.RecoverThreshold {
		return proto.Version{}, nil, minError(failed)
	}
	return proto.Version{}, nil, fmt.Errorf("%w: no %d realms agree on a registration", ErrNotRegistered, cfg.RecoverThreshold)
}

// recover1On asks one realm for its registration version.
func (c *Client) recover1On(ctx context.Context, r *Realm) (proto.Version, error) {
	resp, err := c.request(ctx, r, &proto.SecretsRequest{Kind: proto.Recover1})
	if err != nil {
		return proto.Version{}, err
	}
	switch resp.Status {
	case proto.StatusOK:
		return resp.Version, nil
	case proto.StatusNotRegistered:
		return proto.Version{}, realmErr(r.ID, ErrNotRegistered, "not registered")
	case proto.StatusNoGuesses:
		return proto.Version{}, realmErr(r.ID, &InvalidPinError{GuessesRemaining: 0}, "no guesses remain")
	}
	return proto.Version{}, realmErr(r.ID, ErrAssertion, "Recover1 answered %v", resp.Status)
}

// evaluation is one realm's verified phase-2 answer.
type evaluation struct {
	share        shamir.PointShare
	commitment   [32]byte
	verifyingKey [32]byte
	remaining    uint16
}

// recover2 runs the threshold OPRF on realms and returns the unlock key,
// or *InvalidPinError when the PIN is wrong.
func (c *Client) recover2(ctx context.Context, cfg *Configuration, realms []*Realm, version proto.Version, accessKey [32]byte) ([32]byte, error) {
	var unlockKey [32]byte
	blind, blindedInput, err := oprf.Blind(accessKey[:], c.rand)
	if err != nil {
		return unlockKey, err
	}
	defer blind.SetZero()
	results, err := joinThreshold(ctx, realms, cfg.RecoverThreshold, func(ctx context.Context, r *Realm) (*evaluation, error) {
		return c.recover2On(ctx, cfg, r, version, blindedInput)
	})
	if err != nil {
		return unlockKey, err
	}
	// Group by (commitment, verifying key): at most one group reaches the
	// threshold.
	type groupKey struct{ commitment, verifyingKey [32]byte }
	groups := map[groupKey][]*evaluation{}
	for _, res := range results {
		k := groupKey{res.val.commitment, res.val.verifyingKey}
		groups[k] = append(groups[k], res.val)
	}
	var group []*evaluation
	var commitment [32]byte
	for k, g := range groups {
		if len(g) >= cfg.RecoverThreshold {
			group, commitment = g, k.commitment
		}
	}
	if group == nil {
		return unlockKey, fmt.Errorf("%w: no %d realms agree on the unlock key commitment and signing key", ErrAssertion, cfg.RecoverThreshold)
	}
	shares := make([]shamir.PointShare, len(group))
	for i, e := range group {
		shares[i] = e.share
	}
	blindedResult, err := shamir.CombinePoints(shares)
	if err != nil {
		return unlockKey, fmt.Errorf("%w: %v", ErrAssertion, err)
	}
	out := oprf.Finalize(accessKey[:], blind, blindedResult)
	defer clear(out[:])
	unlockKey, ours := unlockKeyAndCommitment(out)
	if subtle.ConstantTimeCompare(ours[:], commitment[:]) != 1 {
		clear(unlockKey[:])
		return unlockKey, &InvalidPinError{GuessesRemaining: guessesRemaining(group, cfg.RecoverThreshold, len(cfg.Realms))}
	}
	return unlockKey, nil
}

// guessesRemaining is how many more wrong PINs the agreeing group allows
// before fewer than threshold of its realms have a guess left: the
// threshold-th largest count. Each count is one realm's unsigned claim; the
// SDK shows the smallest, which any single realm could set to zero and make
// a recoverable backup read as locked. Lowering this one takes all but
// threshold-1 of the group, raising it threshold of them. A group of just
// threshold realms (another realm down) would still let one of them claim
// zero: a zero claimed by no more than n-threshold realms, too few to rule
// recovery out, gives way to the smallest count the others claim.
func guessesRemaining(group []*evaluation, threshold, n int) uint16 {
	counts := make([]uint16, len(group))
	zeros := 0
	for i, e := range group {
		counts[i] = e.remaining
		if e.remaining == 0 {
			zeros++
		}
	}
	slices.Sort(counts)
	got := counts[len(counts)-threshold]
	if got == 0 && zeros <= n-threshold && zeros < len(counts) {
		return counts[zeros]
	}
	return got
}

// recover2On asks one realm to evaluate the OPRF and checks its answer:
// the signature over its public key share (bound to its realm id) and the
// DLEQ proof that it used that key.
func (c *Client) recover2On(ctx context.Context, cfg *Configuration, r *Realm, version proto.Version, blindedInput [32]byte) (*evaluation, error) {
	resp, err := c.request(ctx, r, &proto.SecretsRequest{Kind: proto.Recover2, Recover2: &proto.Recover2Request{Version: version, OprfBlindedInput: blindedInput}})
	if err != nil {
		return nil, err
	}
	switch resp.Status {
	case proto.StatusOK:
	case proto.StatusNotRegistered:
		// Its Recover1 named the version: denying the registration now
		// is no verdict on the backup (the realms that agreed on it may
		// be just the threshold, and the denial would decide).
		return nil, realmErr(r.ID, ErrAssertion, "Recover2 answered NotRegistered for the version its Recover1 named")
	case proto.StatusNoGuesses:
		// Nor is "locked": a locked registration answers Recover1 so,
		// and this realm named the version there instead.
		return nil, realmErr(r.ID, ErrAssertion, "Recover2 answered NoGuesses for the registration its Recover1 named")
	default:
		return nil, realmErr(r.ID, ErrAssertion, "Recover2 answered %v", resp.Status)
	}
	ok := resp.Recover2
	if ok.GuessCount > ok.NumGuesses {
		return nil, realmErr(r.ID, ErrAssertion, "guess count %d above the limit %d", ok.GuessCount, ok.NumGuesses)
	}
	if err := verifySignedKey(r.ID, &ok.OprfSignedPublicKey); err != nil {
		return nil, realmErr(r.ID, ErrAssertion, "%v", err)
	}
	if err := oprf.VerifyProof(blindedInput, ok.OprfSignedPublicKey.PublicKey, ok.OprfBlindedResult, ok.OprfProof); err != nil {
		return nil, realmErr(r.ID, ErrAssertion, "%v", err)
	}
	point, err := oprf.DecodePoint(ok.OprfBlindedResult[:])
	if err != nil {
		return nil, realmErr(r.ID, ErrAssertion, "%v", err)
	}
	idx := cfg.shareIndex(r.ID)
	if idx == 0 {
		return nil, realmErr(r.ID, ErrAssertion, "realm is not configured")
	}
	return &evaluation{
		share:        shamir.PointShare{Index: idx, Secret: *point},
		commitment:   ok.UnlockKeyCommitment,
		verifyingKey: ok.OprfSignedPublicKey.VerifyingKey,
		remaining:    ok.NumGuesses - ok.GuessCount,
	}, nil
}

// secretShare is one realm's verified phase-3 answer.
type secretShare struct {
	share     shamir.ScalarShare
	encrypted [proto.EncryptedSecretSize]byte
}

// recover3 proves the PIN to each realm, keeps the shares whose
// commitments verify and decrypts the secret agreed on by a threshold.
func (c *Client) recover3(ctx context.Context, cfg *Configuration, realms []*Realm, version proto.Version, unlockKey, encSeed [32]byte) ([]byte, error) {
	results, err := joinThreshold(ctx, realms, cfg.RecoverThreshold, func(ctx context.Context, r *Realm) (*secretShare, error) {
		return c.recover3On(ctx, cfg, r, version, unlockKey)
	})
	if err != nil {
		return nil, err
	}
	byCiphertext := map[[proto.EncryptedSecretSize]byte][]shamir.ScalarShare{}
	for _, res := range results {
		if res.val == nil {
			continue // a realm whose commitment did not verify
		}
		byCiphertext[res.val.encrypted] = append(byCiphertext[res.val.encrypted], res.val.share)
	}
	for enc, shares := range byCiphertext {
		if len(shares) < cfg.RecoverThreshold {
			continue
		}
		scalar, err := shamir.CombineScalars(shares)
		zeroShares(shares)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrAssertion, err)
		}
		key := encryptionKey(encSeed, oprf.EncodeScalar(scalar))
		zeroScalar(scalar)
		secret, err := decryptSecret(key, &enc)
		clear(key[:])
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrAssertion, err)
		}
		return secret, nil
	}
	return nil, fmt.Errorf("%w: no %d realms returned verifiable shares of one secret", ErrAssertion, cfg.RecoverThreshold)
}

// recover3On sends one realm its unlock key tag. A share whose commitment
// does not verify is dropped (nil) rather than failing the step: enough
// honest realms may remain.
func (c *Client) recover3On(ctx context.Context, cfg *Configuration, r *Realm, version proto.Version, unlockKey [32]byte) (*secretShare, error) {
	req := &proto.Recover3Request{Version: version, UnlockKeyTag: unlockKeyTag(unlockKey, r.ID)}
	resp, err := c.request(ctx, r, &proto.SecretsRequest{Kind: proto.Recover3, Recover3: req})
	if err != nil {
		return nil, err
	}
	switch resp.Status {
	case proto.StatusOK:
	case proto.StatusNotRegistered:
		return nil, realmErr(r.ID, ErrAssertion, "Recover3 answered NotRegistered for the version its Recover1 named")
	case proto.StatusNoGuesses, proto.StatusBadUnlockKeyTag:
		// Phase 2 proved the PIN: the realms' combined OPRF answer matched
		// the unlock key commitment they stored. A realm that now calls the
		// PIN wrong (or the secret locked) lies or lost the registration;
		// reporting a wrong PIN would send the user guessing other PINs,
		// each costing a guess on every realm.
		return nil, realmErr(r.ID, ErrAssertion, "Recover3 answered %v for the PIN phase 2 proved", resp.Status)
	default:
		return nil, realmErr(r.ID, ErrAssertion, "Recover3 answered %v", resp.Status)
	}
	ok := resp.Recover3
	want := secretCommitment(unlockKey, r.ID, ok.EncryptionKeyScalarShare, &ok.EncryptedSecret)
	if subtle.ConstantTimeCompare(want[:], ok.EncryptedSecretCommitment[:]) != 1 {
		return nil, nil
	}
	s, err := oprf.DecodeScalar(ok.EncryptionKeyScalarShare[:])
	if err != nil {
		return nil, realmErr(r.ID, ErrAssertion, "%v", err)
	}
	defer s.SetZero()
	share := shamir.ScalarShare{Index: cfg.shareIndex(r.ID)}
	share.Secret.Set(s)
	return &secretShare{share: share, encrypted: ok.EncryptedSecret}, nil
}
