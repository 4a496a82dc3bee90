package testvectors_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// This file is a minimal, test-only receiver built from crypto and wire
// alone: it decodes a server MessageEvent envelope, picks the sender's
// signing key, rebuilds the signed payload for the event kind, verifies it
// and decrypts what there is to decrypt. The real receiver lives in session;
// this one exists so that the vectors are checked against the primitives
// without depending on it.

// Errors of the test receiver that have no crypto/wire sentinel.
var (
	errUnknownSigningKey = errors.New("testvectors: no signing key for sender and key version")
	errMissingSignature  = errors.New("testvectors: event carries no signature")
	errMalformedEvent    = errors.New("testvectors: event lacks a required field or holds an undecodable one")
	errNoKey             = errors.New("testvectors: no conversation key for version")
	errNotRecipient      = errors.New("testvectors: key change not addressed to the recipient")
)

// signer is one trusted signing key: the directory entry of a user at a key
// version.
type signer struct {
	userID, keyVersion string
	pub                *crypto.PublicKey
}

// receiver is the key material one recipient holds.
type receiver struct {
	userID, keyVersion string
	identity           *crypto.PrivateKey
	signers            []signer
	convKeys           map[string]*crypto.ConversationKey
	cross              func(lib string) // records an independent check
}

// record notes an independent check for the case being checked, if any.
func (r *receiver) record(lib string) {
	if r.cross != nil {
		r.cross(lib)
	}
}

