package crypto

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
)

// Memos of pure functions. Verifying a signature and unwrapping a
// conversation key are deterministic: the same inputs give the same
// answer. A sync meets the same inputs many times over (the key change a
// page's messages need is served with every page; a long history is
// verified once while it is fetched and read again in transcript order),
// so a memo of the successes saves the costly step without changing any
// answer: an entry is recorded only after the real check succeeded, under the
// SHA-256 of every input, and a lookup hits only for inputs equal to
// those. Failures are never recorded: they are checked again every time.

// MemoEntry is one recorded success of a VerifyMemo: the SHA-256 of a
// public key, a payload digest and a signature that verified.
type MemoEntry [sha256.Size]byte

// VerifyMemo records (signing public key, signed payload, signature)
// triples that verified, so that Payload.VerifyMemo checks each triple
// once. It holds at most its limit of entries (further successes are not
// recorded). It is safe for concurrent use.
type VerifyMemo struct {
	mu    sync.Mutex
	set   map[MemoEntry]struct{}
	order []MemoEntry
	limit int
}

// NewVerifyMemo returns an empty memo holding at most limit entries
// (limit <= 0: 4096).
func NewVerifyMemo(limit int) *VerifyMemo {
	if limit <= 0 {
		limit = 4096
	}
	return &VerifyMemo{set: map[MemoEntry]struct{}{}, limit: limit}
}

// memoKey is the entry of a triple: the domain, the 65-byte key, the
// digest of the payload and the signature.
func memoKey(pub *PublicKey, digest *[sha256.Size]byte, sig []byte) MemoEntry {
	h := sha256.New()
	h.Write([]byte("xchat-go verify memo v1\x00"))
	h.Write(pub.raw[:])
	h.Write(digest[:])
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(sig)))
	h.Write(n[:])
	h.Write(sig)
	var e MemoEntry
	h.Sum(e[:0])
	return e
}

func (m *VerifyMemo) has(e MemoEntry) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.set[e]
	return ok
}

func (m *VerifyMemo) add(e MemoEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.set[e]; ok || len(m.set) >= m.limit {
		return
	}
	m.set[e] = struct{}{}
	m.order = append(m.order, e)
}

// Entries returns the recorded entries, oldest first, to be restored into
// another memo with Restore.
func (m *VerifyMemo) Entries() []MemoEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]MemoEntry(nil), m.order...)
}

// Len returns the number of recorded entries.
func (m *VerifyMemo) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.set)
}

// Restore records entries taken from Entries of a memo. An entry vouches
// that its triple verified: restore only entries this program recorded
// and kept where nobody else could change them (in memory, or sealed
// under a key only it holds).
func (m *VerifyMemo) Restore(entries []MemoEntry) {
	for _, e := range entries {
		m.add(e)
	}
}

// VerifyMemo is Verify, consulting memo first: a triple memo holds is not
// checked again, and one that verifies is recorded. A nil memo makes it
// Verify.
func (p Payload) VerifyMemo(pub *PublicKey, sig []byte, memo *VerifyMemo) error {
	if memo == nil {
		return p.Verify(pub, sig)
	}
	if err := checkVerifier(pub, sig); err != nil {
		return err
	}
	d, err := p.Prehash()
	if err != nil {
		return err
	}
	return d.verifyMemo(pub, sig, memo)
}

// Prehashed is a Payload hashed once (SHA-256 of its signed byte
// string), for a caller that checks the same payload more than once: it
// can only be made from a Payload (Prehash), so it vouches for nothing a
// Payload would not.
type Prehashed struct {
	h  [sha256.Size]byte
	ok bool
}

// Prehash hashes the payload (see Prehashed). It fails as Bytes does.
func (p Payload) Prehash() (Prehashed, error) {
	h, err := p.digest()
	if err != nil {
		return Prehashed{}, err
	}
	return Prehashed{h: h, ok: true}, nil
}

