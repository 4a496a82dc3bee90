package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func memoPayload(t testing.TB, text string) Payload {
	t.Helper()
	p, err := MessageCreatePayload(SignatureVersion, Header{MessageID: "m-1", SenderID: "1001", ConversationID: "1001:1002"}, "1795000000100", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVerifyMemo: a memo remembers exactly the triples that verified: a
// different key, payload or signature is verified again (and fails when
// it should), a failure is never remembered, and restored entries count
// only for their own triple.
func TestVerifyMemo(t *testing.T) {
	signer, other := mustKey(t, 3), mustKey(t, 4)
	p, q := memoPayload(t, "one"), memoPayload(t, "two")
	sig, err := p.Sign(signer)
	if err != nil {
		t.Fatal(err)
	}
	memo := NewVerifyMemo(0)
	if err := p.VerifyMemo(signer.PublicKey(), sig, memo); err != nil || memo.Len() != 1 {
		t.Fatalf("first verify: %v, %d entries", err, memo.Len())
	}
	if err := p.VerifyMemo(signer.PublicKey(), sig, memo); err != nil || memo.Len() != 1 {
		t.Fatalf("memo hit: %v, %d entries", err, memo.Len())
	}
	bad := bytes.Clone(sig)
	bad[10] ^= 1
	for name, check := range map[string]func() error{
		"other key":       func() error { return p.VerifyMemo(other.PublicKey(), sig, memo) },
		"other payload":   func() error { return q.VerifyMemo(signer.PublicKey(), sig, memo) },
		"other signature": func() error { return p.VerifyMemo(signer.PublicKey(), bad, memo) },
	} {
		for range 2 { // a failure is not remembered: it fails again
			if err := check(); !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	if memo.Len() != 1 {
		t.Fatalf("failures were remembered: %d entries", memo.Len())
	}
	restored := NewVerifyMemo(0)
	restored.Restore(memo.Entries())
	if err := q.VerifyMemo(signer.PublicKey(), sig, restored); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("restored memo vouches for another payload: %v", err)
	}
	if err := p.VerifyMemo(signer.PublicKey(), sig, restored); err != nil {
		t.Fatal(err)
	}
	small := NewVerifyMemo(1)
	sigQ, err := q.Sign(signer)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		p   Payload
		sig []byte
	}{{p, sig}, {q, sigQ}} {
		if err := v.p.VerifyMemo(signer.PublicKey(), v.sig, small); err != nil {
			t.Fatal(err)
		}
	}
	if small.Len() != 1 {
		t.Fatalf("limit 1 holds %d entries", small.Len())
	}
	if err := p.VerifyMemo(signer.PublicKey(), sig, nil); err != nil {
		t.Fatalf("nil memo: %v", err)
	}
}

// TestUnwrapMemo: a memoised unwrap gives the key ECIES gives, as the
// caller's own copy; another recipient or wrapped key is unwrapped anew;
// Close zeroes what the memo held.
func TestUnwrapMemo(t *testing.T) {
	me, other := mustKey(t, 5), mustKey(t, 6)
	key, err := NewConversationKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := WrapConversationKey(nil, me.PublicKey(), key)
	if err != nil {
		t.Fatal(err)
	}
	memo := NewUnwrapMemo(0)
	a, err := UnwrapConversationKeyMemo(me, wrapped, memo)
	if err != nil || *a != *key {
		t.Fatalf("first unwrap: %v", err)
	}
	a.Zero()
	b, err := UnwrapConversationKeyMemo(me, wrapped, memo)
	if err != nil || *b != *key {
		t.Fatalf("memoised unwrap: %v (the caller's zeroing reached the memo?)", err)
	}
	if _, err := UnwrapConversationKeyMemo(other, wrapped, memo); err == nil {
		t.Fatal("another recipient unwrapped the key")
	}
	tampered := bytes.Clone(wrapped)
	tampered[len(tampered)-1] ^= 1
	if _, err := UnwrapConversationKeyMemo(me, tampered, memo); err == nil {
		t.Fatal("tampered wrapped key unwrapped")
	}
	held := memo.keys[unwrapKey(me, wrapped)]
	memo.Close()
	if *held != (ConversationKey{}) {
		t.Fatal("Close left the key in memory")
	}
	if c, err := UnwrapConversationKeyMemo(me, wrapped, memo); err != nil || *c != *key {
		t.Fatalf("unwrap after Close: %v", err)
	}
	if len(memo.keys) != 0 {
		t.Fatal("a closed memo holds keys again")
	}
}

// TestEqualEncoded: EqualEncoded answers as parsing and comparing does.
func TestEqualEncoded(t *testing.T) {
	pub, other := mustKey(t, 7).PublicKey(), mustKey(t, 8).PublicKey()
	spki := pub.SPKI()
	badPrefix := bytes.Clone(spki)
	badPrefix[3] ^= 1
	for _, b := range [][]byte{pub.Bytes(), spki, other.Bytes(), other.SPKI(), badPrefix, spki[:90], nil, append(spki, 0)} {
		k, err := ParsePublicKey(b)
		want := err == nil && k.Equal(pub)
		if got := pub.EqualEncoded(b); got != want {
			t.Fatalf("EqualEncoded(%x) = %v, parse and compare %v", b, got, want)
		}
	}
	if !pub.EqualEncoded(spki) || pub.EqualEncoded(other.SPKI()) {
		t.Fatal("EqualEncoded does not tell keys apart")
	}
}

// FuzzEqualEncoded: EqualEncoded agrees with parsing and comparing.
func FuzzEqualEncoded(f *testing.F) {
	pub := mustKey(f, 7).PublicKey()
	f.Add(pub.Bytes())
	f.Add(pub.SPKI())
	f.Add(mustKey(f, 9).PublicKey().SPKI())
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePublicKey(b)
		want := err == nil && k.Equal(pub)
		if got := pub.EqualEncoded(b); got != want {
			t.Fatalf("EqualEncoded(%x) = %v, parse and compare %v", b, got, want)
		}
	})
}
