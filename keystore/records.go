package keystore

import "time"

// On-disk record encodings (JSON, then sealed). They are separate from the
// exported types so renaming a Go field never changes the file format.

type identityRecord struct {
	UserID           string `json:"user_id"`
	Backup           []byte `json:"backup"`
	PublicKeyVersion string `json:"public_key_version,omitempty"`
}

type peerKeyRecord struct {
	IdentityPublicKey []byte    `json:"identity_public_key,omitempty"`
	SigningPublicKey  []byte    `json:"signing_public_key,omitempty"`
	FirstSeen         time.Time `json:"first_seen"`
	LastSeen          time.Time `json:"last_seen"`
	Verified          bool      `json:"verified,omitempty"`
	Pinned            bool      `json:"pinned,omitempty"`
	Origin            string    `json:"origin,omitempty"`
}

type convKeyRecord struct {
	Key       []byte    `json:"key"`
	Verified  bool      `json:"verified,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

type conversationRecord struct {
	Type           string    `json:"type,omitempty"`
	Name           string    `json:"name,omitempty"`
	Members        []string  `json:"members,omitempty"`
	Meta           []byte    `json:"meta,omitempty"`
	LastSequenceID string    `json:"last_sequence_id,omitempty"`
	ChainHead      string    `json:"chain_head,omitempty"`
	NextToken      string    `json:"next_token,omitempty"`
	UpdatedAt      time.Time `json:"updated_at"`
}

type eventRecord struct {
	MessageID string    `json:"message_id,omitempty"`
	SenderID  string    `json:"sender_id,omitempty"`
	Type      string    `json:"type,omitempty"`
	Body      []byte    `json:"body,omitempty"`
	Verified  bool      `json:"verified,omitempty"`
	Error     string    `json:"error,omitempty"`
	Raw       []byte    `json:"raw,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

type outboxRecord struct {
	ConversationID string    `json:"conversation_id,omitempty"`
	Kind           string    `json:"kind,omitempty"`
	Body           []byte    `json:"body,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	Attempts       int       `json:"attempts,omitempty"`
	LastError      string    `json:"last_error,omitempty"`
}

type tokenRecord struct {
	AccessToken  string    `json:"access_token,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry"`
	Scopes       []string  `json:"scopes,omitempty"`
}

// Bucket and key names of the record layout (shared by every backend).
var (
	bucketAccount       = []byte("account")
	bucketValues        = []byte("values")
	bucketPeers         = []byte("peers")
	bucketConvKeys      = []byte("convkeys")
	bucketConversations = []byte("conversations")
	bucketEvents        = []byte("events")
	bucketMsgIndex      = []byte("msgindex")
	bucketOutbox        = []byte("outbox")

	keyIdentity = []byte("identity")
	keyToken    = []byte("token")
)
