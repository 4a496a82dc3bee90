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

// TestDMEventFieldParams checks that the DM event list and lookup both
// reject an unknown dm_event.fields or expansions value, naming it.
func TestDMEventFieldParams(t *testing.T) {
	e := newEnv(t)
	a, b := e.provision("alice"), e.provision("bob")
	var cr api.DmCreateResponse
	e.must(e.do("POST", "/2/dm_conversations/with/"+b.id+"/messages", a.token, api.DmMessage{Text: "hi"}), http.StatusCreated).decode(t, &cr)
	for _, path := range []string{"/2/dm_events", "/2/dm_events/" + cr.Data.DmEventID} {
		for _, param := range []string{"dm_event.fields", "expansions"} {
			r := e.must(e.do("GET", path+"?"+param+"=bogus", a.token, nil), http.StatusBadRequest)
			if p := r.problem(t); p.Type != api.ProblemInvalidRequest || p.Parameter != param {
				t.Errorf("%s?%s=bogus: problem %+v", path, param, p)
			}
		}
		e.must(e.do("GET", path+"?dm_event.fields=id,text&expansions=sender_id", a.token, nil), http.StatusOK)
	}
}
