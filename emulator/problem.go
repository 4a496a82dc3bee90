package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/xchat-go/xchat/api"
)

// problemAboutBlank is the RFC 7807 type X uses for plain HTTP-level
// failures (401 Unauthorized, 429 Too Many Requests).
const problemAboutBlank = "about:blank"

// apiError is a failure a handler answers with: an HTTP status and an
// RFC 7807 problem document. data, when set, is sent alongside the problem
// under "data" (used to hand back a Thrift MessageFailureEvent).
type apiError struct {
	status  int
	problem api.Problem
	data    any
}

func (e *apiError) Error() string {
	return fmt.Sprintf("emulator: %d %s: %s", e.status, e.problem.Title, e.problem.Detail)
}

func newProblem(status int, typ, title, detail string) *apiError {
	return &apiError{status: status, problem: api.Problem{Type: typ, Title: title, Detail: detail, Status: status}}
}

// errInvalid is a 400 invalid-request problem about one parameter.
func errInvalid(parameter, format string, args ...any) *apiError {
	e := newProblem(http.StatusBadRequest, api.ProblemInvalidRequest, "Invalid Request", fmt.Sprintf(format, args...))
	e.problem.Parameter = parameter
	return e
}

// errNotFound is a 404 resource-not-found problem.
func errNotFound(resourceType, id string) *apiError {
	e := newProblem(http.StatusNotFound, api.ProblemResourceNotFound, "Not Found Error",
		fmt.Sprintf("Could not find %s with id: [%s].", resourceType, clip(id)))
	e.problem.ResourceType = resourceType
	e.problem.ResourceID = clip(id)
	e.problem.Value = clip(id)
	return e
}

// errForbidden is a 403 not-authorized-for-resource problem.
func errForbidden(resourceType, id, detail string) *apiError {
	e := newProblem(http.StatusForbidden, api.ProblemNotAuthorizedForResource, "Forbidden", detail)
	e.problem.ResourceType = resourceType
	e.problem.ResourceID = clip(id)
	return e
}

// errTooLarge is a 413 answer to an oversized body.
func errTooLarge(limit int64) *apiError {
	return newProblem(http.StatusRequestEntityTooLarge, api.ProblemInvalidRequest, "Payload Too Large",
		fmt.Sprintf("The request body exceeds the limit of %d bytes.", limit))
}

// errInternal is a 500 internal-error problem. Its detail never carries
// the underlying error text.
func errInternal() *apiError {
	return newProblem(http.StatusInternalServerError, api.ProblemInternalError, "Internal Error", "The emulator failed to process the request.")
}

// clip bounds a client-supplied value echoed in a problem.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// problemBody is the JSON answered for a failure: the problem at top level
// (as X does) and again as the single element of "errors".
type problemBody struct {
	api.Problem
	Errors []api.Problem `json:"errors,omitempty"`
	Data   any           `json:"data,omitempty"`
}

func writeProblem(w http.ResponseWriter, e *apiError) {
	body := problemBody{Problem: e.problem, Errors: []api.Problem{e.problem}, Data: e.data}
	b, err := json.Marshal(body)
	if err != nil {
		b = []byte(`{"title":"Internal Error","type":"` + api.ProblemInternalError + `","status":500}`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, errInternal())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
