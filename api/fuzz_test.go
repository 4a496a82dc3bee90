package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/internal/b64"
)

func FuzzDecodeError(f *testing.F) {
	for _, s := range []string{
		`{"type":"https://api.x.com/2/problems/resource-not-found","title":"Not Found Error","detail":"x","status":404}`,
		`{"code":88,"message":"Rate limit exceeded"}`,
		`{"errors":[{"code":32,"message":"Could not authenticate you"}]}`,
		`{"errors":[{"type":"t","title":"x"},{"code":1}]}`,
		`<html></html>`, ``, `null`, `{"errors":null}`, `{"status":"x"}`,
	} {
		f.Add(429, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := decodeError("op", status, body)
		if e == nil || e.StatusCode != status || e.Op != "op" {
			t.Fatalf("decodeError = %+v", e)
		}
		_ = e.Error()
		// Success decoding must not panic either, whatever the body.
		var out struct {
			Data any `json:"data"`
		}
		c := &Client{}
		_ = c.decodeSuccess("op", body, &out, &Response{})
		_ = c.decodeSuccess("op", body, nil, &Response{})
	})
}

func FuzzParseHeaders(f *testing.F) {
	f.Add("900", "899", "1767323045", "7")
	f.Add("-1", "x", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, limit, remaining, reset, retryAfter string) {
		h := http.Header{}
		h.Set("x-rate-limit-limit", limit)
		h.Set("x-rate-limit-remaining", remaining)
		h.Set("x-rate-limit-reset", reset)
		h.Set("Retry-After", retryAfter)
		rl := parseRateLimit(h)
		if rl.Known() && (rl.Limit < 0 || rl.Remaining < -1) {
			t.Fatalf("negative counts: %+v", rl)
		}
		if d := parseRetryAfter(h, time.Unix(1700000000, 0)); d < 0 || d > maxRetryAfter {
			t.Fatalf("retry-after %v", d)
		}
	})
}

func FuzzValidateIDs(f *testing.F) {
	for _, s := range []string{"1", "1-2", "g1", "g", "-", "12345678901234567890", "1215441834412953600-1603419180975409153", "g0\n", "١٢٣"} {
		f.Add(s)
	}
	conv := regexp.MustCompile(`\A(?:[0-9]{1,19}|[0-9]{1,19}-[0-9]{1,19}|g[0-9]{1,19})\z`)
	user := regexp.MustCompile(`\A[0-9]{1,19}\z`)
	f.Fuzz(func(t *testing.T, s string) {
		// The spec's patterns use ^...$; Go's RE2 gives $ the meaning of
		// \z without the m flag. Check against explicit \A...\z forms.
		if (ValidateConversationID(s) == nil) != conv.MatchString(s) {
			t.Fatalf("conversation id %q disagrees with pattern", s)
		}
		if (ValidateUserID(s) == nil) != user.MatchString(s) {
			t.Fatalf("user id %q disagrees with pattern", s)
		}
		if err := ValidateConversationID(s); err != nil && !strings.HasPrefix(err.Error(), "api: invalid conversation id") {
			t.Fatalf("message %q", err)
		}
	})
}

// FuzzKeyAttribution feeds arbitrary batch answers to the key attribution:
// it never panics, and whatever it returns gives no identity key to two
// users and only names requested users.
func FuzzKeyAttribution(f *testing.F) {
	f.Add(`{"data":[{"public_key":"QUFB","signing_public_key":"U0lH","public_key_version":"1"}]}`, "1", "QUFB")
	f.Add(`{"data":[{"user_id":"1","public_key":"QUFB"},{"user_id":"2","public_key":"QUFB"}]}`, "1", "QUFB")
	f.Add(`{"data":[{"public_key":"QUFB","signing_public_key":"U0lH","public_key_version":"1"},{"public_key":"QUFB","signing_public_key":"U0lH","public_key_version":"1"}]}`, "1", "QUFB")
	f.Add(`{"dm_conversation_id":"1-2","dm_event_id":"3"}`, "", "")
	f.Fuzz(func(t *testing.T, body, version, pub string) {
		var dm DmCreateResponse
		_ = dm.UnmarshalJSON([]byte(body))
		var resp GetUsersPublicKeysResponse
		if json.Unmarshal([]byte(body), &resp) != nil {
			return
		}
		ids := []string{"1", "2"}
		pk, _ := b64.DecodeAny(pub)
		sk, _ := b64.DecodeAny("U0lH")
		knownBy := map[string][]KnownKey{"1": {{UserID: "1", Version: version, PublicKey: pk, SigningPublicKey: sk}}}
		out := &UserKeys{Keys: map[string][]PublicKey{}}
		var err error
		if labelled(resp.Data) {
			err = attributeLabelled(ids, resp.Data, out)
		} else {
			matchKnown(resp.Data, knownBy, out)
		}
		if err == nil {
			err = checkAttribution(out.Keys)
		}
		if err != nil {
			return
		}
		owner := map[string]string{}
		for uid, ks := range out.Keys {
			if uid != "1" && uid != "2" {
				t.Fatalf("unrequested user %q", uid)
			}
			for _, k := range ks {
				b, ok := b64.DecodeAny(k.PublicKey)
				if !ok {
					continue
				}
				if o, dup := owner[string(b)]; dup && o != uid {
					t.Fatalf("key given to %s and %s", o, uid)
				}
				owner[string(b)] = uid
			}
		}
	})
}
