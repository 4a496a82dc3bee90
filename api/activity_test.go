package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testref"
	"github.com/xchat-go/xchat/internal/testutil"
)

func readActivityVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "activity", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseActivityDocs parses the chat payloads of X's documentation
// (event-payloads.mdx and real-time-events.mdx, copied verbatim).
func TestParseActivityDocs(t *testing.T) {
	cases := []struct {
		file, uuid, typ, conv, sender, kv string
		kc, sig                           bool
	}{
		{"chat_received_docs.json", "8511582263942905822", "chat.received", "2222222222222222222:1111111111111111111", "2222222222222222222", "1768236281331", true, true},
		{"chat_sent_docs.json", "3723060601307155846", "chat.sent", "2222222222222222222:1111111111111111111", "1111111111111111111", "1768236281331", true, true},
		{"chat_received_guide.json", "0f52b591-4b7e-4f13-92cd-30e6b2a3f18a", "chat.received", "1215441834412953600-1843439638876491776", "1843439638876491776", "1782945126642", true, false},
	}
	for _, c := range cases {
		m, err := api.ParseActivityMessage(readActivityVector(t, c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		ev := m.Data
		if ev == nil || string(ev.EventUUID) != c.uuid || ev.EventType != c.typ || !ev.IsChat() {
			t.Fatalf("%s: %+v", c.file, ev)
		}
		p, err := ev.ChatPayload()
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if p.ConversationID != c.conv || string(p.SenderID) != c.sender || string(p.ConversationKeyVersion) != c.kv ||
			(p.ConversationKeyChangeEvent != "") != c.kc || (p.MessageEventSignature != nil) != c.sig || p.EncodedEvent == "" {
			t.Errorf("%s: payload %+v", c.file, p)
		}
		if c.sig && (p.MessageEventSignature.SignatureVersion != "7" || p.MessageEventSignature.SigningPublicKey == "") {
			t.Errorf("%s: signature %+v", c.file, p.MessageEventSignature)
		}
	}
}

func TestParseActivityShapes(t *testing.T) {
	good := map[string]string{
		"numeric uuid":  `{"data":{"event_uuid":-3577827201104920132,"event_type":"chat.sent","payload":{"encoded_event":"AA=="}}}`,
		"keep-alive":    `{}`,
		"stream errors": `{"errors":[{"title":"operational-disconnect"}]}`,
		"null payload":  `{"data":{"event_uuid":"1","event_type":"news.new","payload":null}}`,
		"numbers":       `{"data":{"event_uuid":"1","event_type":"chat.sent","payload":{"encoded_event":"AA==","created_at_msec":1784841183370,"sender_id":2}}}`,
	}
	for name, s := range good {
		m, err := api.ParseActivityMessage([]byte(s))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if name == "keep-alive" != m.KeepAlive() {
			t.Errorf("%s: KeepAlive %v", name, m.KeepAlive())
		}
	}
	m := testutil.Must(api.ParseActivityMessage([]byte(good["numbers"])))(t)
	if p, err := m.Data.ChatPayload(); err != nil || p.CreatedAtMsec != "1784841183370" || p.SenderID != "2" {
		t.Errorf("numbers: %+v %v", p, err)
	}
	if m := testutil.Must(api.ParseActivityMessage([]byte(good["numeric uuid"])))(t); m.Data.EventUUID != "-3577827201104920132" {
		t.Errorf("numeric uuid %q", m.Data.EventUUID)
	}
	bad := map[string]string{
		"empty":         ``,
		"blank":         " \n",
		"array":         `[]`,
		"no uuid":       `{"data":{"event_type":"chat.sent"}}`,
		"long uuid":     `{"data":{"event_uuid":"` + strings.Repeat("1", 65) + `","event_type":"chat.sent"}}`,
		"space in uuid": `{"data":{"event_uuid":"a b","event_type":"chat.sent"}}`,
		"no type":       `{"data":{"event_uuid":"1"}}`,
		"uuid object":   `{"data":{"event_uuid":{},"event_type":"chat.sent"}}`,
		"payload array": `{"data":{"event_uuid":"1","event_type":"chat.sent","payload":[1]}}`,
		"trailing":      `{"data":{"event_uuid":"1","event_type":"chat.sent"}} {}`,
		"truncated":     `{"data":{"event_uuid":"1","event_type":"chat.sent"`,
	}
	for name, s := range bad {
		if _, err := api.ParseActivityMessage([]byte(s)); !errors.Is(err, api.ErrActivityMessage) {
			t.Errorf("%s: %v", name, err)
		}
	}
	huge := make([]byte, api.DefaultMaxActivityMessageBytes+1)
	if _, err := api.ParseActivityMessage(huge); !errors.Is(err, api.ErrActivityTooLarge) {
		t.Errorf("huge: %v", err)
	}
	for name, s := range map[string]string{
		"not chat":         `{"data":{"event_uuid":"1","event_type":"dm.sent","payload":{"encoded_event":"AA=="}}}`,
		"no encoded_event": `{"data":{"event_uuid":"1","event_type":"chat.sent","payload":{"conversation_id":"1:2"}}}`,
		"no payload":       `{"data":{"event_uuid":"1","event_type":"chat.sent"}}`,
		"payload types":    `{"data":{"event_uuid":"1","event_type":"chat.sent","payload":{"encoded_event":7}}}`,
	} {
		m, err := api.ParseActivityMessage([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := m.Data.ChatPayload(); !errors.Is(err, api.ErrActivityMessage) {
			t.Errorf("%s: ChatPayload %v", name, err)
		}
	}
}

// TestSubscriptionDataForms: the create answer's data in the OpenAPI form,
// the quick start's flat form and its list form.
func TestSubscriptionDataForms(t *testing.T) {
	forms := []string{
		`{"data":{"subscription":{"subscription_id":"7","event_type":"chat.sent","filter":{"user_id":"1"}},"total_subscriptions":3}}`,
		`{"data":{"subscription_id":"7","event_type":"chat.sent","filter":{"user_id":"1"}},"meta":{"total_subscriptions":3}}`,
		`{"data":[{"subscription_id":"7","event_type":"chat.sent","filter":{"user_id":"1"}}],"meta":{"total_subscriptions":3}}`,
	}
	for _, f := range forms {
		var r api.ActivitySubscriptionResponse
		if err := json.Unmarshal([]byte(f), &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		s := r.Data.Subscription
		total := r.Data.TotalSubscriptions
		if r.Meta != nil {
			total = max(total, r.Meta.TotalSubscriptions)
		}
		if s == nil || s.SubscriptionID != "7" || s.Filter.UserID != "1" || total != 3 {
			t.Errorf("%s: %+v", f, r.Data)
		}
	}
}

// TestActivityOperationsMatchSpec checks ActivityOperations against
// x-api-activity-openapi.json: ids, methods, paths and user-token scopes.
func TestActivityOperationsMatchSpec(t *testing.T) {
	var spec map[string]any
	testref.JSON(t, testref.ActivityOpenAPI, &spec)
	type op struct{ method, path, scopes string }
	want := map[string]op{}
	for path, item := range obj(spec, "paths") {
		for method, o := range item.(map[string]any) {
			m := o.(map[string]any)
			var scopes []string
			for _, sec := range m["security"].([]any) {
				if s, ok := obj(sec)["OAuth2UserToken"].([]any); ok {
					for _, x := range s {
						scopes = append(scopes, x.(string))
					}
					break
				}
			}
			sort.Strings(scopes)
			want[m["operationId"].(string)] = op{strings.ToUpper(method), path, strings.Join(scopes, ",")}
		}
	}
	if len(want) != len(api.ActivityOperations) {
		t.Errorf("spec has %d operations, package %d", len(want), len(api.ActivityOperations))
	}
	for _, o := range api.ActivityOperations {
		w, ok := want[o.ID]
		scopes := slices.Clone(o.Scopes)
		sort.Strings(scopes)
		if !ok || w.method != o.Method || w.path != o.Pattern || w.scopes != strings.Join(scopes, ",") {
			t.Errorf("%s: package %s %s %v, spec %+v", o.ID, o.Method, o.Pattern, o.Scopes, w)
		}
	}
	enum := obj(spec, "components", "schemas", "CreateActivitySubscriptionRequest", "properties", "event_type")["enum"].([]any)
	var types []string
	for _, e := range enum {
		types = append(types, e.(string))
	}
	if !slices.Equal(types, api.ActivityEventTypes) {
		t.Errorf("event types differ from the spec:\n%v\n%v", types, api.ActivityEventTypes)
	}
}

func TestActivityRequestValidation(t *testing.T) {
	c, cnt := streamClient(t, http.NotFoundHandler())
	ctx := testCtx(t)
	bad := []*api.CreateActivitySubscriptionRequest{
		nil,
		{EventType: "chat.typo", Filter: api.ActivitySubscriptionFilter{UserID: "1"}},
		{EventType: "chat.sent"},
		{EventType: "chat.sent", Filter: api.ActivitySubscriptionFilter{UserID: "x1"}},
		{EventType: "chat.sent", Filter: api.ActivitySubscriptionFilter{UserID: "1"}, Tag: strings.Repeat("t", 201)},
		{EventType: "chat.sent", Filter: api.ActivitySubscriptionFilter{UserID: "1"}, WebhookID: "w"},
		{EventType: "like.create", Filter: api.ActivitySubscriptionFilter{UserID: "1", Direction: "sideways"}},
	}
	for _, r := range bad {
		if _, _, err := c.CreateActivitySubscription(ctx, r); !errors.Is(err, api.ErrInvalidInput) {
			t.Errorf("%+v: %v", r, err)
		}
	}
	if _, _, err := c.DeleteActivitySubscriptions(ctx, nil); !errors.Is(err, api.ErrInvalidInput) {
		t.Errorf("no ids: %v", err)
	}
	if _, _, err := c.DeleteActivitySubscriptions(ctx, make([]string, 101)); !errors.Is(err, api.ErrInvalidInput) {
		t.Errorf("101 ids: %v", err)
	}
	if _, _, err := c.UpdateActivitySubscription(ctx, "1", &api.UpdateActivitySubscriptionRequest{}); !errors.Is(err, api.ErrInvalidInput) {
		t.Errorf("empty update: %v", err)
	}
	if _, _, err := c.CreateWebhook(ctx, "ftp://x"); !errors.Is(err, api.ErrInvalidInput) {
		t.Errorf("ftp webhook: %v", err)
	}
	if _, _, err := c.ValidateWebhook(ctx, "1/2"); !errors.Is(err, api.ErrInvalidInput) {
		t.Errorf("webhook id: %v", err)
	}
	if _, err := api.ParseReplayTime("202501011200"); err != nil {
		t.Error(err)
	}
	if _, err := api.ParseReplayTime("2025-01-01"); err == nil {
		t.Error("bad replay time parsed")
	}
	if cnt.Count() != 0 {
		t.Errorf("%d requests sent for invalid input", cnt.Count())
	}
}
