package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/xchat-go/xchat/api"
)

// apiError is a failure a handler answers with: an HTTP status and either
// an RFC 7807 problem document of one of the specification's Problem
// variants, or (legacy set) the specification's Error schema
// {"code","message"}. data, when set, is sent alongside the problem under
// "data" (a Thrift MessageFailureEvent, only with WithFailureEvents).
type apiError struct {
	status  int
	problem api.Problem
	legacy  *api.LegacyError
	data    any
}

// Legacy error codes X answers with the {code,message} Error schema.
const (
	codeInvalidToken = 89 // X: "Invalid or expired token."
	codeRateLimited  = 88 // X: "Rate limit exceeded"
)

// errUnauthorized is the 401 answer. The specification has no Problem
// variant for a missing or bad credential (X itself sends an "about:blank"
// problem, which is outside the document), so the emulator uses the
// document's other error schema, Error, with X's code for a bad token.
func errUnauthorized() *apiError {
	return &apiError{status: http.StatusUnauthorized, legacy: &api.LegacyError{Code: codeInvalidToken, Message: "Invalid or expired token."}}
}

// errRateLimited is the 429 answer: the Error schema with X's code 88, for
// the same reason as errUnauthorized.
func errRateLimited() *apiError {
	return &apiError{status: http.StatusTooManyRequests, legacy: &api.LegacyError{Code: codeRateLimited, Message: "Rate limit exceeded"}}
}

// errMissingScopes is the 403 answer to a token without the operation's
// scopes: a not-authorized-for-resource problem about the operation (X's
// own "client-forbidden" type is not one of the document's variants).
func errMissingScopes(op string, missing []string) *apiError {
	e := newProblem(http.StatusForbidden, api.ProblemNotAuthorizedForResource, "Forbidden",
		"The access token lacks the required scope(s): "+strings.Join(missing, ", ")+".")
	e.problem.ResourceType = "operation"
	e.problem.ResourceID = op
	e.problem.Section = "scopes"
	return e
}

// errUnavailable is the 503 answer of a server that could not start or is
// shutting down: a resource-unavailable problem about the service (the
// document requires its resource_type).
func errUnavailable(detail string) *apiError {
	e := newProblem(http.StatusServiceUnavailable, api.ProblemResourceUnavailable, "Service Unavailable", detail)
	e.problem.ResourceType = "service"
	return e
}

func (e *apiError) Error() string {
	if e.legacy != nil {
		return fmt.Sprintf("emulator: %d: code %d: %s", e.status, e.legacy.Code, e.legacy.Message)
	}
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

// problemBody is the JSON answered for a failure: the problem document,
// and data only when failure events are on.
type problemBody struct {
	api.Problem
	Data any `json:"data,omitempty"`
}

func writeProblem(w http.ResponseWriter, e *apiError) {
	if e.legacy != nil {
		writeJSON(w, e.status, e.legacy)
		return
	}
	body := problemBody{Problem: e.problem, Data: e.data}
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
	writeJSONBytes(w, status, b)
}

// writeJSONBytes writes b, a JSON document, as writeJSON does.
func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Announced rather than sent in chunks: a client can size its buffer
	// by it (the body is whole before the header goes out).
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
