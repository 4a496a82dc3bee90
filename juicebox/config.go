package juicebox

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/xchat-go/xchat/juicebox/proto"
)

// RealmID identifies a realm (16 bytes, shown as lowercase hex).
type RealmID = proto.RealmID

// ParseRealmID parses a realm id in hex.
func ParseRealmID(s string) (RealmID, error) { return proto.ParseRealmID(s) }

// MaxRealms is the most realms a configuration may name.
const MaxRealms = 255

// ErrConfig reports an unusable configuration.
var ErrConfig = errors.New("juicebox: invalid configuration")

// PinHashingMode selects the Argon2id parameters used to stretch the PIN.
type PinHashingMode int

const (
	// Standard2019 is Argon2id v1.3 with 16 MiB of memory, 32 passes and one
	// lane: the setting for real PINs (and X's).
	Standard2019 PinHashingMode = iota
	// FastInsecure uses Argon2's minimum parameters. It exists for tests;
	// a Client refuses it unless built WithInsecureTestSettings.
	FastInsecure
)

// String returns the SDK's name of the mode.
func (m PinHashingMode) String() string {
	switch m {
	case Standard2019:
		return "Standard2019"
	case FastInsecure:
		return "FastInsecure"
	}
	return fmt.Sprintf("PinHashingMode(%d)", int(m))
}

// Realm is one service holding a share of the secret.
type Realm struct {
	// ID is the realm's identifier.
	ID RealmID
	// Address is the realm's base URL; requests go to Address resolved
	// against "req".
	Address *url.URL
	// PublicKey is the realm's X25519 key for hardware realms (requests go
	// through Noise NK); nil for software realms.
	PublicKey []byte
}

// Configuration is the SDK's Configuration: the realms and thresholds. Use
// ParseConfiguration or NewConfiguration; both validate.
type Configuration struct {
	// Realms sorted by id: share i+1 belongs to Realms[i].
	Realms []Realm
	// RegisterThreshold is how many realms the SDK requires to accept a
	// registration. It is validated but not relied on: Client.Register
	// requires every realm (see there).
	RegisterThreshold int
	// RecoverThreshold is how many realms recovery needs (and an attacker
	// would need); a strict majority of the realms.
	RecoverThreshold int
	// PinHashingMode selects the PIN stretch.
	PinHashingMode PinHashingMode
}

type realmJSON struct {
	ID        string  `json:"id"`
	Address   string  `json:"address"`
	PublicKey *string `json:"public_key,omitempty"`
}

type configJSON struct {
	Realms            []realmJSON `json:"realms"`
	RegisterThreshold *int64      `json:"register_threshold"`
	RecoverThreshold  *int64      `json:"recover_threshold"`
	PinHashingMode    *string     `json:"pin_hashing_mode"`
}

// maxConfigJSON bounds the JSON a configuration is parsed from.
const maxConfigJSON = 256 << 10

// ParseConfiguration parses the SDK's configuration JSON (as X serves it in
// key_store_token_map_json):
//
//	{"realms":[{"id":"<hex>","address":"https://…","public_key":"<hex>"}],
//	 "register_threshold":3,"recover_threshold":2,"pin_hashing_mode":"Standard2019"}
//
// Unknown fields are ignored (as the SDK does); the result is validated
// like NewConfiguration.
func ParseConfiguration(data []byte) (*Configuration, error) {
	if len(data) > maxConfigJSON {
		return nil, fmt.Errorf("%w: %d bytes of JSON", ErrConfig, len(data))
	}
	var cj configJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cj); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrConfig)
	}
	if cj.RegisterThreshold == nil || cj.RecoverThreshold == nil || cj.PinHashingMode == nil || cj.Realms == nil {
		return nil, fmt.Errorf("%w: realms, register_threshold, recover_threshold and pin_hashing_mode are required", ErrConfig)
	}
	var mode PinHashingMode
	switch *cj.PinHashingMode {
	case "Standard2019":
		mode = Standard2019
	case "FastInsecure":
		mode = FastInsecure
	default:
		return nil, fmt.Errorf("%w: unknown pin_hashing_mode %q", ErrConfig, clip(*cj.PinHashingMode))
	}
	if len(cj.Realms) > MaxRealms {
		return nil, fmt.Errorf("%w: %d realms (at most %d)", ErrConfig, len(cj.Realms), MaxRealms)
	}
	realms := make([]Realm, 0, len(cj.Realms))
	for i, rj := range cj.Realms {
		r, err := parseRealm(rj)
		if err != nil {
			return nil, fmt.Errorf("%w: realm %d: %v", ErrConfig, i, err)
		}
		realms = append(realms, r)
	}
	return NewConfiguration(realms, int(clampInt(*cj.RegisterThreshold)), int(clampInt(*cj.RecoverThreshold)), mode)
}

