package interop

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/session"
)

// hostileServer sits between our engine and xchatd and can rewrite what
// the server returns, the way a compromised backend or network would.
type hostileServer struct {
	session.Server

	mu     sync.Mutex
	events func(string) string // rewrites one base64 MessageEvent
	media  func([]byte) []byte // rewrites a downloaded media blob
}

// setEvents installs (or with nil removes) the event rewriter.
func (h *hostileServer) setEvents(fn func(string) string) {
	h.mu.Lock()
	h.events = fn
	h.mu.Unlock()
}

// setMedia installs (or with nil removes) the media rewriter.
func (h *hostileServer) setMedia(fn func([]byte) []byte) {
	h.mu.Lock()
	h.media = fn
	h.mu.Unlock()
}

// GetConversationEvents rewrites every event of the page.
func (h *hostileServer) GetConversationEvents(ctx context.Context, conversationID string, maxResults int, paginationToken string) (*api.GetChatConversationEventsResponse, error) {
	r, err := h.Server.GetConversationEvents(ctx, conversationID, maxResults, paginationToken)
	h.mu.Lock()
	fn := h.events
	h.mu.Unlock()
	if err != nil || fn == nil || r == nil {
		return r, err
	}
	for i := range r.Data {
		if r.Data[i].EncodedEvent != "" {
			r.Data[i].EncodedEvent = fn(r.Data[i].EncodedEvent)
		}
	}
	if r.Meta != nil {
		for i, e := range r.Meta.ConversationKeyEvents {
			r.Meta.ConversationKeyEvents[i] = fn(e)
		}
	}
	return r, nil
}

// MediaDownload rewrites the downloaded blob.
func (h *hostileServer) MediaDownload(ctx context.Context, conversationID, mediaHashKey string) (io.ReadCloser, error) {
	rc, err := h.Server.MediaDownload(ctx, conversationID, mediaHashKey)
	h.mu.Lock()
	fn := h.media
	h.mu.Unlock()
	if err != nil || fn == nil {
		return rc, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(fn(b))), nil
}

// tamperWith returns an event rewriter that applies the harness's tamper op
// (the same code that tampers with what the SDK app receives).
func (s *suite) tamperWith(t *testing.T, spec map[string]any) func(string) string {
	return func(ev string) string {
		args := map[string]any{"event": ev}
		for k, v := range spec {
			args[k] = v
		}
		var r struct {
			Event string `json:"event"`
		}
		if err := s.peer.Call(context.Background(), "tamper", args, &r); err != nil {
			t.Errorf("tamper: %v", err)
			return ev
		}
		return r.Event
	}
}

// reasonClass maps a rejection message of either side to a coarse reason,
// so the two implementations' wording can be compared.
func reasonClass(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case m == "":
		return "accepted"
	case strings.Contains(m, "signature_version") || strings.Contains(m, "signature version"):
		return "signature-version"
	case strings.Contains(m, "ecdsa") || strings.Contains(m, "signature"):
		return "signature"
	case strings.Contains(m, "no matching key") || strings.Contains(m, "key version") || strings.Contains(m, "conversation key"):
		return "key-version"
	case strings.Contains(m, "decrypt") || strings.Contains(m, "authentication"):
		return "decrypt"
	default:
		return "other: " + msg
	}
}
