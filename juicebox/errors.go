package juicebox

import (
	"context"
	"errors"
	"fmt"
)

// Errors a caller tells apart with errors.Is. Every error a Client returns
// wraps exactly one of them, or an *InvalidPinError, or a context error.
var (
	// ErrNotRegistered reports that no secret is registered (on enough
	// realms agreeing on one registration).
	ErrNotRegistered = errors.New("juicebox: no secret is registered")
	// ErrNoGuesses reports that the secret is locked: no guesses remain.
	// An *InvalidPinError with zero guesses remaining also matches it.
	ErrNoGuesses = errors.New("juicebox: no guesses remain: the secret is locked")
	// ErrInvalidAuth reports that a realm rejected its auth token.
	ErrInvalidAuth = errors.New("juicebox: a realm rejected the auth token")
	// ErrUpgradeRequired reports a realm that requires a newer client.
	ErrUpgradeRequired = errors.New("juicebox: a realm requires a newer client version")
	// ErrRateLimited reports that a realm refused for too many requests.
	ErrRateLimited = errors.New("juicebox: rate limit exceeded; try again later")
	// ErrAssertion reports an answer the protocol does not allow: a bad
	// proof or signature, disagreeing realms, an undecodable message. Do
	// not retry with the same inputs.
	ErrAssertion = errors.New("juicebox: a realm's answer violates the protocol")
	// ErrTransient reports a network failure, timeout or unavailable realm;
	// retrying may succeed.
	ErrTransient = errors.New("juicebox: realm unavailable (transient)")
)

// InvalidPinError reports a wrong PIN. GuessesRemaining is how many more
// wrong PINs the realms that agree on the registration allow before too few
// of them (fewer than the recovery threshold) have a guess left; a realm
// that refused outright (no guesses) reports zero. At zero the secret is
// locked (and the error also matches ErrNoGuesses).
type InvalidPinError struct {
	GuessesRemaining uint16
}

// Error implements error.
func (e *InvalidPinError) Error() string {
	if e.GuessesRemaining == 0 {
		return "juicebox: wrong PIN; no guesses remain: the secret is locked"
	}
	if e.GuessesRemaining == 1 {
		return "juicebox: wrong PIN; 1 guess remains"
	}
	return fmt.Sprintf("juicebox: wrong PIN; %d guesses remain", e.GuessesRemaining)
}

// Is makes a zero-guesses InvalidPinError match ErrNoGuesses.
func (e *InvalidPinError) Is(target error) bool {
	return target == ErrNoGuesses && e.GuessesRemaining == 0
}

// RealmError is the failure of one realm request.
type RealmError struct {
	// Realm is the realm that failed.
	Realm RealmID
	// Err is the kind: one of the sentinel errors or an *InvalidPinError.
	Err error
	// Detail says what happened, for logs (never secrets).
	Detail string
}

// Error implements error.
func (e *RealmError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("realm %s: %v", e.Realm, e.Err)
	}
	return fmt.Sprintf("realm %s: %s: %v", e.Realm, e.Detail, e.Err)
}

// Unwrap returns the kind.
func (e *RealmError) Unwrap() error { return e.Err }

func realmErr(id RealmID, kind error, format string, args ...any) *RealmError {
	return &RealmError{Realm: id, Err: kind, Detail: fmt.Sprintf(format, args...)}
}

// rank orders errors as the SDK does when several realms fail: the most
// specific (a wrong PIN, fewest guesses first) wins over not registered,
// bad auth, upgrade, rate limit, protocol violation and transient failure.
func rank(err error) (int, uint16) {
	var pe *InvalidPinError
	switch {
	case errors.As(err, &pe):
		return 0, pe.GuessesRemaining
	case errors.Is(err, ErrNoGuesses):
		return 0, 0
	case errors.Is(err, ErrNotRegistered):
		return 1, 0
	case errors.Is(err, ErrInvalidAuth):
		return 2, 0
	case errors.Is(err, ErrUpgradeRequired):
		return 3, 0
	case errors.Is(err, ErrRateLimited):
		return 4, 0
	case errors.Is(err, ErrAssertion):
		return 5, 0
	case errors.Is(err, context.Canceled):
		return 7, 0
	}
	return 6, 0
}

// minError returns the highest-ranked (most specific) error.
func minError(errs []error) error {
	var best error
	var br int
	var bg uint16
	for _, e := range errs {
		r, g := rank(e)
		if best == nil || r < br || (r == br && g < bg) {
			best, br, bg = e, r, g
		}
	}
	return best
}
