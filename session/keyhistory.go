package session

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/decimal"
	"github.com/xchat-go/xchat/keystore"
)

// Peer key history only moves forward. The versions the server publishes
// for a user the first time the engine looks the user up are pinned
// together (the newest pinned, the older ones kept to verify what they
// signed): trust on first use. Afterwards a version is accepted only when
// it lies above the version pinned at that moment; one that appears below
// it is refused, not stored, and reported (KeyBackdated), since a server
// that could add old versions to a history could sign as the user with a
// key pair of its own. Each stored version records how it became known
// (keystore.PeerKey.Origin), and SigningKey accepts only those.

// Origins of stored peer key versions (keystore.PeerKey.Origin).
const (
	// originFirstContact: published when the user was first looked up.
	originFirstContact = "first_contact"
	// originForward: first published above the version pinned then.
	originForward = "forward"
)

// maxVersionLead bounds how far in the future a key version (peer or
// conversation key: both are millisecond timestamps of their creation)
// may lie. A version beyond it cannot come from a working clock; accepting
// it would let one event fix the high-water mark near the top of the
// uint64 range, after which no honest version could ever follow (peer
// versions below the pin are refused as backdated; 18446744073709551615
// leaves no conversation key version above it). Thirty days of clock skew
// is far more than any device shows.
const maxVersionLead = 30 * 24 * time.Hour

// plausibleVersion reports whether a decimal key version lies at most
// maxVersionLead after now (versions too long for uint64 never do).
func plausibleVersion(v string, now time.Time) bool {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return false
	}
	limit := now.Add(maxVersionLead).UnixMilli()
	return limit < 0 || n <= uint64(limit)
}

// validPublished parses the key sets published for uid (see
// parsePublished; known are the stored binding digests), ascending by
// version; it fails when none is valid.
func (e *Engine) validPublished(uid string, published []api.PublicKey, known verifiedBindings) ([]*PeerKey, error) {
	var valid []*PeerKey
	var errs []error
	for _, k := range published {
		pk, err := parsePublished(uid, k, e.bindings, known)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		valid = append(valid, pk)
	}
	if len(valid) == 0 {
		if len(errs) == 0 {
			return nil, fmt.Errorf("%w: user %s", xchat.ErrNoPeerKeys, uid)
		}
		return nil, errors.Join(errs...)
	}
	sort.Slice(valid, func(i, j int) bool { return decimal.Less(valid[i].Version, valid[j].Version) })
	return valid, nil
}

// pinPeer applies the trust policy and the forward-only rule to the key
// sets published for uid, returning every report (rotations, skipped,
// backdated and implausible versions).
func (e *Engine) pinPeer(ctx context.Context, uid string, published []api.PublicKey) ([]KeyChanged, error) {
	known, err := e.storedBindings(ctx, []string{uid}, func(string) []string { return versionsOf(published) })
	if err != nil {
		return nil, err
	}
	valid, err := e.validPublished(uid, published, known)
	if err != nil {
		return nil, err
	}
	e.peerMu.Lock()
	defer e.peerMu.Unlock()
	var reports []KeyChanged
	err = e.store.Update(ctx, func(tx keystore.Tx) error {
		p, err := e.pinIn(ctx, tx, uid, valid, known)
		reports = p.reports
		return err
	})
	if err != nil {
		return nil, pinError(uid, err)
	}
	return reports, nil
}

// pinIn runs the pinning decision for uid in tx and records the binding
// digests of the versions it keeps (known: those stored before).
func (e *Engine) pinIn(ctx context.Context, tx keystore.Tx, uid string, valid []*PeerKey, known verifiedBindings) (*pinning, error) {
	stored, err := tx.PeerKeys(ctx, uid)
	if err != nil {
		return &pinning{}, err
	}
	p := &pinning{e: e, tx: tx, ctx: ctx, uid: uid, now: e.now(), peer: buildPeer(uid, stored), kept: map[string]bool{}}
	if err := p.apply(valid); err != nil {
		return p, err
	}
	return p, p.recordBindings(valid, known)
}

// versionsOf lists the versions of published key sets.
func versionsOf(published []api.PublicKey) []string {
	out := make([]string, 0, len(published))
	for _, k := range published {
		out = append(out, k.PublicKeyVersion)
	}
	return out
}

