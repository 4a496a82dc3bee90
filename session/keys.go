package session

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/internal/inbound"
	"github.com/xchat-go/xchat/keystore"
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
	conv    map[keyID]heldKey           // by conversation and version
	signing map[keyID]*crypto.PublicKey // by user and version
	missing map[string]bool             // signing lookups that failed
	// gen counts the changes addConversationKey made to conv: a page
	// decrypted ahead (see cachedKeys) is valid only while it stays put.
	gen uint64
	// owned are the conversation keys the cache copied (held,
	// addConversationKey), for zero.
	owned []*crypto.ConversationKey
}

// keyID names a cached key: a conversation or user and a version (a
// struct, so that a lookup builds no string).
type keyID struct{ owner, version string }

// heldKey is a cached conversation key lookup (key nil: none held).
type heldKey struct {
	key      *crypto.ConversationKey
	verified bool
}

var (
	_ inbound.Keys     = (*storeKeys)(nil)
	_ inbound.KeyTrust = (*storeKeys)(nil)
)

func (e *Engine) keysFor(ctx context.Context) (*storeKeys, error) {
	kp, v, err := e.identity()
	if err != nil {
		return nil, err
	}
	return &storeKeys{
		e: e, ctx: ctx, strict: e.cfg.policy.strict(),
		identity: kp.Identity, version: v,
		conv:    map[keyID]heldKey{},
		signing: map[keyID]*crypto.PublicKey{},
		missing: map[string]bool{},
	}, nil
}

// ConversationKey implements inbound.Keys: the conversation key of the
// version, or else the unverified key kept for decryption only (see
// keepUnverifiedKey).
func (k *storeKeys) ConversationKey(conversationID, version string) (*crypto.ConversationKey, bool) {
	h := k.held(conversationID, version)
	return h.key, h.key != nil
}

// ConversationKeyVerified implements inbound.KeyTrust.
func (k *storeKeys) ConversationKeyVerified(conversationID, version string) bool {
	return k.held(conversationID, version).verified
}

// held looks a conversation key up in the store, once per operation.
func (k *storeKeys) held(conversationID, version string) heldKey {
	id := keyID{conversationID, version}
	k.mu.Lock()
	defer k.mu.Unlock()
	if h, ok := k.conv[id]; ok {
		return h
	}
	var h heldKey
	if decimal.Valid(version) {
		if stored, err := k.e.store.ConversationKey(k.ctx, conversationID, version); err == nil {
			ck := crypto.ConversationKey(stored.Key)
			stored.Key.Zero()
			h = heldKey{key: &ck, verified: true}
		} else if v, err := k.e.store.Value(k.ctx, unverifiedKeyKey(conversationID, version)); err == nil && len(v) == crypto.ConversationKeySize {
			ck := crypto.ConversationKey(v)
			clear(v)
			h = heldKey{key: &ck}
		}
	}
	if h.key != nil {
		k.owned = append(k.owned, h.key)
	}
	k.conv[id] = h
	return h
}

// zero zeroes the conversation keys the cache copied and empties it, once
// the operation that made it is over (every goroutine that used it ended):
// the keys it handed out are not to be used after it.
func (k *storeKeys) zero() {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, key := range k.owned {
		key.Zero()
	}
	k.owned = nil
	clear(k.conv)
}

// addConversationKey caches a key adopted during the operation.
func (k *storeKeys) addConversationKey(conversationID, version string, key *crypto.ConversationKey, verified bool) {
	c := *key
	id := keyID{conversationID, version}
	k.mu.Lock()
	defer k.mu.Unlock()
	if old, ok := k.conv[id]; ok && old.key != nil && subtle.ConstantTimeCompare(old.key[:], c[:]) == 1 && old.verified == verified {
		c.Zero()
		return
	}
	k.conv[id] = heldKey{key: &c, verified: verified}
	k.owned = append(k.owned, &c)
	k.gen++
}

// generation returns the count of changes made by addConversationKey.
func (k *storeKeys) generation() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gen
}

// convSnapshot is the conversation key cache at a point (see restore).
type convSnapshot struct {
	conv map[keyID]heldKey
	gen  uint64
}

// snapshot returns the conversation key cache, for restore.
func (k *storeKeys) snapshot() convSnapshot {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := make(map[keyID]heldKey, len(k.conv))
	for id, h := range k.conv {
		c[id] = h
	}
	return convSnapshot{conv: c, gen: k.gen}
}

