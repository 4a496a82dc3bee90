package session

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/inbound"
)

// storeKeys adapts the keystore to inbound.Keys for one receive operation.
// Lookups are cached for the operation's lifetime; keys learnt during it
// are added with addConversationKey.
type storeKeys struct {
	e      *Engine
	ctx    context.Context
	strict bool

	identity *crypto.PrivateKey
	version  string

	mu      sync.Mutex
	conv    map[string]*crypto.ConversationKey // conv+"\x00"+version
	signing map[string]*crypto.PublicKey       // user+"\x00"+version
	missing map[string]bool                    // signing lookups that failed
}

var _ inbound.Keys = (*storeKeys)(nil)

func (e *Engine) keysFor(ctx context.Context) (*storeKeys, error) {
	kp, v, err := e.identity()
	if err != nil {
		return nil, err
	}
	return &storeKeys{
		e: e, ctx: ctx, strict: e.cfg.policy == TrustStrict,
		identity: kp.Identity, version: v,
		conv:    map[string]*crypto.ConversationKey{},
		signing: map[string]*crypto.PublicKey{},
		missing: map[string]bool{},
	}, nil
}

// ConversationKey implements inbound.Keys.
func (k *storeKeys) ConversationKey(conversationID, version string) (*crypto.ConversationKey, bool) {
	id := conversationID + "\x00" + version
	k.mu.Lock()
	defer k.mu.Unlock()
	if ck, ok := k.conv[id]; ok {
		return ck, ck != nil
	}
	if !keystore.ValidVersion(version) {
		return nil, false
	}
	stored, err := k.e.store.ConversationKey(k.ctx, conversationID, version)
	if err != nil {
		k.conv[id] = nil
		return nil, false
	}
	ck := crypto.ConversationKey(stored.Key)
	stored.Key.Zero()
	k.conv[id] = &ck
	return &ck, true
}

func (k *storeKeys) addConversationKey(conversationID, version string, key *crypto.ConversationKey) {
	c := *key
	k.mu.Lock()
	k.conv[conversationID+"\x00"+version] = &c
	k.mu.Unlock()
}

// SigningKey implements inbound.Keys. Every stored version of a peer's keys
// passed the binding check; under TrustStrict only pinned or verified
// versions are usable.
func (k *storeKeys) SigningKey(userID, version string) (*crypto.PublicKey, bool) {
	id := userID + "\x00" + version
	k.mu.Lock()
	defer k.mu.Unlock()
	if pk, ok := k.signing[id]; ok {
		return pk, true
	}
	if userID == k.e.userID && version == k.version {
		kp, _, err := k.e.identity()
		if err != nil {
			return nil, false
		}
		pk := kp.Signing.PublicKey()
		k.signing[id] = pk
		return pk, true
	}
	stored, err := k.e.store.PeerKeys(k.ctx, userID)
	if err != nil {
		return nil, false
	}
	for _, s := range stored {
		if s.Version != version {
			continue
		}
		if k.strict && !s.Pinned && !s.Verified {
			break
		}
		pk, err := crypto.ParsePublicKey(s.SigningPublicKey)
		if err != nil {
			break
		}
		k.signing[id] = pk
		return pk, true
	}
	k.missing[userID] = true
	return nil, false
}

// Identity implements inbound.Keys.
func (k *storeKeys) Identity() (*crypto.PrivateKey, string, string) {
	return k.identity, k.e.userID, k.version
}

// missingSigners returns (and forgets) the users whose signing keys were
// looked up and not found.
func (k *storeKeys) missingSigners() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for u := range k.missing {
		if u != k.e.userID {
			out = append(out, u)
		}
		delete(k.missing, u)
	}
	// forget cached misses so a retry consults the store again
	return normaliseIDs(out)
}

// encryptionKey returns the newest conversation key of cid that may encrypt:
// the numerically highest version whose distribution was verified (a key
// this account distributed, or a verified v6+ key change). Replayed older
// key changes are stored under their own, lower versions and so never
// displace it.
func (e *Engine) encryptionKey(ctx context.Context, cid string) (*crypto.ConversationKey, string, error) {
	keys, err := e.store.ConversationKeys(ctx, cid)
	if err != nil {
		return nil, "", fmt.Errorf("session: reading conversation keys: %w", err)
	}
	defer func() {
		for i := range keys {
			keys[i].Key.Zero()
		}
	}()
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i].Verified {
			ck := crypto.ConversationKey(keys[i].Key)
			return &ck, keys[i].Version, nil
		}
	}
	return nil, "", fmt.Errorf("%w: %s", ErrNoConversationKey, cid)
}

// hasKey reports whether any key is stored for cid.
func (e *Engine) hasKey(ctx context.Context, cid string) (bool, error) {
	_, _, err := e.encryptionKey(ctx, cid)
	if errors.Is(err, ErrNoConversationKey) {
		return false, nil
	}
	return err == nil, err
}
