package crypto

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/xchat-go/xchat/internal/decimal"
)

// Signature protocol versions (MessageEventSignature.signature_version).
const (
	// SignatureVersion is the version this package signs at.
	SignatureVersion = 7
	// MinSignatureVersion is the oldest version accepted on verification;
	// version 1 payloads lack the event kind and key version and would allow
	// downgrade forgeries.
	MinSignatureVersion = 2
	// CKeyPlaintextSignatureVersion is the first version whose
	// ConversationKeyChangeEvent payload signs the plaintext conversation
	// key instead of the per-participant encrypted keys.
	CKeyPlaintextSignatureVersion = 6
)

// Payload kinds: the first component of every signed payload string.
const (
	KindMessageCreate        = "MessageCreateEvent"
	KindConversationKey      = "ConversationKeyChangeEvent"
	KindMessageDelete        = "MessageDeleteEvent"
	KindConversationDelete   = "ConversationDeleteEvent"
	KindMarkRead             = "MarkConversationReadEvent"
	KindMarkUnread           = "MarkConversationUnreadEvent"
	KindGroupCreate          = "GroupChangeEvent.GroupCreate"
	KindGroupMemberAdd       = "GroupChangeEvent.GroupMemberAddChange"
	KindGroupMemberRemove    = "GroupChangeEvent.GroupMemberRemoveChange"
	KindGroupAdminAdd        = "GroupChangeEvent.GroupAdminAddChange"
	KindGroupAdminRemove     = "GroupChangeEvent.GroupAdminRemoveChange"
	KindGroupTitleChange     = "GroupChangeEvent.GroupTitleChange"
	KindGroupAvatarChange    = "GroupChangeEvent.GroupAvatarUrlChange"
	KindGroupInviteEnable    = "GroupChangeEvent.GroupInviteEnable"
	KindGroupInviteDisable   = "GroupChangeEvent.GroupInviteDisable"
	KindGroupJoinRequest     = "GroupChangeEvent.GroupJoinRequest"
	KindGroupJoinReject      = "GroupChangeEvent.GroupJoinReject"
	KindDurationChange       = "ConversationMetadataChangeEvent.MessageDurationChange"
	KindDurationRemove       = "ConversationMetadataChangeEvent.MessageDurationRemove"
	KindMuteConversation     = "ConversationMetadataChangeEvent.MuteConversation"
	KindUnmuteConversation   = "ConversationMetadataChangeEvent.UnmuteConversation"
	KindEnableCaptureDetect  = "ConversationMetadataChangeEvent.EnableScreenCaptureDetection"
	KindDisableCaptureDetect = "ConversationMetadataChangeEvent.DisableScreenCaptureDetection"
	KindEnableCaptureBlock   = "ConversationMetadataChangeEvent.EnableScreenCaptureBlocking"
	KindDisableCaptureBlock  = "ConversationMetadataChangeEvent.DisableScreenCaptureBlocking"
)

// knownKinds lists every kind ParsePayload accepts.
var knownKinds = map[string]bool{
	KindMessageCreate: true, KindConversationKey: true, KindMessageDelete: true,
	KindConversationDelete: true, KindMarkRead: true, KindMarkUnread: true,
	KindGroupCreate: true, KindGroupMemberAdd: true, KindGroupMemberRemove: true,
	KindGroupAdminAdd: true, KindGroupAdminRemove: true, KindGroupTitleChange: true,
	KindGroupAvatarChange: true, KindGroupInviteEnable: true, KindGroupInviteDisable: true,
	KindGroupJoinRequest: true, KindGroupJoinReject: true, KindDurationChange: true,
	KindDurationRemove: true, KindMuteConversation: true, KindUnmuteConversation: true,
	KindEnableCaptureDetect: true, KindDisableCaptureDetect: true,
	KindEnableCaptureBlock: true, KindDisableCaptureBlock: true,
}

