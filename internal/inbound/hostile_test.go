package inbound

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// fixture: alice (1111) writes to bob (2222) in 1111:2222 under key v1000.
type fixture struct {
	alice, bob, mallory *tuser
	conv                string
	key                 *crypto.ConversationKey
	bobKeys             *StaticKeys
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		alice:   newUser(t, "1111", "1"),
		bob:     newUser(t, "2222", "7"),
		mallory: newUser(t, "3333", "1"),
		conv:    "1111:2222",
		key:     newCKey(t),
	}
	f.bobKeys = keysFor(f.bob, f.alice, f.mallory)
	f.bobKeys.AddConversationKey(f.conv, "1000", f.key)
	return f
}

func (f *fixture) msg(t *testing.T, e env, text string) *tevent.MessageEvent {
	t.Helper()
	if e.conv == "" {
		e.conv = f.conv
	}
	return messageEvent(t, f.alice, e, "1000", f.key, textHolder(text))
}

func TestHostileMessages(t *testing.T) {
	f := newFixture(t)
	good := f.msg(t, env{seq: "10"}, "hello bob")
	if ev := Decrypt(f.bobKeys, encode(t, good), nil); ev.Err != nil || !ev.Verified || ev.Text() != "hello bob" {
		t.Fatalf("baseline: %v %q", ev.Err, ev.Text())
	}

	cases := []struct {
		name string
		mut  func(t *testing.T) *tevent.MessageEvent
		opts *Options
		want error
	}{
		{"forged signature (mallory signs as alice)", func(t *testing.T) *tevent.MessageEvent {
			me := messageEvent(t, f.mallory, env{seq: "11", conv: f.conv}, "1000", f.key, textHolder("forged"))
			me.SenderID = ptr(f.alice.id)
			return me
		}, nil, ErrBadSignature},
		{"wrong sender key version", func(t *testing.T) *tevent.MessageEvent {
			return f.msg(t, env{seq: "12", keyVersion: "2"}, "x")
		}, nil, ErrUnknownSigningKey},
		{"downgraded signature version 1", func(t *testing.T) *tevent.MessageEvent {
			return f.msg(t, env{seq: "13", sigVersion: "1"}, "x")
		}, nil, ErrSignatureVersion},
		{"unknown signature version 8", func(t *testing.T) *tevent.MessageEvent {
			return f.msg(t, env{seq: "14", sigVersion: "8"}, "x")
		}, nil, ErrSignatureVersion},
		{"non-canonical signature version 07", func(t *testing.T) *tevent.MessageEvent {
			return f.msg(t, env{seq: "15", sigVersion: "07"}, "x")
		}, nil, ErrSignatureVersion},
		{"empty signature version", func(t *testing.T) *tevent.MessageEvent {
			me := f.msg(t, env{seq: "15"}, "x")
			me.MessageEventSignature.SignatureVersion = ptr("")
			return me
		}, nil, ErrSignatureVersion},
		{"tampered ciphertext", func(t *testing.T) *tevent.MessageEvent {
			me := f.msg(t, env{seq: "16"}, "x")
			me.Detail.MessageCreateEvent.Contents[30] ^= 1
			return me
		}, nil, ErrBadSignature},
		{"signed ciphertext under the wrong key", func(t *testing.T) *tevent.MessageEvent {
			return messageEvent(t, f.alice, env{seq: "17", conv: f.conv}, "1000", newCKey(t), textHolder("x"))
		}, nil, ErrDecrypt},
		{"unknown key version", func(t *testing.T) *tevent.MessageEvent {
			return messageEvent(t, f.alice, env{seq: "18", conv: f.conv}, "2000", newCKey(t), textHolder("x"))
		}, nil, ErrUnknownKeyVersion},
		{"moved to another conversation", func(t *testing.T) *tevent.MessageEvent {
			me := f.msg(t, env{seq: "19"}, "x")
			me.ConversationID = ptr("1111:3333")
			return me
		}, nil, ErrBadSignature},
		{"moved, caller expects its conversation", func(t *testing.T) *tevent.MessageEvent {
			me := f.msg(t, env{seq: "20"}, "x")
			me.ConversationID = ptr("1111:3333")
			return me
		}, &Options{ConversationID: "2222-1111"}, ErrWrongConversation},
		{"re-attributed sender", func(t *testing.T) *tevent.MessageEvent {
			me := f.msg(t, env{seq: "21"}, "x")
			me.SenderID = ptr(f.bob.id)
			me.MessageEventSignature.PublicKeyVersion = ptr(f.bob.ver)
			return me
		}, nil, ErrBadSignature},
		{"re-attributed to an outsider", func(t *testing.T) *tevent.MessageEvent {
			me := f.msg(t, env{seq: "21"}, "x")
			me.SenderID = ptr(f.mallory.id)
			return me
		}, nil, ErrSenderNotParticipant},
		{"re-attributed message id", func(t *testing.T) *tevent.MessageEvent {
			me := f.msg(t, env{seq: "22"}, "x")
			me.MessageID = ptr("another-id")
			return me
		}, nil, ErrBadSignature},
		{"key version relabelled", func(t *testing.T) *tevent.MessageEvent {
			me := f.msg(t, env{seq: "23"}, "x")
			me.Detail.MessageCreateEvent.ConversationKeyVersion = ptr("999")
			return me
		}, nil, ErrBadSignature},
		{"missing signature", func(t *testing.T) *tevent.MessageEvent {
			return f.msg(t, env{seq: "24", noSig: true}, "x")
		}, nil, ErrMissingSignature},
		{"signature not base64", func(t *testing.T) *tevent.MessageEvent {
			me := f.msg(t, env{seq: "25"}, "x")
			me.MessageEventSignature.Signature = ptr("!!!")
			return me
		}, nil, ErrBadSignature},
		{"unencrypted message", func(t *testing.T) *tevent.MessageEvent {
			me := f.msg(t, env{seq: "26"}, "x")
			me.Detail.MessageCreateEvent.ConversationKeyVersion = nil
			return me
		}, nil, ErrUnencrypted},
		{"comma in message id", func(t *testing.T) *tevent.MessageEvent {
			me := f.msg(t, env{seq: "27"}, "x")
			me.MessageID = ptr("a,b")
			return me
		}, nil, ErrUnsignablePayload},
		{"third party's genuine message relayed into a one-to-one", func(t *testing.T) *tevent.MessageEvent {
			return messageEvent(t, f.mallory, env{seq: "29", conv: f.conv}, "1000", f.key, textHolder("hi from outside"))
		}, nil, ErrSenderNotParticipant},
		{"signed by the embedded (attacker) key", func(t *testing.T) *tevent.MessageEvent {
			me := messageEvent(t, f.mallory, env{seq: "28", conv: f.conv}, "1000", f.key, textHolder("x"))
			me.SenderID = ptr(f.alice.id)
			me.MessageEventSignature.SigningPublicKey = ptr(base64.StdEncoding.EncodeToString(f.mallory.kp.Signing.PublicKey().SPKI()))
			return me
		}, nil, ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := Decrypt(f.bobKeys, encode(t, c.mut(t)), c.opts)
			if !errors.Is(ev.Err, c.want) {
				t.Fatalf("err = %v, want %v", ev.Err, c.want)
			}
			if ev.Verified || ev.Message != nil || ev.Text() != "" {
				t.Fatalf("rejected message exposed: verified %v message %+v", ev.Verified, ev.Message)
			}
		})
	}
}