// pinError is the error pinPeer returns for err.
func pinError(uid string, err error) error {
	if errors.Is(err, xchat.ErrKeyChanged) || errors.Is(err, xchat.ErrNoPeerKeys) {
		return err
	}
	return fmt.Errorf("session: pinning keys of %s: %w", uid, err)
}

// errPinAlone ends the transaction of pinPeers for a user whose refusal
// came after a write (see pinPeers).
var errPinAlone = errors.New("session: pin users one by one")

// pinPeers is pinPeer for the users of one batch, in one transaction
// instead of one each. A refused user (xchat.ErrKeyChanged, xchat.ErrNoPeerKeys)
// changes nothing, as in pinPeer: apply decides every refusal before the
// user's first write; should one ever come after a write, the batch is
// pinned again user by user, each in a transaction of its own.
func (e *Engine) pinPeers(ctx context.Context, uids []string, byUser map[string][]api.PublicKey) ([]KeyChanged, []error) {
	known, err := e.storedBindings(ctx, uids, func(uid string) []string { return versionsOf(byUser[uid]) })
	if err != nil {
		return nil, []error{err}
	}
	valid := make([][]*PeerKey, len(uids))
	parseErrs := make([]error, len(uids))
	for i, uid := range uids {
		valid[i], parseErrs[i] = e.validPublished(uid, byUser[uid], known)
	}
	var reports []KeyChanged
	var errs []error
	err = func() error {
		e.peerMu.Lock()
		defer e.peerMu.Unlock()
		return e.store.Update(ctx, func(tx keystore.Tx) error {
			reports, errs = reports[:0], errs[:0]
			for i, uid := range uids {
				if parseErrs[i] != nil {
					errs = append(errs, parseErrs[i])
					continue
				}
				p, err := e.pinIn(ctx, tx, uid, valid[i], known)
				switch {
				case err == nil:
					reports = append(reports, p.reports...)
				case p.wrote:
					return errPinAlone
				case errors.Is(err, xchat.ErrKeyChanged) || errors.Is(err, xchat.ErrNoPeerKeys):
					errs = append(errs, err)
				default:
					return pinError(uid, err)
				}
			}
			return nil
		})
	}()
	if errors.Is(err, errPinAlone) {
		reports, errs = nil, nil
		for _, uid := range uids {
			ch, err := e.pinPeer(ctx, uid, byUser[uid])
			reports = append(reports, ch...)
			if err != nil {
				errs = append(errs, err)
			}
		}
		return reports, errs
	}
	if err != nil {
		return nil, append(errs, err)
	}
	return reports, errs
}

// pinning is one pinPeer decision inside its store transaction.
type pinning struct {
	e       *Engine
	tx      keystore.Tx
	ctx     context.Context
	uid     string
	now     time.Time
	peer    *Peer
	reports []KeyChanged
	wrote   bool            // a key (or a binding digest) was stored
	kept    map[string]bool // versions stored once apply is done
}

// put stores k; origin is recorded only when k is stored for the first time
// (the store keeps the first one).
func (p *pinning) put(k *PeerKey, pinned, verified bool, origin string) error {
	p.wrote = true
	p.kept[k.Version] = true
	err := p.tx.PutPeerKey(p.ctx, keystore.PeerKey{
		UserID: p.uid, Version: k.Version,
		IdentityPublicKey: k.IdentityKey, SigningPublicKey: k.SigningKey,
		FirstSeen: p.now, LastSeen: p.now, Pinned: pinned, Verified: verified, Origin: origin,
	})
	if errors.Is(err, keystore.ErrConflict) {
		return fmt.Errorf("%w: server changed the keys of user %s version %s", xchat.ErrKeyChanged, p.uid, k.Version)
	}
	return err
}

func (p *pinning) report(kind KeyChangeKind, k *PeerKey, pinned bool) {
	p.reports = append(p.reports, KeyChanged{UserID: p.uid, Kind: kind, Old: p.peer.Current, New: k, Pinned: pinned})
}

