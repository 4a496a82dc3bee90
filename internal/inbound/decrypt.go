package inbound

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/session/event"
	tevent "github.com/xchat-go/xchat/thriftgen/event"
	"github.com/xchat-go/xchat/thriftgen/product"
	"github.com/xchat-go/xchat/wire"
)

// Options tune Decrypt and DecryptBatch. The zero value (or nil) is valid.
type Options struct {
	// ConversationID, when set, is the conversation the caller is reading:
	// an event naming any other conversation is rejected with
	// ErrWrongConversation before anything else is done with it.
	ConversationID string
	// Workers bounds DecryptBatch's parallelism (0 = GOMAXPROCS).
	Workers int
	// Window bounds how many events DecryptBatch holds in flight (0 =
	// 8×Workers, at least 32); memory use is proportional to it.
	Window int
	// Signatures, when set, is consulted before a signature is verified
	// and records those that verify (see crypto.VerifyMemo): the same
	// signature over the same payload with the same pinned key is checked
	// once. Only the costly step is saved; every check runs as without it.
	Signatures *crypto.VerifyMemo
	// Unwraps, when set, records the conversation keys unwrapped from key
	// changes for this account (see crypto.UnwrapMemo): a key change
	// served again is not ECIES-decrypted again.
	Unwraps *crypto.UnwrapMemo
	// VerifyOnly checks signatures without decrypting messages: a message
	// whose signature verifies is returned with neither Message nor
	// Verified nor Err set (and its reply preview is not checked). Key
	// changes are processed in full (a v6+ signature covers the key). Use
	// it with Signatures to verify ahead of decrypting.
	VerifyOnly bool
	// Own, when set, describes a message this program has just signed:
	// its echo, carrying exactly those bytes, is not verified again (see
	// Own). Every other event is verified as without it.
	Own *Own
	// Decoded, when set, links two batches over the same events (see
	// Decoded): a VerifyOnly DecryptBatch records in it what it decoded;
	// any other DecryptBatch starts from those records instead of
	// decoding again. Decrypt ignores it.
	Decoded *Decoded
}

// memos are the memos of one decryption (from its Options).
type memos struct {
	sigs    *crypto.VerifyMemo
	unwraps *crypto.UnwrapMemo
	own     *Own
}

func memosOf(opts *Options) memos {
	if opts == nil {
		return memos{}
	}
	return memos{sigs: opts.Signatures, unwraps: opts.Unwraps, own: opts.Own}
}

// Decrypt decodes, verifies and decrypts one encoded MessageEvent (raw
// Thrift bytes). It never returns nil and never panics; problems are
// reported in Event.Err. A key change in the event is unwrapped and
// returned in Event.KeyChange, but Decrypt does not remember it: store it
// through Keys before decrypting messages that depend on it, or use
// DecryptBatch, which does that for the events it streams.
func Decrypt(keys Keys, encoded []byte, opts *Options) *event.Event {
	w := prepare(keys, encoded, opts, nil)
	finish(w, keys, nil)
	return w.ev
}

// DecryptBase64 is Decrypt for the base64 form the REST API returns
// (standard alphabet, padded or not).
func DecryptBase64(keys Keys, encoded string, opts *Options) *event.Event {
	raw, err := decodeB64(encoded)
	if err != nil {
		return &event.Event{Err: err}
	}
	return Decrypt(keys, raw, opts)
}

func decodeB64(s string) ([]byte, error) {
	raw, err := wire.DecodeB64(s)
	if err != nil {
		return nil, fmt.Errorf("%w: base64: %w", ErrMalformed, err)
	}
	return raw, nil
}

// work is one event between the parallel and the sequential stage.
type work struct {
	ev      *event.Event
	mm      memos
	me      *tevent.MessageEvent
	digest  *payloadDigest             // the message's payload hash, kept or reused (see Decoded); nil: none
	opened  bool                       // message signature verified; contents await decryption
	preview *product.ReplyingToPreview // decrypted reply's wire preview (validated)
}

// prepare does everything that does not depend on earlier events of a
// batch: Thrift decode, header mapping, signature verification (the costly
// part) and, for key changes, ECIES unwrap. Safe to run concurrently.
func prepare(keys Keys, raw []byte, opts *Options, learnt *learntKeys) *work {
	return prepareAt(keys, raw, -1, opts, learnt)
}

