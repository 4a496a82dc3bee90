package crypto_test

import (
	"fmt"

	"github.com/xchat-go/xchat/crypto"
)

// Example shows the message path: a conversation key is wrapped to a
// recipient's identity key, a message is sealed under it and the event is
// signed; the recipient unwraps, verifies and opens.
func Example() {
	alice, _ := crypto.GenerateKeyPair(nil)
	bob, _ := crypto.GenerateKeyPair(nil)

	ck, _ := crypto.NewConversationKey(nil)
	wrapped, _ := crypto.WrapConversationKey(nil, bob.Identity.PublicKey(), ck)

	contents, _ := crypto.Seal(nil, ck, []byte("serialized MessageEntryHolder"))
	h := crypto.Header{MessageID: "6f1c…uuid", SenderID: "111", ConversationID: "111:222"}
	payload, _ := crypto.MessageCreatePayload(crypto.SignatureVersion, h, "1700000000000", contents)
	sig, _ := payload.Sign(alice.Signing)

	// Bob's side.
	bobKey, _ := crypto.UnwrapConversationKey(bob.Identity, wrapped)
	fmt.Println("signature:", payload.Verify(alice.Signing.PublicKey(), sig))
	pt, _ := crypto.Open(bobKey, contents)
	fmt.Println(string(pt))
	// Output:
	// signature: <nil>
	// serialized MessageEntryHolder
}

// ExampleNewRegistration builds the key-binding fields of the public key
// registration request.
func ExampleNewRegistration() {
	kp, _ := crypto.GenerateKeyPair(nil)
	reg, _ := crypto.NewRegistration(kp)
	f := reg.Fields()
	fmt.Println(f.RegistrationMethod, len(f.PublicKeyFingerprint), reg.Verify())
	// Output: CustomPin 43 <nil>
}

// ExampleKeyPair_Backup round-trips the 64-byte identity ‖ signing backup.
func ExampleKeyPair_Backup() {
	kp, _ := crypto.GenerateKeyPair(nil)
	restored, err := crypto.ParseBackup(kp.Backup())
	fmt.Println(err, restored.Signing.PublicKey().Equal(kp.Signing.PublicKey()))
	fmt.Println(kp.Identity) // secrets never print
	// Output:
	// <nil> true
	// crypto.PrivateKey(REDACTED)
}
