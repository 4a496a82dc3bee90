package juicebox

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"slices"
)

// ErrRealmNotPinned reports a configuration that does not satisfy the
// realm pins given WithRealmPins: a realm that is not pinned, or a pinned
// realm whose Noise key was stripped, replaced or added. It is returned
// wrapped together with ErrConfig, so errors.Is matches both.
var ErrRealmNotPinned = errors.New("juicebox: configuration does not match the pinned realms")

// RealmPin is a realm the embedder trusts, known from outside the server
// (X's published realm ids and Noise public keys, say).
type RealmPin struct {
	// ID is the realm's id.
	ID RealmID
	// PublicKey is the hardware realm's 32-byte X25519 Noise key, or nil
	// for a software realm (reached without Noise).
	PublicKey []byte
	// Address, if not empty, is the realm's base URL, which the
	// configuration must name exactly. Pin it for a software realm that
	// may carry a recovery threshold's worth of shares on its own (see
	// WithRealmPins); a hardware realm is reached through its Noise key,
	// whatever its address.
	Address string
}

// WithRealmPins makes the client accept only configurations (the current
// one and every WithPreviousConfigurations one) that satisfy pins: every
// realm of the configuration is pinned by id, and each carries exactly its
// pin's Noise key (a pinned hardware realm whose key is missing or other,
// and a key on a realm pinned as software, are refused) and its pinned
// address, if any. Since every realm must be pinned, the recovery threshold
// is reachable with pinned realms only. Moreover the software realms whose
// address is not pinned must be fewer than the recovery threshold: whoever
// serves their addresses (the server, if it chose them) reads their shares,
// and must not get enough to recover or brute-force the PIN offline (a
// server naming only X's software realm, thresholds 1, is refused). NewClient fails before any request reaches a realm, with an error
// matching ErrRealmNotPinned and ErrConfig that names the realm.
//
// Without pins a client takes the server's configuration as it comes (see
// SECURITY.md): a server controlling juicebox_config can then strip or
// replace a hardware realm's Noise key and relay to the real realm. Pins
// close that gap; the realms' addresses stay the server's choice (a
// hardware realm is still reached only through its pinned key).
// WithRealmPins given no pins, a malformed key or one id twice is refused.
func WithRealmPins(pins ...RealmPin) Option {
	return func(o *options) error {
		if len(pins) == 0 {
			return optionError("WithRealmPins: no pins")
		}
		for _, p := range pins {
			if p.PublicKey != nil && len(p.PublicKey) != 32 {
				return optionError("WithRealmPins: realm %s: public key is %d bytes, want 32", p.ID, len(p.PublicKey))
			}
			if p.Address != "" {
				u, err := url.Parse(p.Address)
				if err != nil || checkAddress(u) != nil {
					return optionError("WithRealmPins: realm %s: address %q is not an http(s) base URL", p.ID, clip(p.Address))
				}
			}
			if slices.ContainsFunc(o.pins, func(q RealmPin) bool { return q.ID == p.ID }) {
				return optionError("WithRealmPins: realm %s pinned twice", p.ID)
			}
			o.pins = append(o.pins, RealmPin{ID: p.ID, PublicKey: slices.Clone(p.PublicKey), Address: p.Address})
		}
		return nil
	}
}

// checkPins refuses a configuration that does not satisfy pins (none:
// every configuration passes).
func checkPins(c *Configuration, pins []RealmPin) error {
	if pins == nil {
		return nil
	}
	var exposed []RealmID
	for _, r := range c.Realms {
		i := slices.IndexFunc(pins, func(p RealmPin) bool { return p.ID == r.ID })
		if i < 0 {
			return pinError(r.ID, "is not pinned")
		}
		if err := checkPin(r, pins[i]); err != nil {
			return err
		}
		if r.PublicKey == nil && pins[i].Address == "" {
			exposed = append(exposed, r.ID)
		}
	}
	if len(exposed) >= c.RecoverThreshold {
		return pinError(exposed[0], fmt.Sprintf("and %d other software realms at addresses the server chose would meet recover_threshold %d alone", len(exposed)-1, c.RecoverThreshold))
	}
	return nil
}

// checkPin checks one realm against its pin.
func checkPin(r Realm, p RealmPin) error {
	switch {
	case p.PublicKey != nil && r.PublicKey == nil:
		return pinError(r.ID, "is pinned as a hardware realm but comes without its Noise key")
	case p.PublicKey == nil && r.PublicKey != nil:
		return pinError(r.ID, "is pinned as a software realm but comes with a Noise key")
	case !bytes.Equal(p.PublicKey, r.PublicKey):
		return pinError(r.ID, "comes with a Noise key other than the pinned one")
	case p.Address != "" && !sameAddress(p.Address, r.Address):
		return pinError(r.ID, fmt.Sprintf("comes with address %q, not the pinned one", clip(r.Address.Redacted())))
	}
	return nil
}

// sameAddress compares a pinned address with a configured one, as URLs.
func sameAddress(pinned string, u *url.URL) bool {
	p, err := url.Parse(pinned)
	return err == nil && p.String() == u.String()
}

func pinError(id RealmID, what string) error {
	return fmt.Errorf("%w: %w: realm %s %s", ErrConfig, ErrRealmNotPinned, id, what)
}