// prepareAt is prepare for the event at input position pos of a batch
// (-1: none), which may start from or be recorded in Options.Decoded.
func prepareAt(keys Keys, raw []byte, pos int, opts *Options, learnt *learntKeys) *work {
	w, rec := prepareEvent(keys, raw, pos, opts, learnt)
	if rec != nil {
		// Recorded only now, complete: a VerifyOnly batch changes
		// nothing of the decoded values (see below).
		opts.Decoded.put(pos, rec)
	}
	// Only a message still to decrypt, or whose preview gets a second
	// chance with the batch's keys, needs decoded values in finish;
	// everything else was mapped into the Event. Dropping the rest now
	// keeps the in-flight window small whatever the events' lists hold.
	if w.preview != nil && !errors.Is(w.ev.Message.Text.ReplyPreview.Validation.Reason, ErrPreviewDecrypt) {
		w.preview = nil // validated for good
	}
	if w.me != nil {
		if w.ev.Kind != event.KindMessage || (!w.opened && w.preview == nil) {
			w.me = nil
		} else {
			w.me.MessageEventSignature = nil
		}
	}
	return w
}

// prepareEvent is prepare before the decoded values it no longer needs are
// dropped. It returns the entry to record in Options.Decoded, if any.
func prepareEvent(keys Keys, raw []byte, pos int, opts *Options, learnt *learntKeys) (*work, *decodedEvent) {
	ev := &event.Event{Raw: raw}
	w := &work{ev: ev, mm: memosOf(opts)}
	me, rec, err := decodeAt(w, raw, pos, opts)
	if err != nil {
		ev.Err = fmt.Errorf("%w: %w", ErrMalformed, err)
		return w, nil
	}
	w.me = me
	prepareDecoded(w, keys, learnt, opts)
	return w, rec
}

// decodeAt decodes raw, or takes its decoding from Options.Decoded (see
// Decoded). With VerifyOnly, it returns the entry to record once the
// event is prepared.
func decodeAt(w *work, raw []byte, pos int, opts *Options) (*tevent.MessageEvent, *decodedEvent, error) {
	if opts == nil || opts.Decoded == nil || pos < 0 {
		me, err := wire.DecodeMessageEvent(raw)
		return me, nil, err
	}
	if !opts.VerifyOnly {
		if e := opts.Decoded.take(pos, raw); e != nil {
			w.digest = &e.digest
			return e.me, nil, nil
		}
	}
	me, err := wire.DecodeMessageEvent(raw)
	if err != nil || !opts.VerifyOnly {
		return me, nil, err
	}
	rec := &decodedEvent{raw: raw, me: me}
	w.digest = &rec.digest
	return me, rec, nil
}

// prepareDecoded is prepareEvent once the event is decoded (w.me).
func prepareDecoded(w *work, keys Keys, learnt *learntKeys, opts *Options) {
	ev, me := w.ev, w.me
	mapHeader(ev, me)
	d := me.Detail
	if ev.Err = screen(ev, d, opts); ev.Err != nil {
		return
	}
	switch ev.Kind {
	case event.KindMessage:
		prepareMessage(w, keys, learnt, d, opts != nil && opts.VerifyOnly)
	case event.KindKeyChange:
		prepareKeyChange(keys, w.mm, me, ev)
	case event.KindFailure, event.KindTyping, event.KindGrok, event.KindMemberAccountDelete:
		mapUnsigned(ev, d)
	default: // the other signed kinds: verify, then expose
		if err := verifyEvent(keys, w.mm, me, d, nil, ev); err != nil {
			ev.Err = err
			return
		}
		if err := screenActor(ev, d); err != nil {
			ev.Err = err
			return
		}
		ev.Verified = true
		mapSigned(ev, me, d)
	}
}

// mapHeader maps the envelope: ids, time, the signature as described (not
// checked) and the kind of detail.
func mapHeader(ev *event.Event, me *tevent.MessageEvent) {
	ev.SequenceID = me.GetSequenceID()
	ev.PreviousSequenceID = me.GetPreviousSequenceID()
	ev.MessageID = me.GetMessageID()
	ev.SenderID = me.GetSenderID()
	ev.ConversationID = me.GetConversationID()
	if ms, err := strconv.ParseInt(me.GetCreatedAtMsec(), 10, 64); err == nil {
		ev.CreatedAt = time.UnixMilli(ms)
	}
	if s := me.MessageEventSignature; s != nil {
		ev.Signature = &event.SignatureInfo{PublicKeyVersion: s.GetPublicKeyVersion()}
		if s.SignatureVersion != nil {
			ev.Signature.Version, _ = parseSigVersion(*s.SignatureVersion)
		}
		if s.SigningPublicKey != nil {
			ev.Signature.EmbeddedKey, _ = base64.StdEncoding.DecodeString(*s.SigningPublicKey)
		}
	}
	ev.Kind = kindOf(me.Detail)
}

