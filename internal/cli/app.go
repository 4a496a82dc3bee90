package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/keystore/boltstore"
	"github.com/xchat-go/xchat/keystore/storeurl"
	"github.com/xchat-go/xchat/session"
)

// storeFile is the keystore's file name inside the account directory.
const storeFile = "keystore.db"

// settingsKey names the CLI settings record kept (sealed) in the keystore.
const settingsKey = "xchat.cli.settings"

// settings are remembered between invocations.
type settings struct {
	// APIURL is the API base given when the account was created or last
	// logged in (used when neither --api nor XCHAT_API is set).
	APIURL string `json:"api_url,omitempty"`
	// OAuth is what login used, kept to refresh the stored token.
	OAuth *oauthSettings `json:"oauth,omitempty"`
}

type oauthSettings struct {
	ClientID string `json:"client_id"`
	AuthURL  string `json:"auth_url,omitempty"`
	TokenURL string `json:"token_url,omitempty"`
}

// app is one invocation: its environment, global flags and the resources
// opened on demand (closed by close).
type app struct {
	env *Env
	g   globals
	cmd string

	// json is set by a command's --json: its result is printed as JSON.
	json bool
	// usernames caches @usernames by user id (see names.go).
	usernames map[string]string

	store  keystore.Store
	engine *session.Engine
	client *api.Client
	base   string
	// pass is the keystore passphrase once read (cleared by close).
	pass []byte
	// term is the terminal once opened for a prompt.
	term TTY

	// mu serialises key change notices (the engine may report from several
	// goroutines).
	mu sync.Mutex
	// keyChange, when set, replaces the key change banner (see Account).
	keyChange func(session.KeyChanged)
}

func (a *app) close() {
	a.closeAccount()
	clear(a.pass)
	a.pass = nil
	if a.term != nil {
		_ = a.term.Close()
		a.term = nil
	}
}

// closeAccount closes the engine, the keystore and the client built on it,
// releasing the keystore's file lock for other xchat processes. The
// passphrase stays cached, so the account can be reopened without a prompt.
func (a *app) closeAccount() {
	if a.engine != nil {
		_ = a.engine.Close()
		a.engine = nil
	}
	if a.store != nil {
		_ = a.store.Close()
		a.store = nil
	}
	a.client = nil
}

// warnf prints a warning line on stderr.
func (a *app) warnf(format string, args ...any) {
	fmt.Fprintf(a.env.Stderr, "xchat: warning: %s\n", oneLine(fmt.Sprintf(format, args...)))
}

// infof prints an informational line on stderr (never stdout, which carries
// results only).
func (a *app) infof(format string, args ...any) {
	fmt.Fprintf(a.env.Stderr, format+"\n", args...)
}

func (a *app) storePath() (string, error) {
	home, err := a.homeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, storeFile), nil
}

// lockTimeout is how long a command waits for another xchat process (such
// as a running watch) to release the keystore.
const lockTimeout = 15 * time.Second

// noKey protects stores created with --no-passphrase. It is public
// knowledge: such a store is not protected at rest.
var noKey [32]byte

// openStore opens the account's keystore (see storeSpec). With create it
// must not exist yet; otherwise it must.
func (a *app) openStore(ctx context.Context, create bool) (keystore.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	if spec := a.storeSpec(); storeurl.IsPostgres(spec) {
		return a.openSharedStore(ctx, spec, create)
	}
	path, err := a.storePath()
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(path)
	exists := statErr == nil
	if create && exists {
		return nil, fmt.Errorf("an account already exists in %s (use another --home)", filepath.Dir(path))
	}
	if !create && !exists {
		if errors.Is(statErr, fs.ErrNotExist) {
			return nil, fmt.Errorf("no account in %s: run 'xchat init --user-id ID' first", filepath.Dir(path))
		}
		return nil, fmt.Errorf("keystore: %w", statErr)
	}
	if create {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create account directory: %w", err)
		}
	}
	opt, err := a.protection(create)
	if err != nil {
		return nil, err
	}
	db, err := boltstore.Open(path, opt, keystore.WithLockTimeout(lockTimeout))
	if err != nil {
		switch {
		case errors.Is(err, keystore.ErrWrongPassphrase):
			return nil, fmt.Errorf("%w for %s", errWrongPassphrase, path)
		case errors.Is(err, keystore.ErrWrongKey) && a.g.noPassphrase:
			return nil, fmt.Errorf("%s is protected by a passphrase: drop --no-passphrase", path)
		case errors.Is(err, keystore.ErrWrongKey):
			return nil, fmt.Errorf("%s was created with --no-passphrase: pass --no-passphrase", path)
		case errors.Is(err, keystore.ErrLocked):
			return nil, fmt.Errorf("%s is in use by another xchat process", path)
		}
		return nil, err
	}
	a.store = db
	return db, nil
}

