package juicebox

import (
	"context"
	"errors"
)

// realmResult is one realm's outcome in a concurrent step.
type realmResult[T any] struct {
	realm *Realm
	val   T
	err   error
}

// joinThreshold runs f on every realm concurrently and waits for all of
// them, unless so many fail that threshold successes are impossible and
// the realms still out cannot change the error (see thresholdError): then
// it cancels the rest and returns the most specific error (see rank). On
// success it returns every successful result (at least threshold), in
// realm order.
func joinThreshold[T any](ctx context.Context, realms []*Realm, threshold int, f func(ctx context.Context, r *Realm) (T, error)) ([]realmResult[T], error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan realmResult[T], len(realms))
	for _, r := range realms {
		go func() {
			v, err := f(ctx, r)
			ch <- realmResult[T]{realm: r, val: v, err: err}
		}()
	}
	byRealm := map[*Realm]realmResult[T]{}
	var errs []error
	tolerated := len(realms) - threshold
	claims := 0
	for i := range realms {
		res := <-ch
		if res.err != nil {
			errs = append(errs, res.err)
			if verdict(res.err) {
				claims++
			}
			// Failed: return at once unless the realms still out could
			// turn the error into a verdict (see thresholdError).
			if pending := len(realms) - i - 1; len(errs) > tolerated && (claims > tolerated || claims+pending <= tolerated) {
				return nil, thresholdError(errs, tolerated)
			}
			continue
		}
		byRealm[res.realm] = res
	}
	if len(errs) > tolerated {
		return nil, thresholdError(errs, tolerated)
	}
	out := make([]realmResult[T], 0, len(byRealm))
	for _, r := range realms {
		if res, ok := byRealm[r]; ok {
			out = append(out, res)
		}
	}
	return out, nil
}

// thresholdError is the error of a step that failed on more realms than
// tolerated. A realm's claim that the secret is locked (no guesses) or was
// never registered is believed only when such claims alone rule the
// threshold out; fewer of them, with other failures, leave the others to
// explain the failure: otherwise one realm that says "locked" or "not
// registered" while another is down would tell the user the secret is
// gone for good, or was never backed up, when it is intact.
func thresholdError(errs []error, tolerated int) error {
	var others []error
	claims := 0
	for _, e := range errs {
		if verdict(e) {
			claims++
		} else {
			others = append(others, e)
		}
	}
	if claims > tolerated || len(others) == 0 {
		return minError(errs)
	}
	return minError(others)
}

// verdict reports a realm's claim about the secret itself (locked, or not
// registered), as opposed to a failure to answer.
func verdict(err error) bool {
	return errors.Is(err, ErrNoGuesses) || errors.Is(err, ErrNotRegistered)
}

// joinAll runs f on every realm concurrently, waits for all of them (one
// failure does not cut the others short) and returns the most specific
// error if any failed.
func joinAll(ctx context.Context, realms []*Realm, f func(ctx context.Context, r *Realm) error) error {
	ch := make(chan error, len(realms))
	for _, r := range realms {
		go func() { ch <- f(ctx, r) }()
	}
	var errs []error
	for range realms {
		if err := <-ch; err != nil {
			errs = append(errs, err)
		}
	}
	return minError(errs)
}

// realmPtrs lists a configuration's realms.
func realmPtrs(cfg *Configuration) []*Realm {
	out := make([]*Realm, len(cfg.Realms))
	for i := range cfg.Realms {
		out[i] = &cfg.Realms[i]
	}
	return out
}