// screen refuses, before any key is used, an event with no known detail,
// one from another conversation than the caller's, and a signed one in a
// one-to-one conversation from neither of its users.
func screen(ev *event.Event, d *tevent.MessageEventDetail, opts *Options) error {
	// An envelope without a detail (e.g. an empty struct) is malformed,
	// whatever conversation it names or omits.
	if d == nil || ev.Kind == event.KindUnknown {
		return fmt.Errorf("%w: event carries no known detail", ErrMalformed)
	}
	if opts != nil && opts.ConversationID != "" && ev.ConversationID != CanonicalConversationID(opts.ConversationID) {
		return fmt.Errorf("%w: event names %q, expected %q", ErrWrongConversation, ev.ConversationID, opts.ConversationID)
	}
	if ev.Kind.Signed() && !oneToOneMember(ev.ConversationID, ev.SenderID) {
		return fmt.Errorf("%w: sender %s in %s", ErrSenderNotParticipant, ev.SenderID, ev.ConversationID)
	}
	// A group change belongs to a group: a create signs no conversation
	// id, so one the server relabels into a one-to-one conversation of its
	// author would verify there.
	if _, _, ok := wire.SplitOneToOne(ev.ConversationID); ok && ev.Kind == event.KindGroupChange {
		return fmt.Errorf("%w: a group change in the one-to-one conversation %s", ErrWrongConversation, ev.ConversationID)
	}
	return nil
}

// screenActor refuses a verified group change that names, besides its sender, the
// user who acts, when that user is not its sender: a join request's
// requesting user, an invite disable's disabling member. Both are signed,
// but by the sender: the one who requests to join, or disables the
// invite, is the one who signs it. A sender who signs another's id there
// claims that user's act; the name is never shown.
func screenActor(ev *event.Event, d *tevent.MessageEventDetail) error {
	if d.GroupChangeEvent == nil || d.GroupChangeEvent.GroupChange == nil {
		return nil
	}
	gc := d.GroupChangeEvent.GroupChange
	switch {
	case gc.GroupJoinRequest != nil && gc.GroupJoinRequest.RequestingUserID != nil && *gc.GroupJoinRequest.RequestingUserID != ev.SenderID:
		return fmt.Errorf("%w: join request by %s names another requesting user", ErrActorNotSender, ev.SenderID)
	case gc.GroupInviteDisable != nil && gc.GroupInviteDisable.DisabledByMemberID != nil && *gc.GroupInviteDisable.DisabledByMemberID != ev.SenderID:
		return fmt.Errorf("%w: invite disable by %s names another disabling member", ErrActorNotSender, ev.SenderID)
	}
	return nil
}

// prepareMessage verifies a message create and, when a verified key is
// already at hand, decrypts it here, in parallel; keys learnt from earlier
// events of a batch (which may replace an unverified held key) are
// applied in finish. With verifyOnly, a message whose signature verifies
// is left neither opened nor failed.
func prepareMessage(w *work, keys Keys, learnt *learntKeys, d *tevent.MessageEventDetail, verifyOnly bool) {
	ev, mce := w.ev, d.MessageCreateEvent
	if mce.Contents == nil {
		ev.Err = fmt.Errorf("%w: message has no contents", ErrMalformed)
		return
	}
	if mce.ConversationKeyVersion == nil {
		ev.Err = fmt.Errorf("%w: no conversation key version, nothing to verify", ErrUnencrypted)
		return
	}
	if err := verifyEventDigest(keys, w.mm, w.me, d, nil, ev, w.digest); err != nil {
		ev.Err = err
		return
	}
	if verifyOnly {
		return
	}
	w.opened = true
	version := mce.GetConversationKeyVersion()
	if k, ok := keys.ConversationKey(ev.ConversationID, version); ok && k != nil &&
		heldKeyVerified(keys, ev.ConversationID, version) {
		openMessage(w, keys, nil, k, true)
	} else if k := learnt.key(ev.ConversationID, version); k != nil {
		openMessage(w, keys, nil, k, true)
	}
}