func TestEmbeddedSigningKeyMismatchIsReported(t *testing.T) {
	f := newFixture(t)
	me := f.msg(t, env{seq: "1"}, "hi")
	me.MessageEventSignature.SigningPublicKey = ptr(base64.StdEncoding.EncodeToString(f.mallory.kp.Signing.PublicKey().SPKI()))
	ev := Decrypt(f.bobKeys, encode(t, me), nil)
	if ev.Err != nil || !ev.Verified || len(ev.Warnings) != 1 || !errors.Is(ev.Warnings[0], ErrSigningKeyMismatch) {
		t.Fatalf("err %v verified %v warnings %v", ev.Err, ev.Verified, ev.Warnings)
	}
	// The correct embedded key (SPKI or SEC1) produces no warning.
	for _, k := range [][]byte{f.alice.kp.Signing.PublicKey().SPKI(), f.alice.kp.Signing.PublicKey().Bytes()} {
		me.MessageEventSignature.SigningPublicKey = ptr(base64.StdEncoding.EncodeToString(k))
		me.MessageEventSignature.MessageSigningKeyInfoList = []*tevent.MessageSigningKeyInfo{{
			MemberID: ptr(f.alice.id), PublicKeyVersion: ptr(f.alice.ver), SigningPublicKey: ptr(base64.StdEncoding.EncodeToString(k))}}
		if ev := Decrypt(f.bobKeys, encode(t, me), nil); ev.Err != nil || len(ev.Warnings) != 0 {
			t.Fatalf("matching embedded key: %v %v", ev.Err, ev.Warnings)
		}
	}
	// A mismatching info-list entry is reported too.
	me.MessageEventSignature.MessageSigningKeyInfoList[0].SigningPublicKey = ptr(base64.StdEncoding.EncodeToString(f.mallory.kp.Signing.PublicKey().SPKI()))
	if ev := Decrypt(f.bobKeys, encode(t, me), nil); ev.Err != nil || len(ev.Warnings) != 1 {
		t.Fatalf("info list mismatch: %v %v", ev.Err, ev.Warnings)
	}
}

