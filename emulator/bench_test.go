package emulator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/internal/testutil"
)

// BenchmarkSendMessage measures the full send path (auth, Thrift decode,
// signature verification, envelope encode, store) without the network.
func BenchmarkSendMessage(b *testing.B) {
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
