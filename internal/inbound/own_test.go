package inbound

import (
	"bytes"
	"errors"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// ownEcho is alice's message of f.conv as a server echoes it, with the Own
// that describes it as sent. Its signature is alice's signature of another
// message: valid in form, wrong for these bytes, so the event verifies only
// when the Own vouches for it and fails whenever it is checked in full.
func ownEcho(t *testing.T, f *fixture) (*tevent.MessageEvent, *Own) {
	t.Helper()
	me := messageEvent(t, f.alice, env{seq: "5", prev: "4", conv: f.conv}, "1000", f.key, textHolder("sent"))
	other := messageEvent(t, f.alice, env{seq: "6", prev: "5", conv: f.conv}, "1000", f.key, textHolder("other"))
	me.MessageEventSignature.Signature = other.MessageEventSignature.Signature
	sig, err := wire.DecodeB64(me.MessageEventSignature.GetSignature())
	if err != nil {
		t.Fatal(err)
	}
	mce := me.Detail.MessageCreateEvent
	return me, &Own{MessageID: me.GetMessageID(), SenderID: f.alice.id, ConversationID: f.conv,
		KeyVersion: mce.GetConversationKeyVersion(), Contents: append([]byte(nil), mce.Contents...),
		SignatureVersion: crypto.SignatureVersion, PublicKeyVersion: f.alice.ver, Signature: sig,
		Key: f.alice.kp.Signing.PublicKey()}
}

// aliceKeys are alice's keys reading her own conversation: her signing key
// pinned under her version and (for the public-key-version case) under "2".
func aliceKeys(f *fixture) *StaticKeys {
	k := keysFor(f.alice, f.bob)
	k.AddSigningKey(f.alice.id, "2", f.alice.kp.Signing.PublicKey())
	k.AddConversationKey(f.conv, "1000", f.key)
	return k
}

// TestOwnEchoExact: the echo of a message this program signed, carrying
// exactly the bytes described by Options.Own, is not verified again (its
// signature, wrong for these bytes, passes only through the Own) and is
// otherwise read as any event; without the Own it fails.
func TestOwnEchoExact(t *testing.T) {
	f := newFixture(t)
	me, own := ownEcho(t, f)
	raw := encode(t, me)
	ev := Decrypt(aliceKeys(f), raw, &Options{ConversationID: f.conv, Own: own})
	if ev.Err != nil || !ev.Verified || ev.Text() != "sent" || ev.MessageID != own.MessageID || ev.SenderID != f.alice.id {
		t.Fatalf("exact echo: verified %v, text %q, %v", ev.Verified, ev.Text(), ev.Err)
	}
	if ev := Decrypt(aliceKeys(f), raw, &Options{ConversationID: f.conv}); ev.Verified || !errors.Is(ev.Err, ErrBadSignature) {
		t.Fatalf("without the Own: verified %v, %v", ev.Verified, ev.Err)
	}
}

// TestOwnEchoAltered: an echo differing from the Own in any signed byte,
// in the signature, or in the key that checks it is verified in full (and
// here fails); so is an Own that names another message.
func TestOwnEchoAltered(t *testing.T) {
	mallory := newUser(t, "3333", "1")
	for name, alter := range map[string]func(*tevent.MessageEvent, *Own){
		"contents": func(me *tevent.MessageEvent, _ *Own) { me.Detail.MessageCreateEvent.Contents[30] ^= 1 },
		"key version": func(me *tevent.MessageEvent, _ *Own) {
			me.Detail.MessageCreateEvent.ConversationKeyVersion = ptr("1001")
		},
		"message id":         func(me *tevent.MessageEvent, _ *Own) { me.MessageID = ptr(newMessageID()) },
		"no conversation id": func(me *tevent.MessageEvent, _ *Own) { me.ConversationID = nil },
		"signature version":  func(me *tevent.MessageEvent, _ *Own) { me.MessageEventSignature.SignatureVersion = ptr("6") },
		"public key version": func(me *tevent.MessageEvent, _ *Own) { me.MessageEventSignature.PublicKeyVersion = ptr("2") },
		"signature": func(me *tevent.MessageEvent, _ *Own) {
			sig, err := wire.DecodeB64(me.MessageEventSignature.GetSignature())
			if err != nil {
				panic(err)
			}
			sig[7] ^= 1
			me.MessageEventSignature.Signature = ptr(wire.EncodeB64NoPad(sig))
		},
		"own key":          func(_ *tevent.MessageEvent, o *Own) { o.Key = mallory.kp.Signing.PublicKey() },
		"own sender":       func(_ *tevent.MessageEvent, o *Own) { o.SenderID = "4444" },
		"own contents":     func(_ *tevent.MessageEvent, o *Own) { o.Contents = o.Contents[1:] },
		"own conversation": func(_ *tevent.MessageEvent, o *Own) { o.ConversationID = "2222:1111" },
		"own signature":    func(_ *tevent.MessageEvent, o *Own) { o.Signature = nil },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			me, own := ownEcho(t, f)
			alter(me, own)
			ev := Decrypt(aliceKeys(f), encode(t, me), &Options{Own: own})
			if ev.Verified || ev.Err == nil {
				t.Fatalf("altered echo verified: %q", ev.Text())
			}
			if name != "no conversation id" && !errors.Is(ev.Err, ErrBadSignature) {
				t.Fatalf("altered echo: %v", ev.Err)
			}
		})
	}
}

