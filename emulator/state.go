package emulator

import (
	"slices"
	"time"
)

// The records below are the emulator's whole state. They are JSON-encoded
// into bbolt when a data file is configured. Nothing here is secret except
// that bearer tokens are kept only as SHA-256 digests.

type userRec struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
	// Blocked lists the users this user has DM-blocked.
	Blocked []string `json:"blocked,omitempty"`
}

type tokenRec struct {
	Hash      string    `json:"hash"` // hex SHA-256 of the token
	Kind      string    `json:"kind"` // "access" or "refresh"
	UserID    string    `json:"user_id"`
	ClientID  string    `json:"client_id,omitempty"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

func (t *tokenRec) hasScope(s string) bool { return slices.Contains(t.Scopes, s) }

type publicKeyRec struct {
	UserID                     string    `json:"user_id"`
	Version                    string    `json:"version"`
	PublicKey                  string    `json:"public_key"`
	SigningPublicKey           string    `json:"signing_public_key"`
	IdentityPublicKeySignature string    `json:"identity_public_key_signature"`
	SigningPublicKeySignature  string    `json:"signing_public_key_signature,omitempty"`
	Fingerprint                string    `json:"fingerprint,omitempty"`
	RegistrationMethod         string    `json:"registration_method,omitempty"`
	CreatedAt                  time.Time `json:"created_at"`
}

// convRec is an encrypted Chat conversation. Key is the canonical id used
// inside events: "a:b" (numerically sorted) or "g<digits>".
type convRec struct {
	Key         string            `json:"key"`
	Group       bool              `json:"group"`
	Pending     bool              `json:"pending,omitempty"` // group initialized, not yet created
	CreatorID   string            `json:"creator_id,omitempty"`
	Members     []string          `json:"members"`
	Admins      []string          `json:"admins,omitempty"`
	JoinedAt    map[string]uint64 `json:"joined_at,omitempty"` // member -> first visible sequence id
	Name        string            `json:"name,omitempty"`
	AvatarURL   string            `json:"avatar_url,omitempty"`
	Description string            `json:"description,omitempty"`
	TTLMsec     int64             `json:"ttl_msec,omitempty"`
	// KeyVersion is the latest conversation key version; KeySeq the
	// sequence id of the key change that introduced it.
	KeyVersion string            `json:"key_version,omitempty"`
	KeySeq     uint64            `json:"key_seq,omitempty"`
	LastSeq    uint64            `json:"last_seq,omitempty"`
	ReadUpTo   map[string]uint64 `json:"read_up_to,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

func (c *convRec) isMember(u string) bool { return slices.Contains(c.Members, u) }
func (c *convRec) isAdmin(u string) bool  { return slices.Contains(c.Admins, u) }

func (c *convRec) clone() *convRec {
	n := *c
	n.Members = slices.Clone(c.Members)
	n.Admins = slices.Clone(c.Admins)
	n.JoinedAt = cloneMap(c.JoinedAt)
	n.ReadUpTo = cloneMap(c.ReadUpTo)
	return &n
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	n := make(map[K]V, len(m))
	for k, v := range m {
		n[k] = v
	}
	return n
}

// Kinds of stored chat events.
const (
	kindMessage     = "message"
	kindKeyChange   = "key_change"
	kindGroupChange = "group_change"
	kindDelete      = "delete"
	kindRead        = "read"
)

// eventRec is one stored chat event: the Thrift MessageEvent the server
// built, plus the metadata the server needs to list it.
type eventRec struct {
	Conv       string `json:"conv"`
	Seq        uint64 `json:"seq"`
	PrevSeq    uint64 `json:"prev_seq,omitempty"`
	Kind       string `json:"kind"`
	SenderID   string `json:"sender_id"`
	MessageID  string `json:"message_id,omitempty"`
	CreatedAt  int64  `json:"created_at_msec"`
	KeyVersion string `json:"key_version,omitempty"`
	Token      string `json:"conversation_token,omitempty"`
	Encoded    []byte `json:"encoded"` // TBinaryProtocol MessageEvent
	// SigJSON is the message event signature in its REST JSON form.
	SigJSON *sigJSON `json:"sig,omitempty"`
	// Deleted marks a message deleted for everyone: it is no longer served.
	Deleted bool `json:"deleted,omitempty"`
	// HiddenFor lists users who deleted the event for themselves.
	HiddenFor []string `json:"hidden_for,omitempty"`
	// MediaHashKeys are the media blobs deleted with this delete event.
	MediaHashKeys []string `json:"media_hash_keys,omitempty"`
	// page is the event's JSON in an events page, as rendered for the
	// field list pageFields (see pageEventJSON); not persisted.
	page       []byte
	pageFields string
}

// sigJSON mirrors api.MessageEventSignature for storage.
type sigJSON struct {
	Signature        string        `json:"signature"`
	PublicKeyVersion string        `json:"public_key_version"`
	SignatureVersion string        `json:"signature_version"`
	SigningPublicKey string        `json:"signing_public_key,omitempty"`
	KeyInfo          []keyInfoJSON `json:"key_info,omitempty"`
}

type keyInfoJSON struct {
	MemberID         string `json:"member_id,omitempty"`
	PublicKeyVersion string `json:"public_key_version,omitempty"`
	SigningPublicKey string `json:"signing_public_key,omitempty"`
}

func (e *eventRec) visibleTo(c *convRec, user string) bool {
	if e.Deleted || slices.Contains(e.HiddenFor, user) {
		return false
	}
	if c.Group {
		joined, ok := c.JoinedAt[user]
		if ok && e.Seq < joined {
			return false
		}
	}
	return true
}

// mediaRec is a finalized encrypted media blob. The bytes live in their own
// bucket.
type mediaRec struct {
	Conv      string    `json:"conv"`
	HashKey   string    `json:"hash_key"`
	OwnerID   string    `json:"owner_id"`
	Size      int64     `json:"size"`
	MessageID string    `json:"message_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// uploadRec is an in-progress media upload session (memory only).
type uploadRec struct {
	ID        string
	Conv      string
	HashKey   string
	OwnerID   string
	Total     int64
	Segments  map[int][]byte
	ExpiresAt time.Time
}

// dmConvRec is a legacy (plaintext) Direct Message conversation.
type dmConvRec struct {
	ID           string    `json:"id"`
	Group        bool      `json:"group"`
	Participants []string  `json:"participants"`
	CreatedAt    time.Time `json:"created_at"`
}

// dmEventRec is a legacy Direct Message event.
type dmEventRec struct {
	ID             string    `json:"id"`
	ConvID         string    `json:"conv_id"`
	Type           string    `json:"type"`
	SenderID       string    `json:"sender_id,omitempty"`
	Text           string    `json:"text,omitempty"`
	MediaIDs       []string  `json:"media_ids,omitempty"`
	ParticipantIDs []string  `json:"participant_ids,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// authCode is a pending OAuth authorization code (memory only).
type authCode struct {
	UserID      string
	ClientID    string
	RedirectURI string
	Scopes      []string
	Challenge   string
	Method      string
	ExpiresAt   time.Time
}

// state is everything the server knows. It is guarded by Server.mu.
type state struct {
	users       map[string]*userRec
	usernames   map[string]string // lower-case username -> id
	tokens      map[string]*tokenRec
	keys        map[string][]*publicKeyRec // user -> versions, oldest first
	convs       map[string]*convRec
	events      map[string][]*eventRec // conv -> events, by sequence id
	keyChanges  map[string][]*eventRec // conv -> its key change events, by sequence id
	eventBySeq  map[uint64]*eventRec
	msgIndex    map[string]uint64    // conv|sender|message_id -> seq
	media       map[string]*mediaRec // conv|hash -> record
	uploads     map[string]*uploadRec
	dmConvs     map[string]*dmConvRec
	dmEvents    map[string]*dmEventRec
	dmEventList []*dmEventRec        // by id
	codes       map[string]*authCode // hex SHA-256 of code -> code
}

func newState() *state {
	return &state{
		users:      map[string]*userRec{},
		usernames:  map[string]string{},
		tokens:     map[string]*tokenRec{},
		keys:       map[string][]*publicKeyRec{},
		convs:      map[string]*convRec{},
		events:     map[string][]*eventRec{},
		keyChanges: map[string][]*eventRec{},
		eventBySeq: map[uint64]*eventRec{},
		msgIndex:   map[string]uint64{},
		media:      map[string]*mediaRec{},
		uploads:    map[string]*uploadRec{},
		dmConvs:    map[string]*dmConvRec{},
		dmEvents:   map[string]*dmEventRec{},
		codes:      map[string]*authCode{},
	}
}

func msgKey(conv, sender, messageID string) string { return conv + "|" + sender + "|" + messageID }
func mediaKey(conv, hash string) string            { return conv + "|" + hash }

func (st *state) latestKey(user string) *publicKeyRec {
	ks := st.keys[user]
	if len(ks) == 0 {
		return nil
	}
	return ks[len(ks)-1]
}

func (st *state) keyVersion(user, version string) *publicKeyRec {
	for _, k := range st.keys[user] {
		if k.Version == version {
			return k
		}
	}
	return nil
}

// addEvent installs a committed event.
func (st *state) addEvent(e *eventRec) {
	st.events[e.Conv] = append(st.events[e.Conv], e)
	if e.Kind == kindKeyChange {
		st.keyChanges[e.Conv] = append(st.keyChanges[e.Conv], e)
	}
	st.eventBySeq[e.Seq] = e
	if e.MessageID != "" {
		st.msgIndex[msgKey(e.Conv, e.SenderID, e.MessageID)] = e.Seq
	}
}

func (st *state) addDMEvent(e *dmEventRec) {
	st.dmEvents[e.ID] = e
	st.dmEventList = append(st.dmEventList, e)
}
