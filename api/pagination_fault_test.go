package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/api"
)

// pagedEvents serves `total` events, `per` per page, with tokens "tok-N".
func pagedEvents(t *testing.T, total, per int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := 0
		if tok := r.URL.Query().Get("pagination_token"); tok != "" {
			if _, err := fmt.Sscanf(tok, "tok-%d", &start); err != nil {
				t.Errorf("bad token %q", tok)
			}
		}
		if mr := r.URL.Query().Get("max_results"); mr != strconv.Itoa(per) {
			t.Errorf("max_results = %q", mr)
		}
		var data []api.ChatMessageEvent
		for i := start; i < min(start+per, total); i++ {
			data = append(data, api.ChatMessageEvent{ID: strconv.Itoa(i), SequenceID: strconv.Itoa(1000 + i)})
		}
		meta := api.ChatEventsMeta{ResultCount: len(data), ConversationKeyEvents: []string{"a2V5" + strconv.Itoa(start)}}
		if start+per < total {
			meta.NextToken = "tok-" + strconv.Itoa(start+per)
			meta.HasMore = true
		}
		writeJSON(w, 200, api.GetChatConversationEventsResponse{Data: data, Meta: &meta})
	}
}

func TestPaginationManyPages(t *testing.T) {
	c, cnt, _ := newServer(t, pagedEvents(t, 253, 10))
	i := 0
	for ev, err := range c.ConversationEvents(context.Background(), groupID, &api.ConversationEventsOptions{MaxResults: 10}) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.ID != strconv.Itoa(i) {
			t.Fatalf("event %d has id %s", i, ev.ID)
		}
		i++
	}
	if i != 253 || cnt.Count() != 26 {
		t.Fatalf("events=%d requests=%d", i, cnt.Count())
	}
}

func TestPaginationPagesCarryKeyEvents(t *testing.T) {
	c, _, _ := newServer(t, pagedEvents(t, 25, 10))
	var keys []string
	for page, err := range c.ConversationEventPages(context.Background(), groupID, &api.ConversationEventsOptions{MaxResults: 10}) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, page.Meta.KeyChangeEvents()...)
	}
	if fmt.Sprint(keys) != "[a2V50 a2V510 a2V520]" {
		t.Fatalf("key events = %v", keys)
	}
}

func TestPaginationEarlyBreakStopsRequests(t *testing.T) {
	c, cnt, _ := newServer(t, pagedEvents(t, 1000, 10))
	n := 0
	for _, err := range c.ConversationEvents(context.Background(), groupID, &api.ConversationEventsOptions{MaxResults: 10}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 15 {
			break
		}
	}
	if cnt.Count() != 2 {
		t.Fatalf("requests = %d, want 2", cnt.Count())
	}
}

func TestPaginationRepeatedTokenDetected(t *testing.T) {
	for name, next := range map[string]func(cur string) string{
		"same token": func(string) string { return "stuck-token-0000" },
		"cycle a-b-a": func(cur string) string {
			return map[string]string{"": "token-a-00000000", "token-a-00000000": "token-b-00000000", "token-b-00000000": "token-a-00000000"}[cur]
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, cnt, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				tok := r.URL.Query().Get("pagination_token")
				writeJSON(w, 200, api.GetDmEventsResponse{
					Data: []api.DmEvent{{ID: "1", EventType: api.DmEventMessageCreate}},
					Meta: &api.DmEventsMeta{ResultCount: 1, NextToken: next(tok)},
				})
			})
			var got error
			n := 0
			for _, err := range c.DmEvents(context.Background(), nil) {
				if err != nil {
					got = err
					break
				}
				if n++; n > 100 {
					t.Fatal("pagination did not stop")
				}
			}
			if !errors.Is(got, api.ErrPaginationLoop) {
				t.Fatalf("err = %v", got)
			}
			if cnt.Count() > 3 {
				t.Fatalf("requests = %d", cnt.Count())
			}
		})
	}
}

func TestPaginationStartTokenRepeated(t *testing.T) {
	calls := 0
	c, cnt, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls++; calls > 50 { // the pages are empty: stop a runaway client here
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		writeJSON(w, 200, api.GetChatConversationsResponse{Meta: &api.ChatConversationsMeta{NextToken: r.URL.Query().Get("pagination_token")}})
	})
	var got error
	n := 0
	for _, err := range c.Conversations(context.Background(), &api.ListConversationsOptions{PaginationToken: "start"}) {
		got = err
		if n++; n > 100 {
			t.Fatal("pagination did not stop")
		}
	}
	if !errors.Is(got, api.ErrPaginationLoop) || cnt.Count() != 1 {
		t.Fatalf("err=%v requests=%d", got, cnt.Count())
	}
}

func TestPaginationErrorStops(t *testing.T) {
	calls := 0
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 2 {
			writeProblem(w, 400, api.Problem{Type: api.ProblemInvalidRequest, Title: "Invalid Request"})
			return
		}
		writeJSON(w, 200, api.GetDmEventsResponse{Data: []api.DmEvent{{ID: "1"}}, Meta: &api.DmEventsMeta{ResultCount: 1, NextToken: "next-token-0000000"}})
	})
	var items, errs int
	for _, err := range c.DmEventsWithParticipant(context.Background(), bobID, nil) {
		if err != nil {
			errs++
			var e *api.Error
			if !errors.As(err, &e) || e.StatusCode != 400 {
				t.Fatalf("err = %v", err)
			}
			continue
		}
		items++
	}
	if items != 1 || errs != 1 || calls != 2 {
		t.Fatalf("items=%d errs=%d calls=%d", items, errs, calls)
	}
}