func TestKeyChanges(t *testing.T) {
	f := newFixture(t)
	k2 := newCKey(t)
	bobOnly := keysFor(f.bob, f.alice, f.mallory)

	t.Run("verified v7", func(t *testing.T) {
		ev := Decrypt(bobOnly, encode(t, keyChangeEvent(t, f.alice, env{seq: "1", conv: f.conv}, "2000", k2, f.alice, f.bob)), nil)
		if ev.Err != nil || !ev.Verified || ev.KeyChange.Key == nil || !ev.KeyChange.Key.Equal(k2) || !ev.KeyChange.UsableForEncryption {
			t.Fatalf("err %v verified %v kc %+v", ev.Err, ev.Verified, ev.KeyChange)
		}
		if len(ev.KeyChange.Participants) != 2 || ev.KeyChange.Participants[1].UserID != f.bob.id {
			t.Fatalf("participants %+v", ev.KeyChange.Participants)
		}
	})
	t.Run("pre-v6 verified but not usable for encryption", func(t *testing.T) {
		ev := Decrypt(bobOnly, encode(t, keyChangeEvent(t, f.alice, env{seq: "1", conv: f.conv, sigVersion: "5"}, "2000", k2, f.alice, f.bob)), nil)
		if ev.Err != nil || !ev.Verified || ev.KeyChange.Key == nil || ev.KeyChange.UsableForEncryption || ev.KeyChange.DecryptOnly != event.DecryptOnlyPreV6 {
			t.Fatalf("err %v verified %v kc %+v", ev.Err, ev.Verified, ev.KeyChange)
		}
	})
	t.Run("not a participant", func(t *testing.T) {
		ev := Decrypt(bobOnly, encode(t, keyChangeEvent(t, f.alice, env{seq: "1", conv: f.conv}, "2000", k2, f.alice, f.mallory)), nil)
		if !errors.Is(ev.KeyChange.KeyErr, ErrNotParticipant) || ev.KeyChange.Key != nil {
			t.Fatalf("key err %v", ev.KeyChange.KeyErr)
		}
		if !errors.Is(ev.Err, ErrUnsignablePayload) || ev.Verified {
			t.Fatalf("err %v", ev.Err)
		}
	})
	t.Run("entry for another key version of ours", func(t *testing.T) {
		oldBob := &tuser{id: f.bob.id, ver: "6", kp: f.bob.kp}
		ev := Decrypt(bobOnly, encode(t, keyChangeEvent(t, f.alice, env{seq: "1", conv: f.conv}, "2000", k2, f.alice, oldBob)), nil)
		if !errors.Is(ev.KeyChange.KeyErr, ErrNotParticipant) {
			t.Fatalf("key err %v", ev.KeyChange.KeyErr)
		}
	})
	t.Run("entry not wrapped to our identity", func(t *testing.T) {
		fakeBob := &tuser{id: f.bob.id, ver: f.bob.ver, kp: f.mallory.kp}
		ev := Decrypt(bobOnly, encode(t, keyChangeEvent(t, f.alice, env{seq: "1", conv: f.conv}, "2000", k2, fakeBob)), nil)
		if !errors.Is(ev.KeyChange.KeyErr, ErrUnwrap) || ev.KeyChange.Key != nil {
			t.Fatalf("key err %v", ev.KeyChange.KeyErr)
		}
	})
	// Sequence ids are not signed: whatever the sequence id, a v6+ key
	// change that does not verify is dropped (the XDK keeps one below its
	// enforcement threshold, 2070276095283454002).
	for _, seq := range []string{"5", "2070276095283454001", "2070276095283454002"} {
		t.Run("forged v7 at sequence "+seq+": dropped", func(t *testing.T) {
			me := keyChangeEvent(t, f.mallory, env{seq: seq, conv: f.conv}, "2000", k2, f.alice, f.bob)
			me.SenderID = ptr(f.alice.id)
			ev := Decrypt(bobOnly, encode(t, me), nil)
			if !errors.Is(ev.Err, ErrBadSignature) || ev.KeyChange.Key != nil || !errors.Is(ev.KeyChange.KeyErr, ErrBadSignature) || ev.KeyChange.DecryptOnly != "" {
				t.Fatalf("err %v kc %+v", ev.Err, ev.KeyChange)
			}
		})
	}
	t.Run("forged pre-v6: kept for decryption only, flagged", func(t *testing.T) {
		me := keyChangeEvent(t, f.mallory, env{seq: "5", conv: f.conv, sigVersion: "5"}, "2000", k2, f.alice, f.bob)
		me.SenderID = ptr(f.alice.id)
		ev := Decrypt(bobOnly, encode(t, me), nil)
		kc := ev.KeyChange
		if !errors.Is(ev.Err, ErrBadSignature) || ev.Verified || kc.Key == nil || kc.UsableForEncryption || kc.DecryptOnly != event.DecryptOnlyUnverified {
			t.Fatalf("err %v verified %v kc %+v", ev.Err, ev.Verified, kc)
		}
	})
	t.Run("downgraded signature version: never adopted", func(t *testing.T) {
		ev := Decrypt(bobOnly, encode(t, keyChangeEvent(t, f.alice, env{seq: "5", conv: f.conv, sigVersion: "1"}, "2000", k2, f.alice, f.bob)), nil)
		if !errors.Is(ev.Err, ErrSignatureVersion) || ev.KeyChange.Key != nil {
			t.Fatalf("err %v kc %+v", ev.Err, ev.KeyChange)
		}
	})
	t.Run("conflicting key for a known version", func(t *testing.T) {
		ev := Decrypt(f.bobKeys, encode(t, keyChangeEvent(t, f.alice, env{seq: "5", conv: f.conv}, "1000", k2, f.alice, f.bob)), nil)
		if !errors.Is(ev.Err, ErrKeyConflict) || ev.Verified || ev.KeyChange.Key != nil {
			t.Fatalf("err %v kc %+v", ev.Err, ev.KeyChange)
		}
	})
	t.Run("same key re-announced is fine", func(t *testing.T) {
		ev := Decrypt(f.bobKeys, encode(t, keyChangeEvent(t, f.alice, env{seq: "5", conv: f.conv}, "1000", f.key, f.alice, f.bob)), nil)
		if ev.Err != nil || !ev.Verified {
			t.Fatalf("err %v", ev.Err)
		}
	})
	t.Run("non-numeric key version", func(t *testing.T) {
		ev := Decrypt(bobOnly, encode(t, keyChangeEvent(t, f.alice, env{seq: "5", conv: f.conv}, "v2", k2, f.alice, f.bob)), nil)
		if !errors.Is(ev.Err, ErrMalformed) || ev.KeyChange.Key != nil {
			t.Fatalf("err %v", ev.Err)
		}
	})
}