// ParseSignatureVersion parses a signature_version string. It accepts only
// canonical decimal (no sign, no leading zeros, no spaces) in
// [MinSignatureVersion, SignatureVersion].
//
// This is deliberately stricter than the XDK, which parses with Rust's
// i32::from_str (accepting "+7" and "007"), treats a missing or unparsable
// version as the current one and accepts versions above 7 with the v7
// layout. A missing version is the caller's decision; this function
// rejects "".
func ParseSignatureVersion(s string) (int, error) {
	if len(s) > 2 || !decimal.Valid(s) {
		return 0, fmt.Errorf("%w: %q", ErrUnsupportedSignatureVersion, s)
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < MinSignatureVersion || v > SignatureVersion {
		return 0, fmt.Errorf("%w: %q", ErrUnsupportedSignatureVersion, s)
	}
	return v, nil
}

func checkVersion(v int) error {
	if v < MinSignatureVersion || v > SignatureVersion {
		return fmt.Errorf("%w: %d", ErrUnsupportedSignatureVersion, v)
	}
	return nil
}

// Header holds the envelope fields every payload starts with. They come from
// the MessageEvent envelope (message_id, sender_id, conversation_id) and are
// signed exactly as given; a one-to-one conversation id must already be in
// its canonical "min:max" form. An empty ConversationID means the event
// carries none, and the component is then omitted, as the XDK's verifier
// does.
type Header struct {
	MessageID      string
	SenderID       string
	ConversationID string
}

// Payload is one signed payload: the comma-joined components
// Kind, MessageID, SenderID, [ConversationID], Extra....
type Payload struct {
	Kind           string
	MessageID      string
	SenderID       string
	ConversationID string   // "" when absent; always absent for GroupCreate
	Extra          []string // kind-specific components, in signed order

	secret bool // Extra ends with a plaintext conversation key
}

// Bytes returns the exact byte string that is signed. It fails with
// ErrInvalidPayload if any component contains a comma (the format has no
// escaping). A ConversationKeyChangeEvent payload from v6 on embeds the
// plaintext conversation key: wipe the result after use.
func (p Payload) Bytes() ([]byte, error) {
	n, err := p.size()
	if err != nil {
		return nil, err
	}
	return p.appendTo(make([]byte, 0, n)), nil
}

// AppendBytes appends the signed byte string (see Bytes) to dst and
// returns the extended slice; on error dst is returned unchanged.
func (p Payload) AppendBytes(dst []byte) ([]byte, error) {
	if _, err := p.size(); err != nil {
		return dst, err
	}
	return p.appendTo(dst), nil
}

// components calls f on each component in signed order until f returns
// false.
func (p Payload) components(f func(i int, c string) bool) {
	i := 0
	for _, c := range [...]string{p.Kind, p.MessageID, p.SenderID} {
		if !f(i, c) {
			return
		}
		i++
	}
	if p.ConversationID != "" {
		if !f(i, p.ConversationID) {
			return
		}
		i++
	}
	for _, c := range p.Extra {
		if !f(i, c) {
			return
		}
		i++
	}
}

// size checks that no component contains a comma and returns the length of
// the signed byte string.
func (p Payload) size() (int, error) {
	n, bad := -1, -1
	p.components(func(i int, c string) bool {
		if strings.IndexByte(c, ',') >= 0 {
			bad = i
			return false
		}
		n += len(c) + 1
		return true
	})
	if bad >= 0 {
		return 0, fmt.Errorf("%w: component %d contains a comma", ErrInvalidPayload, bad)
	}
	return n, nil
}

// appendTo appends the components joined by commas; size must have
// accepted p.
func (p Payload) appendTo(dst []byte) []byte {
	p.components(func(i int, c string) bool {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, c...)
		return true
	})
	return dst
}

// digest returns SHA-256 of the signed byte string without building it.
func (p Payload) digest() ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if _, err := p.size(); err != nil {
		return sum, err
	}
	h := sha256.New()
	// The hash takes []byte; feeding it through a small buffer avoids
	// converting (copying) each component on the heap.
	buf := make([]byte, 0, 512)
	p.components(func(i int, c string) bool {
		if i > 0 {
			buf = append(buf, ',')
		}
		for len(c) > 0 {
			n := min(len(c), cap(buf)-len(buf))
			buf = append(buf, c[:n]...)
			c = c[n:]
			if len(buf) == cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
		}
		return true
	})
	h.Write(buf)
	clear(buf[:cap(buf)]) // may hold a plaintext conversation key
	h.Sum(sum[:0])
	return sum, nil
}

