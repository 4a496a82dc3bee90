package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/api"
)

func TestSendMessageRequestShape(t *testing.T) {
	var got struct {
		method, path, auth, ua, ctype string
		body                          map[string]any
	}
	c, cnt, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		got.method, got.path = r.Method, r.URL.EscapedPath()
		got.auth, got.ua, got.ctype = r.Header.Get("Authorization"), r.Header.Get("User-Agent"), r.Header.Get("Content-Type")
		if err := json.NewDecoder(r.Body).Decode(&got.body); err != nil {
			t.Errorf("request body: %v", err)
		}
		writeJSON(w, http.StatusCreated, map[string]any{"data": map[string]string{"encoded_message_event": "ZXZ0"}})
	}, api.WithUserAgent("xchat-test/1"))

	req := validSendRequest("m-1")
	req.ConversationToken = "tok"
	d, resp, err := c.SendMessage(context.Background(), bobID, req)
	if err != nil {
		t.Fatal(err)
	}
	if d.EncodedMessageEvent != "ZXZ0" || resp.StatusCode != 201 || resp.Attempts != 1 || cnt.Count() != 1 {
		t.Fatalf("data=%+v resp=%+v count=%d", d, resp, cnt.Count())
	}
	if got.method != "POST" || got.path != "/2/chat/conversations/"+bobID+"/messages" {
		t.Errorf("request line = %s %s", got.method, got.path)
	}
	if got.auth != "Bearer test-token-SECRET" || got.ua != "xchat-test/1" || got.ctype != "application/json" {
		t.Errorf("headers auth=%q ua=%q ctype=%q", got.auth, got.ua, got.ctype)
	}
	want := map[string]any{"message_id": "m-1", "encoded_message_create_event": "AAECAw==", "conversation_token": "tok"}
	if len(got.body) != len(want) {
		t.Errorf("body has %d fields, want %d: %v", len(got.body), len(want), got.body)
	}
	for k, v := range want {
		if got.body[k] != v {
			t.Errorf("body[%q] = %v, want %v", k, got.body[k], v)
		}
	}
}