func clampInt(v int64) int64 {
	if v < -1 || v > MaxRealms+1 {
		return -1
	}
	return v
}

func parseRealm(rj realmJSON) (Realm, error) {
	id, err := proto.ParseRealmID(rj.ID)
	if err != nil {
		return Realm{}, errors.New("id is not 16 hex bytes")
	}
	u, err := url.Parse(rj.Address)
	if err != nil {
		return Realm{}, fmt.Errorf("address %q is not a URL", clip(rj.Address))
	}
	r := Realm{ID: id, Address: u}
	if rj.PublicKey != nil {
		pk, err := hex.DecodeString(*rj.PublicKey)
		if err != nil {
			return Realm{}, errors.New("public_key is not hex")
		}
		r.PublicKey = pk
	}
	return r, nil
}

// NewConfiguration validates realms and thresholds as the SDK's
// CheckedConfiguration does and returns the configuration with the realms
// sorted by id (which fixes the share indices).
func NewConfiguration(realms []Realm, registerThreshold, recoverThreshold int, mode PinHashingMode) (*Configuration, error) {
	n := len(realms)
	switch {
	case n == 0:
		return nil, fmt.Errorf("%w: no realms", ErrConfig)
	case n > MaxRealms:
		return nil, fmt.Errorf("%w: %d realms (at most %d)", ErrConfig, n, MaxRealms)
	case recoverThreshold < 1 || recoverThreshold > n:
		return nil, fmt.Errorf("%w: recover_threshold %d with %d realms", ErrConfig, recoverThreshold, n)
	case recoverThreshold <= n/2:
		return nil, fmt.Errorf("%w: recover_threshold %d is not a majority of %d realms", ErrConfig, recoverThreshold, n)
	case registerThreshold < recoverThreshold || registerThreshold > n:
		return nil, fmt.Errorf("%w: register_threshold %d must be between recover_threshold %d and %d", ErrConfig, registerThreshold, recoverThreshold, n)
	case mode != Standard2019 && mode != FastInsecure:
		return nil, fmt.Errorf("%w: unknown PIN hashing mode", ErrConfig)
	}
	sorted := make([]Realm, n)
	for i, r := range realms {
		if err := checkAddress(r.Address); err != nil {
			return nil, fmt.Errorf("%w: realm %s: %v", ErrConfig, r.ID, err)
		}
		if r.PublicKey != nil && len(r.PublicKey) != 32 {
			return nil, fmt.Errorf("%w: realm %s: public key is %d bytes, want 32", ErrConfig, r.ID, len(r.PublicKey))
		}
		u := *r.Address
		sorted[i] = Realm{ID: r.ID, Address: &u, PublicKey: slices.Clone(r.PublicKey)}
	}
	slices.SortFunc(sorted, func(a, b Realm) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	for i := 1; i < n; i++ {
		if sorted[i].ID == sorted[i-1].ID {
			return nil, fmt.Errorf("%w: realm id %s appears twice", ErrConfig, sorted[i].ID)
		}
	}
	return &Configuration{Realms: sorted, RegisterThreshold: registerThreshold, RecoverThreshold: recoverThreshold, PinHashingMode: mode}, nil
}

func checkAddress(u *url.URL) error {
	if u == nil {
		return errors.New("no address")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" || u.RawQuery != "" {
		return fmt.Errorf("address %q must be an http(s) URL without credentials, query or fragment", clip(u.Redacted()))
	}
	return nil
}

// isLoopback reports whether a URL's host is a loopback address.
func isLoopback(u *url.URL) bool {
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// MarshalJSON renders the SDK's configuration JSON.
func (c *Configuration) MarshalJSON() ([]byte, error) {
	rs := make([]realmJSON, len(c.Realms))
	for i, r := range c.Realms {
		rs[i] = realmJSON{ID: r.ID.String(), Address: r.Address.String()}
		if r.PublicKey != nil {
			pk := hex.EncodeToString(r.PublicKey)
			rs[i].PublicKey = &pk
		}
	}
	reg, rec := int64(c.RegisterThreshold), int64(c.RecoverThreshold)
	mode := c.PinHashingMode.String()
	return json.Marshal(configJSON{Realms: rs, RegisterThreshold: &reg, RecoverThreshold: &rec, PinHashingMode: &mode})
}

// shareIndex is a realm's share index (1-based position among the sorted
// realms), or 0 when the realm is not configured.
func (c *Configuration) shareIndex(id RealmID) uint32 {
	for i, r := range c.Realms {
		if r.ID == id {
			return uint32(i + 1)
		}
	}
	return 0
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
