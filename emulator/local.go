package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/xchat-go/xchat/api"
)

// Local is an emulator served on a loopback port inside the current
// process, for embedders' tests, examples and demos:
//
//	local, err := emulator.Start(ctx, "alice", "bob")
//	…
//	defer local.Close()
//	alice := local.Users["alice"]
//	client, err := api.New(api.WithBaseURL(local.URL), api.WithBearerToken(alice.Token))
type Local struct {
	// URL is the API base URL ("http://127.0.0.1:PORT") for
	// api.WithBaseURL.
	URL string
	// Users holds the accounts provisioned so far, by username.
	Users map[string]User

	srv *Server
	hs  *http.Server
}

// User is an account of a Local emulator.
type User struct {
	ID       string
	Username string
	// Token is a bearer token carrying every scope the API uses.
	Token string
}

// Start serves a new in-memory emulator on 127.0.0.1 (a free port) and
// provisions an account for each username (letters, digits and
// underscores, up to 15). Close stops it.
func Start(ctx context.Context, usernames ...string) (*Local, error) {
	return StartWith(ctx, nil, usernames...)
}

// StartWith is Start with emulator options (for example WithDataFile).
func StartWith(ctx context.Context, opts []Option, usernames ...string) (*Local, error) {
	srv, err := Open(opts...)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = srv.Close()
		return nil, fmt.Errorf("emulator: listen: %w", err)
	}
	l := &Local{URL: "http://" + ln.Addr().String(), Users: map[string]User{}, srv: srv,
		hs: &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = l.hs.Serve(ln) }()
	for _, name := range usernames {
		if _, err := l.AddUser(ctx, name); err != nil {
			return nil, errors.Join(err, l.Close())
		}
	}
	return l, nil
}

// AddUser provisions an account (POST /emulator/v1/users, as any client
// would) and records it in Users. An existing username gets a new token.
// It must not run concurrently with itself or with reads of Users.
func (l *Local) AddUser(ctx context.Context, username string) (User, error) {
	body, err := json.Marshal(ProvisionRequest{Username: username})
	if err != nil {
		return User{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URL+api.PathEmulatorUsers, bytes.NewReader(body))
	if err != nil {
		return User{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return User{}, fmt.Errorf("emulator: provisioning %s: %w", username, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return User{}, fmt.Errorf("emulator: provisioning %s: %w", username, err)
	}
	var pr ProvisionResponse
	if resp.StatusCode/100 != 2 || json.Unmarshal(raw, &pr) != nil || pr.ID == "" {
		return User{}, fmt.Errorf("emulator: provisioning %s: %s: %s", username, resp.Status, bytes.TrimSpace(raw))
	}
	u := User{ID: pr.ID, Username: pr.Username, Token: pr.AccessToken}
	l.Users[username] = u
	return u, nil
}

// Server returns the emulator being served.
func (l *Local) Server() *Server { return l.srv }

// Close stops serving and closes the emulator.
func (l *Local) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(l.hs.Shutdown(ctx), l.srv.Close())
}
