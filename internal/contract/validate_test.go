package contract

import (
	"net/http"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/internal/exchange"
)

func rl() http.Header {
	h := http.Header{}
	h.Set("x-rate-limit-limit", "10")
	h.Set("x-rate-limit-remaining", "9")
	h.Set("x-rate-limit-reset", "1900000000")
	return h
}

// The validator must see what issue #13 found by hand.
func TestValidatorCatchesIssue13Findings(t *testing.T) {
	v, err := NewValidator(ChatSpec)
	if err != nil {
		t.Fatal(err)
	}
	bearer := http.Header{"Authorization": {"Bearer REDACTED"}}
	problem := rl()
	problem.Set("Content-Type", "application/problem+json")
	json := rl()
	json.Set("Content-Type", "application/json")
	for _, tc := range []struct {
		name string
		x    exchange.Exchange
		want string
	}{
		{"about:blank problem", exchange.Exchange{Method: "GET", Path: "/2/chat/conversations", RequestHeader: bearer, Status: 401,
			ResponseHeader: problem, ResponseBody: []byte(`{"type":"about:blank","title":"Unauthorized","detail":"Unauthorized","status":401}`)},
			`discriminator property "type" has invalid value`},
		{"errors repeated inside a problem", exchange.Exchange{Method: "GET", Path: "/2/chat/conversations", RequestHeader: bearer, Status: 400,
			ResponseHeader: problem, ResponseBody: []byte(`{"type":"https://api.x.com/2/problems/invalid-request","title":"t","detail":"d","errors":[{}]}`)},
			`property "errors" is unsupported`},
		{"user_id on PublicKey", exchange.Exchange{Method: "GET", Path: "/2/users/public_keys", Query: "ids=1,2", RequestHeader: bearer, Status: 200,
			ResponseHeader: json, ResponseBody: []byte(`{"data":[{"user_id":"1","public_key":"x"}]}`)},
			`body /data/*: property "user_id" is unsupported`},
		{"no rate-limit headers", exchange.Exchange{Method: "GET", Path: "/2/chat/conversations", RequestHeader: bearer, Status: 200,
			ResponseHeader: http.Header{"Content-Type": {"application/json"}}, ResponseBody: []byte(`{"data":[]}`)},
			`header x-rate-limit-limit: missing`},
		{"field value outside the enum", exchange.Exchange{Method: "GET", Path: "/2/chat/conversations/g1/events",
			Query: "chat_message_event.fields=sequence_id", RequestHeader: bearer, Status: 200, ResponseHeader: json, ResponseBody: []byte(`{}`)},
			`query chat_message_event.fields`},
		{"undeclared query parameter", exchange.Exchange{Method: "GET", Path: "/2/chat/conversations", Query: "bogus=1",
			RequestHeader: bearer, Status: 200, ResponseHeader: json, ResponseBody: []byte(`{}`)},
			`query bogus: not a parameter`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, ok, vs := v.Check(tc.x)
			if !ok {
				t.Fatalf("not routed: %s %s", tc.x.Method, tc.x.Path)
			}
			var all []string
			for _, x := range vs {
				all = append(all, x.Detail)
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Fatalf("%s: violations %q lack %q", op, all, tc.want)
			}
		})
	}
	if _, ok, _ := v.Check(exchange.Exchange{Method: "POST", Path: "/emulator/v1/users", Status: 201}); ok {
		t.Fatal("the emulator's provisioning endpoint is not an operation")
	}
}