// String renders the payload for debugging. The plaintext key of a
// conversation-key payload is redacted, so String is not the signed form;
// use Bytes for that.
func (p Payload) String() string {
	q := p
	if p.secret && len(p.Extra) > 0 {
		q.Extra = append([]string(nil), p.Extra...)
		q.Extra[len(q.Extra)-1] = "REDACTED"
	}
	q.secret = false
	b, err := q.Bytes()
	if err != nil {
		return "crypto.Payload(invalid)"
	}
	return string(b)
}

// GoString implements fmt.GoStringer with the redacted form.
func (p Payload) GoString() string { return p.String() }

// Format implements fmt.Formatter with the redacted form for every verb.
func (p Payload) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// Sign signs the payload with the signing key; it is Sign over Bytes, but
// hashes the components without joining them.
func (p Payload) Sign(k *PrivateKey) ([]byte, error) {
	if err := checkSigner(k); err != nil {
		return nil, err
	}
	h, err := p.digest()
	if err != nil {
		return nil, err
	}
	return signDigest(k, &h)
}

// Verify checks sig over the payload with the signing public key; it is
// Verify over Bytes, but hashes the components without joining them.
func (p Payload) Verify(pub *PublicKey, sig []byte) error {
	if err := checkVerifier(pub, sig); err != nil {
		return err
	}
	h, err := p.digest()
	if err != nil {
		return err
	}
	return verifyDigest(pub, &h, sig)
}

// ParsePayload splits a signed payload string into its components. The kind
// must be known. The conversation id is taken to be present for every kind
// but GroupCreate, which never carries one (payloads signed by this package
// and by the XDK always include it). ParsePayload does not check the number
// of kind-specific components, which depends on the signature version and on
// list lengths. A ConversationKeyChangeEvent payload is treated as secret.
func ParsePayload(s string) (Payload, error) {
	parts := strings.Split(s, ",")
	if !knownKinds[parts[0]] {
		return Payload{}, fmt.Errorf("%w: unknown kind", ErrInvalidPayload)
	}
	need := 4
	if parts[0] == KindGroupCreate {
		need = 3
	}
	if len(parts) < need {
		return Payload{}, fmt.Errorf("%w: %d components", ErrInvalidPayload, len(parts))
	}
	p := Payload{Kind: parts[0], MessageID: parts[1], SenderID: parts[2], secret: parts[0] == KindConversationKey}
	rest := parts[3:]
	if parts[0] != KindGroupCreate {
		p.ConversationID, rest = parts[3], parts[4:]
		if p.ConversationID == "" {
			return Payload{}, fmt.Errorf("%w: empty conversation id", ErrInvalidPayload)
		}
	}
	if p.MessageID == "" || p.SenderID == "" {
		return Payload{}, fmt.Errorf("%w: empty message or sender id", ErrInvalidPayload)
	}
	if len(rest) > 0 {
		p.Extra = rest
	}
	return p, nil
}

func newPayload(version int, kind string, h Header, extra []string) (Payload, error) {
	if err := checkVersion(version); err != nil {
		return Payload{}, err
	}
	if h.MessageID == "" || h.SenderID == "" {
		return Payload{}, fmt.Errorf("%w: empty message or sender id", ErrInvalidPayload)
	}
	p := Payload{Kind: kind, MessageID: h.MessageID, SenderID: h.SenderID, ConversationID: h.ConversationID, Extra: extra}
	if _, err := p.size(); err != nil {
		return Payload{}, err
	}
	return p, nil
}