// protection returns how the keystore is protected: the passphrase (read
// once, from XCHAT_PASSPHRASE or a prompt) or, with --no-passphrase, the
// public no-key.
func (a *app) protection(create bool) (keystore.Option, error) {
	if a.g.noPassphrase {
		return keystore.WithKey(noKey), nil
	}
	prompt := "Keystore passphrase: "
	if create {
		prompt = "New keystore passphrase: "
	}
	if a.pass == nil {
		pass, err := a.secret(EnvPassphrase, prompt, create)
		if err != nil {
			return nil, err
		}
		a.pass = pass
	}
	return keystore.WithPassphrase(a.pass), nil
}

// loadSettings reads the CLI settings record (zero when absent).
func (a *app) loadSettings(ctx context.Context, db keystore.Store) (settings, error) {
	var s settings
	b, err := db.Value(ctx, settingsKey)
	if errors.Is(err, keystore.ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("settings record: %w", err)
	}
	return s, nil
}

func (a *app) saveSettings(ctx context.Context, db keystore.Store, s settings) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return db.SetValue(ctx, settingsKey, b)
}

// explicitAPI returns the API base given by flag or environment ("" if none).
func (a *app) explicitAPI() string {
	if a.g.apiURL != "" {
		return a.g.apiURL
	}
	return a.env.Getenv(EnvAPI)
}

// apiBase returns the API base for error messages.
func (a *app) apiBase() string {
	if a.base != "" {
		return a.base
	}
	if b := a.explicitAPI(); b != "" {
		return b
	}
	return api.DefaultBaseURL
}

// openEngine opens the account. online builds an API client (which needs a
// token); offline engines serve History, keys and backups only.
func (a *app) openEngine(ctx context.Context, online bool) (*session.Engine, error) {
	if a.engine != nil {
		return a.engine, nil
	}
	db, err := a.openStore(ctx, false)
	if err != nil {
		return nil, err
	}
	var srv session.Server
	if online {
		c, err := a.newClient(ctx, db)
		if err != nil {
			return nil, err
		}
		srv = session.NewAPIServer(c)
	}
	onChange := a.onKeyChange
	if a.keyChange != nil {
		onChange = a.keyChange
	}
	e, err := session.Open(ctx, db, srv, session.WithKeyChangeHandler(onChange))
	if err != nil {
		if errors.Is(err, xchat.ErrNoAccount) {
			return nil, fmt.Errorf("the keystore in %s holds no account: run 'xchat init --user-id ID'", a.storeName())
		}
		return nil, err
	}
	a.engine = e
	return e, nil
}

// onKeyChange prints a peer key change loudly as soon as the engine sees it.
func (a *app) onKeyChange(kc session.KeyChanged) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, _ = io.WriteString(a.env.Stderr, keyChangeBanner(kc))
}

// newClient builds the API client: base from --api, XCHAT_API, the stored
// settings or the default; token from --token, XCHAT_TOKEN or the token stored
// by login (refreshed and saved back when it expires).
func (a *app) newClient(ctx context.Context, db keystore.Store) (*api.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	st, err := a.loadSettings(ctx, db)
	if err != nil {
		return nil, err
	}
	base := a.explicitAPI()
	if base == "" {
		base = st.APIURL
	}
	if base == "" {
		base = api.DefaultBaseURL
	}
	a.base = base
	opts := []api.Option{api.WithBaseURL(base), api.WithUserAgent("xchat-cli/0.1 (+https://github.com/xchat-go/xchat)")}
	tok := a.g.token
	if tok == "" {
		tok = a.env.Getenv(EnvToken)
	}
	if tok != "" {
		opts = append(opts, api.WithBearerToken(tok))
	} else {
		stored, err := db.Token(ctx)
		if errors.Is(err, keystore.ErrNotFound) {
			return nil, fmt.Errorf("%w: run 'xchat login' or pass --token (or set %s)", errNotLoggedIn, EnvToken)
		}
		if err != nil {
			return nil, err
		}
		ot := &oauth2.Token{AccessToken: stored.AccessToken, RefreshToken: stored.RefreshToken, TokenType: stored.TokenType, Expiry: stored.Expiry}
		var ts oauth2.TokenSource = oauth2.StaticTokenSource(ot)
		if st.OAuth != nil && stored.RefreshToken != "" {
			cfg := &api.OAuthConfig{ClientID: st.OAuth.ClientID, AuthURL: st.OAuth.AuthURL, TokenURL: st.OAuth.TokenURL, Now: a.env.Now}
			ts = cfg.TokenSource(context.WithoutCancel(ctx), ot, func(t *oauth2.Token) error {
				return db.SetToken(context.WithoutCancel(ctx), storedToken(t, stored.Scopes))
			})
		}
		opts = append(opts, api.WithTokenSource(ts))
	}
	c, err := api.New(opts...)
	if err != nil {
		return nil, err
	}
	a.client = c
	return c, nil
}

// storedToken converts an OAuth token to its keystore form.
func storedToken(t *oauth2.Token, scopes []string) *keystore.Token {
	if s, ok := t.Extra("scope").(string); ok && s != "" {
		scopes = strings.Fields(s)
	}
	return &keystore.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, Expiry: t.Expiry, Scopes: scopes}
}

// httpClient is used by login for the token endpoint.
var httpClient = &http.Client{Timeout: 60 * time.Second}
