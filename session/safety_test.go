package session

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/keystore"
)

// TestSafetyNumberKnownAnswer checks SafetyNumber against a value computed
// independently, with Python's hashlib and pyca/cryptography (OpenSSL), by
// this script (python3, cryptography 48):
//
//	import hashlib, struct
//	from cryptography.hazmat.primitives.asymmetric import ec
//	from cryptography.hazmat.primitives import serialization
//
//	def scalar(label):
//	    return hashlib.sha256(label.encode()).digest()
//
//	def spki(priv32):
//	    k = ec.derive_private_key(int.from_bytes(priv32, "big"), ec.SECP256R1())
//	    return k.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
//
//	def half(uid, ident, sign):
//	    h = hashlib.sha512(b"XChat-SafetyNumber-v1" + struct.pack(">H", len(uid)) + uid.encode() + ident + sign).digest()
//	    for _ in range(5200 - 1):
//	        h = hashlib.sha512(h + ident + sign).digest()
//	    return "".join("%05d" % (int.from_bytes(h[i*5:i*5+5], "big") % 100000) for i in range(6))
//
//	users = {}
//	for name, uid in (("alice", "9"), ("bob", "10")):
//	    i, s = scalar(name + " identity"), scalar(name + " signing")
//	    users[name] = (uid, i, s)
//	    print(name, uid, "backup", (i + s).hex())
//	(a_id, a_i, a_s), (b_id, b_i, b_s) = users["alice"], users["bob"]
//	ha, hb = half(a_id, spki(a_i), spki(a_s)), half(b_id, spki(b_i), spki(b_s))
//	digits = ha + hb if int(a_id) < int(b_id) else hb + ha
//	print("safety", " ".join(digits[i:i+5] for i in range(0, 60, 5)))
//
// The user ids 9 and 10 also check the numeric order of the halves (as
// strings, "10" sorts first).
func TestSafetyNumberKnownAnswer(t *testing.T) {
	const want = "51991 02027 50631 90401 60418 94797 15228 46791 15630 72526 52611 21145"
	backups := map[string]string{
		"alice": "8435bdbfc8764bc8378c88f2b9aea9e662c73c46a1e1c71b64d5dadc0523dbdab4b00562ec0e3227e5b04f59671d0f860f13aea88f1cfedc9e1615bc25ccc867",
		"bob":   "0976df1c894cf6363e224fe412cac4eba35c14c9a172a2260c6ded5e037ae6c139e6b86fa7e40671484b69be28376e55df9b07b9159270d2b8cf49af14353611",
	}
	next := uint64(8)
	n := newNet(t, emulator.WithIDSource(func() uint64 { next++; return next }))
	ctx := ctxT(t)
	open := func(name, wantID string) *Engine {
		t.Helper()
		id, token := n.provision(name)
		if id != wantID {
			t.Fatalf("%s was given user id %s, want %s (the expected value is computed for it)", name, id, wantID)
		}
		backup, err := hex.DecodeString(backups[name])
		if err != nil {
			t.Fatal(err)
		}
		store := keystore.NewMemory()
		if err := ImportBackup(ctx, store, id, backup, ""); err != nil {
			t.Fatal(err)
		}
		e, err := Open(ctx, store, NewAPIServer(n.client(token)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		if _, err := e.Register(ctx); err != nil {
			t.Fatal(err)
		}
		return e
	}
	alice, bob := open("alice", "9"), open("bob", "10")
	for _, c := range []struct {
		who  string
		e    *Engine
		peer string
	}{{"alice", alice, bob.UserID()}, {"bob", bob, alice.UserID()}} {
		got, err := c.e.SafetyNumber(context.Background(), c.peer)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s's safety number = %q, want %q", c.who, got, want)
		}
	}
}
