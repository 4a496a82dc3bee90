// Package realm emulates Juicebox realms for the X API emulator: the
// services that each hold one share of a user's PIN-protected key backup.
// It is written from the Juicebox whitepaper (rev. 7, § Protocol) and the
// MIT SDK's message definitions; the AGPL Juicebox realm software was not
// consulted.
//
// A Realm keeps one record per (tenant, user): NotRegistered, Registered
// (the Register2 data plus a guess count) or NoGuesses (locked: the data
// is destroyed). Recover2 counts a guess before answering; a correct
// Recover3 resets the count; once the count reaches the registration's
// limit the record self-destructs. Software realms take CBOR requests with
// the token in the Authorization header; hardware realms (with a Noise
// public key) take ClientRequests carrying the token and a Noise NK
// handshake or transport message, and answer padded responses.
//
// Realms keep their state in memory. Set runs three of them like X's (one
// software, two hardware), issues their HS256 tokens and renders X's
// juicebox_config.
package realm

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/xchat-go/xchat/juicebox/noisenk"
	"github.com/xchat-go/xchat/juicebox/oprf"
	"github.com/xchat-go/xchat/juicebox/proto"
)

// State is a user's record state on one realm.
type State int

// The record states.
const (
	NotRegistered State = iota
	Registered
	NoGuesses
)

// String names the state.
func (s State) String() string {
	switch s {
	case Registered:
		return "registered"
	case NoGuesses:
		return "no guesses"
	}
	return "not registered"
}

// record is one user's registration on a realm.
type record struct {
	state   State
	reg     proto.Register2Request
	guesses uint16 // attempted guesses since the last success
	// previous is the registration this one replaced, served while the
	// StaleVersion fault is on.
	previous *record
}

// Faults are switches that make a realm misbehave the way real ones can.
type Faults struct {
	// Down answers every request with 503 Service Unavailable.
	Down bool
	// Delay holds every answer this long (or until the client gives up).
	Delay time.Duration
	// StaleVersion makes the realm serve the registration before the
	// latest one (none if there was none), as a realm that missed the
	// latest Register2 would: Recover1 then reports a stale version.
	StaleVersion bool
	// UpgradeRequired answers 426, as for a too old client.
	UpgradeRequired bool
	// RateLimited answers 429 (software) or RateLimitExceeded (hardware).
	RateLimited bool
}

// Realm is one emulated realm. It is an http.Handler for "…/req" and safe
// for concurrent use.
type Realm struct {
	id       proto.RealmID
	name     string
	static   *noisenk.StaticKey
	keys     map[string][]byte // kid → HS256 key
	rand     io.Reader
	now      func() time.Time
	lifetime time.Duration

	mu       sync.Mutex
	records  map[string]*record
	sessions map[sessionKey]*noiseSession
	faults   Faults
}

type sessionKey struct {
	user string
	id   uint32
}

type noiseSession struct {
	transport *noisenk.Transport
	lastUsed  time.Time
}

// ID returns the realm id.
func (r *Realm) ID() proto.RealmID { return r.id }

// Name returns the realm's name (its path segment).
func (r *Realm) Name() string { return r.name }

// PublicKey returns the realm's Noise public key, or nil for a software
// realm.
func (r *Realm) PublicKey() []byte {
	if r.static == nil {
		return nil
	}
	return append([]byte(nil), r.static.Public[:]...)
}

// SetFaults replaces the realm's fault switches.
func (r *Realm) SetFaults(f Faults) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = f
}

// Faults returns the current fault switches.
func (r *Realm) Faults() Faults {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.faults
}

// Record describes a user's record, for tests and the emulator's
// inspection endpoint.
type Record struct {
	State State
	// GuessCount is the number of guesses since the last success.
	GuessCount uint16
	// NumGuesses is the registration's guess limit.
	NumGuesses uint16
	// Version is the registration's version.
	Version proto.Version
}

// Record returns the record of subject under tenant.
func (r *Realm) Record(tenant, subject string) Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.records[userKey(tenant, subject)]
	if rec == nil {
		return Record{}
	}
	// A registration whose guesses are used up is locked even before the
	// next request destroys it.
	lockIfExhausted(rec)
	return Record{State: rec.state, GuessCount: rec.guesses, NumGuesses: rec.reg.Policy.NumGuesses, Version: rec.reg.Version}
}

func userKey(tenant, subject string) string { return tenant + "\x00" + subject }

// errInternal reports a failure of the realm itself.
var errInternal = errors.New("realm: internal error")

