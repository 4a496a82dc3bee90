package realm

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/internal/testutil"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/juicebox/proto"
)

func TestTokens(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	key := []byte("0123456789abcdef0123456789abcdef")
	keys := map[string][]byte{"xemulator:1": key}
	aud := "0102030405060708090a0b0c0d0e0f10"
	tok := issueToken(key, "xemulator", 1, "1001", aud, now)
	tenant, sub, err := validateToken(tok, keys, aud, now)
	if err != nil || tenant != "xemulator" || sub != "1001" {
		t.Fatalf("valid token: %q %q %v", tenant, sub, err)
	}
	resign := func(header, claims string, k []byte) string {
		return strings.Join(strings.Split(issueTokenRaw(header, claims, k), "|"), ".")
	}
	bad := map[string]string{
		"other audience":  issueToken(key, "xemulator", 1, "1001", "ff"+aud[2:], now),
		"other key":       issueToken([]byte("another key, 32 bytes long......"), "xemulator", 1, "1001", aud, now),
		"unknown version": issueToken(key, "xemulator", 2, "1001", aud, now),
		"expired":         issueToken(key, "xemulator", 1, "1001", aud, now.Add(-TokenLifetime-time.Minute)),
		"not yet valid":   issueToken(key, "xemulator", 1, "1001", aud, now.Add(time.Hour)),
		"empty subject":   issueToken(key, "xemulator", 1, "", aud, now),
		"alg none":        resign(`{"alg":"none","kid":"xemulator:1"}`, `{"iss":"xemulator","sub":"1","aud":"`+aud+`","exp":1800000000,"nbf":1700000000,"scope":"user"}`, key),
		"issuer mismatch": resign(`{"alg":"HS256","kid":"xemulator:1"}`, `{"iss":"other","sub":"1","aud":"`+aud+`","exp":1700000600,"nbf":1700000000,"scope":"user"}`, key),
		"no scope":        resign(`{"alg":"HS256","kid":"xemulator:1"}`, `{"iss":"xemulator","sub":"1","aud":"`+aud+`","exp":1700000600,"nbf":1700000000}`, key),
		"too long life":   resign(`{"alg":"HS256","kid":"xemulator:1"}`, `{"iss":"xemulator","sub":"1","aud":"`+aud+`","exp":1800000000,"nbf":1700000000,"scope":"user"}`, key),
		"garbage":         "a.b.c",
		"two parts":       "a.b",
		"too long":        strings.Repeat("a", 1001),
		"tampered":        tok[:len(tok)-2] + "AA",
	}
	for name, tk := range bad {
		if _, _, err := validateToken(tk, keys, aud, now); !errors.Is(err, errBadToken) {
			t.Errorf("%s: accepted", name)
		}
	}
}

// issueTokenRaw signs arbitrary header and claims JSON (joined with "|").
func issueTokenRaw(header, claims string, key []byte) string {
	h, c := b64.EncodeToString([]byte(header)), b64.EncodeToString([]byte(claims))
	return h + "|" + c + "|" + b64.EncodeToString(hmacSHA256(key, h+"."+c))
}

