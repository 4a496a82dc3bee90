package crypto_test

import (
	"fmt"
	"log"

	"github.com/xchat-go/xchat/crypto"
)

// Example shows the message path: a conversation key is wrapped to a
// recipient's identity key, a message is sealed under it and the event is
// signed; the recipient unwraps, verifies and opens.
func Example() {
	alice, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}
	bob, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}

	ck, err := crypto.NewConversationKey(nil)
	if err != nil {
		log.Fatal(err)
	}
	wrapped, err := crypto.WrapConversationKey(nil, bob.Identity.PublicKey(), ck)
	if err != nil {
		log.Fatal(err)
	}

	contents, err := crypto.Seal(nil, ck, []byte("serialized MessageEntryHolder"))
	if err != nil {
		log.Fatal(err)
	}
	h := crypto.Header{MessageID: "6f1c…uuid", SenderID: "111", ConversationID: "111:222"}
	payload, err := crypto.MessageCreatePayload(crypto.SignatureVersion, h, "1700000000000", contents)
	if err != nil {
		log.Fatal(err)
	}
	sig, err := payload.Sign(alice.Signing)
	if err != nil {
		log.Fatal(err)
	}

	// Bob's side.
	bobKey, err := crypto.UnwrapConversationKey(bob.Identity, wrapped)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signature:", payload.Verify(alice.Signing.PublicKey(), sig))
	pt, err := crypto.Open(bobKey, contents)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(pt))
	// Output:
	// signature: <nil>
	// serialized MessageEntryHolder
}

// ExampleNewRegistration builds the key-binding fields of the public key
// registration request.
func ExampleNewRegistration() {
	kp, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}
	reg, err := crypto.NewRegistration(kp)
	if err != nil {
		log.Fatal(err)
	}
	f := reg.Fields()
	fmt.Println(f.RegistrationMethod, len(f.PublicKeyFingerprint), reg.Verify())
	// Output: CustomPin 43 <nil>
}

// ExampleKeyPair_Backup round-trips the 64-byte identity ‖ signing backup.
func ExampleKeyPair_Backup() {
	kp, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}
	restored, err := crypto.ParseBackup(kp.Backup())
	fmt.Println(err, restored.Signing.PublicKey().Equal(kp.Signing.PublicKey()))
	fmt.Println(kp.Identity) // secrets never print
	// Output:
	// <nil> true
	// crypto.PrivateKey(REDACTED)
}