func TestReplayedOlderKeyChange(t *testing.T) {
	f := newFixture(t)
	keys := keysFor(f.bob, f.alice)
	k1, k2 := newCKey(t), newCKey(t)
	old := encode(t, keyChangeEvent(t, f.alice, env{seq: "1", conv: f.conv}, "1000", k1, f.alice, f.bob))
	newer := encode(t, keyChangeEvent(t, f.alice, env{seq: "2", prev: "1", conv: f.conv}, "2000", k2, f.alice, f.bob))
	// The caller's high-water mark, as session keeps it.
	high := ""
	chain := NewChain()
	var anomalies []event.Anomaly
	for _, raw := range [][]byte{old, newer, old} {
		ev := Decrypt(keys, raw, nil)
		if ev.Err != nil || !ev.KeyChange.UsableForEncryption {
			t.Fatalf("err %v", ev.Err)
		}
		if decimal.Compare(ev.KeyChange.Version, high) > 0 {
			high = ev.KeyChange.Version
		}
		anomalies = append(anomalies, chain.Observe(ev)...)
	}
	if high != "2000" {
		t.Fatalf("replay displaced the newer key: high-water %q", high)
	}
	if len(anomalies) != 1 || anomalies[0].Kind != event.AnomalyDuplicate {
		t.Fatalf("replay not reported: %v", anomalies)
	}
}

