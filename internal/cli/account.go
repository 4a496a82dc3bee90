package cli

import (
	"context"
	"flag"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/session"
)

// Account opens the account xchat's global flags select, for the module's
// other programs (cmd/xchat-bot): the keystore of --home (XCHAT_HOME), its
// passphrase (XCHAT_PASSPHRASE, the terminal, or --no-passphrase), the API
// base (--api, XCHAT_API, the setting stored by init or login) and the
// token (--token, XCHAT_TOKEN, or the stored login, refreshed and saved
// back). The keystore stays open (and locked against other processes)
// until Close.
type Account struct{ a *app }

// NewAccount returns an Account reading env.
func NewAccount(env *Env) *Account { return &Account{a: &app{env: env}} }

// RegisterFlags defines the global flags on fs (before it is parsed).
func (ac *Account) RegisterFlags(fs *flag.FlagSet) { ac.a.addGlobalFlags(fs) }

// OnKeyChange replaces the banner a peer's key change prints on stderr;
// call it before Engine.
func (ac *Account) OnKeyChange(fn func(session.KeyChanged)) { ac.a.keyChange = fn }

// Engine opens the account's engine, online (once; later calls return
// it).
func (ac *Account) Engine(ctx context.Context) (*session.Engine, error) {
	return ac.a.openEngine(ctx, true)
}

// Client returns the account's own API client (user token).
func (ac *Account) Client(ctx context.Context) (*api.Client, error) {
	db, err := ac.a.openStore(ctx, false)
	if err != nil {
		return nil, err
	}
	return ac.a.newClient(ctx, db)
}

// AppClient returns a client holding the app's bearer token: token, or
// XCHAT_APP_TOKEN when it is empty ("" and no variable: nil, nil).
func (ac *Account) AppClient(ctx context.Context, token string) (*api.Client, error) {
	t := ac.a.appToken(token)
	if t == "" {
		return nil, nil
	}
	return ac.a.appClient(ctx, t)
}

// APIBase returns the API base URL in use (after Engine or Client).
func (ac *Account) APIBase() string { return ac.a.apiBase() }

// Describe explains err as xchat would (with what to do about it).
func (ac *Account) Describe(err error) string { return oneLine(describe(err, ac.a.apiBase())) }

// Close closes the engine and the keystore and forgets the passphrase.
func (ac *Account) Close() { ac.a.close() }
