package crypto

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
)

func TestECIESRoundTrip(t *testing.T) {
	k := mustKey(t, 5)
	for _, n := range []int{0, 1, 32, 1000} {
		pt := bytes.Repeat([]byte{byte(n)}, n)
		ct, err := ECIESEncrypt(nil, k.PublicKey(), pt)
		if err != nil {
			t.Fatal(err)
		}
		if len(ct) != len(pt)+ECIESOverhead {
			t.Fatalf("len %d, want %d", len(ct), len(pt)+ECIESOverhead)
		}
		if _, err := ParsePublicKey(ct[:65]); err != nil {
			t.Fatalf("ephemeral key prefix invalid: %v", err)
		}
		got, err := ECIESDecrypt(k, ct)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d: %v", n, err)
		}
	}
}

// TestECIESEphemeralFromReader checks that the ephemeral key comes from the
// injected reader: with scalar e, the prefix must be e·G.
func TestECIESEphemeralFromReader(t *testing.T) {
	to := mustKey(t, 5).PublicKey()
	ct, err := ECIESEncrypt(&fixedReader{b: scalar(9)}, to, []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ct[:65], mustKey(t, 9).PublicKey().Bytes()) {
		t.Fatal("ephemeral key does not come from the reader")
	}
}

func TestECIESRejects(t *testing.T) {
	k := mustKey(t, 5)
	ct := testutil.Must(ECIESEncrypt(nil, k.PublicKey(), []byte("conversation key")))(t)
	if _, err := ECIESDecrypt(k, ct[:80]); !errors.Is(err, ErrDecrypt) {
		t.Errorf("80 bytes: %v", err)
	}
	if _, err := ECIESDecrypt(mustKey(t, 6), ct); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong key: %v", err)
	}
	for i := range ct {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x01
		_, err := ECIESDecrypt(k, bad)
		if err == nil {
			t.Fatalf("flip at %d accepted", i)
		}
		if i == 0 && !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("flip in point prefix: %v", err)
		}
		if i >= 65 && !errors.Is(err, ErrDecrypt) {
			t.Errorf("flip at %d: %v", i, err)
		}
	}
	if _, err := ECIESEncrypt(nil, nil, nil); err == nil {
		t.Error("nil recipient accepted")
	}
}

// TestX963KDF checks the KDF against SHA-256 computed directly from its
// definition, across a block boundary.
func TestX963KDF(t *testing.T) {
	z, info := []byte("shared secret z"), []byte("ephemeral public key")
	out := make([]byte, 40)
	x963KDF(out, z, info)
	b1 := sha256.Sum256(append(append(bytes.Clone(z), 0, 0, 0, 1), info...))
	b2 := sha256.Sum256(append(append(bytes.Clone(z), 0, 0, 0, 2), info...))
	if !bytes.Equal(out, append(b1[:], b2[:8]...)) {
		t.Fatal("X9.63 KDF mismatch")
	}
}

func TestWrapConversationKey(t *testing.T) {
	k := mustKey(t, 11)
	ck, err := NewConversationKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := WrapConversationKey(nil, k.PublicKey(), ck)
	if err != nil || len(w) != 113 {
		t.Fatalf("wrap: %d bytes, %v", len(w), err)
	}
	got, err := UnwrapConversationKey(k, w)
	if err != nil || !got.Equal(ck) {
		t.Fatalf("unwrap: %v", err)
	}
	short := testutil.Must(ECIESEncrypt(nil, k.PublicKey(), make([]byte, 31)))(t)
	if _, err := UnwrapConversationKey(k, short); !errors.Is(err, ErrInvalidConversationKey) {
		t.Errorf("31-byte key: %v", err)
	}
	long := testutil.Must(ECIESEncrypt(nil, k.PublicKey(), make([]byte, 33)))(t)
	if _, err := UnwrapConversationKey(k, long); !errors.Is(err, ErrInvalidConversationKey) {
		t.Errorf("33-byte key: %v", err)
	}
}
