package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/internal/testutil"
)

// emptyProblems is a JSON array of n empty objects.
func emptyProblems(n int) string {
	return "[" + strings.TrimSuffix(strings.Repeat("{},", n), ",") + "]"
}

// shapeAllocBound is how many times its body's size refusing a flooded
// answer may allocate: the test server's copy and the client's read
// (which grows by doubling) come to about 3×, 5× under -race; decoding
// the flood allocated 287× (3.6 GB for 12 MiB) before the shape check.
const shapeAllocBound = 8

// TestAnswerShapeBounded: an answer of 4 million empty objects (12 MiB,
// under the response limit) is refused before it is decoded, whether a
// success envelope's "errors" or an error body's; an honest answer at the
// largest size a listing has passes.
func TestAnswerShapeBounded(t *testing.T) {
	flood := emptyProblems(4 << 20)
	var status int
	var body string
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
	ctx := context.Background()

	status, body = http.StatusOK, `{"data":[],"errors":`+flood+`}`
	var err error
	n := testutil.AllocatedBytes(func() { _, _, err = c.ListConversations(ctx, nil) })
	t.Logf("success answer of %d bytes: %d bytes allocated: %.120v", len(body), n, err)
	var pe *api.PartialError
	if !errors.Is(err, api.ErrResponseTooComplex) || errors.As(err, &pe) {
		t.Fatalf("success answer of %d bytes of empty problems: %v, want ErrResponseTooComplex", len(body), err)
	}
	if n > shapeAllocBound*uint64(len(body)) {
		t.Errorf("refusing the answer allocated %d bytes (body %d)", n, len(body))
	}

	status, body = http.StatusBadRequest, `{"errors":`+flood+`}`
	n = testutil.AllocatedBytes(func() { _, _, err = c.ListConversations(ctx, nil) })
	t.Logf("error body of %d bytes: %d bytes allocated", len(body), n)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || len(ae.Errors) != 0 {
		t.Fatalf("error body of empty problems: %v, want a 400 without problems", err)
	}
	if n > shapeAllocBound*uint64(len(body)) {
		t.Errorf("reading the error allocated %d bytes (body %d)", n, len(body))
	}

	// An honest worst case: a page of 100 groups, each listing 1,024
	// members, participants and admins.
	var page api.GetChatConversationsResponse
	for g := range 100 {
		conv := api.ChatConversation{ID: fmt.Sprintf("g%d", g), Type: "group"}
		for u := range 1024 {
			id := fmt.Sprint(1_000_000 + u)
			conv.MemberIDs, conv.ParticipantIDs, conv.AdminIDs = append(conv.MemberIDs, id), append(conv.ParticipantIDs, id), append(conv.AdminIDs, id)
		}
		page.Data = append(page.Data, conv)
	}
	raw, err := json.Marshal(page)
	if err != nil {
		t.Fatal(err)
	}
	status, body = http.StatusOK, string(raw)
	got, _, err := c.ListConversations(ctx, nil)
	if err != nil || len(got.Data) != 100 || len(got.Data[99].AdminIDs) != 1024 {
		t.Fatalf("honest listing of %d bytes: %v", len(raw), err)
	}
}

// TestActivityShapeBounded: a stream line or webhook body of empty
// problems past the activity bounds is malformed; a problem line within
// them keeps MaxStreamProblems problems and counts the rest.
func TestActivityShapeBounded(t *testing.T) {
	_, err := api.ParseActivityMessage([]byte(`{"errors":` + emptyProblems(300_000) + `}`))
	if !errors.Is(err, api.ErrActivityMessage) || !errors.Is(err, api.ErrResponseTooComplex) {
		t.Fatalf("line of 300,000 problems: %v", err)
	}
	m, err := api.ParseActivityMessage([]byte(`{"errors":[` + strings.TrimSuffix(strings.Repeat(`{"title":"operational-disconnect"},`, 100), ",") + `]}`))
	if err != nil || len(m.Errors) != 100 {
		t.Fatalf("line of 100 problems: %v", err)
	}
}
