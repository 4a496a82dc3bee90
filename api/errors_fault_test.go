package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xchat-go/xchat/api"
)

func TestProblemDocumentError(t *testing.T) {
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-rate-limit-limit", "900")
		w.Header().Set("x-rate-limit-remaining", "899")
		w.Header().Set("x-rate-limit-reset", "1767323045")
		writeProblem(w, http.StatusNotFound, api.Problem{
			Type: api.ProblemResourceNotFound, Title: "Not Found Error", Detail: "Could not find conversation",
			Status: 404, ResourceType: "conversation", ResourceID: groupID,
		})
	})
	req := validSendRequest("m-secret-body-marker")
	req.EncodedMessageCreateEvent = "U0VDUkVUQk9EWQ=="
	_, resp, err := c.SendMessage(context.Background(), groupID, req)
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %T %v", err, err)
	}
	if e.StatusCode != 404 || e.Problem.Type != api.ProblemResourceNotFound || e.Problem.ResourceType != "conversation" || e.Problem.Detail != "Could not find conversation" {
		t.Errorf("error = %+v", e)
	}
	if e.Op != "sendChatMessage" || !errors.Is(err, api.ErrNotFound) || errors.Is(err, api.ErrRateLimited) {
		t.Errorf("op/Is wrong: %v", e)
	}
	if e.RateLimit.Limit != 900 || e.RateLimit.Remaining != 899 || e.RateLimit.Reset.Unix() != 1767323045 {
		t.Errorf("rate limit on error = %+v", e.RateLimit)
	}
	if resp == nil || resp.RateLimit != e.RateLimit {
		t.Errorf("response rate limit = %+v", resp)
	}
	msg := err.Error()
	for _, secret := range []string{"test-token-SECRET", "m-secret-body-marker", "U0VDUkVUQk9EWQ=="} {
		if strings.Contains(msg, secret) {
			t.Errorf("error string %q leaks %q", msg, secret)
		}
	}
	if !strings.Contains(msg, "404") || !strings.Contains(msg, "Could not find conversation") {
		t.Errorf("error string %q lacks status/detail", msg)
	}
}

func TestLegacyErrorShapes(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		code       int
		message    string
		is         error
	}{
		{"top-level", `{"code":88,"message":"Rate limit exceeded"}`, 429, 88, "Rate limit exceeded", api.ErrRateLimited},
		{"errors array", `{"errors":[{"code":32,"message":"Could not authenticate you"}]}`, 401, 32, "Could not authenticate you", api.ErrUnauthorized},
		{"problem in errors", `{"errors":[{"type":"https://api.x.com/2/problems/not-authorized-for-resource","title":"Forbidden","detail":"nope"}]}`, 403, 0, "", api.ErrForbidden},
		{"html", `<html>bad gateway</html>`, 400, 0, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, cnt, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}, api.WithFailFast(true))
			_, _, err := c.InitializeGroup(context.Background())
			var e *api.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %T %v", err, err)
			}
			if e.StatusCode != tc.status || e.Code != tc.code || e.Message != tc.message {
				t.Errorf("error = %+v", e)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("%v is not %v", err, tc.is)
			}
			if tc.name == "problem in errors" && (e.Problem.Detail != "nope" || len(e.Errors) != 1) {
				t.Errorf("problem not lifted from errors[]: %+v", e)
			}
			if cnt.Count() != 1 {
				t.Errorf("%d requests", cnt.Count())
			}
		})
	}
}

func TestPartialErrorIn200(t *testing.T) {
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{
			"data": []map[string]any{{"public_key": "cGs=", "public_key_version": "1", "user_id": aliceID}},
			"errors": []api.Problem{{
				Type: api.ProblemResourceNotFound, Title: "Not Found Error", Detail: "Could not find user with ids: [" + bobID + "]",
				ResourceID: bobID, ResourceType: "user", Parameter: "ids", Value: bobID,
			}},
		})
	})
	out, resp, err := c.GetUsersPublicKeys(context.Background(), []string{aliceID, bobID}, nil)
	var pe *api.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %T %v", err, err)
	}
	if out == nil || len(out.Data) != 1 || out.Data[0].UserID != aliceID || out.Data[0].PublicKey != "cGs=" {
		t.Errorf("data not returned with partial error: %+v", out)
	}
	if len(pe.Errors) != 1 || pe.Errors[0].ResourceID != bobID || pe.Response != resp || resp.StatusCode != 200 {
		t.Errorf("partial error = %+v", pe)
	}
	if !errors.Is(err, api.ErrNotFound) {
		t.Error("partial not-found is not ErrNotFound")
	}
	var e *api.Error
	if errors.As(err, &e) {
		t.Error("partial error also matched *Error")
	}
}

func TestPartialErrorWithoutData(t *testing.T) {
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"errors": []api.Problem{{Type: api.ProblemNotAuthorizedForResource, Title: "Forbidden"}}})
	})
	d, _, err := c.BlockDms(context.Background(), bobID)
	if d != nil || !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("d=%v err=%v", d, err)
	}
}

func TestSuccessWithoutDataIsError(t *testing.T) {
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]any{}) })
	if _, _, err := c.InitializeGroup(context.Background()); err == nil {
		t.Fatal("missing data accepted")
	}
}

func TestMalformedSuccessBody(t *testing.T) {
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		_, _ = io.WriteString(w, `{"data":{"conversation_id":`)
	})
	if _, _, err := c.InitializeGroup(context.Background()); err == nil || !strings.Contains(err.Error(), "decoding response") {
		t.Fatalf("err = %v", err)
	}
}

// A server writes the texts of its problem documents: an error shows each
// at most MaxProblemTextBytes long, without control characters (terminal
// escapes), while the Problem keeps them as served.
func TestProblemTextBoundedInErrors(t *testing.T) {
	detail := "\x1b]0;owned\x07" + strings.Repeat("é", 2<<20)
	c, _, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"title": "Bad\r\nRequest", "detail": detail, "type": api.ProblemInvalidRequest,
			"errors": []map[string]any{{"message": strings.Repeat("m", 1<<20), "code": 214}},
		})
	})
	_, _, err := c.GetConversation(context.Background(), groupID, nil)
	var apiErr *api.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v", err)
	}
	if apiErr.Problem.Detail != detail {
		t.Fatalf("the problem's detail was not kept as served (%d bytes)", len(apiErr.Problem.Detail))
	}
	msg := err.Error()
	if len(msg) > 3*api.MaxProblemTextBytes+256 || strings.ContainsAny(msg, "\x1b\x07\r\n") || !utf8.ValidString(msg) {
		t.Fatalf("error text of %d bytes: %q", len(msg), msg[:min(len(msg), 200)])
	}
	if !strings.Contains(msg, "cut at") || !strings.Contains(msg, "Bad\uFFFD\uFFFDRequest") {
		t.Fatalf("error text %q", msg[:min(len(msg), 200)])
	}
}