// restore puts back the conversation key cache of a snapshot: keys cached
// by a store transaction that is run again are forgotten with it. The
// generation moves on, so a page decrypted ahead meanwhile is not used.
func (k *storeKeys) restore(s convSnapshot) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.conv = make(map[keyID]heldKey, len(s.conv))
	for id, h := range s.conv {
		k.conv[id] = h
	}
	k.gen++
}

// cachedKeys is a view of a storeKeys that answers from its caches only,
// never from the store. It lets the next page of a sync be decrypted
// while the storing transaction of the page before is open (the store may
// not be read from another goroutine then, and would not yet show that
// transaction's writes). A lookup the caches cannot answer marks the view
// incomplete: the page is then decrypted again the ordinary way.
type cachedKeys struct {
	k    *storeKeys
	miss atomic.Bool
}

var (
	_ inbound.Keys     = (*cachedKeys)(nil)
	_ inbound.KeyTrust = (*cachedKeys)(nil)
)

func (c *cachedKeys) cached(conversationID, version string) heldKey {
	c.k.mu.Lock()
	h, ok := c.k.conv[keyID{conversationID, version}]
	c.k.mu.Unlock()
	if !ok {
		c.miss.Store(true)
	}
	return h
}

// ConversationKey implements inbound.Keys.
func (c *cachedKeys) ConversationKey(conversationID, version string) (*crypto.ConversationKey, bool) {
	h := c.cached(conversationID, version)
	return h.key, h.key != nil
}

// ConversationKeyVerified implements inbound.KeyTrust.
func (c *cachedKeys) ConversationKeyVerified(conversationID, version string) bool {
	return c.cached(conversationID, version).verified
}

// SigningKey implements inbound.Keys. Only found keys are cached (a miss
// is looked up again, and recorded for missingSigners), so a key not
// cached makes the view incomplete.
func (c *cachedKeys) SigningKey(userID, version string) (*crypto.PublicKey, bool) {
	c.k.mu.Lock()
	pk, ok := c.k.signing[keyID{userID, version}]
	c.k.mu.Unlock()
	if !ok {
		c.miss.Store(true)
	}
	return pk, ok
}

// Identity implements inbound.Keys.
func (c *cachedKeys) Identity() (*crypto.PrivateKey, string, string) { return c.k.Identity() }