// mapUnsigned maps the details no sender signs (failure, typing, Grok,
// member account delete): server assertions, never Verified.
func mapUnsigned(ev *event.Event, d *tevent.MessageEventDetail) {
	switch ev.Kind {
	case event.KindFailure:
		f := d.MessageFailureEvent
		ev.Failure = &event.Failure{Type: event.FailureType(f.GetFailureType()), Tier: event.RateLimitTier(f.GetRateLimitTier())}
		if ev.Failure.Type < 0 || ev.Failure.Type > event.FailureTooManyPins {
			ev.Failure.Type = event.FailureUnknown
		}
		if ev.Failure.Tier < 0 || ev.Failure.Tier > event.TierPremiumBusiness {
			ev.Failure.Tier = event.TierUnknown
		}
	case event.KindTyping:
		ev.Typing = &event.Typing{ConversationID: d.MessageTypingEvent.GetConversationID()}
	case event.KindGrok:
		ev.Grok = &event.Grok{SearchResponseID: d.GrokSearchResponseEvent.GetSearchResponseID()}
	case event.KindMemberAccountDelete:
		ev.MemberAccountDelete = &event.MemberAccountDelete{MemberID: d.MemberAccountDeleteEvent.GetMemberID()}
	}
}

// mapSigned maps the detail of a verified signed event other than a
// message or key change.
func mapSigned(ev *event.Event, me *tevent.MessageEvent, d *tevent.MessageEventDetail) {
	switch ev.Kind {
	case event.KindGroupChange:
		v, _ := sigVersionOf(me) // verified, so valid
		ev.GroupChange = mapGroupChange(d.GroupChangeEvent, v)
	case event.KindDelete:
		x := d.MessageDeleteEvent
		ev.Delete = &event.Delete{SequenceIDs: x.SequenceIds, Action: event.DeleteAction(x.GetDeleteMessageAction())}
		if ev.Delete.Action != event.DeleteForSelf && ev.Delete.Action != event.DeleteForAll {
			ev.Delete.Action = event.DeleteUnknown
		}
	case event.KindConversationDelete:
		x := d.ConversationDeleteEvent
		ev.ConversationDelete = &event.ConversationDelete{ConversationID: x.GetConversationID()}
		if o := x.ClearConversationOptions; o != nil {
			ev.ConversationDelete.ClearAllMessages = o.GetClearAllMessages()
			ev.ConversationDelete.SortOrderMsec = o.GetSortOrderMsec()
		}
	case event.KindMetadataChange:
		ev.MetadataChange = mapMetadata(d.ConversationMetadataChangeEvent)
	case event.KindMarkRead:
		x := d.MarkConversationReadEvent
		ev.MarkRead = &event.MarkRead{SeenUntilSequenceID: x.GetSeenUntilSequenceID(), SeenAtMillis: x.GetSeenAtMillis()}
	case event.KindMarkUnread:
		ev.MarkUnread = &event.MarkUnread{SeenUntilSequenceID: d.MarkConversationUnreadEvent.GetSeenUntilSequenceID()}
	}
}

func kindOf(d *tevent.MessageEventDetail) event.Kind {
	switch {
	case d == nil:
		return event.KindUnknown
	case d.MessageCreateEvent != nil:
		return event.KindMessage
	case d.ConversationKeyChangeEvent != nil:
		return event.KindKeyChange
	case d.GroupChangeEvent != nil:
		return event.KindGroupChange
	case d.MessageFailureEvent != nil:
		return event.KindFailure
	case d.MessageTypingEvent != nil:
		return event.KindTyping
	case d.MessageDeleteEvent != nil:
		return event.KindDelete
	case d.ConversationDeleteEvent != nil:
		return event.KindConversationDelete
	case d.ConversationMetadataChangeEvent != nil:
		return event.KindMetadataChange
	case d.GrokSearchResponseEvent != nil:
		return event.KindGrok
	case d.MarkConversationReadEvent != nil:
		return event.KindMarkRead
	case d.MarkConversationUnreadEvent != nil:
		return event.KindMarkUnread
	case d.MemberAccountDeleteEvent != nil:
		return event.KindMemberAccountDelete
	}
	return event.KindUnknown
}

