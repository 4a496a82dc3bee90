package emulator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
)

// BenchmarkServeSendMessage measures the server's full send path (auth, Thrift decode,
// signature verification, envelope encode, store) without the network.
func BenchmarkServeSendMessage(b *testing.B) {
	f := newChatFixture(b, emulator.WithRateLimit(0, 0))
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = testutil.Must(json.Marshal(f.a.sendBody(f.conv, f.kc, "benchmark message")))(b)
	}
	path := "/2/chat/conversations/" + f.b.id + "/messages"
	b.ResetTimer()
	for i := range b.N {
		req := httptest.NewRequest("POST", path, bytes.NewReader(bodies[i]))
		req.Header.Set("Authorization", "Bearer "+f.a.token)
		rec := httptest.NewRecorder()
		f.e.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
		}
	}
}

// BenchmarkListEvents measures one 100-event page of a busy conversation.
func BenchmarkListEvents(b *testing.B) {
	f := newChatFixture(b, emulator.WithRateLimit(0, 0))
	for range 300 {
		f.a.send(f.b.id, f.conv, f.kc, "x")
	}
	path := "/2/chat/conversations/" + f.hyphen + "/events?max_results=100"
	b.ResetTimer()
	for range b.N {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+f.b.token)
		rec := httptest.NewRecorder()
		f.e.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkListEventsDeep measures one 100-event page near the start of a
// 20,000-event conversation (what a client syncing a long history asks
// for last).
func BenchmarkListEventsDeep(b *testing.B) {
	f := newChatFixture(b, emulator.WithRateLimit(0, 0))
	const n = 20000
	reqs := make([]api.SendChatMessageRequest, n)
	for i := range reqs {
		reqs[i] = f.a.sendBody(f.conv, f.kc, "x")
	}
	if _, err := f.e.srv.SeedMessages(f.a.id, f.b.id, reqs); err != nil {
		b.Fatal(err)
	}
	// Walk to the page 150 from the end (15,000 events back).
	path := "/2/chat/conversations/" + f.hyphen + "/events?max_results=100"
	deep := path
	for range 150 {
		var out api.GetChatConversationEventsResponse
		f.e.must(f.e.do("GET", deep, f.b.token, nil), http.StatusOK).decode(b, &out)
		deep = path + "&pagination_token=" + out.Meta.NextToken
	}
	b.ResetTimer()
	for range b.N {
		req := httptest.NewRequest("GET", deep, nil)
		req.Header.Set("Authorization", "Bearer "+f.b.token)
		rec := httptest.NewRecorder()
		f.e.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
