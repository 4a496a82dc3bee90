package juicebox

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"

	"github.com/bwesterb/go-ristretto"

	"github.com/xchat-go/xchat/juicebox/oprf"
	"github.com/xchat-go/xchat/juicebox/proto"
	"github.com/xchat-go/xchat/juicebox/shamir"
)

// Register stores secret (at most MaxSecretSize bytes) protected by pin on
// the realms, replacing any earlier registration; recovery will allow
// numGuesses wrong PINs. info is mixed into the PIN's salt and must be the
// same at recovery (X uses empty info).
//
// Phase 1 checks that every realm answers; phase 2 sends each realm its
// shares. It succeeds only when every realm accepted, whatever
// RegisterThreshold says (the SDK settles for RegisterThreshold): a realm
// that did not take the registration keeps the previous one, and a realm
// may claim to store what it drops. With the threshold's missing realms
// plus up to RecoverThreshold-1 lying ones, the previous registration
// could still be on RecoverThreshold realms: recoverable with the old PIN
// (or the old keys), the new one perhaps not at all, though Register said
// it succeeded. Only acceptance by every realm rules that out; the
// server chooses RegisterThreshold in X's juicebox_config.
func (c *Client) Register(ctx context.Context, pin, secret, info []byte, numGuesses uint16) error {
	if len(secret) > MaxSecretSize {
		return fmt.Errorf("juicebox: register: secret is %d bytes (at most %d)", len(secret), MaxSecretSize)
	}
	if numGuesses == 0 {
		return fmt.Errorf("juicebox: register: the guess limit must be at least 1")
	}
	realms := realmPtrs(c.cfg)
	all := len(realms)
	if _, err := joinThreshold(ctx, realms, all, func(ctx context.Context, r *Realm) (struct{}, error) {
		_, err := c.expect(ctx, r, &proto.SecretsRequest{Kind: proto.Register1})
		return struct{}{}, err
	}); err != nil {
		return fmt.Errorf("juicebox: register: %w", err)
	}
	reqs, err := c.prepareRegister2(pin, secret, info, numGuesses)
	if err != nil {
		return fmt.Errorf("juicebox: register: %w", err)
	}
	if _, err := joinThreshold(ctx, realms, all, func(ctx context.Context, r *Realm) (struct{}, error) {
		_, err := c.expect(ctx, r, &proto.SecretsRequest{Kind: proto.Register2, Register2: reqs[r.ID]})
		return struct{}{}, err
	}); err != nil {
		return fmt.Errorf("juicebox: register: %w", err)
	}
	return nil
}

// expect sends req and requires an OK status.
func (c *Client) expect(ctx context.Context, r *Realm, req *proto.SecretsRequest) (*proto.SecretsResponse, error) {
	resp, err := c.request(ctx, r, req)
	if err != nil {
		return nil, err
	}
	if resp.Status != proto.StatusOK {
		return nil, realmErr(r.ID, ErrAssertion, "%v answered %v", req.Kind, resp.Status)
	}
	return resp, nil
}

// prepareRegister2 builds every realm's Register2 request: a fresh version
// (the PIN salt), a random OPRF root key shared among the realms with
// signed public key shares, the unlock key commitment and per-realm tags,
// and the secret encrypted under a key derived from the PIN and a random
// scalar that is itself shared.
func (c *Client) prepareRegister2(pin, secret, info []byte, numGuesses uint16) (map[RealmID]*proto.Register2Request, error) {
	cfg := c.cfg
	var version proto.Version
	if _, err := io.ReadFull(c.rand, version[:]); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	accessKey, encSeed := stretchPIN(cfg.PinHashingMode, pin, version, info)
	defer clear(accessKey[:])
	defer clear(encSeed[:])

	oprfKey, err := oprf.RandomScalar(c.rand)
	if err != nil {
		return nil, err
	}
	defer oprfKey.SetZero()
	oprfShares, err := shamir.Split(oprfKey, cfg.RecoverThreshold, len(cfg.Realms), c.rand)
	if err != nil {
		return nil, err
	}
	defer zeroShares(oprfShares)
	_, signingKey, err := ed25519.GenerateKey(c.rand)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	// The one-time signing key is dropped after this registration.
	defer clear(signingKey)

	unlockKey, commitment := unlockKeyAndCommitment(oprf.Evaluate(oprfKey, accessKey[:]))
	defer clear(unlockKey[:])

	encScalar, err := oprf.RandomScalar(c.rand)
	if err != nil {
		return nil, err
	}
	defer encScalar.SetZero()
	encShares, err := shamir.Split(encScalar, cfg.RecoverThreshold, len(cfg.Realms), c.rand)
	if err != nil {
		return nil, err
	}
	defer zeroShares(encShares)
	key := encryptionKey(encSeed, oprf.EncodeScalar(encScalar))
	defer clear(key[:])
	encrypted, err := encryptSecret(key, secret)
	if err != nil {
		return nil, err
	}

	out := make(map[RealmID]*proto.Register2Request, len(cfg.Realms))
	for i, r := range cfg.Realms {
		q := &proto.Register2Request{
			Version:                  version,
			OprfPrivateKey:           oprf.EncodeScalar(&oprfShares[i].Secret),
			UnlockKeyCommitment:      commitment,
			UnlockKeyTag:             unlockKeyTag(unlockKey, r.ID),
			EncryptionKeyScalarShare: oprf.EncodeScalar(&encShares[i].Secret),
			EncryptedSecret:          *encrypted,
			Policy:                   proto.Policy{NumGuesses: numGuesses},
		}
		q.OprfSignedPublicKey.PublicKey = oprf.PublicKey(&oprfShares[i].Secret)
		copy(q.OprfSignedPublicKey.VerifyingKey[:], signingKey.Public().(ed25519.PublicKey))
		copy(q.OprfSignedPublicKey.Signature[:], ed25519.Sign(signingKey, signedKeyMessage(r.ID, q.OprfSignedPublicKey.PublicKey)))
		q.EncryptedSecretCommitment = secretCommitment(unlockKey, r.ID, q.EncryptionKeyScalarShare, encrypted)
		out[r.ID] = q
	}
	return out, nil
}

func zeroShares(s []shamir.ScalarShare) {
	for i := range s {
		s[i].Secret.SetZero()
	}
}

// zeroScalar clears a scalar (nil-safe).
func zeroScalar(s *ristretto.Scalar) {
	if s != nil {
		s.SetZero()
	}
}