// parseSigVersion parses a canonical decimal signature version.
func parseSigVersion(s string) (int, bool) {
	if len(s) > 4 || !decimal.Valid(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// sigVersionOf returns the event's signature version: absent means current
// (as in the XDK); present but not a canonical decimal in
// [crypto.MinSignatureVersion, crypto.SignatureVersion] is an error.
func sigVersionOf(me *tevent.MessageEvent) (int, error) {
	s := me.MessageEventSignature
	if s == nil || s.SignatureVersion == nil {
		return crypto.SignatureVersion, nil
	}
	v, ok := parseSigVersion(*s.SignatureVersion)
	switch {
	case !ok:
		return 0, fmt.Errorf("%w: %q is not a version", ErrSignatureVersion, *s.SignatureVersion)
	case v < crypto.MinSignatureVersion:
		return 0, fmt.Errorf("%w: version %d is below the minimum %d (downgrade)", ErrSignatureVersion, v, crypto.MinSignatureVersion)
	case v > crypto.SignatureVersion:
		return 0, fmt.Errorf("%w: version %d is newer than this client understands (%d)", ErrSignatureVersion, v, crypto.SignatureVersion)
	}
	return v, nil
}

// verifyEvent checks the event's signature with the sender's pinned key,
// following verify_event_signature (crates/core/src/core.rs): the key is the
// pinned key of the sender at the signature's public_key_version; the
// payload is rebuilt from the event. Embedded keys are only compared.
func verifyEvent(keys Keys, mm memos, me *tevent.MessageEvent, d *tevent.MessageEventDetail, ckey *crypto.ConversationKey, ev *event.Event) error {
	return verifyEventDigest(keys, mm, me, d, ckey, ev, nil)
}

// verifyEventDigest is verifyEvent with pd, when not nil, holding the
// hash of the payload: made before from the same decoded event (used as
// it is), or not yet (made and kept there). Only a payload that does not
// depend on ckey may be given one (a message's).
func verifyEventDigest(keys Keys, mm memos, me *tevent.MessageEvent, d *tevent.MessageEventDetail, ckey *crypto.ConversationKey, ev *event.Event, pd *payloadDigest) error {
	sig := me.MessageEventSignature
	if sig == nil || sig.Signature == nil {
		return fmt.Errorf("%w: %s event", ErrMissingSignature, kindOf(d))
	}
	version, err := sigVersionOf(me)
	if err != nil {
		return err
	}
	if me.SenderID == nil || *me.SenderID == "" {
		return fmt.Errorf("%w: event has no sender", ErrUnknownSigningKey)
	}
	keyVersion := sig.GetPublicKeyVersion()
	if keyVersion == "" {
		return fmt.Errorf("%w: signature names no key version", ErrUnknownSigningKey)
	}
	pub, ok := keys.SigningKey(*me.SenderID, keyVersion)
	if !ok || pub == nil {
		return fmt.Errorf("%w: sender %s, key version %s", ErrUnknownSigningKey, *me.SenderID, keyVersion)
	}
	raw, rawErr := wire.DecodeB64(*sig.Signature)
	if rawErr == nil && mm.own.signed(me, version, keyVersion, pub, raw) {
		// The echo of exactly what this program signed (see Own).
		if ev != nil {
			compareEmbedded(me, pub, ev)
		}
		return nil
	}
	digest, err := payloadDigestOf(me, d, version, ckey, pd)
	if err != nil {
		return err
	}
	if rawErr != nil {
		return fmt.Errorf("%w: signature is not base64", ErrBadSignature)
	}
	if err := digest.VerifyMemo(pub, raw, mm.sigs); err != nil {
		return fmt.Errorf("%w: sender %s, key version %s: %w", ErrBadSignature, *me.SenderID, keyVersion, err)
	}
	if ev != nil {
		compareEmbedded(me, pub, ev)
	}
	return nil
}

// payloadDigestOf returns the hash of the event's signed payload: the one
// pd holds, else made (and kept in pd, when given).
func payloadDigestOf(me *tevent.MessageEvent, d *tevent.MessageEventDetail, version int, ckey *crypto.ConversationKey, pd *payloadDigest) (crypto.Prehashed, error) {
	if pd != nil && pd.ok {
		return pd.h, nil
	}
	payload, ok := signedPayload(me, d, version, ckey)
	if !ok {
		return crypto.Prehashed{}, fmt.Errorf("%w: %s event", ErrUnsignablePayload, kindOf(d))
	}
	h, err := payload.Prehash()
	if err != nil {
		// As Payload.VerifyMemo would have failed.
		return crypto.Prehashed{}, fmt.Errorf("%w: sender %s: %w", ErrBadSignature, *me.SenderID, err)
	}
	if pd != nil {
		pd.h, pd.ok = h, true
	}
	return h, nil
}

// compareEmbedded reports server-supplied signing keys that differ from the
// pinned key (they are never used for verification).
func compareEmbedded(me *tevent.MessageEvent, pinned *crypto.PublicKey, ev *event.Event) {
	sig := me.MessageEventSignature
	check := func(where, b64 string) {
		raw, err := wire.DecodeB64(b64)
		if err != nil {
			ev.Warnings = append(ev.Warnings, fmt.Errorf("%w: %s is not base64", ErrSigningKeyMismatch, where))
			return
		}
		if !pinned.EqualEncoded(raw) { // as parsing raw and comparing
			ev.Warnings = append(ev.Warnings, fmt.Errorf("%w: %s", ErrSigningKeyMismatch, where))
		}
	}
	if sig.SigningPublicKey != nil && *sig.SigningPublicKey != "" {
		check("signing_public_key", *sig.SigningPublicKey)
	}
	// The first entry for the signer only: parsing a key costs time, and
	// the list (up to 10,000 entries) is the server's.
	for _, info := range sig.MessageSigningKeyInfoList {
		if info == nil || info.GetMemberID() != me.GetSenderID() ||
			info.GetPublicKeyVersion() != sig.GetPublicKeyVersion() || info.GetSigningPublicKey() == "" {
			continue
		}
		check("message_signing_key_info_list", info.GetSigningPublicKey())
		return
	}
}

// prepareKeyChange maps a key change, unwraps this account's copy and
// verifies the signature, applying the XDK's adoption rules
// (extract_conversation_keys, enforce_ckey_signatures, decrypt_event).
func prepareKeyChange(keys Keys, mm memos, me *tevent.MessageEvent, ev *event.Event) {
	kce := me.Detail.ConversationKeyChangeEvent
	kc := &event.KeyChange{
		Version:        kce.GetConversationKeyVersion(),
		ForKeyRotation: kce.GetForKeyRotation(),
		HasRatchetTree: kce.RatchetTreeChange != nil,
	}
	ev.KeyChange = kc
	if n := len(kce.ConversationParticipantKeys); n > MaxKeyChangeParticipants {
		ev.Err = fmt.Errorf("%w: key change lists %d participants, more than %d", ErrMalformed, n, MaxKeyChangeParticipants)
		kc.KeyErr = ev.Err
		return
	}
	kc.Participants = make([]event.ParticipantKey, 0, len(kce.ConversationParticipantKeys))
	for _, pk := range kce.ConversationParticipantKeys {
		if pk == nil {
			continue
		}
		kc.Participants = append(kc.Participants, event.ParticipantKey{
			UserID: pk.GetUserID(), EncryptedKey: pk.GetEncryptedConversationKey(), PublicKeyVersion: pk.GetPublicKeyVersion(),
		})
	}
	if kce.ConversationKeyVersion == nil || !decimal.Valid(kc.Version) {
		ev.Err = fmt.Errorf("%w: key change has no valid key version", ErrMalformed)
		kc.KeyErr = ev.Err
		return
	}

	kc.Key, kc.KeyErr = unwrapOwn(keys, kce, mm.unwraps)

	// The v6+ payload signs the plaintext key: use ours, else a key the
	// caller already holds for this version.
	ckey := kc.Key
	if ckey == nil {
		ckey, _ = keys.ConversationKey(ev.ConversationID, kc.Version)
	}
	version, verr := sigVersionOf(me)
	err := verifyEvent(keys, mm, me, me.Detail, ckey, ev)
	if err == nil {
		ev.Verified = true
		if kc.Key != nil {
			kc.UsableForEncryption = version >= crypto.CKeyPlaintextSignatureVersion
			if !kc.UsableForEncryption {
				kc.DecryptOnly = event.DecryptOnlyPreV6
			}
		}
		return
	}
	ev.Err = err
	if kc.Key == nil {
		return
	}
	// A pre-v6 change (its plaintext key unsigned) that does not verify is
	// kept for decryption only, as the XDK keeps it, and flagged. Anything
	// else that does not verify fails closed, whatever its (unsigned)
	// sequence id: the XDK's enforcement threshold would let a server that
	// lowers the sequence id plant a key.
	if verr == nil && version < crypto.CKeyPlaintextSignatureVersion {
		kc.DecryptOnly = event.DecryptOnlyUnverified
		return
	}
	kc.Key.Zero()
	kc.Key, kc.KeyErr = nil, err
}

// maxUnwrapAttempts bounds the entries of one key change unwrapped for
// this account. An honest key change wraps the key once per participant;
// each failed unwrap costs an ECDH (about 0.2 ms), so a server listing this
// account a thousand times over in every key change of a page could
// otherwise spend minutes of CPU per page.
const maxUnwrapAttempts = 2

// unwrapOwn finds this account's participant entry (matching user id when
// known and key version when both sides name one) and unwraps it, trying
// at most maxUnwrapAttempts matching entries.
func unwrapOwn(keys Keys, kce *tevent.ConversationKeyChangeEvent, memo *crypto.UnwrapMemo) (*crypto.ConversationKey, error) {
	priv, userID, keyVersion := keys.Identity()
	if priv == nil {
		return nil, fmt.Errorf("%w: identity key unavailable", ErrNotParticipant)
	}
	var lastErr error
	found, tried := false, 0
	for _, pk := range kce.ConversationParticipantKeys {
		if pk == nil || pk.EncryptedConversationKey == nil {
			continue
		}
		if userID != "" && pk.UserID != nil && *pk.UserID != userID {
			continue
		}
		if keyVersion != "" && pk.PublicKeyVersion != nil && *pk.PublicKeyVersion != keyVersion {
			continue
		}
		if tried == maxUnwrapAttempts {
			break
		}
		found = true
		tried++
		wrapped, err := wire.DecodeB64(*pk.EncryptedConversationKey)
		if err != nil {
			lastErr = fmt.Errorf("%w: wrapped key is not base64", ErrUnwrap)
			continue
		}
		k, err := crypto.UnwrapConversationKeyMemo(priv, wrapped, memo)
		if err != nil {
			lastErr = fmt.Errorf("%w: %w", ErrUnwrap, err)
			continue
		}
		return k, nil
	}
	if !found {
		return nil, fmt.Errorf("%w: user %s, key version %s", ErrNotParticipant, userID, keyVersion)
	}
	return nil, lastErr
}

// KeyTrust is optionally implemented by Keys to say whether a conversation
// key it holds came from a key change whose signature verified. A key from
// a change that did not verify (DecryptOnlyUnverified) never conflicts with
// nor displaces a held key; a verified change's key replaces an unverified
// one of the same version, so a forged key cannot make the honest key of
// that version undecryptable. Keys that do not implement KeyTrust are taken
// to hold verified keys only.
type KeyTrust interface {
	ConversationKeyVerified(conversationID, version string) bool
}

// heldKeyVerified reports whether the key keys holds for the version is
// taken as verified.
func heldKeyVerified(keys Keys, conv, version string) bool {
	kt, ok := keys.(KeyTrust)
	return !ok || kt.ConversationKeyVerified(conv, version)
}

// batchKey is a conversation key learnt earlier in a batch.
type batchKey struct {
	key      *crypto.ConversationKey
	verified bool
}

// overlay holds conversation keys learnt from key changes earlier in a
// batch. Used only from the sequential stage.
type overlay map[string]map[string]batchKey

func (o overlay) get(conv, version string) (batchKey, bool) {
	k, ok := o[conv][version]
	return k, ok
}

func (o overlay) put(conv, version string, k *crypto.ConversationKey, verified bool) {
	if o[conv] == nil {
		o[conv] = map[string]batchKey{}
	}
	o[conv][version] = batchKey{key: k, verified: verified}
}

// lookupKey resolves a conversation key: keys learnt earlier in the batch
// first (they agree with the caller's verified keys, or replace unverified
// ones), then the caller's Keys.
func lookupKey(keys Keys, ov overlay, conv, version string) (*crypto.ConversationKey, bool) {
	k, _, ok := lookupKeyTrust(keys, ov, conv, version)
	return k, ok
}

// lookupKeyTrust is lookupKey also reporting whether the key is verified.
func lookupKeyTrust(keys Keys, ov overlay, conv, version string) (*crypto.ConversationKey, bool, bool) {
	if ov != nil {
		if bk, ok := ov.get(conv, version); ok {
			return bk.key, bk.verified, true
		}
	}
	if k, ok := keys.ConversationKey(conv, version); ok && k != nil {
		return k, heldKeyVerified(keys, conv, version), true
	}
	return nil, false, false
}

// adoptBatchKey checks a key change's key against the key already known
// for its version and remembers it for the rest of the batch. Two verified
// changes disagreeing is a conflict (ErrKeyConflict, the new key dropped);
// a verified change replaces an unverified key; an unverified change never
// replaces a known key (its key is dropped, the event keeps its signature
// error).
func adoptBatchKey(ev *event.Event, keys Keys, ov overlay) {
	kc := ev.KeyChange
	verified := kc.DecryptOnly != event.DecryptOnlyUnverified
	old, oldVerified, ok := lookupKeyTrust(keys, ov, ev.ConversationID, kc.Version)
	switch {
	case !ok, old.Equal(kc.Key) && verified && !oldVerified:
		if ov != nil {
			ov.put(ev.ConversationID, kc.Version, kc.Key, verified)
		}
	case old.Equal(kc.Key):
	case verified && oldVerified:
		err := fmt.Errorf("%w: conversation %s, version %s", ErrKeyConflict, ev.ConversationID, kc.Version)
		kc.Key.Zero()
		kc.Key, kc.KeyErr, kc.UsableForEncryption, kc.DecryptOnly = nil, err, false, ""
		ev.Verified = false
		ev.Err = errors.Join(ev.Err, err)
	case verified:
		if ov != nil {
			ov.put(ev.ConversationID, kc.Version, kc.Key, true)
		}
	default:
		kc.Key.Zero()
		kc.Key, kc.DecryptOnly = nil, ""
		kc.KeyErr = fmt.Errorf("%w: conversation %s, version %s: an unverified key change never replaces a held key", ErrKeyConflict, ev.ConversationID, kc.Version)
	}
}

// finish runs the order-dependent steps: adopting a key change's key
// (with conflict detection) and decrypting a verified message.
func finish(w *work, keys Keys, ov overlay) {
	ev := w.ev
	if kc := ev.KeyChange; kc != nil && kc.Key != nil {
		adoptBatchKey(ev, keys, ov)
	}
	switch {
	case w.opened && w.preview == nil:
		key, ok := lookupKey(keys, ov, ev.ConversationID, w.me.Detail.MessageCreateEvent.GetConversationKeyVersion())
		openMessage(w, keys, ov, key, ok)
	case w.preview != nil && len(ov) > 0:
		// Decrypted early without the batch's keys; a preview whose source
		// could not be decrypted then gets a second chance with them.
		if v := &w.ev.Message.Text.ReplyPreview.Validation; errors.Is(v.Reason, ErrPreviewDecrypt) {
			*v = validatePreview(keys, w.mm, ov, w.me, w.preview)
		}
	}
}

// openMessage decrypts and maps a verified message with key (ok false: no
// key for its version). For a reply whose preview embeds its source, the
// wire preview is kept in w.preview.
func openMessage(w *work, keys Keys, ov overlay, key *crypto.ConversationKey, ok bool) {
	ev := w.ev
	w.opened = false
	mce := w.me.Detail.MessageCreateEvent
	version := mce.GetConversationKeyVersion()
	if !ok || key == nil {
		ev.Err = &UnknownKeyError{ConversationID: ev.ConversationID, Version: version}
		return
	}
	// The echo of exactly what this program sealed under this very key
	// decrypts to what it sealed (see Own.opened).
	plain := w.mm.own.opened(w.me, key)
	if plain == nil {
		var err error
		if plain, err = crypto.Open(key, mce.Contents); err != nil {
			ev.Err = fmt.Errorf("%w: conversation %s, version %s", ErrDecrypt, ev.ConversationID, version)
			return
		}
	}
	holder, err := wire.DecodeMessageEntryHolder(plain)
	clear(plain)
	if err != nil {
		ev.Err = fmt.Errorf("%w: decrypted contents: %w", ErrMalformed, err)
		return
	}
	m := &event.Message{
		KeyVersion:       version,
		ShouldNotify:     mce.ShouldNotify == nil || *mce.ShouldNotify,
		TTL:              msec(mce.GetTTLMsec()),
		IsMessageRequest: mce.GetIsMessageRequest(),
	}
	if p := messageFromHolder(m, holder); p != nil && p.RawEventMessageCreate != nil {
		m.Text.ReplyPreview.Validation = validatePreview(keys, w.mm, ov, w.me, p)
		w.preview = p
	}
	ev.Message = m
	ev.Verified = true
}

// CanonicalConversationID returns the form of a conversation id that
// events carry and signatures cover: a one-to-one id given as "a-b" or
// "a:b" (either order) becomes the two user ids ordered numerically and
// joined by ':'; group ids ("g…") and anything else are returned unchanged.
// (The XDK's canonical_conversation_id, crates/core/src/pipeline.rs, minus
// its bare-user-id form, which needs the sender.)
func CanonicalConversationID(id string) string {
	a, b, ok := wire.SplitOneToOne(strings.Replace(id, "-", ":", 1))
	if !ok {
		return id
	}
	return wire.OneToOneID(a, b)
}

// oneToOneMember reports whether sender may author events in conv: always
// for group and other ids, and only the two users of a one-to-one "a:b".
func oneToOneMember(conv, sender string) bool {
	a, b, ok := wire.SplitOneToOne(conv)
	return !ok || sender == a || sender == b
}

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }
