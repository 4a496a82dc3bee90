package inbound

import (
	"bytes"

	"github.com/xchat-go/xchat/crypto"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
)

// Own describes a message this program has just signed and posted (see
// Options.Own). The server answers a post with the event it stored; when
// that echo carries exactly the components this program signed, the same
// signature and the same signature and public key versions, and the key
// the echo would be checked with is the one that signed, verifying the
// signature again could only succeed: this program made it over those
// bytes. Such an echo skips the ECDSA verification and the rebuilding of
// the payload; every other check runs (conversation, sender, decryption,
// and the caller's own checks of ids). The comparisons are of bytes that
// are not secret. Any difference, however small, has the echo verified in
// full.
type Own struct {
	// MessageID, SenderID and ConversationID are the signed header.
	MessageID, SenderID, ConversationID string
	// KeyVersion is the conversation key version signed.
	KeyVersion string
	// Contents are the encrypted contents signed.
	Contents []byte
	// SignatureVersion and PublicKeyVersion are the versions of the
	// payload layout and of the signing key, as sent.
	SignatureVersion int
	PublicKeyVersion string
	// Signature is the raw signature made.
	Signature []byte
	// Key is the public half of the key that signed.
	Key *crypto.PublicKey
}

// signed reports whether me, a message create whose signature (sig, of
// layout version sigVersion, by key version keyVersion) is checked with
// pub, is exactly the message o describes: verifying it would redo the
// check o stands for.
func (o *Own) signed(me *tevent.MessageEvent, sigVersion int, keyVersion string, pub *crypto.PublicKey, sig []byte) bool {
	if o == nil || o.Key == nil || me.Detail == nil || me.Detail.MessageCreateEvent == nil {
		return false
	}
	mce := me.Detail.MessageCreateEvent
	return me.MessageID != nil && *me.MessageID == o.MessageID &&
		me.SenderID != nil && *me.SenderID == o.SenderID &&
		me.ConversationID != nil && *me.ConversationID == o.ConversationID &&
		mce.ConversationKeyVersion != nil && *mce.ConversationKeyVersion == o.KeyVersion &&
		sigVersion == o.SignatureVersion && keyVersion == o.PublicKeyVersion &&
		len(o.Signature) > 0 && bytes.Equal(sig, o.Signature) &&
		bytes.Equal(mce.Contents, o.Contents) && pub.Equal(o.Key)
}
