package juicebox

import (
	"encoding/json"
	"testing"
)

// FuzzParseConfiguration: no panic; whatever parses is valid and
// re-encodes to a configuration that parses to the same realms.
func FuzzParseConfiguration(f *testing.F) {
	f.Add([]byte(sdkConfigJSON))
	f.Add([]byte(`{"realms":[{"id":"0102030405060708090a0b0c0d0e0f10","address":"http://127.0.0.1:1/x/"}],"register_threshold":1,"recover_threshold":1,"pin_hashing_mode":"FastInsecure"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfiguration(b)
		if err != nil {
			return
		}
		n := len(c.Realms)
		if n == 0 || c.RecoverThreshold <= n/2 || c.RegisterThreshold < c.RecoverThreshold || c.RegisterThreshold > n {
			t.Fatalf("invalid configuration accepted: %+v", c)
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseConfiguration(again)
		if err != nil || len(c2.Realms) != n {
			t.Fatalf("re-encoded configuration: %v", err)
		}
	})
}

// FuzzParseXConfig: no panic; every configured realm has a token.
func FuzzParseXConfig(f *testing.F) {
	f.Add([]byte(xdkConfig))
	f.Add([]byte(`{"key_store_token_map_json":"{}","token_map":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ParseXConfig(b)
		if err != nil {
			return
		}
		for _, r := range x.Configuration.Realms {
			if x.Tokens[r.ID] == "" {
				t.Fatalf("realm %s without a token", r.ID)
			}
		}
		if x.MaxGuessCount == 0 || x.MaxGuessCount > MaxGuessCountLimit {
			t.Fatalf("guess limit %d accepted", x.MaxGuessCount)
		}
	})
}
