package crypto

import (
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
)

func BenchmarkECIESWrap(b *testing.B) {
	k := mustKey(b, 5)
	ck := &ConversationKey{1}
	b.Run("wrap", func(b *testing.B) {
		for b.Loop() {
			if _, err := WrapConversationKey(nil, k.PublicKey(), ck); err != nil {
				b.Fatal(err)
			}
		}
	})
	w := testutil.Must(WrapConversationKey(nil, k.PublicKey(), ck))(b)
	b.Run("unwrap", func(b *testing.B) {
		for b.Loop() {
			if _, err := UnwrapConversationKey(k, w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSign(b *testing.B) {
	k := mustKey(b, 2)
	msg := make([]byte, 200)
	for b.Loop() {
		if _, err := Sign(k, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k := mustKey(b, 2)
	msg := make([]byte, 200)
	sig := testutil.Must(Sign(k, msg))(b)
	pub := k.PublicKey()
	for b.Loop() {
		if err := Verify(pub, msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSecretbox1KiB(b *testing.B) {
	key := &ConversationKey{7}
	pt := make([]byte, 1024)
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(1024)
		for b.Loop() {
			if _, err := Seal(nil, key, pt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append-seal", func(b *testing.B) {
		b.SetBytes(1024)
		buf := make([]byte, 0, 1024+SecretboxOverhead)
		for b.Loop() {
			if _, err := AppendSeal(buf[:0], nil, key, pt); err != nil {
				b.Fatal(err)
			}
		}
	})
	box := testutil.Must(Seal(nil, key, pt))(b)
	b.Run("open", func(b *testing.B) {
		b.SetBytes(1024)
		for b.Loop() {
			if _, err := Open(key, box); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append-open", func(b *testing.B) {
		b.SetBytes(1024)
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			if _, err := AppendOpen(buf[:0], key, box); err != nil {
				b.Fatal(err)
			}
		}
	})
}
