package peer_test

import (
	"context"
	"fmt"
	"log"

	"github.com/xchat-go/xchat/interop/peer"
)

// Start the official SDK, create keys for one account and check their
// binding from a second SDK instance.
func ExampleStart() {
	ctx := context.Background()
	p, err := peer.Start(ctx)
	if err != nil {
		log.Fatal(err) // e.g. peer.ErrSDKNotInstalled: run npm ci in interop/
	}
	defer p.Close()

	reg, err := p.Account("alice").GenerateKeypairs(ctx)
	if err != nil {
		log.Fatal(err)
	}
	ok, err := p.Account("bob").VerifyKeyBinding(ctx,
		reg.PublicKey.PublicKey, reg.PublicKey.SigningPublicKey, reg.PublicKey.IdentityPublicKeySignature)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("binding verified:", ok)
	// Output: binding verified: true
}