// SigningKey implements inbound.Keys. Every stored version of a peer's keys
// passed the binding check; only versions legitimately known are usable
// (pinned, published at first contact, or first published above the pin of
// the time: see verifiable), and under TrustStrict only pinned or verified
// ones.
func (k *storeKeys) SigningKey(userID, version string) (*crypto.PublicKey, bool) {
	id := keyID{userID, version}
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
	pinned := pinnedOf(stored)
	for i := range stored {
		s := &stored[i]
		if s.Version != version {
			continue
		}
		if (k.strict && !s.Pinned && !s.Verified) || !verifiable(s, pinned) {
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

// pinnedOf returns the pinned version among stored, or nil.
func pinnedOf(stored []keystore.PeerKey) *keystore.PeerKey {
	for i := range stored {
		if stored[i].Pinned {
			return &stored[i]
		}
	}
	return nil
}

// currentSigner reports whether version is userID's current signing key:
// this account's registered version, or a peer's pinned version (or one
// with the same signing key, re-registered under a new version). A key
// change signed with any other, superseded, version may only decrypt.
func (k *storeKeys) currentSigner(r keystore.Tx, userID, version string) bool {
	if userID == k.e.userID {
		return version == k.version
	}
	stored, err := r.PeerKeys(k.ctx, userID)
	if err != nil {
		return false
	}
	return signerCurrentIn(stored, version)
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

// heldKey returns the newest conversation key of cid that may encrypt:
// the numerically highest version whose distribution was verified (a key
// this account distributed, or a verified v6+ key change signed with its
// sender's current signing key) and that is not implausibly far in the
// future (see maxVersionLead), with the user who made it. Replayed older
// key changes are stored under their own, lower versions and so never
// displace it.
func (e *Engine) heldKey(ctx context.Context, cid string) (key *crypto.ConversationKey, version, maker string, err error) {
	return e.heldKeyIn(ctx, e.store, cid)
}

// heldKeyIn is heldKey reading r (the store, or a transaction).
func (e *Engine) heldKeyIn(ctx context.Context, r keystore.ConversationKeyStore, cid string) (key *crypto.ConversationKey, version, maker string, err error) {
	// The highest version is almost always the answer: read it alone
	// before every version a long-lived conversation holds.
	latest, err := r.LatestConversationKey(ctx, cid)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil, "", "", fmt.Errorf("%w: %s", xchat.ErrNoConversationKey, cid)
	case err != nil:
		return nil, "", "", fmt.Errorf("session: reading conversation keys: %w", err)
	}
	now := e.now()
	if latest.Verified && plausibleVersion(latest.Version, now) {
		ck := crypto.ConversationKey(latest.Key)
		latest.Key.Zero()
		return &ck, latest.Version, latest.CreatedBy, nil
	}
	latest.Key.Zero()
	keys, err := r.ConversationKeys(ctx, cid)
	if err != nil {
		return nil, "", "", fmt.Errorf("session: reading conversation keys: %w", err)
	}
	defer func() {
		for i := range keys {
			keys[i].Key.Zero()
		}
	}()
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i].Verified && plausibleVersion(keys[i].Version, now) {
			ck := crypto.ConversationKey(keys[i].Key)
			return &ck, keys[i].Version, keys[i].CreatedBy, nil
		}
	}
	return nil, "", "", fmt.Errorf("%w: %s", xchat.ErrNoConversationKey, cid)
}

// errUnvouchedKey reports that the newest key of a group was made by a
// user the signed roster does not vouch for; ensureFreshKey then makes a
// new key for the roster.
var errUnvouchedKey = errors.New("session: the group's newest key was made by a user the signed roster does not vouch for")

// encryptionKey returns the key new content of cid is encrypted under: the
// held key (see heldKey). Whoever made a key chose whom it was wrapped to,
// so in a group the maker must be this account or a member of the signed
// roster (under TrustStrict a confirmed one): a key change signed by anyone
// else, adopted while the roster was unknown (all group changes withheld),
// would let its maker read what is sent. A group whose roster no signed
// change establishes has no encryption key (xchat.ErrRosterUnknown); one whose
// newest key has an unvouched maker gives errUnvouchedKey.
func (e *Engine) encryptionKey(ctx context.Context, cid string) (*crypto.ConversationKey, string, error) {
	if !IsGroup(cid) {
		return e.encryptionKeyWith(ctx, cid, nil)
	}
	r, err := loadRoster(ctx, e.store, cid)
	if err != nil {
		return nil, "", err
	}
	return e.encryptionKeyWith(ctx, cid, &r)
}

// encryptionKeyWith is encryptionKey with the signed roster of a group
// already loaded (r; nil for a one-to-one conversation).
func (e *Engine) encryptionKeyWith(ctx context.Context, cid string, r *rosterRec) (*crypto.ConversationKey, string, error) {
	return e.encryptionKeyIn(ctx, e.store, cid, r)
}

// encryptionKeyIn is encryptionKeyWith reading r.
func (e *Engine) encryptionKeyIn(ctx context.Context, rd keystore.ConversationKeyStore, cid string, r *rosterRec) (*crypto.ConversationKey, string, error) {
	key, version, maker, err := e.heldKeyIn(ctx, rd, cid)
	if err != nil {
		return nil, "", err
	}
	if IsGroup(cid) {
		if err := e.vouchKeyMaker(r, cid, version, maker); err != nil {
			key.Zero()
			return nil, "", err
		}
	}
	return key, version, nil
}

// vouchKeyMaker checks that r, the signed roster of group cid, vouches
// for maker, who made its key version.
func (e *Engine) vouchKeyMaker(r *rosterRec, cid, version, maker string) error {
	switch {
	case r.Base == "":
		return fmt.Errorf("%w: %s: no signed group change of this group has been accepted, so nothing says who may read its key (version %s, made by %s); sync the group, or ask a member to add this account again", xchat.ErrRosterUnknown, cid, version, maker)
	case maker == e.userID:
		return nil
	case maker == "" || !slices.Contains(r.effective(), maker):
		return fmt.Errorf("%w: version %s of %s made by %q, not on the roster", errUnvouchedKey, version, cid, maker)
	case e.cfg.policy == TrustStrict && len(r.unconfirmed([]string{maker})) > 0:
		return fmt.Errorf("%w: version %s of %s made by %s, whose place on the roster is not confirmed", errUnvouchedKey, version, cid, maker)
	}
	return nil
}

// hasKey reports whether any key is stored for cid.
func (e *Engine) hasKey(ctx context.Context, cid string) (bool, error) {
	k, _, _, err := e.heldKey(ctx, cid)
	if err == nil {
		k.Zero()
	}
	if errors.Is(err, xchat.ErrNoConversationKey) {
		return false, nil
	}
	return err == nil, err
}