// VerifyMemo is Payload.VerifyMemo for the payload d was made from. The
// zero Prehashed verifies nothing.
func (d Prehashed) VerifyMemo(pub *PublicKey, sig []byte, memo *VerifyMemo) error {
	if !d.ok {
		return fmt.Errorf("%w: payload not hashed", ErrInvalidPayload)
	}
	if err := checkVerifier(pub, sig); err != nil {
		return err
	}
	if memo == nil {
		return verifyDigest(pub, &d.h, sig)
	}
	return d.verifyMemo(pub, sig, memo)
}

// verifyMemo is VerifyMemo once checkVerifier accepted pub and sig.
func (d Prehashed) verifyMemo(pub *PublicKey, sig []byte, memo *VerifyMemo) error {
	e := memoKey(pub, &d.h, sig)
	if memo.has(e) {
		return nil
	}
	if err := verifyDigest(pub, &d.h, sig); err != nil {
		return err
	}
	memo.add(e)
	return nil
}

// VerifyMessageMemo is Verify, consulting memo first (see
// Payload.VerifyMemo). A nil memo makes it Verify.
func VerifyMessageMemo(pub *PublicKey, msg, sig []byte, memo *VerifyMemo) error {
	if memo == nil {
		return Verify(pub, msg, sig)
	}
	if err := checkVerifier(pub, sig); err != nil {
		return err
	}
	h := sha256.Sum256(msg)
	e := memoKey(pub, &h, sig)
	if memo.has(e) {
		return nil
	}
	if err := verifyDigest(pub, &h, sig); err != nil {
		return err
	}
	memo.add(e)
	return nil
}

// UnwrapMemo records the conversation keys unwrapped from wrapped keys, so
// that UnwrapConversationKeyMemo does the ECIES decryption of one wrapped
// key once. It holds secret keys: Close zeroes them. It holds at most its
// limit of keys. It is safe for concurrent use.
type UnwrapMemo struct {
	mu    sync.Mutex
	keys  map[MemoEntry]*ConversationKey
	limit int
}

// NewUnwrapMemo returns an empty memo holding at most limit keys
// (limit <= 0: 64).
func NewUnwrapMemo(limit int) *UnwrapMemo {
	if limit <= 0 {
		limit = 64
	}
	return &UnwrapMemo{keys: map[MemoEntry]*ConversationKey{}, limit: limit}
}

// unwrapKey is the entry of an unwrap: the domain, the identity's public
// key (which determines the private key) and the wrapped bytes.
func unwrapKey(k *PrivateKey, wrapped []byte) MemoEntry {
	h := sha256.New()
	h.Write([]byte("xchat-go unwrap memo v1\x00"))
	h.Write(k.pub.raw[:])
	h.Write(wrapped)
	var e MemoEntry
	h.Sum(e[:0])
	return e
}

// UnwrapConversationKeyMemo is UnwrapConversationKey, consulting memo
// first; the key returned is the caller's copy. A nil memo makes it
// UnwrapConversationKey.
func UnwrapConversationKeyMemo(k *PrivateKey, wrapped []byte, memo *UnwrapMemo) (*ConversationKey, error) {
	if memo == nil || k == nil || k.pub == nil {
		return UnwrapConversationKey(k, wrapped)
	}
	e := unwrapKey(k, wrapped)
	memo.mu.Lock()
	if held, ok := memo.keys[e]; ok {
		c := *held
		memo.mu.Unlock()
		return &c, nil
	}
	memo.mu.Unlock()
	ck, err := UnwrapConversationKey(k, wrapped)
	if err != nil {
		return nil, err
	}
	memo.mu.Lock()
	if memo.keys != nil && len(memo.keys) < memo.limit {
		c := *ck
		memo.keys[e] = &c
	}
	memo.mu.Unlock()
	return ck, nil
}

// Close zeroes and forgets the keys held.
func (m *UnwrapMemo) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.keys {
		k.Zero()
	}
	m.keys = nil
}
