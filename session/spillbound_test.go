package session

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"testing"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/hostile"
)

// spillServer answers every events request with pages of its own: one
// minimal event under a fresh (descending) sequence id and filler entries
// that are not base64 (one byte each as served), each page claiming more.
type spillServer struct {
	Server
	filler int
}

func (s *spillServer) GetConversationEvents(_ context.Context, _ string, _ int, tok string) (*api.GetChatConversationEventsResponse, error) {
	k, _ := strconv.Atoi(tok)
	seq := strconv.Itoa(9_000_000 - k)
	r := &api.GetChatConversationEventsResponse{Meta: &api.ChatEventsMeta{NextToken: strconv.Itoa(k + 1), HasMore: true}}
	r.Data = append(r.Data, api.ChatMessageEvent{EncodedEvent: base64.StdEncoding.EncodeToString(hostile.NestedEnvelope(seq, "", 0))})
	for range s.filler {
		r.Data = append(r.Data, api.ChatMessageEvent{EncodedEvent: "!"})
	}
	return r, nil
}

// TestSpillWithinSyncBytes: what a sync stages in its spill stays within
// WithMaxSyncBytes plus one page, whatever the shape of the pages — here
// entries that are not base64, one byte each as served, which the staged
// form prefixes with their length.
func TestSpillWithinSyncBytes(t *testing.T) {
	const bound = 64 << 10
	ctx := ctxT(t)
	n := newNet(t)
	alice := n.user("alice")
	bob := n.userWith("bob", func(s Server) Server { return &spillServer{Server: s, filler: 998} }, WithMaxSyncBytes(bound))
	var written, pages int
	spillTrace = func(b int) { written += b; pages++ }
	t.Cleanup(func() { spillTrace = nil })
	cid, err := CanonicalID(alice.id, bob.id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bob.e.Sync(ctx, cid, nil)
	if !errors.Is(err, xchat.ErrServerResponse) {
		t.Fatalf("a sync of endless pages: %v", err)
	}
	t.Logf("WithMaxSyncBytes %d: %d pages staged, %d bytes written to the spill", bound, pages, written)
	if page := 1000 * 3; written > bound+page {
		t.Fatalf("the spill took %d bytes, over WithMaxSyncBytes %d plus one page (%d)", written, bound, page)
	}
}
