package juicebox

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"filippo.io/edwards25519"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/blake2s"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/xchat-go/xchat/juicebox/proto"
)

// MaxSecretSize is the largest secret a registration can hold.
const MaxSecretSize = 128

// paddedSecretSize is length byte + secret + zero padding.
const paddedSecretSize = MaxSecretSize + 1

// Argon2id parameters. FastInsecure uses the argon2 crate's minimums
// (m = 8 KiB, t = 1, p = 1).
var argonParams = map[PinHashingMode]struct {
	time, memory uint32
}{
	Standard2019: {time: 32, memory: 16 * 1024},
	FastInsecure: {time: 1, memory: 8},
}

// be4 is a 4-byte big-endian length prefix.
func be4(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }

// stretchPIN is Argon2id v1.3 over the PIN with salt
// be4(16) ‖ version ‖ be4(len info) ‖ info, 64 bytes out: the access key
// (the OPRF input) and the seed of the secret's encryption key.
func stretchPIN(mode PinHashingMode, pin []byte, version proto.Version, info []byte) (accessKey, encSeed [32]byte) {
	p := argonParams[mode]
	salt := make([]byte, 0, 8+len(version)+len(info))
	salt = append(append(append(append(salt, be4(len(version))...), version[:]...), be4(len(info))...), info...)
	out := argon2.IDKey(pin, salt, p.time, p.memory, 1, 64)
	copy(accessKey[:], out[:32])
	copy(encSeed[:], out[32:])
	clear(out)
	return accessKey, encSeed
}

// mac is keyed BLAKE2s with the output length set as a parameter (16 or
// 32 bytes), over inputs each prefixed with its 4-byte big-endian length.
func mac(size int, key []byte, inputs ...[]byte) []byte {
	var h hash.Hash
	var err error
	if size == 16 {
		h, err = blake2s.New128(key)
	} else {
		h, err = blake2s.New256(key)
	}
	if err != nil {
		// Keys are always 32 bytes here.
		panic(err)
	}
	for _, in := range inputs {
		h.Write(be4(len(in)))
		h.Write(in)
	}
	return h.Sum(nil)
}

// unlockKeyAndCommitment splits SHA-512(OPRF output): the commitment (the
// first half, stored on the realms) and the unlock key (the second half).
func unlockKeyAndCommitment(oprfOutput [64]byte) (unlockKey, commitment [32]byte) {
	d := sha512.Sum512(oprfOutput[:])
	copy(commitment[:], d[:32])
	copy(unlockKey[:], d[32:])
	clear(d[:])
	return unlockKey, commitment
}

// unlockKeyTag proves knowledge of the PIN to one realm.
func unlockKeyTag(unlockKey [32]byte, realm RealmID) (tag [16]byte) {
	copy(tag[:], mac(16, unlockKey[:], []byte("Unlock Key Tag"), realm[:]))
	return tag
}

// secretCommitment binds a realm's share and the ciphertext to the unlock
// key, so a realm cannot hand back a substituted share unnoticed.
func secretCommitment(unlockKey [32]byte, realm RealmID, share [32]byte, encrypted *[proto.EncryptedSecretSize]byte) (c [16]byte) {
	copy(c[:], mac(16, unlockKey[:], []byte("Encrypted User Secret Commitment"), realm[:], share[:], encrypted[:]))
	return c
}

// encryptionKey derives the secret's key from the PIN-derived seed and the
// recovered scalar.
func encryptionKey(seed [32]byte, scalar [32]byte) (k [32]byte) {
	copy(k[:], mac(32, seed[:], []byte("User Secret Encryption Key"), scalar[:]))
	return k
}

// The key changes with every registration, so the nonce is fixed at zero.
var zeroNonce [chacha20poly1305.NonceSize]byte

// encryptSecret pads the secret (length byte, secret, zeros to 129 bytes)
// and seals it with ChaCha20-Poly1305 under key: 145 bytes out.
func encryptSecret(key [32]byte, secret []byte) (*[proto.EncryptedSecretSize]byte, error) {
	if len(secret) > MaxSecretSize {
		return nil, fmt.Errorf("juicebox: secret is %d bytes (at most %d)", len(secret), MaxSecretSize)
	}
	var padded [paddedSecretSize]byte
	defer clear(padded[:])
	padded[0] = byte(len(secret))
	copy(padded[1:], secret)
	aead, err := chacha20poly1305.New(key[:])
	if err != nil {
		return nil, err
	}
	var out [proto.EncryptedSecretSize]byte
	aead.Seal(out[:0], zeroNonce[:], padded[:], nil)
	return &out, nil
}

// errBadSecret reports a ciphertext that does not open or unpad.
var errBadSecret = errors.New("encrypted secret does not decrypt")

// decryptSecret reverses encryptSecret.
func decryptSecret(key [32]byte, encrypted *[proto.EncryptedSecretSize]byte) ([]byte, error) {
	aead, err := chacha20poly1305.New(key[:])
	if err != nil {
		return nil, err
	}
	padded, err := aead.Open(nil, zeroNonce[:], encrypted[:], nil)
	if err != nil || len(padded) != paddedSecretSize {
		return nil, errBadSecret
	}
	defer clear(padded)
	n := int(padded[0])
	if n > MaxSecretSize {
		return nil, errBadSecret
	}
	return append([]byte(nil), padded[1:1+n]...), nil
}

// signedKeyMessage is what the registration's one-time key signs for each
// realm: be2(16) ‖ realm id ‖ be2(32) ‖ OPRF public key share.
func signedKeyMessage(realm RealmID, publicKey [32]byte) []byte {
	m := binary.BigEndian.AppendUint16(nil, uint16(len(realm)))
	m = append(m, realm[:]...)
	m = binary.BigEndian.AppendUint16(m, uint16(len(publicKey)))
	return append(m, publicKey[:]...)
}

// verifySignedKey checks a realm's signed OPRF public key like
// ed25519-dalek's verify_strict: a valid signature, and neither the
// verifying key nor R of small order.
func verifySignedKey(realm RealmID, k *proto.SignedPublicKey) error {
	for _, enc := range [][]byte{k.VerifyingKey[:], k.Signature[:32]} {
		p, err := new(edwards25519.Point).SetBytes(enc)
		if err != nil {
			return errors.New("signed public key: not a curve point")
		}
		if p.MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
			return errors.New("signed public key: small-order point")
		}
	}
	if !ed25519.Verify(ed25519.PublicKey(k.VerifyingKey[:]), signedKeyMessage(realm, k.PublicKey), k.Signature[:]) {
		return errors.New("signed public key: bad signature")
	}
	return nil
}
