package inbound

import "github.com/xchat-go/xchat/crypto"

// Keys supplies the key material the pipeline needs. Implementations must be
// safe for concurrent use (DecryptBatch calls them from several goroutines)
// and must not block for long.
type Keys interface {
	// ConversationKey returns the conversation key of conversationID at
	// version (a decimal string), or false when unknown.
	ConversationKey(conversationID, version string) (*crypto.ConversationKey, bool)
	// SigningKey returns the pinned signing public key of userID at
	// publicKeyVersion, or false when none is pinned. Only keys the caller
	// has authenticated (key-binding signature checked, pinned on first use
	// or confirmed out of band) may be returned: this is the only source of
	// verification keys.
	SigningKey(userID, publicKeyVersion string) (*crypto.PublicKey, bool)
	// Identity returns this account's identity private key (nil if locked),
	// its user id and the public_key_version it registered ("" if unknown),
	// used to find and unwrap this account's entry in key changes.
	Identity() (key *crypto.PrivateKey, userID, keyVersion string)
}

// StaticKeys is a simple in-memory Keys, handy for tests, tools and bots
// that hold every key up front. It is not safe for concurrent mutation: fill
// it before use.
type StaticKeys struct {
	// IdentityKey, UserID and KeyVersion describe this account.
	IdentityKey *crypto.PrivateKey
	UserID      string
	KeyVersion  string
	// Conversation maps conversationID → version → key.
	Conversation map[string]map[string]*crypto.ConversationKey
	// Signing maps userID → public_key_version → pinned key.
	Signing map[string]map[string]*crypto.PublicKey
}

// AddConversationKey records a conversation key.
func (s *StaticKeys) AddConversationKey(conversationID, version string, k *crypto.ConversationKey) {
	if s.Conversation == nil {
		s.Conversation = map[string]map[string]*crypto.ConversationKey{}
	}
	if s.Conversation[conversationID] == nil {
		s.Conversation[conversationID] = map[string]*crypto.ConversationKey{}
	}
	s.Conversation[conversationID][version] = k
}

// AddSigningKey pins a signing key.
func (s *StaticKeys) AddSigningKey(userID, version string, k *crypto.PublicKey) {
	if s.Signing == nil {
		s.Signing = map[string]map[string]*crypto.PublicKey{}
	}
	if s.Signing[userID] == nil {
		s.Signing[userID] = map[string]*crypto.PublicKey{}
	}
	s.Signing[userID][version] = k
}

// ConversationKey implements Keys.
func (s *StaticKeys) ConversationKey(conversationID, version string) (*crypto.ConversationKey, bool) {
	k, ok := s.Conversation[conversationID][version]
	return k, ok && k != nil
}

// SigningKey implements Keys.
func (s *StaticKeys) SigningKey(userID, version string) (*crypto.PublicKey, bool) {
	k, ok := s.Signing[userID][version]
	return k, ok && k != nil
}

// Identity implements Keys.
func (s *StaticKeys) Identity() (*crypto.PrivateKey, string, string) {
	return s.IdentityKey, s.UserID, s.KeyVersion
}
