package juicebox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// How X uses Juicebox (from X's Chat XDK): the secret is the identity
// private scalar ‖ the signing private scalar, the user info is empty, the
// guess limit comes with the configuration, and new PINs must pass
// CheckNewPIN.
const (
	// XSecretSize is the size of X's secret: two 32-byte P-256 scalars.
	XSecretSize = 64
	// DefaultMaxGuessCount is the guess limit when juicebox_config names
	// none (the XDK's default).
	DefaultMaxGuessCount = 20
	// MaxGuessCountLimit caps the guess limit ParseXConfig takes from
	// juicebox_config (X's own limit). The server chooses max_guess_count
	// unsigned, and the realms enforce what a registration asks for, so a
	// larger value would let whoever holds the account's realm tokens try
	// PINs online far beyond X's limit, hardware realms included.
	MaxGuessCountLimit = 20
	// MinPINLength is the shortest PIN X accepts for a new registration.
	MinPINLength = 4
)

// XUserInfo is the user info X registers with: empty.
var XUserInfo = []byte{}

// XConfig is X's juicebox_config, as the public-keys operations return it
// to the account itself:
//
//	{"key_store_token_map_json": "<SDK configuration JSON>",
//	 "token_map": [{"key": "<realm id>", "value": {"address": "…", "token": "<JWT>"}}],
//	 "max_guess_count": 20}
type XConfig struct {
	// Configuration is key_store_token_map_json, used verbatim (it carries
	// the realms' public keys and the thresholds).
	Configuration *Configuration
	// Tokens are the per-realm auth tokens of token_map.
	Tokens StaticTokens
	// MaxGuessCount is the guess limit for registrations: max_guess_count
	// (DefaultMaxGuessCount when absent), capped at MaxGuessCountLimit.
	MaxGuessCount uint16
}

type xConfigJSON struct {
	KeyStore      *string        `json:"key_store_token_map_json"`
	TokenMap      []tokenMapJSON `json:"token_map"`
	MaxGuessCount *int64         `json:"max_guess_count"`
}

type tokenMapJSON struct {
	Key   string `json:"key"`
	Value struct {
		Address string `json:"address"`
		Token   string `json:"token"`
	} `json:"value"`
}

// maxTokenSize bounds one realm token.
const maxTokenSize = 4096

// ParseXConfig parses a juicebox_config object. A max_guess_count above
// MaxGuessCountLimit is capped (registrations never allow more guesses than
// X's limit, whatever the server asks). Every configured realm must
// have a token; tokens for realms the configuration does not name are an
// error too (a server mixing up realms is better caught here).
func ParseXConfig(data []byte) (*XConfig, error) {
	if len(data) > maxConfigJSON {
		return nil, fmt.Errorf("%w: juicebox_config of %d bytes", ErrConfig, len(data))
	}
	var xj xConfigJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&xj); err != nil {
		return nil, fmt.Errorf("%w: juicebox_config: %v", ErrConfig, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: juicebox_config: trailing data", ErrConfig)
	}
	if xj.KeyStore == nil {
		return nil, fmt.Errorf("%w: juicebox_config has no key_store_token_map_json", ErrConfig)
	}
	cfg, err := ParseConfiguration([]byte(*xj.KeyStore))
	if err != nil {
		return nil, fmt.Errorf("juicebox_config: key_store_token_map_json: %w", err)
	}
	x := &XConfig{Configuration: cfg, Tokens: StaticTokens{}, MaxGuessCount: DefaultMaxGuessCount}
	if xj.MaxGuessCount != nil {
		if *xj.MaxGuessCount < 1 || *xj.MaxGuessCount > 0xffff {
			return nil, fmt.Errorf("%w: max_guess_count %d out of range", ErrConfig, *xj.MaxGuessCount)
		}
		x.MaxGuessCount = uint16(min(*xj.MaxGuessCount, MaxGuessCountLimit))
	}
	for _, e := range xj.TokenMap {
		id, err := ParseRealmID(e.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: token_map key %q is not a realm id", ErrConfig, clip(e.Key))
		}
		if cfg.shareIndex(id) == 0 {
			return nil, fmt.Errorf("%w: token_map names realm %s, which the configuration does not", ErrConfig, id)
		}
		if e.Value.Token == "" || len(e.Value.Token) > maxTokenSize {
			return nil, fmt.Errorf("%w: token_map has no usable token for realm %s", ErrConfig, id)
		}
		if _, dup := x.Tokens[id]; dup {
			return nil, fmt.Errorf("%w: token_map names realm %s twice", ErrConfig, id)
		}
		x.Tokens[id] = e.Value.Token
	}
	for _, r := range cfg.Realms {
		if _, ok := x.Tokens[r.ID]; !ok {
			return nil, fmt.Errorf("%w: token_map has no token for realm %s", ErrConfig, r.ID)
		}
	}
	return x, nil
}

// ErrWeakPIN reports a new PIN that X's rules refuse.
var ErrWeakPIN = errors.New("juicebox: PIN too weak")

// CheckNewPIN applies X's rules for a new PIN (setup and change-PIN; never
// on recovery, so existing registrations stay recoverable): at least
// MinPINLength bytes, not one repeated character, not an ascending or
// descending run of digits ("1234", "9876").
func CheckNewPIN(pin []byte) error {
	if len(pin) < MinPINLength {
		return fmt.Errorf("%w: it must be at least %d characters", ErrWeakPIN, MinPINLength)
	}
	same, up, down, digits := true, true, true, true
	for i, b := range pin {
		if b < '0' || b > '9' {
			digits = false
		}
		if i == 0 {
			continue
		}
		same = same && b == pin[0]
		up = up && b == pin[i-1]+1
		down = down && b == pin[i-1]-1
	}
	if same {
		return fmt.Errorf("%w: it must not be a single repeated character", ErrWeakPIN)
	}
	if digits && (up || down) {
		return fmt.Errorf("%w: it must not be a sequential run of digits", ErrWeakPIN)
	}
	return nil
}
