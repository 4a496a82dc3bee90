package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxProblemTextBytes bounds each text of a server's answer (a problem's
// title and detail, an error message) that Error shows: a server writes
// them, up to the response limit, and callers log, print and persist
// errors (a queued send keeps its last one).
const MaxProblemTextBytes = 512

// Sentinel errors, matched with errors.Is.
var (
	// ErrRateLimited matches HTTP 429 responses and requests refused locally
	// because a known rate limit is exhausted.
	ErrRateLimited = errors.New("api: rate limited")
	// ErrNotFound matches HTTP 404 responses and resource-not-found problems.
	ErrNotFound = errors.New("api: not found")
	// ErrUnauthorized matches HTTP 401 responses.
	ErrUnauthorized = errors.New("api: unauthorized")
	// ErrForbidden matches HTTP 403 responses and not-authorized problems.
	ErrForbidden = errors.New("api: forbidden")
	// ErrPaginationLoop is returned by iterators when the server repeats a
	// pagination token it already handed out.
	ErrPaginationLoop = errors.New("api: pagination loop: server repeated a next_token")
	// ErrPaginationToken reports a next_token longer than
	// MaxPaginationTokenBytes; iteration stops without sending it back.
	ErrPaginationToken = errors.New("api: next_token too long")
	// ErrPaginationStalled is returned by iterators when the server keeps
	// claiming more without progress: MaxEmptyPages empty pages in a row,
	// or more than MaxPages pages in one listing.
	ErrPaginationStalled = errors.New("api: pagination stalled: server keeps claiming more")
)

// Error is a non-2xx answer from the API. It never contains the request
// body or credentials.
type Error struct {
	Op         string          // operation id, e.g. "sendChatMessage"
	StatusCode int             // HTTP status
	Problem    Problem         // top-level problem, or the first of Errors
	Code       int             // legacy error code, if the body used {code,message}
	Message    string          // legacy error message
	Errors     []ErrorListItem // every element of the body's "errors" array
	RateLimit  RateLimit       // x-rate-limit-* headers of the response
	RetryAfter time.Duration   // Retry-After header, if present
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "api: %s: %d %s", e.Op, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Problem.Title != "" {
		b.WriteString(": ")
		b.WriteString(serverText(e.Problem.Title))
	}
	if e.Problem.Detail != "" {
		b.WriteString(": ")
		b.WriteString(serverText(e.Problem.Detail))
	}
	if e.Message != "" {
		fmt.Fprintf(&b, " (code %d: %s)", e.Code, serverText(e.Message))
	}
	return b.String()
}

// Is matches the sentinel errors by HTTP status and problem type.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests || e.Problem.Type == ProblemUsageCapped
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound || e.Problem.Type == ProblemResourceNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden || e.Problem.Type == ProblemNotAuthorizedForResource
	}
	return false
}

// Temporary reports whether retrying the same request later may succeed
// (429 and 5xx).
func (e *Error) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// PartialError reports problems listed under "errors" in a 2xx response.
// The method that returns it also returns whatever data the response held.
type PartialError struct {
	Op       string
	Errors   []Problem
	Response *Response
}

// Error implements error.
func (e *PartialError) Error() string {
	if len(e.Errors) == 0 {
		return "api: " + e.Op + ": partial error"
	}
	p := e.Errors[0]
	msg := fmt.Sprintf("api: %s: partial error: %s", e.Op, serverText(firstNonEmpty(p.Title, p.Type)))
	if p.Detail != "" {
		msg += ": " + serverText(p.Detail)
	}
	if n := len(e.Errors) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// Is matches ErrNotFound and ErrForbidden when every listed problem is of
// that kind.
func (e *PartialError) Is(target error) bool {
	if len(e.Errors) == 0 {
		return false
	}
	var want string
	switch target {
	case ErrNotFound:
		want = ProblemResourceNotFound
	case ErrForbidden:
		want = ProblemNotAuthorizedForResource
	default:
		return false
	}
	for _, p := range e.Errors {
		if p.Type != want {
			return false
		}
	}
	return true
}

// RateLimitError is returned without any network call when a request would
// exceed a rate limit known to be exhausted and the client fails fast (or
// the wait would outlast the context deadline or the configured maximum).
type RateLimitError struct {
	Op        string
	RateLimit RateLimit
}

// Error implements error.
func (e *RateLimitError) Error() string {
	return fmt.Sprintf("api: %s: rate limited until %s", e.Op, e.RateLimit.Reset.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// serverText returns a text of a server's answer as an error may show it:
// control characters (terminal escapes, line breaks) and invalid UTF-8
// replaced by U+FFFD, and cut at MaxProblemTextBytes with the length
// said. The value itself (Problem, Message) is kept as served.
func serverText(s string) string {
	cut := len(s) > MaxProblemTextBytes
	if cut {
		s = s[:MaxProblemTextBytes]
	}
	clean := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	if !cut {
		return clean
	}
	return clean + "…(cut at " + strconv.Itoa(MaxProblemTextBytes) + " bytes)"
}