func nullStr(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

func nullInt(n *int64) string {
	if n == nil {
		return "null"
	}
	return strconv.FormatInt(*n, 10)
}

func nullBool(b *bool) string {
	if b == nil {
		return "null"
	}
	return strconv.FormatBool(*b)
}

func cat(lists ...[]string) []string {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]string, 0, n)
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// MessageCreatePayload builds the payload of a MessageCreateEvent (also used
// by replies, edits and reaction add/remove, which are all MessageCreate
// events): ckv, b64nopad(contents), where contents is the secretbox output.
// The layout is the same for every version from 2 to 7.
func MessageCreatePayload(version int, h Header, conversationKeyVersion string, contents []byte) (Payload, error) {
	return newPayload(version, KindMessageCreate, h, []string{conversationKeyVersion, base64.RawStdEncoding.EncodeToString(contents)})
}

// AppendMessageCreatePayload appends the signed byte string of
// MessageCreatePayload(version, h, conversationKeyVersion, contents) to dst
// and returns the extended slice, encoding contents straight into it: the
// allocation-free way to build the payload for Sign. On error dst is
// returned unchanged.
func AppendMessageCreatePayload(dst []byte, version int, h Header, conversationKeyVersion string, contents []byte) ([]byte, error) {
	p, err := newPayload(version, KindMessageCreate, h, []string{conversationKeyVersion})
	if err != nil {
		return dst, err
	}
	n, _ := p.size()
	dst = slices.Grow(dst, n+1+base64.RawStdEncoding.EncodedLen(len(contents)))
	dst = append(p.appendTo(dst), ',')
	return base64.RawStdEncoding.AppendEncode(dst, contents), nil
}

// ParticipantKey is one entry of ConversationKeyChangeEvent's
// conversation_participant_keys, as carried in the event (the encrypted key
// is its base64 string, signed verbatim).
type ParticipantKey struct {
	UserID                   string
	EncryptedConversationKey string
	PublicKeyVersion         string
}

// KeyChange describes a ConversationKeyChangeEvent for signing.
type KeyChange struct {
	// ConversationKeyVersion is the new key's version.
	ConversationKeyVersion string
	// Key is the plaintext key, signed from version 6 on.
	Key *ConversationKey
	// Participants are the encrypted copies, signed (in event order, each as
	// user id, encrypted key, key version) before version 6.
	Participants []ParticipantKey
}

// KeyChangePayload builds a ConversationKeyChangeEvent payload. From version
// 6: ckv, b64nopad(plaintext key). Versions 2 to 5: ckv followed by
// user_id, encrypted_conversation_key, public_key_version for each
// participant. The v6+ payload is secret (see Payload.Bytes).
func KeyChangePayload(version int, h Header, kc KeyChange) (Payload, error) {
	if err := checkVersion(version); err != nil {
		return Payload{}, err
	}
	if version >= CKeyPlaintextSignatureVersion {
		if kc.Key == nil {
			return Payload{}, fmt.Errorf("%w: version %d signs the plaintext key", ErrInvalidPayload, version)
		}
		p, err := newPayload(version, KindConversationKey, h, []string{kc.ConversationKeyVersion, base64.RawStdEncoding.EncodeToString(kc.Key[:])})
		p.secret = err == nil
		return p, err
	}
	extra := make([]string, 0, 1+3*len(kc.Participants))
	extra = append(extra, kc.ConversationKeyVersion)
	for _, pk := range kc.Participants {
		extra = append(extra, pk.UserID, pk.EncryptedConversationKey, pk.PublicKeyVersion)
	}
	return newPayload(version, KindConversationKey, h, extra)
}

// Delete actions of MessageDeleteEvent.delete_message_action.
const (
	DeleteForSelf int32 = 1
	DeleteForAll  int32 = 2
)

// MessageDeletePayload builds a MessageDeleteEvent payload: action, then the
// sequence ids. Same layout for every version.
func MessageDeletePayload(version int, h Header, action int32, sequenceIDs []string) (Payload, error) {
	return newPayload(version, KindMessageDelete, h, cat([]string{strconv.FormatInt(int64(action), 10)}, sequenceIDs))
}

// ConversationDeletePayload builds a ConversationDeleteEvent payload: the
// clear_all_messages flag and sort_order_msec, each only when present.
func ConversationDeletePayload(version int, h Header, clearAllMessages *bool, sortOrderMsec *int64) (Payload, error) {
	var extra []string
	if clearAllMessages != nil {
		extra = append(extra, strconv.FormatBool(*clearAllMessages))
	}
	if sortOrderMsec != nil {
		extra = append(extra, strconv.FormatInt(*sortOrderMsec, 10))
	}
	return newPayload(version, KindConversationDelete, h, extra)
}

// MarkReadPayload builds a MarkConversationReadEvent payload: seen-until
// sequence id, then seen_at_millis when present.
func MarkReadPayload(version int, h Header, seenUntilSequenceID string, seenAtMillis *int64) (Payload, error) {
	extra := []string{seenUntilSequenceID}
	if seenAtMillis != nil {
		extra = append(extra, strconv.FormatInt(*seenAtMillis, 10))
	}
	return newPayload(version, KindMarkRead, h, extra)
}

// MarkUnreadPayload builds a MarkConversationUnreadEvent payload: the
// seen-until sequence id when present.
func MarkUnreadPayload(version int, h Header, seenUntilSequenceID *string) (Payload, error) {
	var extra []string
	if seenUntilSequenceID != nil {
		extra = []string{*seenUntilSequenceID}
	}
	return newPayload(version, KindMarkUnread, h, extra)
}

// GroupCreate describes a GroupChangeEvent.GroupCreate for signing.
type GroupCreate struct {
	ConversationKeyVersion string
	MemberIDs              []string
	IsLegacyGroupUpgrade   *bool
	Title                  *string
	AvatarURL              *string
}

// GroupCreatePayload builds a GroupCreate payload. It never includes the
// conversation id (h.ConversationID is ignored): ckv, member ids..., and
// from version 4 on is_legacy_group_upgrade, title, avatar_url, absent
// values rendered as "null". Admin ids and ttl are not signed.
func GroupCreatePayload(version int, h Header, gc GroupCreate) (Payload, error) {
	extra := cat([]string{gc.ConversationKeyVersion}, gc.MemberIDs)
	if version >= 4 {
		extra = append(extra, nullBool(gc.IsLegacyGroupUpgrade), nullStr(gc.Title), nullStr(gc.AvatarURL))
	}
	h.ConversationID = ""
	return newPayload(version, KindGroupCreate, h, extra)
}

// GroupInvite is the optional group_invite_enable of a member add.
type GroupInvite struct {
	InviteURL     *string
	AffiliateID   *string
	ExpiresAtMsec *int64
}

// GroupMemberAdd describes a GroupChangeEvent.GroupMemberAddChange.
type GroupMemberAdd struct {
	NewMemberIDs                 []string
	CurrentMemberIDs             []string
	CurrentAdminIDs              []string
	CurrentPendingMemberIDs      []string // signed at versions 3 to 6 only
	CurrentTitle                 *string
	CurrentAvatarURL             *string
	CurrentTTLMsec               *int64
	ConversationKeyVersion       string
	ScreenCaptureBlockingEnabled *bool        // signed from version 5
	Invite                       *GroupInvite // signed from version 7, when present
}

// GroupMemberAddPayload builds a GroupMemberAddChange payload:
// new ids..., current ids..., admin ids..., [v3–v6: pending ids...],
// title|null, avatar|null, ttl|null, ckv, [v5+: screen_capture_blocking|null],
// [v7+, invite present: invite_url|null, affiliate_id|null, expires|null].
func GroupMemberAddPayload(version int, h Header, ma GroupMemberAdd) (Payload, error) {
	extra := cat(ma.NewMemberIDs, ma.CurrentMemberIDs, ma.CurrentAdminIDs)
	if version >= 3 && version < 7 {
		extra = append(extra, ma.CurrentPendingMemberIDs...)
	}
	extra = append(extra, nullStr(ma.CurrentTitle), nullStr(ma.CurrentAvatarURL), nullInt(ma.CurrentTTLMsec), ma.ConversationKeyVersion)
	if version >= 5 {
		extra = append(extra, nullBool(ma.ScreenCaptureBlockingEnabled))
	}
	if version >= 7 && ma.Invite != nil {
		extra = append(extra, nullStr(ma.Invite.InviteURL), nullStr(ma.Invite.AffiliateID), nullInt(ma.Invite.ExpiresAtMsec))
	}
	return newPayload(version, KindGroupMemberAdd, h, extra)
}