// process runs one secrets request for user. Callers hold r.mu.
func (r *Realm) process(user string, req *proto.SecretsRequest) (*proto.SecretsResponse, error) {
	rec := r.records[user]
	if r.faults.StaleVersion && rec != nil && req.Kind != proto.Register2 {
		rec = rec.previous
	}
	resp := &proto.SecretsResponse{Kind: req.Kind, Status: proto.StatusOK}
	switch req.Kind {
	case proto.Register1:
	case proto.Register2:
		r.register2(user, rec, req.Register2)
	case proto.Recover1:
		r.recover1(rec, resp)
	case proto.Recover2:
		return resp, r.recover2(rec, req.Recover2, resp)
	case proto.Recover3:
		r.recover3(rec, req.Recover3, resp)
	case proto.Delete:
		delete(r.records, user)
	default:
		return nil, fmt.Errorf("%w: request kind %v", errInternal, req.Kind)
	}
	return resp, nil
}

// register2 creates or overwrites the registration with a zero guess count.
func (r *Realm) register2(user string, old *record, q *proto.Register2Request) {
	rec := &record{state: Registered, reg: *q}
	if old != nil && old.reg.Version != q.Version {
		old.previous = nil
		rec.previous = old
	}
	r.records[user] = rec
}

// lockIfExhausted destroys a registration whose guesses are used up and
// reports whether it did (or already had).
func lockIfExhausted(rec *record) bool {
	if rec.state == Registered && rec.guesses >= rec.reg.Policy.NumGuesses {
		rec.state = NoGuesses
		rec.reg = proto.Register2Request{Policy: rec.reg.Policy, Version: rec.reg.Version}
	}
	return rec.state == NoGuesses
}

func (r *Realm) recover1(rec *record, resp *proto.SecretsResponse) {
	switch {
	case rec == nil:
		resp.Status = proto.StatusNotRegistered
	case lockIfExhausted(rec):
		resp.Status = proto.StatusNoGuesses
	default:
		resp.Version = rec.reg.Version
	}
}

func (r *Realm) recover2(rec *record, q *proto.Recover2Request, resp *proto.SecretsResponse) error {
	switch {
	case rec == nil:
		resp.Status = proto.StatusNotRegistered
		return nil
	case lockIfExhausted(rec):
		resp.Status = proto.StatusNoGuesses
		return nil
	case rec.reg.Version != q.Version:
		resp.Status = proto.StatusVersionMismatch
		return nil
	}
	key, err := oprf.DecodeScalar(rec.reg.OprfPrivateKey[:])
	if err != nil {
		return fmt.Errorf("%w: stored key: %v", errInternal, err)
	}
	defer key.SetZero()
	input, err := oprf.DecodePoint(q.OprfBlindedInput[:])
	if err != nil {
		return fmt.Errorf("%w: blinded input: %v", errInternal, err)
	}
	output := oprf.BlindEvaluate(key, input)
	proof, err := oprf.Prove(r.rand, key, rec.reg.OprfSignedPublicKey.PublicKey, input, output)
	if err != nil {
		return fmt.Errorf("%w: %v", errInternal, err)
	}
	rec.guesses++
	resp.Recover2 = &proto.Recover2OK{
		OprfSignedPublicKey: rec.reg.OprfSignedPublicKey,
		OprfBlindedResult:   oprf.Encode(output),
		OprfProof:           proof,
		UnlockKeyCommitment: rec.reg.UnlockKeyCommitment,
		NumGuesses:          rec.reg.Policy.NumGuesses,
		GuessCount:          rec.guesses,
	}
	return nil
}

func (r *Realm) recover3(rec *record, q *proto.Recover3Request, resp *proto.SecretsResponse) {
	switch {
	case rec == nil:
		resp.Status = proto.StatusNotRegistered
		return
	case rec.state == NoGuesses:
		resp.Status = proto.StatusNoGuesses
		return
	case rec.reg.Version != q.Version:
		resp.Status = proto.StatusVersionMismatch
		return
	}
	if subtle.ConstantTimeCompare(q.UnlockKeyTag[:], rec.reg.UnlockKeyTag[:]) != 1 {
		remaining := uint16(0)
		if rec.guesses < rec.reg.Policy.NumGuesses {
			remaining = rec.reg.Policy.NumGuesses - rec.guesses
		}
		if remaining == 0 {
			lockIfExhausted(rec)
		}
		resp.Status = proto.StatusBadUnlockKeyTag
		resp.GuessesRemaining = remaining
		return
	}
	rec.guesses = 0
	resp.Recover3 = &proto.Recover3OK{
		EncryptionKeyScalarShare:  rec.reg.EncryptionKeyScalarShare,
		EncryptedSecret:           rec.reg.EncryptedSecret,
		EncryptedSecretCommitment: rec.reg.EncryptedSecretCommitment,
	}
}

// TamperRecord lets fault-injection tests corrupt what the realm stored
// for a user (a misbehaving realm). It reports whether a registration was
// found.
func (r *Realm) TamperRecord(tenant, subject string, f func(*proto.Register2Request)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.records[userKey(tenant, subject)]
	if rec == nil || rec.state != Registered {
		return false
	}
	f(&rec.reg)
	return true
}

// DropSessions forgets every Noise session, as a restarted realm does.
func (r *Realm) DropSessions() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.sessions)
}
