package crypto

import (
	"bytes"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
)

func FuzzParsePublicKey(f *testing.F) {
	pub := mustKey(f, 7).PublicKey()
	f.Add(pub.Bytes())
	f.Add(pub.SPKI())
	f.Add([]byte{0})
	f.Add(append([]byte{2}, pub.Bytes()[1:33]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePublicKey(b)
		if err != nil {
			return
		}
		if len(b) != PublicKeySize && len(b) != SPKISize {
			t.Fatalf("accepted %d bytes", len(b))
		}
		q, err := ParsePublicKey(p.SPKI())
		if err != nil || !q.Equal(p) || !bytes.Equal(q.Bytes(), b[len(b)-PublicKeySize:]) {
			t.Fatal("re-encoding does not round trip")
		}
	})
}

func FuzzECIESDecrypt(f *testing.F) {
	k := mustKey(f, 5)
	ct := testutil.Must(ECIESEncrypt(nil, k.PublicKey(), make([]byte, 32)))(f)
	f.Add(ct)
	f.Add(ct[:81])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := ECIESDecrypt(k, b)
		if err == nil && len(pt) != len(b)-ECIESOverhead {
			t.Fatal("plaintext length inconsistent with input")
		}
	})
}

func FuzzOpen(f *testing.F) {
	key := &ConversationKey{3}
	box := testutil.Must(Seal(nil, key, []byte("seed message")))(f)
	f.Add(box)
	f.Add(box[:40])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := Open(key, b)
		if err == nil && len(pt) != len(b)-SecretboxOverhead {
			t.Fatal("plaintext length inconsistent with input")
		}
	})
}

func FuzzParsePayload(f *testing.F) {
	f.Add("MessageCreateEvent,m1,111,111:222,1001,YWJj")
	f.Add("GroupChangeEvent.GroupCreate,m2,111,42,111,222,null,null,null")
	f.Add("GroupChangeEvent.GroupMemberAddChange,m2,111,g9,n1,c1,c2,c1,null,null,null,42,null")
	f.Add("ConversationKeyChangeEvent,m,1,1:2,9,AAAA")
	f.Add(",,,")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePayload(s)
		if err != nil {
			return
		}
		b, err := p.Bytes()
		if err != nil || string(b) != s {
			t.Fatalf("round trip: %q -> %q (%v)", s, b, err)
		}
		_ = p.String()
	})
}

func FuzzParseBackup(f *testing.F) {
	f.Add(append(scalar(1), scalar(2)...))
	f.Add(scalar(1))
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		kp, err := ParseBackup(b)
		if err != nil {
			return
		}
		if !bytes.Equal(kp.Backup(), b) {
			t.Fatal("backup does not round trip")
		}
	})
}

func FuzzDecodeSignature(f *testing.F) {
	sig := testutil.Must(Sign(mustKey(f, 2), []byte("m")))(f)
	f.Add(EncodeSignature(sig))
	f.Add(EncodeSignature(sig) + "==")
	f.Add("====")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeSignature(s)
		if err != nil {
			return
		}
		if len(b) != SignatureSize {
			t.Fatal("wrong length accepted")
		}
		// Decoding is strict: re-encoding reproduces the input modulo padding.
		if enc := EncodeSignature(b); enc != s && enc+"=" != s && enc+"==" != s {
			t.Fatalf("non-canonical input %q accepted", s)
		}
		_ = Verify(mustKey(t, 2).PublicKey(), []byte("m"), b)
	})
}