func TestHTTPErrors(t *testing.T) {
	set, err := NewSet(WithPinHashingMode(juicebox.FastInsecure))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(set.Handler())
	defer ts.Close()
	soft := set.Realm("realm-b")
	post := func(path, version, auth string, body []byte) *http.Response {
		req := testutil.Must(http.NewRequest(http.MethodPost, ts.URL+path, bytes.NewReader(body)))(t)
		if version != "" {
			req.Header.Set("X-Juicebox-Version", version)
		}
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	r1 := testutil.Must((&proto.SecretsRequest{Kind: proto.Recover1}).Marshal())(t)
	tok := set.Token(soft, "u")
	cases := []struct {
		name, path, version, auth string
		body                      []byte
		want                      int
	}{
		{"ok", "/juicebox/realm-b/req", "0.3.7", tok, r1, 200},
		{"no version", "/juicebox/realm-b/req", "", tok, r1, 426},
		{"old version", "/juicebox/realm-b/req", "0.2.9", tok, r1, 426},
		{"junk version", "/juicebox/realm-b/req", "latest", tok, r1, 426},
		{"no token", "/juicebox/realm-b/req", "0.3.7", "", r1, 401},
		{"other realm's token", "/juicebox/realm-b/req", "0.3.7", set.Token(set.Realm("realm-east"), "u"), r1, 401},
		{"too large", "/juicebox/realm-b/req", "0.3.7", tok, make([]byte, proto.BodySizeLimit+1), 413},
		{"not CBOR", "/juicebox/realm-b/req", "0.3.7", tok, []byte("{}"), 400},
		{"unknown realm", "/juicebox/realm-x/req", "0.3.7", tok, r1, 404},
		{"wrong path", "/juicebox/realm-b/other", "0.3.7", tok, r1, 404},
	}
	for _, c := range cases {
		if res := post(c.path, c.version, c.auth, c.body); res.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d", c.name, res.StatusCode, c.want)
		}
	}
	res, err := http.Get(ts.URL + "/juicebox/realm-b/req")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", res.StatusCode)
	}
}

// TestStaleRealm: a realm that missed the latest registration serves the
// previous one; the client goes with the majority.
func TestStaleRealm(t *testing.T) {
	set, err := NewSet(WithPinHashingMode(juicebox.FastInsecure))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(set.Handler())
	defer ts.Close()
	raw, err := set.XConfig(ts.URL, "77")
	if err != nil {
		t.Fatal(err)
	}
	x, err := juicebox.ParseXConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	c, err := juicebox.NewClient(x.Configuration, x.Tokens, juicebox.WithInsecureTestSettings())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Register(ctx, []byte("1357"), []byte("old"), nil, 5); err != nil {
		t.Fatal(err)
	}
	if err := c.Register(ctx, []byte("2580"), []byte("new"), nil, 5); err != nil {
		t.Fatal(err)
	}
	west := set.Realm("realm-west")
	west.SetFaults(Faults{StaleVersion: true})
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[proto.Version]int{}
	for _, s := range st {
		versions[s.Version]++
	}
	if len(versions) != 2 {
		t.Fatalf("status with a stale realm: %+v", st)
	}
	got, err := c.Recover(ctx, []byte("2580"), nil)
	if err != nil || string(got) != "new" {
		t.Fatalf("recover: %q %v", got, err)
	}
	// The stale realm was not asked to evaluate: its guess count is
	// untouched by a wrong PIN too.
	var pe *juicebox.InvalidPinError
	if _, err := c.Recover(ctx, []byte("0000"), nil); !errors.As(err, &pe) || pe.GuessesRemaining != 4 {
		t.Fatalf("wrong PIN: %v", err)
	}
	west.SetFaults(Faults{})
	if rec := west.Record(set.Tenant(), "77"); rec.GuessCount != 0 {
		t.Fatalf("stale realm counted a guess on the new registration: %+v", rec)
	}
}

func TestXConfigShape(t *testing.T) {
	set, err := NewSet(WithRand(rand.Reader))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := set.XConfig("http://127.0.0.1:9/", "55")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"key_store_token_map_json", "token_map", "max_guess_count"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("juicebox_config lacks %s: %s", k, raw)
		}
	}
	x, err := juicebox.ParseXConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	if x.Configuration.RegisterThreshold != 3 || x.Configuration.RecoverThreshold != 2 || x.Configuration.PinHashingMode != juicebox.Standard2019 {
		t.Fatalf("configuration %+v", x.Configuration)
	}
	hw := 0
	for _, r := range x.Configuration.Realms {
		if r.PublicKey != nil {
			hw++
		}
		if !strings.HasPrefix(r.Address.String(), "http://127.0.0.1:9/juicebox/realm-") {
			t.Fatalf("address %s", r.Address)
		}
	}
	if hw != 2 || x.MaxGuessCount != 20 {
		t.Fatalf("%d hardware realms, max guesses %d", hw, x.MaxGuessCount)
	}
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
