package inbound

import (
	"bytes"
	"crypto/subtle"

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
	// Plain and ConversationKey, when both set, are the plaintext sealed
	// into Contents and the conversation key it was sealed under (see
	// opened): an echo carrying exactly Contents under a key equal to
	// ConversationKey is not opened again. Plain is handed over (and
	// then wiped by the decryption) once; Zero wipes both.
	Plain           []byte
	ConversationKey *crypto.ConversationKey
}

// opened returns the plaintext of me's contents, opened with key, when
// me is the message o describes (the header and key version signed, the
// same contents) and key is the key o's contents were sealed under:
// opening would decrypt exactly what o.Plain holds. It hands o.Plain over
// (the caller wipes it) and returns nil thereafter, and whenever anything
// differs: the contents are then opened as any others. The key is
// compared in constant time; the other bytes are not secret.
func (o *Own) opened(me *tevent.MessageEvent, key *crypto.ConversationKey) []byte {
	if o == nil || o.Plain == nil || o.ConversationKey == nil || key == nil ||
		me.Detail == nil || me.Detail.MessageCreateEvent == nil {
		return nil
	}
	mce := me.Detail.MessageCreateEvent
	if me.MessageID == nil || *me.MessageID != o.MessageID ||
		me.SenderID == nil || *me.SenderID != o.SenderID ||
		me.ConversationID == nil || *me.ConversationID != o.ConversationID ||
		mce.ConversationKeyVersion == nil || *mce.ConversationKeyVersion != o.KeyVersion ||
		!bytes.Equal(mce.Contents, o.Contents) ||
		subtle.ConstantTimeCompare(key[:], o.ConversationKey[:]) != 1 {
		return nil
	}
	p := o.Plain
	o.Plain = nil
	return p
}

// Zero wipes the plaintext and the conversation key o holds.
func (o *Own) Zero() {
	if o == nil {
		return
	}
	clear(o.Plain)
	o.Plain = nil
	if o.ConversationKey != nil {
		o.ConversationKey.Zero()
		o.ConversationKey = nil
	}
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
