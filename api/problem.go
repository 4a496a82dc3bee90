package api

// Problem type URIs defined by the X API v2 specification (RFC 7807 "type").
const (
	ProblemInvalidRequest           = "https://api.x.com/2/problems/invalid-request"
	ProblemResourceNotFound         = "https://api.x.com/2/problems/resource-not-found"
	ProblemNotAuthorizedForResource = "https://api.x.com/2/problems/not-authorized-for-resource"
	ProblemNotAuthorizedForField    = "https://api.x.com/2/problems/not-authorized-for-field"
	ProblemFieldUnauthorized        = "https://api.x.com/2/problems/field-unauthorized"
	ProblemFieldHydrationFailure    = "https://api.x.com/2/problems/field-hydration-failure"
	ProblemResourceUnavailable      = "https://api.x.com/2/problems/resource-unavailable"
	ProblemDisallowedResource       = "https://api.x.com/2/problems/disallowed-resource"
	ProblemInternalError            = "https://api.x.com/2/problems/internal-error"
	// ProblemUsageCapped and ProblemClientForbidden are not in the chat
	// specification but are returned by the X API for 429/403 conditions.
	ProblemUsageCapped     = "https://api.x.com/2/problems/usage-capped"
	ProblemClientForbidden = "https://api.x.com/2/problems/client-forbidden"
)

// Problem is an RFC 7807 problem document as used by the X API v2. It is the
// union of every Problem variant in the specification (InvalidRequestProblem,
// ResourceNotFoundProblem, ...); the Type field tells which variant it is.
// It appears as the body of error responses (media type
// application/problem+json) and as the elements of "errors" inside otherwise
// successful responses.
type Problem struct {
	Type         string `json:"type,omitempty"`
	Title        string `json:"title,omitempty"`
	Detail       string `json:"detail,omitempty"`
	Status       int    `json:"status,omitempty"`
	Parameter    string `json:"parameter,omitempty"`
	Value        string `json:"value,omitempty"`
	ResourceID   string `json:"resource_id,omitempty"`
	ResourceType string `json:"resource_type,omitempty"`
	Field        string `json:"field,omitempty"`
	Section      string `json:"section,omitempty"`
}

// LegacyError is the specification's "Error" schema: the older
// {"code":..,"message":..} error body some endpoints still return.
type LegacyError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// ErrorDocument is the envelope an error response may carry: either a
// top-level problem, a top-level legacy error, or a list of either under
// "errors". The client decodes every non-2xx body into this shape; the
// emulator may use it to answer errors.
type ErrorDocument struct {
	Problem
	Code    int             `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
	Errors  []ErrorListItem `json:"errors,omitempty"`
}

// ErrorListItem is one element of an "errors" array in an error body. X
// mixes both shapes there, so it holds the fields of both.
type ErrorListItem struct {
	Problem
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}