// opened is a decoded, verified event.
type opened struct {
	kind       string // "message", "keyChange", "groupCreate", "groupMemberAdd", "messageDelete", "failure"
	ev         *event.MessageEvent
	sigVersion int
	payload    []byte // the signed bytes (nil for failures)
	entry      *product.MessageEntryHolder
	convKey    *crypto.ConversationKey // key change: the unwrapped key
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// open decodes, verifies and decrypts one envelope.
func (r *receiver) open(raw []byte) (*opened, error) {
	ev, err := wire.DecodeMessageEvent(raw)
	if err != nil {
		return nil, err
	}
	return r.openEvent(ev)
}

func (r *receiver) openEvent(ev *event.MessageEvent) (*opened, error) {
	d := ev.Detail
	if d == nil || ev.SenderID == nil || ev.MessageID == nil {
		return nil, errMalformedEvent
	}
	o := &opened{ev: ev}
	if d.MessageFailureEvent != nil {
		o.kind = "failure"
		return o, nil
	}
	sig := ev.MessageEventSignature
	if sig == nil || sig.Signature == nil {
		return nil, errMissingSignature
	}
	v, err := crypto.ParseSignatureVersion(str(sig.SignatureVersion))
	if err != nil {
		return nil, err
	}
	o.sigVersion = v
	var pub *crypto.PublicKey
	for _, s := range r.signers {
		if s.userID == *ev.SenderID && s.keyVersion == str(sig.PublicKeyVersion) {
			pub = s.pub
		}
	}
	if pub == nil {
		return nil, errUnknownSigningKey
	}
	sigBytes, err := crypto.DecodeSignature(*sig.Signature)
	if err != nil {
		return nil, err
	}
	h := crypto.Header{MessageID: *ev.MessageID, SenderID: *ev.SenderID, ConversationID: str(ev.ConversationID)}

	var p crypto.Payload
	switch {
	case d.MessageCreateEvent != nil:
		o.kind = "message"
		mc := d.MessageCreateEvent
		ckv := str(mc.ConversationKeyVersion)
		p, err = crypto.MessageCreatePayload(v, h, ckv, mc.Contents)
		if err != nil {
			return nil, err
		}
		if err := r.verify(o, p, pub, sigBytes); err != nil {
			return nil, err
		}
		k := r.convKeys[ckv]
		if k == nil {
			return nil, fmt.Errorf("%w %q", errNoKey, ckv)
		}
		pt, err := crypto.Open(k, mc.Contents)
		if err != nil {
			return nil, err
		}
		if o.entry, err = wire.DecodeMessageEntryHolder(pt); err != nil {
			return nil, err
		}
		return o, nil

	case d.ConversationKeyChangeEvent != nil:
		o.kind = "keyChange"
		kc := d.ConversationKeyChangeEvent
		ckv := str(kc.ConversationKeyVersion)
		var mine *event.ConversationParticipantKey
		parts := make([]crypto.ParticipantKey, 0, len(kc.ConversationParticipantKeys))
		for _, pk := range kc.ConversationParticipantKeys {
			if pk == nil {
				return nil, errMalformedEvent
			}
			parts = append(parts, crypto.ParticipantKey{
				UserID: str(pk.UserID), EncryptedConversationKey: str(pk.EncryptedConversationKey),
				PublicKeyVersion: str(pk.PublicKeyVersion),
			})
			if str(pk.UserID) == r.userID && str(pk.PublicKeyVersion) == r.keyVersion {
				mine = pk
			}
		}
		if mine == nil {
			return nil, errNotRecipient
		}
		wrapped, err := crypto.DecodeBase64(str(mine.EncryptedConversationKey))
		if err != nil {
			// crypto.DecodeBase64 has no sentinel error; classify it here.
			return nil, fmt.Errorf("%w: encrypted_conversation_key: %w", errMalformedEvent, err)
		}
		ck, err := crypto.UnwrapConversationKey(r.identity, wrapped)
		// Independent: the standard-library ECIES opens the same key.
		if std, stdErr := stdECIESDecrypt(r.identity.Bytes(), wrapped); err == nil && (stdErr != nil || !bytes.Equal(std, ck[:])) {
			return nil, fmt.Errorf("standard-library ECIES gives %x, %v", std, stdErr)
		}
		r.record("crypto/aes")
		if err != nil {
			return nil, err
		}
		p, err = crypto.KeyChangePayload(v, h, crypto.KeyChange{ConversationKeyVersion: ckv, Key: ck, Participants: parts})
		if err != nil {
			return nil, err
		}
		if err := r.verify(o, p, pub, sigBytes); err != nil {
			return nil, err
		}
		o.convKey = ck
		return o, nil

	case d.GroupChangeEvent != nil && d.GroupChangeEvent.GroupChange != nil && d.GroupChangeEvent.GroupChange.GroupCreate != nil:
		o.kind = "groupCreate"
		gc := d.GroupChangeEvent.GroupChange.GroupCreate
		p, err = crypto.GroupCreatePayload(v, h, crypto.GroupCreate{
			ConversationKeyVersion: str(gc.ConversationKeyVersion), MemberIDs: gc.MemberIds,
			IsLegacyGroupUpgrade: gc.IsLegacyGroupUpgrade, Title: gc.Title, AvatarURL: gc.AvatarURL,
		})
	case d.GroupChangeEvent != nil && d.GroupChangeEvent.GroupChange != nil && d.GroupChangeEvent.GroupChange.GroupMemberAdd != nil:
		o.kind = "groupMemberAdd"
		ma := d.GroupChangeEvent.GroupChange.GroupMemberAdd
		var inv *crypto.GroupInvite
		if gi := ma.GroupInviteEnable; gi != nil {
			inv = &crypto.GroupInvite{InviteURL: gi.InviteURL, AffiliateID: gi.AffiliateID, ExpiresAtMsec: gi.ExpiresAtMsec}
		}
		p, err = crypto.GroupMemberAddPayload(v, h, crypto.GroupMemberAdd{
			NewMemberIDs: ma.MemberIds, CurrentMemberIDs: ma.CurrentMemberIds, CurrentAdminIDs: ma.CurrentAdminIds,
			CurrentPendingMemberIDs: ma.CurrentPendingMemberIds, CurrentTitle: ma.CurrentTitle,
			CurrentAvatarURL: ma.CurrentAvatarURL, CurrentTTLMsec: ma.CurrentTTLMsec,
			ConversationKeyVersion:       str(ma.ConversationKeyVersion),
			ScreenCaptureBlockingEnabled: ma.ScreenCaptureBlockingEnabled, Invite: inv,
		})
	case d.MessageDeleteEvent != nil:
		o.kind = "messageDelete"
		md := d.MessageDeleteEvent
		if md.DeleteMessageAction == nil {
			return nil, errMalformedEvent
		}
		p, err = crypto.MessageDeletePayload(v, h, int32(*md.DeleteMessageAction), md.SequenceIds)
	default:
		return nil, fmt.Errorf("%w: unsupported detail", errMalformedEvent)
	}
	if err != nil {
		return nil, err
	}
	if err := r.verify(o, p, pub, sigBytes); err != nil {
		return nil, err
	}
	return o, nil
}

func (r *receiver) verify(o *opened, p crypto.Payload, pub *crypto.PublicKey, sig []byte) error {
	b, err := p.Bytes()
	if err != nil {
		return err
	}
	err = crypto.Verify(pub, b, sig)
	// Independent: crypto/ecdsa reaches the same verdict.
	if std := stdVerifyQuiet(pub, b, sig); std != (err == nil) {
		return fmt.Errorf("crypto/ecdsa says %v, crypto says %w", std, err)
	}
	r.record("crypto/ecdsa")
	if err != nil {
		return err
	}
	o.payload = b
	return nil
}

// messageText returns the text of a plain message entry.
func messageText(e *product.MessageEntryHolder) (string, bool) {
	if e == nil || e.Contents == nil || e.Contents.Message == nil || e.Contents.Message.MessageText == nil {
		return "", false
	}
	return *e.Contents.Message.MessageText, true
}

// checkReplyPreview opens the original event embedded in a reply and
// compares it with the preview, as the XDK's replyPreviewValidation does:
// the embedded event must verify under the original sender's key and its
// text must equal the preview text. It returns the original's text.
func (r *receiver) checkReplyPreview(reply *opened) (string, error) {
	if reply.entry == nil || reply.entry.Contents == nil || reply.entry.Contents.Message == nil {
		return "", errors.New("not a message")
	}
	prev := reply.entry.Contents.Message.ReplyingToPreview
	if prev == nil || prev.RawEventMessageCreate == nil {
		return "", errors.New("no embedded original event")
	}
	orig, err := r.openEvent(prev.RawEventMessageCreate)
	if err != nil {
		return "", fmt.Errorf("embedded original: %w", err)
	}
	text, ok := messageText(orig.entry)
	if !ok {
		return "", errors.New("embedded original has no text")
	}
	if str(prev.MessageText) != text {
		return text, fmt.Errorf("preview %q differs from the signed original %q", str(prev.MessageText), text)
	}
	if prev.ReplyingToMessageID != nil && *prev.ReplyingToMessageID != str(orig.ev.MessageID) {
		return text, fmt.Errorf("preview message id %q differs from the original %q", *prev.ReplyingToMessageID, str(orig.ev.MessageID))
	}
	return text, nil
}

// moduleRoot finds the directory holding go.mod above the working directory.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}
