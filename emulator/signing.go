package emulator

import (
	"fmt"
	"strconv"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/wire"
)

// Failure-type names used in problem details, matching the Thrift
// FailureType enum.
const (
	failNonLatestKey     = "NON_LATEST_CKEY_VERSION"
	failInvalidSignature = "INVALID_SENDER_SIGNATURE"
	failSigNotVerified   = "SIGNATURE_FAILED_TO_VERIFY_AGAINST_PUBLIC_KEY"
	failNotMember        = "SENDER_NOT_GROUP_MEMBER"
	failNotAdmin         = "REQUESTER_NOT_ADMIN"
	failKeyChanged       = "RECIPIENT_KEY_HAS_CHANGED"
	failTooLarge         = "CONTENTS_TOO_LARGE"
	failSigVersion       = "INVALID_SIGNATURE_VERSION"
)

// checkComponent validates a client-chosen id that ends up inside a signed
// comma-joined payload (message ids): non-empty, bounded, printable ASCII
// without commas.
func checkComponent(field, v string) *apiError {
	if v == "" {
		return errInvalid(field, "%s is required.", field)
	}
	if len(v) > 128 {
		return errInvalid(field, "%s is longer than 128 characters.", field)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' || v[i] == ',' {
			return errInvalid(field, "%s must be printable ASCII without spaces or commas.", field)
		}
	}
	return nil
}

// signer is a checked signature: the registered signing key it claims and
// the raw r||s bytes.
type signer struct {
	key     *crypto.PublicKey
	raw     []byte
	version int
	sig     *event.MessageEventSignature // normalized Thrift form
}

// checkSignature validates the shape of a signature made by user and
// resolves the registered signing key it names. It does not verify it.
func (s *Server) checkSignature(field, user string, sig *event.MessageEventSignature) (*signer, *apiError) {
	if sig == nil || sig.Signature == nil || *sig.Signature == "" {
		return nil, errInvalid(field, "%s: the signature is required.", failInvalidSignature)
	}
	raw, err := crypto.DecodeSignature(*sig.Signature)
	if err != nil {
		return nil, errInvalid(field, "%s: the signature must be standard base64 of a 64-byte raw r||s ECDSA signature.", failInvalidSignature)
	}
	sv := sig.GetSignatureVersion()
	version, err := crypto.ParseSignatureVersion(sv)
	if err != nil {
		return nil, errInvalid(field, "%s: signature_version %q is not supported (want %d..%d).", failSigVersion, clip(sv), crypto.MinSignatureVersion, crypto.SignatureVersion)
	}
	pkv := sig.GetPublicKeyVersion()
	rec := s.st.keyVersion(user, pkv)
	if !isVersion(pkv) || rec == nil {
		return nil, errInvalid(field, "%s: public_key_version %q is not a registered key of user %s.", failInvalidSignature, clip(pkv), user)
	}
	key, _, ok := parsePublicKeyB64(rec.SigningPublicKey)
	if !ok {
		return nil, errInternal()
	}
	if spk := sig.GetSigningPublicKey(); spk != "" {
		claimed, _, ok := parsePublicKeyB64(spk)
		if !ok || !claimed.Equal(key) {
			return nil, errInvalid(field, "%s: signing_public_key is not the registered signing key of version %s.", failInvalidSignature, pkv)
		}
	}
	norm := &event.MessageEventSignature{
		Signature:                 sig.Signature,
		PublicKeyVersion:          &rec.Version,
		SignatureVersion:          &sv,
		MessageSigningKeyInfoList: sig.MessageSigningKeyInfoList,
	}
	// Hydrate the signing key as the backend does, so receivers can match
	// it against the key registry.
	spk := rec.SigningPublicKey
	norm.SigningPublicKey = &spk
	return &signer{key: key, raw: raw, version: version, sig: norm}, nil
}

// verify checks the signature over payload.
func (sg *signer) verify(field, payload string) *apiError {
	if err := crypto.Verify(sg.key, []byte(payload), sg.raw); err != nil {
		return errInvalid(field, "%s: the signature does not verify against the sender's registered signing key.", failSigNotVerified)
	}
	return nil
}

// thriftSig converts the REST JSON signature of an action into Thrift.
func thriftSig(j api.MessageEventSignature) *event.MessageEventSignature {
	sig := &event.MessageEventSignature{
		Signature:        strPtr(j.Signature),
		PublicKeyVersion: strPtr(j.PublicKeyVersion),
		SignatureVersion: strPtr(j.SignatureVersion),
	}
	if j.SigningPublicKey != "" {
		sig.SigningPublicKey = strPtr(j.SigningPublicKey)
	}
	for _, k := range j.MessageSigningKeyInfoList {
		sig.MessageSigningKeyInfoList = append(sig.MessageSigningKeyInfoList, &event.MessageSigningKeyInfo{
			MemberID: optStr(k.MemberID), PublicKeyVersion: optStr(k.PublicKeyVersion), SigningPublicKey: optStr(k.SigningPublicKey),
		})
	}
	return sig
}

// sigToJSON renders a Thrift signature in the REST form.
func sigToJSON(sig *event.MessageEventSignature) *sigJSON {
	if sig == nil {
		return nil
	}
	out := &sigJSON{Signature: sig.GetSignature(), PublicKeyVersion: sig.GetPublicKeyVersion(),
		SignatureVersion: sig.GetSignatureVersion(), SigningPublicKey: sig.GetSigningPublicKey()}
	for _, k := range sig.MessageSigningKeyInfoList {
		if k == nil {
			continue
		}
		out.KeyInfo = append(out.KeyInfo, keyInfoJSON{k.GetMemberID(), k.GetPublicKeyVersion(), k.GetSigningPublicKey()})
	}
	return out
}

