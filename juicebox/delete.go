package juicebox

import (
	"context"
	"fmt"

	"github.com/xchat-go/xchat/juicebox/proto"
)

// Delete removes the registration from every realm (no PIN needed: a user
// can always overwrite it with a new registration anyway). Every realm is
// asked even if some fail; the result is an error if any failed.
func (c *Client) Delete(ctx context.Context) error {
	err := joinAll(ctx, realmPtrs(c.cfg), func(ctx context.Context, r *Realm) error {
		_, err := c.expect(ctx, r, &proto.SecretsRequest{Kind: proto.Delete})
		return err
	})
	if err != nil {
		return fmt.Errorf("juicebox: delete: %w", err)
	}
	return nil
}

// RealmStatus is one realm's view of the registration.
type RealmStatus struct {
	// Realm is the realm asked.
	Realm RealmID
	// Hardware reports a realm reached through Noise.
	Hardware bool
	// Registered reports a registration (Version is then set).
	Registered bool
	// Version is the registration's version.
	Version [proto.VersionSize]byte
	// Locked reports a registration with no guesses left.
	Locked bool
	// Err is the failure when the realm could not answer.
	Err error
}

// Status asks every realm for its registration (phase 1 of recovery, which
// uses up no guess) and reports what each said. It fails only on a
// context error; per-realm failures are in the result.
func (c *Client) Status(ctx context.Context) ([]RealmStatus, error) {
	realms := realmPtrs(c.cfg)
	out := make([]RealmStatus, len(realms))
	err := joinAll(ctx, realms, func(ctx context.Context, r *Realm) error {
		i := int(c.cfg.shareIndex(r.ID)) - 1
		st := RealmStatus{Realm: r.ID, Hardware: r.PublicKey != nil}
		resp, err := c.request(ctx, r, &proto.SecretsRequest{Kind: proto.Recover1})
		switch {
		case err != nil:
			st.Err = err
		case resp.Status == proto.StatusOK:
			st.Registered, st.Version = true, resp.Version
		case resp.Status == proto.StatusNoGuesses:
			st.Registered, st.Locked = true, true
		}
		out[i] = st
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
