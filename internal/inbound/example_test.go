package inbound_test

import (
	"context"
	"fmt"
	"log"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/inbound"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// sealedMessage plays the sender: it encrypts and signs a text message the
// way the official SDK does, and wraps it in the server's envelope.
func sealedMessage(from *crypto.KeyPair, seq, prev, text string, key *crypto.ConversationKey) []byte {
	s := func(v string) *string { return &v }
	plain, err := wire.EncodeMessageEntryHolder(&product.MessageEntryHolder{Contents: &product.MessageEntryContents{
		Message: &product.MessageContents{MessageText: s(text)}}})
	if err != nil {
		panic(err)
	}
	box, err := crypto.Seal(nil, key, plain)
	if err != nil {
		panic(err)
	}
	h := wire.Envelope{SequenceID: seq, PreviousSequenceID: prev, MessageID: "msg-" + seq, SenderID: "1111", ConversationID: "1111:2222"}
	p, err := crypto.MessageCreatePayload(crypto.SignatureVersion,
		crypto.Header{MessageID: h.MessageID, SenderID: h.SenderID, ConversationID: h.ConversationID}, "1000", box)
	if err != nil {
		panic(err)
	}
	sig, err := p.Sign(from.Signing)
	if err != nil {
		panic(err)
	}
	raw, err := h.Encode(&tevent.MessageEventDetail{MessageCreateEvent: &tevent.MessageCreateEvent{Contents: box, ConversationKeyVersion: s("1000")}},
		wire.Signature(sig, "1", crypto.SignatureVersion))
	if err != nil {
		panic(err)
	}
	return raw
}

// Example decrypts a conversation history with DecryptBatch and checks the
// transcript with a Chain.
func Example() {
	alice, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}
	bob, err := crypto.GenerateKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}
	key, err := crypto.NewConversationKey(nil)
	if err != nil {
		log.Fatal(err)
	}

	// Bob's view: his identity, Alice's pinned signing key, the
	// conversation key.
	keys := &inbound.StaticKeys{IdentityKey: bob.Identity, UserID: "2222", KeyVersion: "1"}
	keys.AddSigningKey("1111", "1", alice.Signing.PublicKey())
	keys.AddConversationKey("1111:2222", "1000", key)

	history := [][]byte{
		sealedMessage(alice, "1", "", "hi bob", key),
		sealedMessage(alice, "2", "1", "lunch?", key),
		sealedMessage(alice, "4", "3", "(event 3 withheld)", key),
	}
	chain := inbound.NewChain()
	opts := &inbound.Options{ConversationID: "1111:2222"}
	for ev, err := range inbound.DecryptBatch(context.Background(), keys, inbound.FromBytes(history), opts) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("%s %s verified=%v %q\n", ev.SequenceID, ev.Kind, ev.Verified, ev.Text())
		for _, a := range chain.Observe(ev) {
			fmt.Println("  anomaly:", a)
		}
	}
	// Output:
	// 1 message verified=true "hi bob"
	// 2 message verified=true "lunch?"
	// 4 message verified=true "(event 3 withheld)"
	//   anomaly: gap in 1111:2222 at 4 (3)
}
