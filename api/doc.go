// Package api is a typed client for the X API v2 surface used by XChat:
// encrypted Chat conversations, user public keys, Chat media and the legacy
// Direct Messages endpoints, as described by x-api-chat-openapi.json.
//
// The request and response types in this package mirror the specification's
// JSON exactly, so the local emulator serves the same shapes the client
// decodes. Every call returns a *Response carrying the rate-limit headers of
// the exchange; failures are *Error values (RFC 7807 problem documents or the
// legacy {code,message} shape) usable with errors.As, and problems reported
// inside a successful response surface as *PartialError.
//
// Clients authenticate with a bearer token (WithBearerToken) or an
// oauth2.TokenSource (WithTokenSource); OAuthConfig and LoopbackLogin run the
// OAuth 2.0 Authorization Code flow with PKCE (S256) against X or the
// emulator.
package api
