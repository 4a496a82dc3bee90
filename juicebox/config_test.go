package juicebox

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
)

// sdkConfigJSON is rust/sdk/src/configuration.rs test_configuration_json.
const sdkConfigJSON = `{
  "realms": [
    {
      "id": "0102030405060708090a0b0c0d0e0f10",
      "address": "https://juicebox.hsm.realm.address/",
      "public_key": "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
    },
    {
      "id": "2102030405060708090a0b0c0d0e0f10",
      "address": "https://your.software.realm.address/"
    },
    {
      "id": "3102030405060708090a0b0c0d0e0f10",
      "address": "https://juicebox.software.realm.address/"
    }
  ],
  "register_threshold": 3,
  "recover_threshold": 3,
  "pin_hashing_mode": "Standard2019"
}`

func TestParseConfiguration(t *testing.T) {
	c, err := ParseConfiguration([]byte(sdkConfigJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Realms) != 3 || c.RegisterThreshold != 3 || c.RecoverThreshold != 3 || c.PinHashingMode != Standard2019 {
		t.Fatalf("parsed %+v", c)
	}
	if c.Realms[0].PublicKey == nil || c.Realms[1].PublicKey != nil || c.Realms[0].Address.String() != "https://juicebox.hsm.realm.address/" {
		t.Fatalf("realm 0: %+v", c.Realms[0])
	}
	// MarshalJSON gives the same document (compact).
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var a, bb any
	if err := json.Unmarshal([]byte(sdkConfigJSON), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &bb); err != nil {
		t.Fatal(err)
	}
	ja := testutil.Must(json.Marshal(a))(t)
	jb := testutil.Must(json.Marshal(bb))(t)
	if string(ja) != string(jb) {
		t.Fatalf("re-encoded\n%s\nwant\n%s", jb, ja)
	}
	// Realms are sorted by id, which fixes share indices.
	sorted, err := ParseConfiguration([]byte(strings.Replace(sdkConfigJSON, `"id": "0102`, `"id": "4102`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if sorted.Realms[2].ID.String()[:4] != "4102" || sorted.shareIndex(sorted.Realms[2].ID) != 3 {
		t.Fatalf("realms not sorted: %v", sorted.Realms)
	}
}

func TestConfigurationValidation(t *testing.T) {
	mod := func(old, new string) string { return strings.Replace(sdkConfigJSON, old, new, 1) }
	bad := map[string]string{
		"minority threshold":  mod(`"recover_threshold": 3`, `"recover_threshold": 1`),
		"threshold too high":  mod(`"recover_threshold": 3`, `"recover_threshold": 4`),
		"register < recover":  mod(`"register_threshold": 3`, `"register_threshold": 1`),
		"negative threshold":  mod(`"register_threshold": 3`, `"register_threshold": -3`),
		"huge threshold":      mod(`"register_threshold": 3`, `"register_threshold": 4294967299`),
		"duplicate realm":     mod(`"2102030405060708090a0b0c0d0e0f10"`, `"3102030405060708090a0b0c0d0e0f10"`),
		"short public key":    mod(`1d1e1f20"`, `1d1e1f"`),
		"bad id":              mod(`"2102030405060708090a0b0c0d0e0f10"`, `"21"`),
		"unknown mode":        mod(`"Standard2019"`, `"Fast"`),
		"ftp address":         mod(`https://your.software`, `ftp://your.software`),
		"credentials":         mod(`https://your.software`, `https://u:p@your.software`),
		"no realms":           `{"realms":[],"register_threshold":1,"recover_threshold":1,"pin_hashing_mode":"Standard2019"}`,
		"missing thresholds":  `{"realms":[{"id":"0102030405060708090a0b0c0d0e0f10","address":"https://a/"}],"pin_hashing_mode":"Standard2019"}`,
		"trailing data":       sdkConfigJSON + "{}",
		"not json":            "realms",
		"realms not an array": `{"realms":{},"register_threshold":1,"recover_threshold":1,"pin_hashing_mode":"Standard2019"}`,
	}
	for name, j := range bad {
		if _, err := ParseConfiguration([]byte(j)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Unknown fields are ignored, as serde does.
	if _, err := ParseConfiguration([]byte(mod(`"register_threshold"`, `"extra": [1], "register_threshold"`))); err != nil {
		t.Errorf("unknown field: %v", err)
	}
}

// TestClientPolicy: what a server could use to weaken the client is
// refused unless the caller opts in for tests.
func TestClientPolicy(t *testing.T) {
	insecure := strings.Replace(sdkConfigJSON, "Standard2019", "FastInsecure", 1)
	plain := strings.Replace(sdkConfigJSON, "https://your.software", "http://your.software", 1)
	loop := strings.Replace(sdkConfigJSON, "https://your.software.realm.address/", "http://127.0.0.1:8080/r/", 1)
	for name, j := range map[string]string{"FastInsecure": insecure, "plain http": plain} {
		c, err := ParseConfiguration([]byte(j))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewClient(c, StaticTokens{}); !errors.Is(err, ErrConfig) {
			t.Errorf("%s accepted by default: %v", name, err)
		}
		if _, err := NewClient(c, StaticTokens{}, WithInsecureTestSettings()); err != nil {
			t.Errorf("%s refused with WithInsecureTestSettings: %v", name, err)
		}
	}
	c, err := ParseConfiguration([]byte(loop))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(c, StaticTokens{}); err != nil {
		t.Errorf("plain http to loopback refused: %v", err)
	}
}

// xdkConfig is the juicebox_config shape of the XDK's tests
// (crates/core/src/keys/juicebox.rs), with 16-byte realm ids.
const xdkConfig = `{
  "key_store_token_map_json": "{\"realms\":[{\"id\":\"aa110000000000000000000000000000\",\"address\":\"https:\\/\\/realm-b.example\\/\"},{\"id\":\"bb220000000000000000000000000000\",\"address\":\"https:\\/\\/realm-east.example\\/\",\"public_key\":\"e8b2205c63e448514a7579b1fc338e1f7442739ce3fd47fdafb916890d3e1341\"},{\"id\":\"cc330000000000000000000000000000\",\"address\":\"https:\\/\\/realm-west.example\\/\",\"public_key\":\"ca02aea58fd9529383fc179ccb1f8d3d80a63072567a78352568c2256a49821a\"}],\"register_threshold\":3,\"recover_threshold\":2,\"pin_hashing_mode\":\"Standard2019\"}",
  "max_guess_count": 20,
  "token_map": [
    {"key": "aa110000000000000000000000000000", "value": {"address": "https://realm-b.example/", "token": "t1"}},
    {"key": "bb220000000000000000000000000000", "value": {"address": "https://realm-east.example/", "token": "t2"}},
    {"key": "cc330000000000000000000000000000", "value": {"address": "https://realm-west.example/", "token": "t3"}}
  ]
}`

func TestParseXConfig(t *testing.T) {
	x, err := ParseXConfig([]byte(xdkConfig))
	if err != nil {
		t.Fatal(err)
	}
	if x.MaxGuessCount != 20 || len(x.Tokens) != 3 || x.Configuration.RecoverThreshold != 2 || x.Configuration.RegisterThreshold != 3 {
		t.Fatalf("parsed %+v", x)
	}
	hw := 0
	for _, r := range x.Configuration.Realms {
		if r.PublicKey != nil {
			hw++
		}
	}
	if hw != 2 {
		t.Fatalf("%d hardware realms, want 2", hw)
	}
	id := testutil.Must(ParseRealmID("bb220000000000000000000000000000"))(t)
	if x.Tokens[id] != "t2" {
		t.Fatalf("token of bb22: %q", x.Tokens[id])
	}
	noGuess := strings.Replace(xdkConfig, `"max_guess_count": 20,`, ``, 1)
	if x, err := ParseXConfig([]byte(noGuess)); err != nil || x.MaxGuessCount != DefaultMaxGuessCount {
		t.Fatalf("default guesses: %v %v", x, err)
	}
	// The server chooses max_guess_count: more than X's limit is capped,
	// less is kept.
	for served, want := range map[string]uint16{"65535": MaxGuessCountLimit, "21": MaxGuessCountLimit, "5": 5} {
		j := strings.Replace(xdkConfig, `"max_guess_count": 20`, `"max_guess_count": `+served, 1)
		x, err := ParseXConfig([]byte(j))
		if err != nil || x.MaxGuessCount != want {
			t.Fatalf("max_guess_count %s: %v %v, want %d", served, x, err, want)
		}
	}
	bad := map[string]string{
		"missing token": strings.Replace(xdkConfig, `,
    {"key": "cc330000000000000000000000000000", "value": {"address": "https://realm-west.example/", "token": "t3"}}`, ``, 1),
		"unknown realm token": strings.Replace(xdkConfig, `{"key": "cc33`, `{"key": "dd44`, 1),
		"empty token":         strings.Replace(xdkConfig, `"token": "t3"`, `"token": ""`, 1),
		"no key store":        `{"token_map": []}`,
		"key store not JSON":  `{"key_store_token_map_json": "not json", "token_map": []}`,
		"guesses zero":        strings.Replace(xdkConfig, `"max_guess_count": 20`, `"max_guess_count": 0`, 1),
		"guesses too many":    strings.Replace(xdkConfig, `"max_guess_count": 20`, `"max_guess_count": 65536`, 1),
		"key store a number":  `{"key_store_token_map_json": 42, "token_map": []}`,
	}
	for name, j := range bad {
		if _, err := ParseXConfig([]byte(j)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCheckNewPIN(t *testing.T) {
	for _, p := range []string{"2580", "1357", "8901", "0000a", "abcd", "1123", "ünï", "12345678x"} {
		if err := CheckNewPIN([]byte(p)); err != nil {
			t.Errorf("%q refused: %v", p, err)
		}
	}
	for _, p := range []string{"", "123", "1111", "aaaa", "1234", "0123", "9876", "3210", "456789"} {
		if err := CheckNewPIN([]byte(p)); !errors.Is(err, ErrWeakPIN) {
			t.Errorf("%q accepted: %v", p, err)
		}
	}
}

func TestErrorRanking(t *testing.T) {
	errs := []error{
		realmErr(RealmID{1}, ErrTransient, "down"),
		realmErr(RealmID{2}, &InvalidPinError{GuessesRemaining: 5}, ""),
		realmErr(RealmID{3}, &InvalidPinError{GuessesRemaining: 3}, ""),
		realmErr(RealmID{4}, ErrNotRegistered, ""),
	}
	var pe *InvalidPinError
	if err := minError(errs); !errors.As(err, &pe) || pe.GuessesRemaining != 3 {
		t.Fatalf("min error %v", err)
	}
	if err := minError(errs[:1]); !errors.Is(err, ErrTransient) {
		t.Fatalf("single error %v", err)
	}
	if !errors.Is(&InvalidPinError{}, ErrNoGuesses) || errors.Is(&InvalidPinError{GuessesRemaining: 1}, ErrNoGuesses) {
		t.Fatal("InvalidPinError.Is(ErrNoGuesses) wrong")
	}
}
