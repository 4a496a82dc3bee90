package emulator_test

import (
	"net/http"
	"testing"

	"github.com/xchat-go/xchat/api"
)

// TestDMParticipantChecks covers the participant_id checks both
// /2/dm_conversations/with/{participant_id} endpoints share: not a user id,
// the caller, an unknown user.
func TestDMParticipantChecks(t *testing.T) {
	e := newEnv(t)
	a := e.provision("alice")
	cases := []struct {
		name, participant string
		status            int
		typ, detail       string
	}{
		{"not an id", "bob", http.StatusBadRequest, api.ProblemInvalidRequest, "participant_id must be a user id."},
		{"self", a.id, http.StatusBadRequest, api.ProblemInvalidRequest, ""},
		{"unknown user", "999999999", http.StatusNotFound, "", ""},
	}
	selfDetail := map[string]string{
		"POST": "You cannot send a Direct Message to yourself.",
		"GET":  "participant_id must be another user.",
	}
	for _, tc := range cases {
		for _, call := range []struct{ method, suffix string }{{"POST", "/messages"}, {"GET", "/dm_events"}} {
			t.Run(tc.name+" "+call.method, func(t *testing.T) {
				var body any
				if call.method == "POST" {
					body = api.DmMessage{Text: "hi"}
				}
				r := e.do(call.method, "/2/dm_conversations/with/"+tc.participant+call.suffix, a.token, body)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
				p := r.problem(t)
				want := tc.detail
				if tc.name == "self" {
					want = selfDetail[call.method]
				}
				if tc.typ != "" && (p.Type != tc.typ || p.Parameter != "participant_id" || p.Detail != want) {
					t.Fatalf("problem %+v, want %s participant_id %q", p, tc.typ, want)
				}
				if tc.typ == "" && p.ResourceID != tc.participant {
					t.Fatalf("problem %+v, want resource_id %s", p, tc.participant)
				}
			})
		}
	}
}