func TestPaginationPartialErrorContinues(t *testing.T) {
	calls := 0
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		resp := api.GetDmEventsResponse{Data: []api.DmEvent{{ID: strconv.Itoa(calls)}}, Meta: &api.DmEventsMeta{ResultCount: 1}}
		if calls == 1 {
			resp.Meta.NextToken = "next-token-0000000"
			resp.Errors = []api.Problem{{Type: api.ProblemFieldUnauthorized, Title: "Field Authorization Error"}}
		}
		writeJSON(w, 200, resp)
	})
	var ids []string
	var partial int
	for ev, err := range c.DmConversationEvents(context.Background(), aliceID+"-"+bobID, nil) {
		var pe *api.PartialError
		if errors.As(err, &pe) {
			partial++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	if fmt.Sprint(ids) != "[1 2]" || partial != 1 {
		t.Fatalf("ids=%v partial=%d", ids, partial)
	}
}

// A server answering fresh next tokens of 256 KiB would have the iterator
// keep every one (loop detection) and send each back in a URL: the first
// token over MaxPaginationTokenBytes ends iteration, never sent back.
func TestPaginationOversizedTokenStops(t *testing.T) {
	var longest, calls int
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		longest = max(longest, len(r.URL.Query().Get("pagination_token")))
		if calls++; calls > 8 {
			writeJSON(w, 200, api.GetChatConversationsResponse{})
			return
		}
		tok := strconv.Itoa(calls) + "-" + strings.Repeat("A", 256<<10)
		writeJSON(w, 200, api.GetChatConversationsResponse{Data: []api.ChatConversation{{ID: "g" + strconv.Itoa(calls)}},
			Meta: &api.ChatConversationsMeta{NextToken: tok}})
	})
	var got error
	items := 0
	for _, err := range c.Conversations(context.Background(), nil) {
		if err != nil {
			got = err
			continue
		}
		items++
	}
	if !errors.Is(got, api.ErrPaginationToken) || longest > api.MaxPaginationTokenBytes || calls != 1 || items != 1 {
		t.Fatalf("err=%v longest token sent back=%d requests=%d items=%d", got, longest, calls, items)
	}
	// A token at the bound is followed.
	calls, longest = 0, 0
	c2, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		longest = max(longest, len(r.URL.Query().Get("pagination_token")))
		meta := &api.ChatConversationsMeta{}
		if calls++; calls == 1 {
			meta.NextToken = strings.Repeat("B", api.MaxPaginationTokenBytes)
		}
		writeJSON(w, 200, api.GetChatConversationsResponse{Meta: meta})
	})
	for _, err := range c2.Conversations(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if calls != 2 || longest != api.MaxPaginationTokenBytes {
		t.Fatalf("requests=%d longest=%d", calls, longest)
	}
}

// emptyPages serves DM event pages under fresh tokens: an empty page for
// each token in empty, one event otherwise, and no next token after page
// last.
func emptyPages(t *testing.T, empty map[int]bool, last int) (*api.Client, interface{ Count() int }) {
	c, cnt, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := 0
		if tok := r.URL.Query().Get("pagination_token"); tok != "" {
			if _, err := fmt.Sscanf(tok, "fresh-token-%08d", &n); err != nil {
				t.Errorf("bad token %q", tok)
			}
		}
		resp := api.GetDmEventsResponse{Meta: &api.DmEventsMeta{}}
		if !empty[n] {
			resp.Data = []api.DmEvent{{ID: strconv.Itoa(100 + n), EventType: api.DmEventMessageCreate}}
		}
		if last < 0 || n < last {
			resp.Meta.NextToken = fmt.Sprintf("fresh-token-%08d", n+1)
		}
		resp.Meta.ResultCount = len(resp.Data)
		writeJSON(w, 200, resp)
	})
	return c, cnt
}

// TestPaginationEmptyPagesStall: a server answering empty pages that claim
// more, each under a fresh token, is given up after MaxEmptyPages of them
// in a row (ErrPaginationStalled), not followed for ever; empty pages
// between pages with items are followed.
func TestPaginationEmptyPagesStall(t *testing.T) {
	all := map[int]bool{}
	for i := range 1000 {
		all[i] = true
	}
	c, cnt := emptyPages(t, all, -1)
	var got error
	for _, err := range c.DmEvents(context.Background(), nil) {
		if err != nil {
			got = err
			break
		}
		t.Fatal("an empty page yielded an event")
	}
	if !errors.Is(got, api.ErrPaginationStalled) {
		t.Fatalf("err = %v, want ErrPaginationStalled", got)
	}
	if cnt.Count() != api.MaxEmptyPages {
		t.Fatalf("requests = %d, want %d", cnt.Count(), api.MaxEmptyPages)
	}

	gaps := map[int]bool{}
	for i := 1; i < 3*api.MaxEmptyPages; i++ {
		gaps[i] = i%api.MaxEmptyPages != 0 // MaxEmptyPages-1 empty pages between pages with an event
	}
	c, _ = emptyPages(t, gaps, 3*api.MaxEmptyPages)
	n := 0
	for _, err := range c.DmEvents(context.Background(), nil) {
		if err != nil {
			t.Fatalf("honest listing with empty pages: %v", err)
		}
		n++
	}
	if want := 4; n != want {
		t.Fatalf("events = %d, want %d", n, want)
	}
}
