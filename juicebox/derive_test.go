package juicebox

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/xchat-go/xchat/juicebox/proto"
)

// byteList turns the SDK tests' decimal arrays into bytes.
func byteList(v ...int) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

// TestPINStretchVector is rust/sdk/src/pin.rs test_pin_hashing: PIN "1234",
// version 16×0x05, info "artemis", Standard2019.
func TestPINStretchVector(t *testing.T) {
	var version proto.Version
	for i := range version {
		version[i] = 5
	}
	access, seed := stretchPIN(Standard2019, []byte("1234"), version, []byte("artemis"))
	wantAccess := byteList(41, 53, 218, 132, 201, 116, 35, 179, 127, 52, 87, 35, 27, 135, 124, 230, 172, 32, 147,
		80, 29, 114, 85, 219, 238, 29, 235, 9, 165, 216, 130, 27)
	wantSeed := byteList(135, 200, 201, 181, 211, 234, 159, 234, 131, 182, 172, 106, 100, 226, 91, 151, 196,
		114, 44, 164, 228, 11, 234, 37, 35, 239, 234, 38, 33, 37, 226, 42)
	if !bytes.Equal(access[:], wantAccess) {
		t.Errorf("access key %x, want %x", access, wantAccess)
	}
	if !bytes.Equal(seed[:], wantSeed) {
		t.Errorf("encryption key seed %x, want %x", seed, wantSeed)
	}
	if !bytes.HasPrefix(access[:], []byte{0x29, 0x35, 0xda, 0x84}) {
		t.Error("access key does not begin 2935da84 (the vector quoted in research/juicebox.md)")
	}
	t.Log("juicebox pin: SDK PIN-stretch vector (Argon2id Standard2019) matches")
}

// The ciphertext of rust/sdk/src/types.rs test_secret_encryption: "artemis"
// under key 32×0x08.
var sdkEncryptedArtemis = byteList(
	1, 134, 178, 251, 18, 193, 244, 162, 122, 194, 0, 239, 255, 128, 253, 39, 199, 249,
	145, 226, 252, 83, 165, 81, 50, 46, 17, 1, 94, 108, 224, 139, 51, 137, 152, 176, 230,
	203, 184, 172, 75, 181, 206, 151, 188, 22, 100, 113, 224, 151, 68, 63, 202, 164, 225,
	84, 155, 141, 169, 49, 255, 75, 1, 95, 250, 34, 92, 203, 156, 129, 84, 16, 20, 149, 49,
	86, 63, 245, 116, 36, 82, 116, 215, 136, 197, 154, 126, 99, 99, 127, 79, 29, 23, 74,
	172, 149, 20, 2, 43, 102, 29, 82, 89, 102, 225, 83, 64, 229, 247, 232, 194, 207, 6,
	129, 183, 46, 4, 52, 205, 109, 240, 64, 67, 15, 226, 185, 186, 54, 162, 20, 219, 250,
	162, 103, 164, 76, 121, 87, 140, 147, 118, 109, 107, 35, 7)

// TestSecretEncryptionVectors are test_secret_encryption and
// test_secret_decryption, plus test_secret_padding's edge cases.
func TestSecretEncryptionVectors(t *testing.T) {
	var key [32]byte
	for i := range key {
		key[i] = 8
	}
	enc, err := encryptSecret(key, []byte("artemis"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc[:], sdkEncryptedArtemis) {
		t.Fatalf("ciphertext %x\nwant %x", enc[:], sdkEncryptedArtemis)
	}
	var ct [proto.EncryptedSecretSize]byte
	copy(ct[:], sdkEncryptedArtemis)
	got, err := decryptSecret(key, &ct)
	if err != nil || string(got) != "artemis" {
		t.Fatalf("decrypt: %q %v", got, err)
	}
	for _, s := range [][]byte{{}, {1, 2, 3, 0, 4, 5, 0}, bytes.Repeat([]byte{5}, MaxSecretSize)} {
		enc, err := encryptSecret(key, s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decryptSecret(key, enc)
		if err != nil || !bytes.Equal(got, s) {
			t.Fatalf("round trip of %d bytes: %x %v", len(s), got, err)
		}
	}
	if _, err := encryptSecret(key, make([]byte, MaxSecretSize+1)); err == nil {
		t.Fatal("129-byte secret encrypted")
	}
	ct[0] ^= 1
	if _, err := decryptSecret(key, &ct); !errors.Is(err, errBadSecret) {
		t.Fatalf("tampered ciphertext: %v", err)
	}
	t.Log("juicebox secret: SDK secret encryption vectors (ChaCha20-Poly1305, 129-byte padding) match")
}

// TestMACs pins the keyed BLAKE2s constructions: output length as a
// parameter (BLAKE2s-128 is not truncated BLAKE2s-256) and length-prefixed
// inputs.
func TestMACs(t *testing.T) {
	var uk [32]byte
	realm := RealmID{1}
	tag := unlockKeyTag(uk, realm)
	long := mac(32, uk[:], []byte("Unlock Key Tag"), realm[:])
	if bytes.Equal(tag[:], long[:16]) {
		t.Fatal("16-byte MAC equals a truncated 32-byte MAC")
	}
	if unlockKeyTag(uk, RealmID{2}) == tag {
		t.Fatal("tags of two realms collide")
	}
	// Length prefixes make the input split unambiguous.
	a := mac(16, uk[:], []byte("ab"), []byte("c"))
	b := mac(16, uk[:], []byte("a"), []byte("bc"))
	if bytes.Equal(a, b) {
		t.Fatal("MAC inputs are ambiguous")
	}
}

func TestVerifySignedKey(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	realm := RealmID{7}
	k := proto.SignedPublicKey{PublicKey: [32]byte{1, 2, 3}}
	copy(k.VerifyingKey[:], pub)
	copy(k.Signature[:], ed25519.Sign(priv, signedKeyMessage(realm, k.PublicKey)))
	if err := verifySignedKey(realm, &k); err != nil {
		t.Fatalf("valid signature: %v", err)
	}
	if err := verifySignedKey(RealmID{8}, &k); err == nil {
		t.Error("signature for another realm accepted")
	}
	bad := k
	bad.PublicKey[0] ^= 1
	if err := verifySignedKey(realm, &bad); err == nil {
		t.Error("signature over another key accepted")
	}
	// The identity as verifying key with R = [S]B verifies under plain
	// cofactorless Ed25519 for any message; verify_strict refuses it.
	weak := proto.SignedPublicKey{PublicKey: k.PublicKey}
	weak.VerifyingKey[0] = 1 // encoding of the identity point
	if err := verifySignedKey(realm, &weak); err == nil {
		t.Error("small-order verifying key accepted")
	}
	msg := signedKeyMessage(RealmID{0xab}, [32]byte{0xcd})
	if hex.EncodeToString(msg[:2]) != "0010" || hex.EncodeToString(msg[18:20]) != "0020" || len(msg) != 52 {
		t.Errorf("signed message layout %x", msg)
	}
}
