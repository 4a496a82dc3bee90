package crypto

import (
	"bytes"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
)

func TestSignVerify(t *testing.T) {
	k := mustKey(t, 2)
	msg := []byte("MessageCreateEvent,m,1,1:2,5,abc")
	sig, err := Sign(k, msg)
	if err != nil || len(sig) != SignatureSize {
		t.Fatalf("Sign: %v", err)
	}
	again := testutil.Must(Sign(k, msg))(t)
	if !bytes.Equal(sig, again) {
		t.Fatal("signatures are not deterministic")
	}
	if err := Verify(k.PublicKey(), msg, sig); err != nil {
		t.Fatal(err)
	}
	if err := Verify(k.PublicKey(), append(bytes.Clone(msg), 'x'), sig); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("wrong message: %v", err)
	}
	if err := Verify(mustKey(t, 3).PublicKey(), msg, sig); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("wrong key: %v", err)
	}
}

// TestSignatureScalars covers the malformed-signature policy. The live XDK
// 0.4.3 (RustCrypto ecdsa 0.16 VerifyingKey::verify) accepted the high-S
// twin (r, n-s) of a valid signature and rejected r=0, s=0, r=n and lengths
// other than 64; we match it.
func TestSignatureScalars(t *testing.T) {
	k := mustKey(t, 2)
	msg := []byte("m")
	sig := testutil.Must(Sign(k, msg))(t)
	n, _ := new(big.Int).SetString(orderHex, 16)
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	mk := func(r, s *big.Int) []byte {
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
	if err := Verify(k.PublicKey(), msg, mk(r, new(big.Int).Sub(n, s))); err != nil {
		t.Errorf("high-S twin rejected (the XDK accepts it): %v", err)
	}
	zero := new(big.Int)
	for name, bad := range map[string][]byte{
		"r=0": mk(zero, s), "s=0": mk(r, zero), "r=n": mk(n, s), "s=n": mk(r, n),
		"63 bytes": sig[:63], "65 bytes": append(bytes.Clone(sig), 0), "empty": nil,
	} {
		if err := Verify(k.PublicKey(), msg, bad); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestDecodeSignature encodes the decoding behaviour observed with the live
// XDK's verifyKeyBinding on a 64-byte signature (86 base64 characters
// unpadded).
func TestDecodeSignature(t *testing.T) {
	sig := bytes.Repeat([]byte{0x5a}, 63)
	sig = append(sig, 0x40) // last symbol carries no trailing bits either way
	enc := EncodeSignature(sig)
	if strings.Contains(enc, "=") || len(enc) != 86 {
		t.Fatalf("EncodeSignature = %q, want 86 chars without padding", enc)
	}
	flipLast := enc[:85] + string(enc[85]^1)
	accept := map[string]string{"unpadded": enc, "padded": enc + "==", "partial padding": enc + "="}
	reject := map[string]string{
		"three pads": enc + "===", "pad inside": enc[:40] + "=" + enc[40:], "newline": enc[:10] + "\n" + enc[10:],
		"trailing space": enc + " ", "url-safe": strings.NewReplacer("+", "-", "/", "_").Replace(enc + "+/"),
		"trailing bits": flipLast, "wrong length": enc + "AA",
	}
	for name, s := range accept {
		got, err := DecodeSignature(s)
		if err != nil || !bytes.Equal(got, sig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, s := range reject {
		if _, err := DecodeSignature(s); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("%s: accepted or wrong error: %v", name, err)
		}
	}
}

func TestDecodeBase64Padding(t *testing.T) {
	// 65 bytes: 87 characters plus one pad; two pads exceed the quantum.
	raw := bytes.Repeat([]byte{1}, 65)
	enc := EncodeSignature(raw)
	for s, ok := range map[string]bool{enc: true, enc + "=": true, enc + "==": false} {
		_, err := DecodeBase64(s)
		if (err == nil) != ok {
			t.Errorf("%d chars: err %v, want ok=%v", len(s), err, ok)
		}
	}
	// 66 bytes: 88 characters, no padding allowed.
	enc = EncodeSignature(bytes.Repeat([]byte{1}, 66))
	if _, err := DecodeBase64(enc + "="); err == nil {
		t.Error("padding on a full quantum accepted")
	}
}