func TestBaseURLPrefixAndQuery(t *testing.T) {
	var path, query string
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		path, query = r.URL.Path, r.URL.RawQuery
		writeJSON(w, 200, map[string]any{"data": []any{}, "meta": map[string]any{"result_count": 0}})
	})
	// Re-point at a prefixed base URL on the same server.
	c2, err := api.New(api.WithBaseURL(c.BaseURL()+"/prefix/"), api.WithBearerToken("x"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c2.GetConversationEvents(context.Background(), groupID, &api.ConversationEventsOptions{
		MaxResults: 50, PaginationToken: "abc", ChatMessageEventFields: []string{"id", "encoded_event"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if path != "/prefix/2/chat/conversations/"+groupID+"/events" {
		t.Errorf("path = %q", path)
	}
	for _, want := range []string{"max_results=50", "pagination_token=abc", "chat_message_event.fields=id%2Cencoded_event"} {
		if !strings.Contains(query, want) {
			t.Errorf("query %q lacks %q", query, want)
		}
	}
}

func TestValidationBeforeRequest(t *testing.T) {
	c, cnt, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
	})
	ctx := context.Background()
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"conversation id", func() error { _, _, err := c.SendMessage(ctx, "x", validSendRequest("m")); return err }, `api: invalid conversation id "x": must match`},
		{"group id too long", func() error { _, _, err := c.SendTyping(ctx, "g12345678901234567890"); return err }, "invalid conversation id"},
		{"empty message id", func() error { _, _, err := c.SendMessage(ctx, bobID, validSendRequest("")); return err }, "invalid message_id"},
		{"bad base64", func() error {
			r := validSendRequest("m")
			r.EncodedMessageCreateEvent = "not base64!"
			_, _, err := c.SendMessage(ctx, bobID, r)
			return err
		}, "invalid encoded_message_create_event"},
		{"max_results high", func() error {
			_, _, err := c.GetConversationEvents(ctx, groupID, &api.ConversationEventsOptions{MaxResults: 101})
			return err
		}, `invalid max_results "101": must be in [1, 100]`},
		{"max_results negative", func() error {
			_, _, err := c.ListConversations(ctx, &api.ListConversationsOptions{MaxResults: -1})
			return err
		}, "invalid max_results"},
		{"dm max_results", func() error { _, _, err := c.ListDmEvents(ctx, &api.DmEventsOptions{MaxResults: 1000}); return err }, "invalid max_results"},
		{"dm short token", func() error {
			_, _, err := c.ListDmEvents(ctx, &api.DmEventsOptions{PaginationToken: "short"})
			return err
		}, "invalid pagination_token"},
		{"dm event type", func() error {
			_, _, err := c.ListDmEvents(ctx, &api.DmEventsOptions{EventTypes: []string{"Bogus"}})
			return err
		}, "invalid event_types value"},
		{"dm field", func() error {
			_, _, err := c.ListDmEvents(ctx, &api.DmEventsOptions{DmEventFields: []string{"sender_id"}})
			return err
		}, `invalid dm_event.fields value "sender_id"`},
		{"event field", func() error {
			_, _, err := c.GetConversationEvents(ctx, groupID, &api.ConversationEventsOptions{ChatMessageEventFields: []string{"id", "id"}})
			return err
		}, "duplicate"},
		{"user id", func() error { _, _, err := c.GetUserPublicKeys(ctx, "12a", nil); return err }, `invalid user id "12a"`},
		{"too many ids", func() error { _, _, err := c.GetUsersPublicKeys(ctx, manyIDs(101), nil); return err }, "invalid ids"},
		{"dm participants", func() error {
			_, _, err := c.CreateDmConversation(ctx, &api.CreateDirectMessagesConversationRequest{ParticipantIDs: []string{"1"}, Message: api.DmMessage{Text: "x"}})
			return err
		}, "invalid participant_ids"},
		{"dm conversation id", func() error { _, _, err := c.ListDmConversationEvents(ctx, "123", nil); return err }, "invalid dm conversation id"},
		{"media hash key", func() error { _, _, err := c.DownloadMedia(ctx, groupID, "a/b"); return err }, "invalid media hash key"},
		{"segment index", func() error {
			_, _, err := c.MediaUploadAppend(ctx, "1", &api.ChatMediaUploadAppendRequest{ConversationID: groupID, MediaHashKey: "abc", SegmentIndex: 1000, Media: []byte{1}})
			return err
		}, "invalid segment_index"},
		{"num parts", func() error {
			_, _, err := c.MediaUploadFinalize(ctx, "1", &api.ChatMediaUploadFinalizeRequest{ConversationID: groupID, MediaHashKey: "abc", NumParts: "01"})
			return err
		}, "invalid num_parts"},
		{"delete action", func() error {
			_, _, err := c.DeleteMessages(ctx, groupID, &api.DeleteChatMessagesRequest{SequenceIDs: []string{"1"}, DeleteMessageAction: "nuke", ActionSignatures: []api.ActionSignature{}})
			return err
		}, "invalid delete_message_action"},
		{"key version", func() error {
			_, _, err := c.AddConversationKeys(ctx, groupID, &api.AddConversationKeysRequest{ConversationKeyVersion: "v1"})
			return err
		}, "invalid conversation_key_version"},
		{"action signature", func() error {
			_, _, err := c.AddConversationKeys(ctx, groupID, &api.AddConversationKeysRequest{
				ConversationKeyVersion:      "1700000000000",
				ConversationParticipantKeys: []api.ConversationParticipantKey{{UserID: aliceID, EncryptedConversationKey: "AA==", PublicKeyVersion: "1"}},
				ActionSignatures:            []api.ActionSignature{{MessageID: "m", EncodedMessageEventDetail: "AA==", MessageEventSignature: api.MessageEventSignature{Signature: "AA==", PublicKeyVersion: "1", SignatureVersion: "x"}}},
			})
			return err
		}, "invalid signature_version"},
		{"mark read", func() error { _, _, err := c.MarkRead(ctx, groupID, "abc"); return err }, "invalid seen_until_sequence_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, api.ErrInvalidInput) {
				t.Errorf("error %v is not ErrInvalidInput", err)
			}
			var ve *api.ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("error %T is not *ValidationError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
	if cnt.Count() != 0 {
		t.Fatalf("%d requests sent for invalid input", cnt.Count())
	}
}

func TestIterationValidatesBeforeRequest(t *testing.T) {
	c, cnt, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { t.Error("unexpected request") })
	n := 0
	for _, err := range c.ConversationEvents(context.Background(), groupID, &api.ConversationEventsOptions{MaxResults: 0x7fff}) {
		n++
		if !errors.Is(err, api.ErrInvalidInput) {
			t.Fatalf("err = %v", err)
		}
	}
	if n != 1 || cnt.Count() != 0 {
		t.Fatalf("yields=%d requests=%d", n, cnt.Count())
	}
}

func TestMediaAppendJSONBase64AndDownload(t *testing.T) {
	payload := []byte{0, 1, 2, 250, 251, 252}
	var appendBody map[string]any
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/2/chat/media/upload/42/append":
			if err := json.NewDecoder(r.Body).Decode(&appendBody); err != nil {
				t.Errorf("append body: %v", err)
			}
			writeJSON(w, 200, map[string]any{"data": map[string]any{"expires_at": 1700000000}})
		case strings.HasPrefix(r.URL.Path, "/2/chat/media/g1/"):
			if r.Header.Get("Accept") != "application/octet-stream" {
				t.Errorf("Accept = %q", r.Header.Get("Accept"))
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(payload)
		default:
			http.NotFound(w, r)
		}
	})
	d, _, err := c.MediaUploadAppend(context.Background(), "42", &api.ChatMediaUploadAppendRequest{ConversationID: "g1", MediaHashKey: "hk1", SegmentIndex: 3, Media: payload})
	if err != nil {
		t.Fatal(err)
	}
	if d.ExpiresAt != 1700000000 {
		t.Errorf("expires_at = %d", d.ExpiresAt)
	}
	if appendBody["media"] != base64.StdEncoding.EncodeToString(payload) || appendBody["segment_index"] != float64(3) || appendBody["media_hash_key"] != "hk1" {
		t.Errorf("append body = %v", appendBody)
	}
	got, _, err := c.DownloadMedia(context.Background(), "g1", "hk1")
	if err != nil || string(got) != string(payload) {
		t.Fatalf("download = %v, %v", got, err)
	}
}

