package contract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/xchat-go/xchat/internal/exchange"
)

// Violation is one way an exchange disagrees with the documents.
type Violation struct {
	Operation string // operationId
	Side      string // "request" or "response"
	Status    int    // response status of the exchange
	Detail    string // "<json pointer>: <reason>", indices as *
	// Deviation is the documented allow-list entry that covers it, if any.
	Deviation *Deviation
}

// String renders the violation for test output.
func (v Violation) String() string {
	return fmt.Sprintf("%s %s (status %d): %s", v.Operation, v.Side, v.Status, v.Detail)
}

// Validator checks exchanges against a set of OpenAPI documents.
type Validator struct {
	router  legacy.Routers
	docs    []*openapi3.T
	opDoc   map[string]string // operationId -> document name
	opOrder []string
}

// NewValidator loads the named reference documents (see LoadSpec).
func NewValidator(names ...string) (*Validator, error) {
	v := &Validator{opDoc: map[string]string{}}
	var rs legacy.Routers
	for _, name := range names {
		doc, err := LoadSpec(name)
		if err != nil {
			return nil, err
		}
		r, err := legacy.NewRouter(doc)
		if err != nil {
			return nil, fmt.Errorf("contract: routing %s: %w", name, err)
		}
		rs = append(rs, r.(*legacy.Router))
		v.docs = append(v.docs, doc)
		for _, path := range doc.Paths.InMatchingOrder() {
			for _, op := range doc.Paths.Value(path).Operations() {
				if op.OperationID != "" {
					v.opDoc[op.OperationID] = name
					v.opOrder = append(v.opOrder, op.OperationID)
				}
			}
		}
	}
	v.router = rs
	return v, nil
}

// Operations returns the operationIds of the named document.
func (v *Validator) Operations(doc string) []string {
	var out []string
	for _, id := range v.opOrder {
		if v.opDoc[id] == doc {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Check validates one exchange. ok is false when the exchange is not an
// operation of any document (the emulator's provisioning and OAuth
// endpoints); such exchanges are not counted.
func (v *Validator) Check(x exchange.Exchange) (op string, ok bool, vs []Violation) {
	req, err := buildRequest(x)
	if err != nil {
		return "", false, nil
	}
	_, route, params, err := v.router.FindRoute(req)
	if err != nil {
		return "", false, nil
	}
	op = route.Operation.OperationID
	add := func(side, detail string) {
		vs = append(vs, Violation{Operation: op, Side: side, Status: x.Status, Detail: detail})
	}
	opts := &openapi3filter.Options{MultiError: true, AuthenticationFunc: bearerOnly}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	ctx := context.Background()
	// A request the server refused need not be valid: refusing it is right.
	// A request it accepted must be.
	accepted := x.Status >= 200 && x.Status < 300
	if accepted && !x.Truncated {
		for _, d := range flatten(openapi3filter.ValidateRequest(ctx, in)) {
			add("request", d)
		}
		for _, d := range undeclaredQuery(route.Operation, req.URL.Query()) {
			add("request", d)
		}
	}
	for _, d := range missingRateLimit(x) {
		add("response", d)
	}
	if x.Truncated {
		return op, true, vs
	}
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 x.Status,
		Header:                 x.ResponseHeader,
		Body:                   io.NopCloser(bytes.NewReader(x.ResponseBody)),
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	for _, d := range flatten(openapi3filter.ValidateResponse(ctx, rin)) {
		add("response", d)
	}
	return op, true, vs
}

func buildRequest(x exchange.Exchange) (*http.Request, error) {
	u := &url.URL{Scheme: "http", Host: "emulator.invalid", RawQuery: x.Query}
	p, err := url.PathUnescape(x.Path)
	if err != nil {
		return nil, err
	}
	u.Path, u.RawPath = p, x.Path
	req, err := http.NewRequest(x.Method, u.String(), bytes.NewReader(x.RequestBody))
	if err != nil {
		return nil, err
	}
	for k, vs := range x.RequestHeader {
		for _, val := range vs {
			req.Header.Add(k, val)
		}
	}
	return req, nil
}

// bearerOnly accepts the OAuth 2.0 user-token and bearer schemes when the
// request carried a bearer token; the emulator decides whether it is good.
func bearerOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, _, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return errors.New("no bearer token")
	}
	switch in.SecuritySchemeName {
	case "OAuth2UserToken", "BearerToken":
		return nil
	}
	return fmt.Errorf("scheme %s not used", in.SecuritySchemeName)
}

// rateLimitHeaders must accompany every answer of an X API operation.
var rateLimitHeaders = []string{"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"}

func missingRateLimit(x exchange.Exchange) []string {
	var out []string
	for _, h := range rateLimitHeaders {
		if http.Header(x.ResponseHeader).Get(h) == "" {
			out = append(out, "header "+h+": missing")
		}
	}
	return out
}

func undeclaredQuery(op *openapi3.Operation, q url.Values) []string {
	var out []string
	for k := range q {
		found := false
		for _, p := range op.Parameters {
			if p.Value != nil && p.Value.In == "query" && p.Value.Name == k {
				found = true
			}
		}
		if !found {
			out = append(out, "query "+k+": not a parameter of the operation")
		}
	}
	sort.Strings(out)
	return out
}

var indexRE = regexp.MustCompile(`/[0-9]+(/|$)`)

// flatten turns kin-openapi's error tree into one line per problem:
// "<where>: <reason>" with array indices replaced by *.
func flatten(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	var walk func(prefix string, err error)
	walk = func(prefix string, err error) {
		if me, ok := err.(openapi3.MultiError); ok {
			for _, e := range me {
				walk(prefix, e)
			}
			return
		}
		var re *openapi3filter.RequestError
		if errors.As(err, &re) {
			where := "body"
			if re.Parameter != nil {
				where = re.Parameter.In + " " + re.Parameter.Name
			}
			if re.Err != nil {
				walk(where, re.Err)
				return
			}
			out = append(out, where+": "+re.Reason)
			return
		}
		var rse *openapi3filter.ResponseError
		if errors.As(err, &rse) {
			if rse.Err != nil {
				walk("body", rse.Err)
				return
			}
			out = append(out, "response: "+rse.Reason)
			return
		}
		var se *openapi3.SchemaError
		if errors.As(err, &se) && se.Origin != nil && strings.Contains(se.Reason, "oneOf") {
			// Report why the value fits no variant, not just that.
			walk(prefix, se.Origin)
			return
		}
		if errors.As(err, &se) {
			ptr := "/" + strings.Join(se.JSONPointer(), "/")
			ptr = indexRE.ReplaceAllString(ptr, "/*$1")
			ptr = indexRE.ReplaceAllString(ptr, "/*$1")
			if prefix == "" {
				prefix = "body"
			}
			out = append(out, prefix+" "+ptr+": "+se.Reason)
			return
		}
		var sre *openapi3filter.SecurityRequirementsError
		if errors.As(err, &sre) {
			out = append(out, "security: no accepted credentials")
			return
		}
		out = append(out, strings.TrimSpace(prefix+" "+err.Error()))
	}
	walk("", err)
	return out
}
