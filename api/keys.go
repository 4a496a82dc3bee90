package api

import (
	"context"
	"net/url"
	"strings"
)

func publicKeyQuery(fields []string) (url.Values, error) {
	if len(fields) == 0 {
		fields = PublicKeyFields
	}
	if err := checkEnumList("public_key.fields", fields, PublicKeyFields); err != nil {
		return nil, err
	}
	q := url.Values{}
	setList(q, "public_key.fields", fields)
	return q, nil
}

// GetUserPublicKeys fetches the registered public keys of one user
// (getUsersPublicKey). fields selects public_key.fields; nil asks for all
// of PublicKeyFields. Scopes: users.read, tweet.read, dm.read.
func (c *Client) GetUserPublicKeys(ctx context.Context, userID string, fields []string) (*GetUsersPublicKeyResponse, *Response, error) {
	if err := ValidateUserID(userID); err != nil {
		return nil, nil, err
	}
	q, err := publicKeyQuery(fields)
	if err != nil {
		return nil, nil, err
	}
	out := new(GetUsersPublicKeyResponse)
	resp, err := c.do(ctx, &request{op: OpGetUsersPublicKey, path: PathUserPublicKeys(userID), query: q}, out)
	return result(out, resp, err)
}

// GetUsersPublicKeys fetches the public keys of up to PublicKeysMaxIDs users
// in one call (getUsersPublicKeys). Users without keys are reported in a
// *PartialError alongside the keys found. Scopes: dm.read, tweet.read,
// users.read.
func (c *Client) GetUsersPublicKeys(ctx context.Context, userIDs []string, fields []string) (*GetUsersPublicKeysResponse, *Response, error) {
	// The specification does not forbid repeated ids; asking twice is
	// pointless, so they are sent once.
	userIDs = dedupe(userIDs)
	if len(userIDs) == 0 || len(userIDs) > PublicKeysMaxIDs {
		return nil, nil, invalid("ids", "", "need between 1 and 100 user ids")
	}
	if err := checkUserIDs("user id", userIDs); err != nil {
		return nil, nil, err
	}
	q, err := publicKeyQuery(fields)
	if err != nil {
		return nil, nil, err
	}
	q.Set("ids", strings.Join(userIDs, ","))
	out := new(GetUsersPublicKeysResponse)
	resp, err := c.do(ctx, &request{op: OpGetUsersPublicKeys, path: PathUsersPublicKeys(), query: q}, out)
	return result(out, resp, err)
}

// RegisterPublicKey publishes the user's identity and signing public keys
// (addUserPublicKey). userID must be the authenticated user. Not retried.
// Scopes: tweet.read, dm.write, users.read.
func (c *Client) RegisterPublicKey(ctx context.Context, userID string, req *AddUserPublicKeyRequest) (*AddUserPublicKeyData, *Response, error) {
	if err := ValidateUserID(userID); err != nil {
		return nil, nil, err
	}
	if req == nil {
		return nil, nil, invalid("request", "", "must not be nil")
	}
	if req.Version == "" {
		return nil, nil, invalid("version", "", "must not be empty")
	}
	if req.PublicKey.PublicKey == "" {
		return nil, nil, invalid("public_key.public_key", "", "must not be empty")
	}
	for _, f := range []struct{ name, v string }{
		{"public_key.public_key", req.PublicKey.PublicKey},
		{"public_key.signing_public_key", req.PublicKey.SigningPublicKey},
		{"public_key.identity_public_key_signature", req.PublicKey.IdentityPublicKeySignature},
		{"public_key.signing_public_key_signature", req.PublicKey.SigningPublicKeySignature},
	} {
		if f.v != "" {
			if err := ValidateSignature(f.name, f.v); err != nil {
				return nil, nil, err
			}
		}
	}
	out := new(AddUserPublicKeyResponse)
	resp, err := c.do(ctx, &request{op: OpAddUserPublicKey, path: PathUserPublicKeys(userID), body: req}, out)
	return data(out.Data, resp, err)
}

// dedupe returns ids without repeats, first occurrence kept.
func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
