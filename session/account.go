package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
)

// CreateAccount generates a fresh identity (identity and signing P-256 key
// pairs) for userID and stores it in store. rand may be nil (crypto/rand).
// It fails with xchat.ErrAccountExists when the store already holds an identity.
// Publish the keys with Engine.Register after Open.
func CreateAccount(ctx context.Context, store keystore.Store, userID string, rand io.Reader) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	kp, err := crypto.GenerateKeyPair(rand)
	if err != nil {
		return fmt.Errorf("session: generating keys: %w", err)
	}
	defer kp.Zero()
	return putIdentity(ctx, store, userID, kp, "")
}

// ImportBackup stores an identity restored from a 64-byte backup blob
// (identity private key ‖ signing private key, the XDK's exportKeys format)
// for userID. publicKeyVersion is the version under which these keys are
// registered, or "" when unknown (Register then publishes them again). It
// fails with xchat.ErrAccountExists when the store already holds an identity.
func ImportBackup(ctx context.Context, store keystore.Store, userID string, backup []byte, publicKeyVersion string) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	if publicKeyVersion != "" && !decimal.Valid(publicKeyVersion) {
		return fmt.Errorf("%w: public key version %q is not a decimal", xchat.ErrInvalidArgument, publicKeyVersion)
	}
	kp, err := crypto.ParseBackup(backup)
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	defer kp.Zero()
	return putIdentity(ctx, store, userID, kp, publicKeyVersion)
}

func putIdentity(ctx context.Context, store keystore.Store, userID string, kp *crypto.KeyPair, version string) error {
	if store == nil {
		return fmt.Errorf("%w: nil store", xchat.ErrInvalidArgument)
	}
	backup := kp.Backup()
	defer clear(backup)
	return store.Update(ctx, func(tx keystore.Tx) error {
		if _, err := tx.Identity(ctx); err == nil {
			return xchat.ErrAccountExists
		} else if !errors.Is(err, keystore.ErrNotFound) {
			return fmt.Errorf("session: reading identity: %w", err)
		}
		if err := tx.SetIdentity(ctx, &keystore.Identity{
			UserID:           userID,
			Backup:           keystore.SecretBytes(backup),
			PublicKeyVersion: version,
		}); err != nil {
			return fmt.Errorf("session: storing identity: %w", err)
		}
		return nil
	})
}

// ExportBackup returns the 64-byte private key backup (identity ‖ signing),
// compatible with the XDK's importKeys. The caller should zero it after use.
func (e *Engine) ExportBackup() ([]byte, error) {
	kp, _, err := e.identity()
	if err != nil {
		return nil, err
	}
	return kp.Backup(), nil
}

// PublicKeyVersion returns the version under which the account's keys are
// registered, or "" before Register.
func (e *Engine) PublicKeyVersion() string {
	_, v, _ := e.identity()
	return v
}

// Fingerprint returns the account's public key fingerprint as the XDK shows
// it: unpadded base64url of SHA-256 over the identity key's SPKI encoding.
func (e *Engine) Fingerprint() (string, error) {
	kp, _, err := e.identity()
	if err != nil {
		return "", err
	}
	return crypto.FingerprintString(kp.Identity.PublicKey()), nil
}

// RegistrationRequest builds the body of POST /2/users/{id}/public_keys
// exactly as the XDK's generateKeypairs renders it: SPKI keys and binding
// signatures in padded standard base64, the fingerprint in unpadded
// base64url, registration_method "CustomPin", a millisecond-timestamp
// version and generate_version true.
func (e *Engine) RegistrationRequest() (*api.AddUserPublicKeyRequest, error) {
	kp, _, err := e.identity()
	if err != nil {
		return nil, err
	}
	reg, err := crypto.NewRegistration(kp)
	if err != nil {
		return nil, fmt.Errorf("session: building registration: %w", err)
	}
	f := reg.Fields()
	return &api.AddUserPublicKeyRequest{
		PublicKey: api.PublicKeyRegistration{
			PublicKey:                  f.PublicKey,
			PublicKeyFingerprint:       f.PublicKeyFingerprint,
			IdentityPublicKeySignature: f.IdentityPublicKeySignature,
			SigningPublicKey:           f.SigningPublicKey,
			SigningPublicKeySignature:  f.SigningPublicKeySignature,
			RegistrationMethod:         f.RegistrationMethod,
		},
		Version:         strconv.FormatInt(e.now().UnixMilli(), 10),
		GenerateVersion: true,
	}, nil
}

// Register publishes the account's public keys and records the version the
// server assigned. It returns that version. Registering again (for example
// after ImportBackup without a version) is allowed and records the new
// version.
func (e *Engine) Register(ctx context.Context) (string, error) {
	srv, err := e.srv()
	if err != nil {
		return "", err
	}
	req, err := e.RegistrationRequest()
	if err != nil {
		return "", err
	}
	resp, err := srv.RegisterPublicKey(ctx, e.userID, req)
	if err != nil {
		return "", fmt.Errorf("session: registering public keys: %w", err)
	}
	if err := problems("register public keys", resp.Errors); err != nil && resp.Data == nil {
		return "", err
	}
	version := req.Version
	if resp.Data != nil && resp.Data.PublicKeyVersion != "" {
		version = resp.Data.PublicKeyVersion
	}
	if !decimal.Valid(version) {
		return "", fmt.Errorf("%w: public key version %q is not a decimal", xchat.ErrServerResponse, version)
	}
	if err := e.setRegisteredVersion(ctx, version); err != nil {
		return "", err
	}
	return version, nil
}

func (e *Engine) setRegisteredVersion(ctx context.Context, version string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return xchat.ErrClosed
	}
	backup := e.keys.Backup()
	defer clear(backup)
	if err := e.store.SetIdentity(ctx, &keystore.Identity{
		UserID:           e.userID,
		Backup:           keystore.SecretBytes(backup),
		PublicKeyVersion: version,
	}); err != nil {
		return fmt.Errorf("session: storing registered version: %w", err)
	}
	e.pubVersion = version
	return nil
}

// checkUserID accepts 1..19 ASCII digits, the X user id form.
func checkUserID(id string) error {
	if !isUserID(id) {
		return fmt.Errorf("%w: user id %q is not a canonical decimal of 1-19 digits", xchat.ErrInvalidArgument, id)
	}
	return nil
}

func isUserID(id string) bool { return decimal.ValidID(id) }