func TestCanonicalConversationID(t *testing.T) {
	for in, want := range map[string]string{
		"111-222": "111:222", "222-111": "111:222", "222:111": "111:222", "10-9": "9:10",
		"g123": "g123", "g1-2": "g1-2", "abc": "abc", "1-2-3": "1-2-3", "": "",
	} {
		if got := CanonicalConversationID(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	f := newFixture(t)
	ev := Decrypt(f.bobKeys, encode(t, f.msg(t, env{seq: "1"}, "hi")), &Options{ConversationID: "2222-1111"})
	if ev.Err != nil || ev.Text() != "hi" {
		t.Fatalf("REST-form expected id: %v", ev.Err)
	}
}

// trustKeys is StaticKeys whose conversation keys are verified only when
// listed in verified (inbound.KeyTrust).
type trustKeys struct {
	*StaticKeys
	verified map[string]bool // conv+"/"+version
}

func (k *trustKeys) ConversationKeyVerified(conv, version string) bool {
	return k.verified[conv+"/"+version]
}

// An unverified key (a pre-v6 change whose signature fails) never conflicts
// with nor replaces a held key; a verified change's key replaces an
// unverified one, in the caller's keys or earlier in the same batch, and
// the messages under it decrypt.
func TestUnverifiedKeysYield(t *testing.T) {
	f := newFixture(t)
	real, forged := newCKey(t), newCKey(t)
	forgedKC := func(seq string) []byte {
		me := keyChangeEvent(t, f.mallory, env{seq: seq, conv: f.conv, sigVersion: "5"}, "3000", forged, f.alice, f.bob)
		me.SenderID = ptr(f.alice.id)
		return encode(t, me)
	}
	realKC := func(seq string) []byte {
		return encode(t, keyChangeEvent(t, f.alice, env{seq: seq, conv: f.conv}, "3000", real, f.alice, f.bob))
	}
	msg := encode(t, messageEvent(t, f.alice, env{seq: "9", conv: f.conv}, "3000", real, textHolder("under the real key")))
	run := func(t *testing.T, keys Keys, raws ...[]byte) []*event.Event {
		var out []*event.Event
		for ev, err := range DecryptBatch(context.Background(), keys, FromBytes(raws), nil) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
		}
		return out
	}
	t.Run("forged first in the batch", func(t *testing.T) {
		evs := run(t, keysFor(f.bob, f.alice, f.mallory), forgedKC("1"), realKC("2"), msg)
		if evs[0].KeyChange.DecryptOnly != event.DecryptOnlyUnverified || evs[0].Verified {
			t.Fatalf("forged: %+v", evs[0].KeyChange)
		}
		if evs[1].Err != nil || !evs[1].Verified || !evs[1].KeyChange.Key.Equal(real) || !evs[1].KeyChange.UsableForEncryption {
			t.Fatalf("real key change after a forged one: %v %+v", evs[1].Err, evs[1].KeyChange)
		}
		if evs[2].Text() != "under the real key" {
			t.Fatalf("message under the real key: %v", evs[2].Err)
		}
	})
	t.Run("forged held as unverified", func(t *testing.T) {
		k := &trustKeys{StaticKeys: keysFor(f.bob, f.alice, f.mallory), verified: map[string]bool{}}
		k.AddConversationKey(f.conv, "3000", forged)
		evs := run(t, k, msg, realKC("2"), msg)
		if evs[0].Err == nil {
			t.Fatal("message decrypted under the forged key")
		}
		if evs[1].Err != nil || !evs[1].KeyChange.Key.Equal(real) || evs[2].Text() != "under the real key" {
			t.Fatalf("real key change %v / message %v", evs[1].Err, evs[2].Err)
		}
	})
	t.Run("forged after the real key", func(t *testing.T) {
		evs := run(t, keysFor(f.bob, f.alice, f.mallory), realKC("2"), forgedKC("3"), msg)
		if evs[1].KeyChange.Key != nil || !errors.Is(evs[1].KeyChange.KeyErr, ErrKeyConflict) || errors.Is(evs[1].Err, ErrKeyConflict) {
			t.Fatalf("forged after real: err %v kc %+v", evs[1].Err, evs[1].KeyChange)
		}
		if evs[2].Text() != "under the real key" {
			t.Fatalf("message: %v", evs[2].Err)
		}
	})
	t.Run("two verified keys still conflict", func(t *testing.T) {
		other := encode(t, keyChangeEvent(t, f.alice, env{seq: "3", conv: f.conv}, "3000", forged, f.alice, f.bob))
		evs := run(t, keysFor(f.bob, f.alice, f.mallory), realKC("2"), other)
		if !errors.Is(evs[1].Err, ErrKeyConflict) || evs[1].KeyChange.Key != nil {
			t.Fatalf("conflict: %v", evs[1].Err)
		}
	})
}

// A key change listing this account over and over costs at most
// maxUnwrapAttempts unwraps: entries past them are not tried, even the
// genuine one.
func TestUnwrapAttemptsBounded(t *testing.T) {
	f := newFixture(t)
	k := newCKey(t)
	decoy := &tuser{id: f.bob.id, ver: f.bob.ver, kp: f.mallory.kp} // wrapped to a key bob does not hold
	for _, c := range []struct {
		decoys int
		found  bool
	}{{0, true}, {maxUnwrapAttempts - 1, true}, {maxUnwrapAttempts, false}, {MaxKeyChangeParticipants - 2, false}} {
		to := []*tuser{f.alice}
		for range c.decoys {
			to = append(to, decoy)
		}
		to = append(to, f.bob)
		ev := Decrypt(keysFor(f.bob, f.alice), encode(t, keyChangeEvent(t, f.alice, env{seq: "1", conv: f.conv}, "2000", k, to...)), nil)
		if got := ev.KeyChange.Key != nil; got != c.found {
			t.Errorf("%d decoys before bob's entry: key found %v, want %v (%v)", c.decoys, got, c.found, ev.KeyChange.KeyErr)
		}
		if !c.found && !errors.Is(ev.KeyChange.KeyErr, ErrUnwrap) {
			t.Errorf("%d decoys: key error %v", c.decoys, ev.KeyChange.KeyErr)
		}
	}
}

// Only the first entry of the signing-key info list naming the signer is
// parsed and compared: the list is the server's, up to 10,000 entries.
func TestEmbeddedKeyListBounded(t *testing.T) {
	f := newFixture(t)
	me := messageEvent(t, f.alice, env{seq: "1", conv: f.conv}, "1000", f.key, textHolder("hi"))
	wrong := base64.StdEncoding.EncodeToString(f.mallory.kp.Signing.PublicKey().SPKI())
	for range 5000 {
		me.MessageEventSignature.MessageSigningKeyInfoList = append(me.MessageEventSignature.MessageSigningKeyInfoList,
			&tevent.MessageSigningKeyInfo{MemberID: ptr(f.alice.id), PublicKeyVersion: ptr(f.alice.ver), SigningPublicKey: ptr(wrong)})
	}
	ev := Decrypt(f.bobKeys, encode(t, me), nil)
	if ev.Err != nil || len(ev.Warnings) != 1 || !errors.Is(ev.Warnings[0], ErrSigningKeyMismatch) {
		t.Fatalf("err %v, %d warnings", ev.Err, len(ev.Warnings))
	}
}
