package session

import (
	"context"
	"fmt"

	"github.com/xchat-go/xchat/api"
)

// keyDirectory is implemented by Servers that attribute batch public-key
// answers to users themselves (apiServer, through
// api.Client.GetPublicKeysByUser): the specification's PublicKey has no
// user_id, so a batch answer alone does not say whose keys are whose.
type keyDirectory interface {
	// PublicKeysByUser returns the published keys of userIDs grouped by
	// user. known are key sets the engine already attributed (its stored
	// peer keys), which let a refresh be answered by one batch call.
	PublicKeysByUser(ctx context.Context, userIDs []string, known []api.KnownKey) (map[string][]api.PublicKey, error)
}

// publishedKeys fetches the keys of one batch of users, grouped by user.
// Servers without keyDirectory are asked with GetPublicKeys and must label
// each key with user_id (a batch of one is attributed to its user).
func (e *Engine) publishedKeys(ctx context.Context, srv Server, batch []string) (map[string][]api.PublicKey, error) {
	if kd, ok := srv.(keyDirectory); ok {
		known, err := e.knownKeys(ctx, batch)
		if err != nil {
			return nil, err
		}
		return kd.PublicKeysByUser(ctx, batch, known)
	}
	resp, err := srv.GetPublicKeys(ctx, batch)
	if err != nil {
		return nil, err
	}
	byUser := map[string][]api.PublicKey{}
	for _, k := range resp.Data {
		uid := k.UserID
		if uid == "" && len(batch) == 1 {
			uid = batch[0]
		}
		byUser[uid] = append(byUser[uid], k)
	}
	return byUser, nil
}

// knownKeys lists the stored key history of users as api.KnownKey.
func (e *Engine) knownKeys(ctx context.Context, users []string) ([]api.KnownKey, error) {
	var out []api.KnownKey
	for _, uid := range users {
		stored, err := e.store.PeerKeys(ctx, uid)
		if err != nil {
			return nil, fmt.Errorf("session: reading peer keys: %w", err)
		}
		for _, k := range stored {
			out = append(out, api.KnownKey{UserID: uid, Version: k.Version,
				PublicKey: k.IdentityPublicKey, SigningPublicKey: k.SigningPublicKey})
		}
	}
	return out, nil
}