// GroupIDListPayload builds the payloads whose extras are one id list:
// KindGroupMemberRemove (member ids), KindGroupAdminAdd and
// KindGroupAdminRemove (admin ids), KindGroupJoinReject (rejected user
// ids), KindMuteConversation and KindUnmuteConversation (conversation ids).
func GroupIDListPayload(version int, h Header, kind string, ids []string) (Payload, error) {
	switch kind {
	case KindGroupMemberRemove, KindGroupAdminAdd, KindGroupAdminRemove, KindGroupJoinReject,
		KindMuteConversation, KindUnmuteConversation:
	default:
		return Payload{}, fmt.Errorf("%w: %q is not an id-list kind", ErrInvalidPayload, kind)
	}
	return newPayload(version, kind, h, cat(ids))
}

// GroupTitleChangePayload builds a GroupTitleChange payload: ckv, title
// (empty when absent).
func GroupTitleChangePayload(version int, h Header, conversationKeyVersion string, title *string) (Payload, error) {
	t := ""
	if title != nil {
		t = *title
	}
	return newPayload(version, KindGroupTitleChange, h, []string{conversationKeyVersion, t})
}

// GroupAvatarChangePayload builds a GroupAvatarUrlChange payload: ckv,
// avatar url (empty when absent).
func GroupAvatarChangePayload(version int, h Header, conversationKeyVersion string, avatarURL *string) (Payload, error) {
	a := ""
	if avatarURL != nil {
		a = *avatarURL
	}
	return newPayload(version, KindGroupAvatarChange, h, []string{conversationKeyVersion, a})
}

// GroupInviteEnablePayload builds a GroupInviteEnable payload: invite url,
// expires_at_msec|null, affiliate_id|null (note the order differs from the
// invite trailer of a member add).
func GroupInviteEnablePayload(version int, h Header, inviteURL string, expiresAtMsec *int64, affiliateID *string) (Payload, error) {
	return newPayload(version, KindGroupInviteEnable, h, []string{inviteURL, nullInt(expiresAtMsec), nullStr(affiliateID)})
}

// GroupInviteDisablePayload builds a GroupInviteDisable payload: the id of
// the member who disabled the invite.
func GroupInviteDisablePayload(version int, h Header, disabledByMemberID string) (Payload, error) {
	return newPayload(version, KindGroupInviteDisable, h, []string{disabledByMemberID})
}

// GroupJoinRequestPayload builds a GroupJoinRequest payload: the requesting
// user id.
func GroupJoinRequestPayload(version int, h Header, requestingUserID string) (Payload, error) {
	return newPayload(version, KindGroupJoinRequest, h, []string{requestingUserID})
}

// DurationChangePayload builds a MessageDurationChange payload: ttl_msec.
func DurationChangePayload(version int, h Header, ttlMsec int64) (Payload, error) {
	return newPayload(version, KindDurationChange, h, []string{strconv.FormatInt(ttlMsec, 10)})
}

// FlagPayload builds the metadata payloads without extras:
// KindDurationRemove and the four screen-capture detection/blocking kinds.
func FlagPayload(version int, h Header, kind string) (Payload, error) {
	switch kind {
	case KindDurationRemove, KindEnableCaptureDetect, KindDisableCaptureDetect,
		KindEnableCaptureBlock, KindDisableCaptureBlock:
	default:
		return Payload{}, fmt.Errorf("%w: %q is not a flag kind", ErrInvalidPayload, kind)
	}
	return newPayload(version, kind, h, nil)
}