// TestOwnEchoPlain: an Own holding the plaintext sealed and the key it was
// sealed under hands that plaintext over, once, for an echo carrying
// exactly its contents under an equal key (the Plain here is not what the
// contents hold, so the result shows which was read); with another key,
// other contents or the plaintext already handed over, the contents are
// opened. Zero wipes what it holds.
func TestOwnEchoPlain(t *testing.T) {
	kept := func(t *testing.T, f *fixture, own *Own) {
		t.Helper()
		p, err := wire.EncodeMessageEntryHolder(textHolder("kept"))
		if err != nil {
			t.Fatal(err)
		}
		k := *f.key
		own.Plain, own.ConversationKey = p, &k
	}
	t.Run("exact", func(t *testing.T) {
		f := newFixture(t)
		me, own := ownEcho(t, f)
		kept(t, f, own)
		raw := encode(t, me)
		if ev := Decrypt(aliceKeys(f), raw, &Options{ConversationID: f.conv, Own: own}); !ev.Verified || ev.Text() != "kept" {
			t.Fatalf("exact echo: verified %v, text %q, %v", ev.Verified, ev.Text(), ev.Err)
		}
		if own.Plain != nil {
			t.Fatal("the plaintext was not handed over")
		}
		if ev := Decrypt(aliceKeys(f), raw, &Options{ConversationID: f.conv, Own: own}); !ev.Verified || ev.Text() != "sent" {
			t.Fatalf("second read: verified %v, text %q, %v", ev.Verified, ev.Text(), ev.Err)
		}
	})
	t.Run("other key", func(t *testing.T) {
		f := newFixture(t)
		me, own := ownEcho(t, f)
		kept(t, f, own)
		own.ConversationKey[0] ^= 1
		if ev := Decrypt(aliceKeys(f), encode(t, me), &Options{ConversationID: f.conv, Own: own}); !ev.Verified || ev.Text() != "sent" {
			t.Fatalf("verified %v, text %q, %v", ev.Verified, ev.Text(), ev.Err)
		}
	})
	t.Run("other contents", func(t *testing.T) {
		f := newFixture(t)
		_, own := ownEcho(t, f)
		kept(t, f, own)
		// A validly signed message of the same ids with other contents
		// (verified in full, as it is not the Own's): they are opened.
		me := messageEvent(t, f.alice, env{seq: "5", prev: "4", conv: f.conv, msgID: own.MessageID}, "1000", f.key, textHolder("other"))
		if bytes.Equal(me.Detail.MessageCreateEvent.Contents, own.Contents) {
			t.Fatal("the fixture's contents are the Own's")
		}
		if ev := Decrypt(aliceKeys(f), encode(t, me), &Options{ConversationID: f.conv, Own: own}); !ev.Verified || ev.Text() != "other" {
			t.Fatalf("verified %v, text %q, %v", ev.Verified, ev.Text(), ev.Err)
		}
		if own.Plain == nil {
			t.Fatal("the plaintext was handed over for other contents")
		}
	})
	t.Run("zero", func(t *testing.T) {
		f := newFixture(t)
		_, own := ownEcho(t, f)
		kept(t, f, own)
		p, k := own.Plain, own.ConversationKey
		own.Zero()
		if own.Plain != nil || own.ConversationKey != nil || !bytes.Equal(p, make([]byte, len(p))) || *k != (crypto.ConversationKey{}) {
			t.Fatal("Zero left the plaintext or the key")
		}
	})
}
