package crypto

import (
	"bytes"
	"errors"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
	"golang.org/x/crypto/nacl/secretbox"
)

func TestSecretboxLayout(t *testing.T) {
	key := &ConversationKey{1, 2, 3}
	nonce := bytes.Repeat([]byte{7}, 24)
	pt := []byte("hello xchat")
	box, err := Seal(&fixedReader{b: bytes.Clone(nonce)}, key, pt)
	if err != nil {
		t.Fatal(err)
	}
	if len(box) != len(pt)+SecretboxOverhead || !bytes.Equal(box[:24], nonce) {
		t.Fatal("box is not nonce ‖ tag ‖ ciphertext")
	}
	// NaCl secretbox output is tag ‖ ciphertext; our box is nonce ‖ that.
	got, ok := secretbox.Open(nil, box[24:], (*[24]byte)(nonce), (*[32]byte)(key))
	if !ok || !bytes.Equal(got, pt) {
		t.Fatal("NaCl secretbox cannot open our box")
	}
	got, err = Open(key, box)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open: %v", err)
	}
	empty := testutil.Must(Seal(nil, key, nil))(t)
	if got, err := Open(key, empty); err != nil || len(got) != 0 || len(empty) != 40 {
		t.Fatalf("empty box: %v", err)
	}
}

func TestSecretboxRejects(t *testing.T) {
	key := &ConversationKey{9}
	box := testutil.Must(Seal(nil, key, []byte("payload")))(t)
	if _, err := Open(key, box[:39]); !errors.Is(err, ErrDecrypt) {
		t.Errorf("39 bytes: %v", err)
	}
	for i := range box {
		bad := bytes.Clone(box)
		bad[i] ^= 0x80
		if _, err := Open(key, bad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("flip at %d: %v", i, err)
		}
	}
	if _, err := Open(&ConversationKey{8}, box); !errors.Is(err, ErrDecrypt) {
		t.Error("wrong key accepted")
	}
	if _, err := Open(nil, box); err == nil {
		t.Error("nil key accepted")
	}
}

func TestAppendForms(t *testing.T) {
	key := &ConversationKey{4}
	prefix := []byte("prefix")
	box, err := AppendSeal(bytes.Clone(prefix), nil, key, []byte("abc"))
	if err != nil || !bytes.HasPrefix(box, prefix) {
		t.Fatal("AppendSeal lost the prefix")
	}
	out, err := AppendOpen(bytes.Clone(prefix), key, box[len(prefix):])
	if err != nil || string(out) != "prefixabc" {
		t.Fatalf("AppendOpen: %q %v", out, err)
	}
}