func TestMediaDownloadSizeBound(t *testing.T) {
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 2048))
	}, api.WithMaxMediaBytes(1024))
	if _, _, err := c.DownloadMedia(context.Background(), "g1", "hk1"); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, opt := range map[string]api.Option{
		"base url scheme": api.WithBaseURL("ftp://x"),
		"base url host":   api.WithBaseURL("http://"),
		"empty token":     api.WithBearerToken(""),
		"nil ts":          api.WithTokenSource(nil),
		"attempts":        api.WithMaxAttempts(0),
		"backoff":         api.WithBackoff(0, 1),
		"http client":     api.WithHTTPClient(nil),
	} {
		if _, err := api.New(opt); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestOperationsTable(t *testing.T) {
	if len(api.Operations) != 29 {
		t.Fatalf("%d operations", len(api.Operations))
	}
	seen := map[string]bool{}
	mux := http.NewServeMux()
	for _, op := range api.Operations {
		if seen[op.ID] {
			t.Errorf("duplicate %s", op.ID)
		}
		seen[op.ID] = true
		if len(op.Scopes) == 0 {
			t.Errorf("%s has no scopes", op.ID)
		}
		// Registering every route on one mux proves the patterns are valid
		// and mutually unambiguous (ServeMux panics otherwise).
		mux.HandleFunc(op.Route(), func(http.ResponseWriter, *http.Request) {})
	}
}

func TestClientFormattingHidesToken(t *testing.T) {
	c, err := api.New(api.WithBearerToken("very-secret-token"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, "very-secret-token") || !strings.Contains(s, "api.x.com") {
			t.Fatalf("formatted client: %s", s)
		}
	}
}

func manyIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i + 1)
	}
	return out
}

// Item 11 of issue #13: checks stricter than the specification are gone.
// Repeated ids are sent once (the spec does not forbid them), and
// media_hash_keys may accompany delete_for_self (the spec does not tie them
// to delete_for_all).
func TestNoChecksStricterThanSpec(t *testing.T) {
	var got []string
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Query().Get("ids"))
		switch r.URL.Path {
		case "/2/users/public_keys":
			writeJSON(w, 200, map[string]any{"data": []any{}})
		default:
			writeJSON(w, 200, map[string]any{"data": map[string]any{"deleted": true}})
		}
	})
	ctx := context.Background()
	if _, _, err := c.GetUsersPublicKeys(ctx, []string{"1", "2", "1"}, nil); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "1,2" {
		t.Fatalf("ids sent %q", got)
	}
	sig := api.ActionSignature{MessageID: "m1", EncodedMessageEventDetail: "ZGV0", MessageEventSignature: api.MessageEventSignature{Signature: "c2ln", PublicKeyVersion: "1", SignatureVersion: "1"}}
	d, _, err := c.DeleteMessages(ctx, groupID, &api.DeleteChatMessagesRequest{SequenceIDs: []string{"5"}, DeleteMessageAction: api.DeleteForSelf,
		MediaHashKeys: []string{"abc"}, ActionSignatures: []api.ActionSignature{sig}})
	if err != nil || !d.Deleted {
		t.Fatalf("delete_for_self with media_hash_keys: %v", err)
	}
}

// TestResponseBodyBounds reads bodies that announce their length and
// bodies that do not (chunked), at and past the limit, and one announcing
// more than it sends: the bytes read are the bytes served, a body past the
// limit is refused whether or not it announced its length, and a short one
// fails.
func TestResponseBodyBounds(t *testing.T) {
	const limit = 4096
	body := func(n int) []byte { return bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n] }
	for _, tc := range []struct {
		name      string
		n         int
		announce  int // Content-Length sent (0: chunked)
		wantError string
	}{
		{"announced, small", 100, 100, ""},
		{"announced, at the limit", limit, limit, ""},
		{"announced, past the limit", limit + 1, limit + 1, "exceeds"},
		{"chunked, at the limit", limit, 0, ""},
		{"chunked, past the limit", limit + 1, 0, "exceeds"},
		{"announced more than sent", 100, 2000, "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := body(tc.n)
			c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.announce > 0 {
					w.Header().Set("Content-Length", strconv.Itoa(tc.announce))
				}
				for chunk := range slices.Chunk(want, 1000) {
					_, _ = w.Write(chunk)
					if tc.announce == 0 {
						w.(http.Flusher).Flush()
					}
				}
			}, api.WithMaxMediaBytes(limit), api.WithMaxAttempts(1))
			got, _, err := c.DownloadMedia(context.Background(), "g1", "hk1")
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, want the %d served", len(got), len(want))
			}
		})
	}
}