// apply sorts the published versions (ascending) into known, refused and
// new ones and moves the pin.
func (p *pinning) apply(valid []*PeerKey) error {
	known := map[string]*PeerKey{}
	for i := range p.peer.History {
		known[p.peer.History[i].Version] = &p.peer.History[i]
	}
	cur := p.peer.Current
	var accepted []*PeerKey
	for _, k := range valid {
		if old, ok := known[k.Version]; ok {
			if !old.sameKeys(k) {
				return fmt.Errorf("%w: server changed the keys of user %s version %s", xchat.ErrKeyChanged, p.uid, k.Version)
			}
			p.kept[k.Version] = true
			accepted = append(accepted, k)
			continue
		}
		switch {
		case !plausibleVersion(k.Version, p.now):
			p.report(KeyImplausible, k, false)
		case cur != nil && decimal.Less(k.Version, cur.Version):
			p.report(KeyBackdated, k, false)
		default:
			accepted = append(accepted, k)
		}
	}
	if len(accepted) == 0 {
		if cur == nil {
			return fmt.Errorf("%w: user %s publishes no acceptable key version", xchat.ErrNoPeerKeys, p.uid)
		}
		return nil
	}
	newest := accepted[len(accepted)-1]
	if cur == nil {
		// First contact: every version published now is pinned together.
		for _, k := range accepted {
			if err := p.put(k, k == newest, false, originFirstContact); err != nil {
				return err
			}
		}
		return nil
	}
	for _, k := range accepted[:len(accepted)-1] {
		if _, ok := known[k.Version]; ok {
			continue
		}
		// Between the pin and the newest version, both first seen now.
		if err := p.put(k, false, false, originForward); err != nil {
			return err
		}
		p.report(KeySkipped, k, false)
	}
	_, already := known[newest.Version]
	return p.movePin(cur, newest, already)
}

// movePin applies the trust policy to the newest accepted version.
func (p *pinning) movePin(cur, newest *PeerKey, already bool) error {
	switch {
	case cur.Version == newest.Version:
		return p.put(newest, true, cur.Verified, "")
	case decimal.Less(newest.Version, cur.Version):
		// The pinned version is no longer listed: keep it.
		return nil
	case cur.sameKeys(newest):
		// Same keys re-registered under a new version: move the pin.
		if err := p.put(cur, false, cur.Verified, ""); err != nil {
			return err
		}
		return p.put(newest, true, cur.Verified, originForward)
	case p.e.cfg.policy.strict():
		if err := p.put(newest, false, false, originForward); err != nil {
			return err
		}
		if !already {
			p.report(KeyRotated, newest, false)
		}
		return nil
	}
	if err := p.put(cur, false, cur.Verified, ""); err != nil {
		return err
	}
	if err := p.put(newest, true, false, originForward); err != nil {
		return err
	}
	if !already {
		p.report(KeyRotated, newest, true)
	}
	return nil
}

// queueChanges queues reports for the WithKeyChangeHandler callback (see
// deliverChanges). A refused version (backdated, implausible) is handed to
// the callback once per engine, however often the server lists it; the
// results of RefreshPeers and Sync report it every time.
func (e *Engine) queueChanges(changes []KeyChanged) {
	if e.cfg.onChange == nil || len(changes) == 0 {
		return
	}
	e.notifyMu.Lock()
	defer e.notifyMu.Unlock()
	for _, c := range changes {
		if c.Kind == KeyBackdated || c.Kind == KeyImplausible {
			id := c.UserID + "\x00" + c.New.Version + "\x00" + c.New.Fingerprint
			if e.refused[id] {
				continue
			}
			if e.refused == nil {
				e.refused = map[string]bool{}
			}
			e.refused[id] = true
		}
		e.pending = append(e.pending, c)
	}
}

// verifiable reports whether a stored version of a peer's keys may verify
// signatures: one pinned, published at first contact, or first published
// above the version pinned then. A version stored before origins were
// recorded is refused when it lies below the pinned version and was first
// seen after it (a backdated version an older engine accepted).
func verifiable(k, pinned *keystore.PeerKey) bool {
	switch {
	case k.Pinned, k.Origin == originFirstContact, k.Origin == originForward:
		return true
	case k.Origin != "":
		return false
	}
	return pinned == nil || !decimal.Less(k.Version, pinned.Version) || !pinned.FirstSeen.Before(k.FirstSeen)
}