func (j *sigJSON) api() *api.MessageEventSignature {
	if j == nil {
		return nil
	}
	out := &api.MessageEventSignature{Signature: j.Signature, PublicKeyVersion: j.PublicKeyVersion,
		SignatureVersion: j.SignatureVersion, SigningPublicKey: j.SigningPublicKey}
	for _, k := range j.KeyInfo {
		out.MessageSigningKeyInfoList = append(out.MessageSigningKeyInfoList, api.SigningKeyInfo(k))
	}
	return out
}

func strPtr(s string) *string { return &s }

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// action is a parsed action signature: its decoded event detail and the
// checked signer.
type action struct {
	messageID string
	detail    *event.MessageEventDetail
	signer    *signer
}

// parseAction decodes and shape-checks action_signatures[i].
func (s *Server) parseAction(user string, i int, a api.ActionSignature) (*action, *apiError) {
	field := fmt.Sprintf("action_signatures[%d]", i)
	if perr := checkComponent(field+".message_id", a.MessageID); perr != nil {
		return nil, perr
	}
	raw, err := wire.DecodeB64(a.EncodedMessageEventDetail)
	if err != nil || len(raw) == 0 {
		return nil, errInvalid(field+".encoded_message_event_detail", "encoded_message_event_detail must be base64 of a Thrift MessageEventDetail.")
	}
	detail, err := wire.DecodeMessageEventDetail(raw)
	if err != nil {
		return nil, errInvalid(field+".encoded_message_event_detail", "encoded_message_event_detail is not a valid Thrift MessageEventDetail.")
	}
	sg, perr := s.checkSignature(field+".message_event_signature", user, thriftSig(a.MessageEventSignature))
	if perr != nil {
		return nil, perr
	}
	return &action{messageID: a.MessageID, detail: detail, signer: sg}, nil
}

// The signed payload strings come from the crypto package's builders, at
// the signature_version the client signed with.

func payloadBytes(p crypto.Payload, err error) (string, bool) {
	if err != nil {
		return "", false
	}
	b, err := p.Bytes()
	if err != nil {
		return "", false
	}
	return string(b), true
}

func messageCreatePayload(version int, messageID, senderID, convID, keyVersion string, contents []byte) (string, bool) {
	return payloadBytes(crypto.MessageCreatePayload(version,
		crypto.Header{MessageID: messageID, SenderID: senderID, ConversationID: convID}, keyVersion, contents))
}

func groupCreatePayload(version int, messageID, senderID string, gc *event.GroupCreate) (string, bool) {
	return payloadBytes(crypto.GroupCreatePayload(version, crypto.Header{MessageID: messageID, SenderID: senderID},
		crypto.GroupCreate{
			ConversationKeyVersion: gc.GetConversationKeyVersion(),
			MemberIDs:              gc.MemberIds,
			IsLegacyGroupUpgrade:   gc.IsLegacyGroupUpgrade,
			Title:                  gc.Title,
			AvatarURL:              gc.AvatarURL,
		}))
}

func groupMemberAddPayload(version int, messageID, senderID, convID string, ma *event.GroupMemberAddChange) (string, bool) {
	add := crypto.GroupMemberAdd{
		NewMemberIDs:                 ma.MemberIds,
		CurrentMemberIDs:             ma.CurrentMemberIds,
		CurrentAdminIDs:              ma.CurrentAdminIds,
		CurrentPendingMemberIDs:      ma.CurrentPendingMemberIds,
		CurrentTitle:                 ma.CurrentTitle,
		CurrentAvatarURL:             ma.CurrentAvatarURL,
		CurrentTTLMsec:               ma.CurrentTTLMsec,
		ConversationKeyVersion:       ma.GetConversationKeyVersion(),
		ScreenCaptureBlockingEnabled: ma.ScreenCaptureBlockingEnabled,
	}
	if inv := ma.GroupInviteEnable; inv != nil {
		add.Invite = &crypto.GroupInvite{InviteURL: inv.InviteURL, AffiliateID: inv.AffiliateID, ExpiresAtMsec: inv.ExpiresAtMsec}
	}
	return payloadBytes(crypto.GroupMemberAddPayload(version,
		crypto.Header{MessageID: messageID, SenderID: senderID, ConversationID: convID}, add))
}

func messageDeletePayload(version int, messageID, senderID, convID string, d *event.MessageDeleteEvent) (string, bool) {
	return payloadBytes(crypto.MessageDeletePayload(version,
		crypto.Header{MessageID: messageID, SenderID: senderID, ConversationID: convID},
		int32(d.GetDeleteMessageAction()), d.SequenceIds))
}

// failureEvent builds the Thrift MessageEvent a sender receives when the
// server rejects a message (detail = MessageFailureEvent), base64-encoded.
func (s *Server) failureEvent(convKey, sender, messageID string, ft event.FailureType) string {
	h := wire.Envelope{MessageID: messageID, SenderID: sender, ConversationID: convKey,
		CreatedAtMsec: strconv.FormatInt(s.nowMsec(), 10)}
	b, err := h.Encode(&event.MessageEventDetail{MessageFailureEvent: &event.MessageFailureEvent{FailureType: &ft}}, nil)
	if err != nil {
		return ""
	}
	return wire.EncodeB64(b)
}

// withFailure attaches a Thrift failure event to a problem.
func (s *Server) withFailure(e *apiError, convKey, sender, messageID string, ft event.FailureType) *apiError {
	if !s.cfg.failureEvents {
		return e
	}
	if enc := s.failureEvent(convKey, sender, messageID, ft); enc != "" {
		e.data = api.SendChatMessageData{EncodedMessageEvent: enc}
	}
	return e
}
