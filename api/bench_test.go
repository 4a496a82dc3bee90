package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
)

func BenchmarkGetConversationEventsPage(b *testing.B) {
	page := api.GetChatConversationEventsResponse{Meta: &api.ChatEventsMeta{ResultCount: 100, NextToken: "n"}}
	for i := 0; i < 100; i++ {
		page.Data = append(page.Data, api.ChatMessageEvent{
			ID: strconv.Itoa(i), SequenceID: strconv.Itoa(i), EncodedEvent: strings.Repeat("QUJD", 128),
			MessageEventSignature: &api.MessageEventSignature{Signature: "c2ln", PublicKeyVersion: "1", SignatureVersion: "1"},
		})
	}
	body := testutil.Must(json.Marshal(page))(b)
	c, _, _ := newServer(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := c.GetConversationEvents(context.Background(), "g1", &api.ConversationEventsOptions{MaxResults: 100}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClientSendMessage(b *testing.B) {
	c, _, _ := newServer(b, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 201, map[string]any{"data": map[string]string{"encoded_message_event": "ZQ=="}})
	})
	req := validSendRequest("m")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := c.SendMessage(context.Background(), "1603419180975409153", req); err != nil {
			b.Fatal(err)
		}
	}
}
