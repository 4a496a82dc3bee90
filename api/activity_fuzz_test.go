package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xchat-go/xchat/internal/testutil"
)

// activitySeeds are the documented chat payloads (testdata/activity) and
// a few hand-made lines.
func activitySeeds(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	files, err := filepath.Glob(filepath.Join("testdata", "activity", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no activity vectors in testdata/activity: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		compact := testutil.Must(json.Marshal(v))(f)
		out = append(out, b, compact)
	}
	return append(out, []byte(`{}`), []byte(`{"errors":[{"title":"operational-disconnect"}]}`),
		[]byte(`{"data":{"event_uuid":-1,"event_type":"chat.sent","payload":{"encoded_event":"AA=="}}}`))
}

// FuzzParseActivityMessage: any line parses or fails with a typed error;
// what parses satisfies the documented bounds and survives a round trip.
func FuzzParseActivityMessage(f *testing.F) {
	for _, s := range activitySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseActivityMessage(b)
		if err != nil {
			if !errors.Is(err, ErrActivityMessage) && !errors.Is(err, ErrActivityTooLarge) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if m.Data == nil {
			return
		}
		if id := string(m.Data.EventUUID); id == "" || len(id) > MaxEventUUIDLength || !printable(id) {
			t.Fatalf("event_uuid %q accepted", id)
		}
		if p, err := m.Data.ChatPayload(); err == nil && p.EncodedEvent == "" {
			t.Fatal("chat payload without encoded_event accepted")
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseActivityMessage(again)
		if err != nil || m2.Data == nil || m2.Data.EventUUID != m.Data.EventUUID || m2.Data.EventType != m.Data.EventType {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzActivityStreamBody feeds arbitrary bytes to the stream's line
// reader: it never panics, never hands over more events than lines, and
// ends with the server's close.
func FuzzActivityStreamBody(f *testing.F) {
	seeds := activitySeeds(f)
	f.Add(bytes.Join(seeds, []byte("\n")))
	f.Add(bytes.Join(seeds, []byte("\r\n\n")))
	f.Add(append(bytes.Repeat([]byte("A"), 600), '\n'))
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s := &Stream{opts: StreamOptions{MaxLineBytes: 512}, clock: SystemClock{},
			events: make(chan *ActivityEvent, len(body)+1)}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		wd := newWatchdog(SystemClock{}, time.Hour, cancel)
		defer wd.stop()
		delivered := false
		err := s.readLines(ctx, bytes.NewReader(body), wd, &delivered)
		if !errors.Is(err, errStreamEnded) {
			t.Fatalf("readLines = %v", err)
		}
		close(s.events)
		n := 0
		for ev := range s.events {
			n++
			if ev.EventUUID == "" {
				t.Fatal("event without uuid")
			}
		}
		if lines := bytes.Count(body, []byte("\n")) + 1; n > lines {
			t.Fatalf("%d events from %d lines", n, lines)
		}
		if st := s.Stats(); st.Events != n {
			t.Fatalf("stats %d events, %d handed over", st.Events, n)
		}
	})
}

// FuzzWebhookDelivery posts arbitrary bodies to a receiver, correctly
// signed and with a flipped signature: unsigned bodies are always 401,
// signed ones 200 (queued), 400 (malformed) or 413, never a panic.
func FuzzWebhookDelivery(f *testing.F) {
	for _, s := range activitySeeds(f) {
		f.Add(s, uint8(0))
	}
	secret := []byte("fuzz-consumer-secret")
	f.Fuzz(func(t *testing.T, body []byte, flip uint8) {
		r, err := NewWebhookReceiver(WebhookOptions{ConsumerSecret: secret, MaxBodyBytes: 64 << 10, Queue: 4})
		if err != nil {
			t.Fatal(err)
		}
		sig := WebhookSignature(secret, body)
		bad := []byte(sig)
		bad[7+int(flip)%(len(bad)-8)] ^= 0x01
		for _, c := range []struct {
			sig    string
			signed bool
		}{{string(bad), false}, {sig, true}} {
			req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
			req.Header.Set(HeaderWebhookSignature, c.sig)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			switch {
			case !c.signed && rec.Code != http.StatusUnauthorized && rec.Code != http.StatusRequestEntityTooLarge:
				t.Fatalf("flipped signature answered %d", rec.Code)
			case c.signed && rec.Code != 200 && rec.Code != 400 && rec.Code != 413:
				t.Fatalf("signed body answered %d", rec.Code)
			}
		}
		st := r.Stats()
		if st.Accepted+st.KeepAlives > 1 || st.BadSignature > 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}
