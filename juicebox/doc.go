// Package juicebox is a pure-Go client of the Juicebox protocol: a secret
// protected by a short PIN, split across several independent realms, with a
// limited number of guesses. X's apps back up each XChat account's private
// keys this way; this package speaks the protocol byte for byte as the
// Juicebox SDK (npm juicebox-sdk 0.3.7) does, and knows nothing of XChat
// sessions.
//
// Build a Client from a Configuration (realms and thresholds, usually
// ParseXConfig of X's juicebox_config) and per-realm auth tokens, then
// Register, Recover or Delete:
//
//	x, err := juicebox.ParseXConfig(juiceboxConfigJSON)
//	c, err := juicebox.NewClient(x.Configuration, x.Tokens)
//	err = c.Register(ctx, pin, secret, juicebox.XUserInfo, x.MaxGuessCount)
//	secret, err := c.Recover(ctx, pin, juicebox.XUserInfo)
//
// The protocol, in brief (the Juicebox whitepaper, rev. 7, and the SDK's
// rust/sdk): registration stretches the PIN with Argon2id under a fresh
// random version, evaluates a 2HashDH OPRF (package oprf) on it with a
// random root key whose Shamir shares (package shamir) go to the realms
// with signed public key shares, and stores the secret encrypted under a
// key derived from the PIN and a second shared scalar. Recovery finds a
// majority of realms agreeing on a version, runs the OPRF obliviously
// (checking each realm's signature and DLEQ proof), checks the result
// against the stored commitment (a mismatch is a wrong PIN and costs one
// guess on each realm), proves the PIN to each realm with a keyed BLAKE2s
// tag and rebuilds the key from the shares whose commitments verify.
//
// Realms with a public key are reached through Noise NK (package noisenk);
// requests that need forward secrecy are sent only inside an established
// session. Messages are CBOR (package proto). Requests to the realms run
// concurrently, each bounded by a timeout, and a recovery succeeds when
// its threshold of realms does: a down or slow realm is survived. A
// registration, unlike the SDK's, needs every realm (a realm left out
// keeps the previous registration, which with a lying realm could stay
// recoverable), and a Recover2, which costs a guess once it reaches a
// realm, is never resent after it may have.
//
// Errors wrap ErrNotRegistered, ErrNoGuesses, ErrInvalidAuth,
// ErrUpgradeRequired, ErrRateLimited, ErrAssertion or ErrTransient, or are
// an *InvalidPinError carrying the guesses remaining. When realms disagree,
// the most specific error wins, as in the SDK, with exceptions against
// lying realms: "locked" (ErrNoGuesses) and "not registered"
// (ErrNotRegistered) are reported only when the realms saying so are
// enough to rule recovery out, and a realm that rejects the
// unlock key tag of a PIN the OPRF step proved right violates the protocol
// (ErrAssertion), not a wrong PIN. After a wrong PIN, the guesses remaining
// are the count the threshold of agreeing realms allows, not the smallest
// any realm claims.
//
// A configuration comes from a server. The client therefore refuses the
// FastInsecure PIN stretch and plain HTTP to non-loopback realms unless
// built WithInsecureTestSettings, and validates thresholds (a recovery
// threshold below a majority of the realms is refused).
package juicebox
