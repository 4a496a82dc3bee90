package testvectors_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"math/big"

	"github.com/xchat-go/xchat/crypto"
)

// Helpers for independent checks with the standard library.

func hx(b []byte) string          { return hex.EncodeToString(b) }
func b64urlNoPad(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// parseStdKey converts a public key to a crypto/ecdsa key.
func parseStdKey(pub *crypto.PublicKey) (*ecdsa.PublicKey, error) {
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pub.Bytes())
}

func ecdsaVerifyASN1(k *ecdsa.PublicKey, hash, der []byte) bool {
	return ecdsa.VerifyASN1(k, hash, der)
}

// rsToDER encodes r and s as an ASN.1 ECDSA-Sig-Value.
func rsToDER(r, s []byte) []byte {
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(r), new(big.Int).SetBytes(s)})
	if err != nil {
		panic(err) // two non-negative integers always marshal
	}
	return der
}
