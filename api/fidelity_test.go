package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/xchat-go/xchat/api"
)

// Items 1, 2, 5 and 10 of issue #13: shapes the real API (or its own
// documents) use decode.

func TestAddMembersDecodesPostAndKeyChangeShapes(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"spec Post", `{"data":{"id":"777","text":""}}`, "777"},
		{"key-change shape", `{"data":{"conversation_id":"g1","sequence_id":"888"}}`, "888"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
			})
			d, _, err := c.AddMembers(context.Background(), groupID, &api.AddChatGroupMembersRequest{UserIDs: []string{bobID}})
			if err != nil {
				t.Fatal(err)
			}
			if got := d.KeyChangeSequenceID(); got != tc.want {
				t.Fatalf("sequence id %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDmCreateDecodesWrappedAndUnwrapped(t *testing.T) {
	for _, body := range []string{
		`{"data":{"dm_conversation_id":"1346889436626259968","dm_event_id":"128341038123"}}`,
		`{"dm_conversation_id":"1346889436626259968","dm_event_id":"128341038123"}`, // seed 004
	} {
		c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(body))
		})
		d, _, err := c.SendDmToConversation(context.Background(), "1346889436626259968", &api.DmMessage{Text: "hi"})
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if d.DmConversationID != "1346889436626259968" || d.DmEventID != "128341038123" {
			t.Fatalf("%s: %+v", body, d)
		}
	}
}

func TestDmEventReferencedTweetsAndPosts(t *testing.T) {
	var ev api.DmEvent
	// Seed 004's MessageCreate metadata names them referenced_tweets.
	if err := json.Unmarshal([]byte(`{"id":"1","referenced_tweets":[{"id":"1580559079470145536"}],"referenced_posts":[{"id":"2"}]}`), &ev); err != nil {
		t.Fatal(err)
	}
	refs := ev.References()
	if len(refs) != 2 || refs[0].ID != "2" || refs[1].ID != "1580559079470145536" {
		t.Fatalf("references %+v", refs)
	}
}

func TestIsTrustedAbsentIsNotFalse(t *testing.T) {
	var evs []api.ChatMessageEvent
	if err := json.Unmarshal([]byte(`[{"id":"1"},{"id":"2","is_trusted":false},{"id":"3","is_trusted":true}]`), &evs); err != nil {
		t.Fatal(err)
	}
	if evs[0].IsTrusted != nil || evs[1].IsTrusted == nil || *evs[1].IsTrusted || evs[2].IsTrusted == nil || !*evs[2].IsTrusted {
		t.Fatalf("is_trusted %v %v %v", evs[0].IsTrusted, evs[1].IsTrusted, evs[2].IsTrusted)
	}
	out, err := json.Marshal(evs[0])
	if err != nil || string(out) != `{"id":"1"}` {
		t.Fatalf("absent is_trusted re-encoded as %s (%v)", out, err)
	}
}

// A 429 of one legacy DM POST operation holds back the other two: X
// shares their limits (seed 004).
func TestDmPostRateLimitIsShared(t *testing.T) {
	calls := 0
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("x-rate-limit-limit", "200")
		w.Header().Set("x-rate-limit-remaining", "0")
		w.Header().Set("x-rate-limit-reset", "9999999999")
		writeJSON(w, http.StatusCreated, map[string]any{"data": map[string]any{"dm_conversation_id": "1-2", "dm_event_id": "3"}})
	}, api.WithFailFast(true))
	ctx := context.Background()
	if _, _, err := c.SendDmToParticipant(ctx, bobID, &api.DmMessage{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.SendDmToConversation(ctx, "1-2", &api.DmMessage{Text: "again"})
	var rle *api.RateLimitError
	if !asRateLimit(err, &rle) || calls != 1 {
		t.Fatalf("second DM POST: err %v after %d calls; want a local rate-limit refusal", err, calls)
	}
	if api.RateLimitBucket(api.OpCreateDirectMessagesConversation) != api.DmPostBucket ||
		api.RateLimitBucket(api.OpSendChatMessage) != api.OpSendChatMessage.ID {
		t.Fatal("bucket mapping")
	}
}

func asRateLimit(err error, target **api.RateLimitError) bool {
	e, ok := err.(*api.RateLimitError)
	if ok {
		*target = e
	}
	return ok
}
