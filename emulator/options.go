package emulator

import (
	"fmt"
	"io"
	"net/url"
	"slices"

	"log/slog"
	"net/http"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator/realm"
	"github.com/xchat-go/xchat/internal/exchange"
)

// Default limits. They are generous on purpose: the emulator serves tests
// and demos. Rate limits and the token lifetime have options; the body and
// media bounds are fixed.
const (
	// DefaultRateLimit is the number of requests one user may make to one
	// operation per DefaultRateWindow.
	DefaultRateLimit = 10000
	// DefaultRateWindow is the rate-limit window (X uses 15 minutes).
	DefaultRateWindow = 15 * time.Minute
	// DefaultMaxBodyBytes bounds every JSON request body except media
	// appends.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxSegmentBytes bounds one media segment (decoded bytes).
	DefaultMaxSegmentBytes = 8 << 20
	// DefaultMaxMediaBytes bounds one uploaded media blob (total_bytes).
	DefaultMaxMediaBytes = 64 << 20
	// DefaultAccessTokenTTL is the lifetime of OAuth access tokens (X: 2h).
	DefaultAccessTokenTTL = 2 * time.Hour
)

// Option configures a Server built by New. An option given a value it
// cannot use makes the server fail closed: Open returns the error, and a
// server from New reports it (Err) and answers every request with 503.
type Option func(*config) error

type rateRule struct {
	limit  int
	window time.Duration
}

type oauthClient struct {
	id           string
	secret       string
	redirectURIs []string
}

type config struct {
	clock           func() time.Time
	rand            io.Reader
	ids             func() uint64
	logger          *slog.Logger
	dataFile        string
	defaultRate     rateRule
	opRates         map[string]rateRule
	maxBody         int64
	maxSegment      int64
	maxMedia        int64
	accessTTL       time.Duration
	oauthClients    map[string]oauthClient
	oauthAutoUser   string
	provisionScopes []string
	noMessageDedup  bool
	recorder        *exchange.Recorder
	dmDailyCap      int
	failureEvents   bool
	keyUserIDs      bool
	// Activity API (realtime.go).
	appConsumerSecret, appClientSecret, appBearer string
	heartbeat                                     time.Duration
	webhookClient                                 *http.Client
	juicebox                                      *realm.Set     // see juicebox.go
	juiceboxOpts                                  []realm.Option // see juicebox.go
}

func defaultConfig() *config {
	return &config{
		clock:       time.Now,
		defaultRate: rateRule{DefaultRateLimit, DefaultRateWindow},
		opRates:     map[string]rateRule{},
		maxBody:     DefaultMaxBodyBytes,
		maxSegment:  DefaultMaxSegmentBytes,
		maxMedia:    DefaultMaxMediaBytes,
		accessTTL:   DefaultAccessTokenTTL,
		dmDailyCap:  DefaultDMDailyCap,
		logger:      slog.New(slog.DiscardHandler),
	}
}

// optionError is the error of an option given a value it cannot use.
func optionError(format string, args ...any) error {
	return fmt.Errorf("emulator: invalid option: "+format, args...)
}

// WithClock sets the time source (default time.Now). Ids, sequence ids,
// created_at values, token expiry and rate-limit windows all follow it.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return optionError("WithClock: nil clock")
		}
		c.clock = now
		return nil
	}
}

// WithIDSource replaces the snowflake generator used for user ids, group
// ids, sequence ids, DM event ids and media session ids. next must return
// distinct, strictly increasing positive values below 2^63.
func WithIDSource(next func() uint64) Option {
	return func(c *config) error {
		if next == nil {
			return optionError("WithIDSource: nil source")
		}
		c.ids = next
		return nil
	}
}

// WithLogger sets the request logger (default: discard). The emulator logs
// the route pattern, status, duration and user id; never tokens, codes,
// query strings or bodies.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return optionError("WithLogger: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithDataFile persists all state in the bbolt database at path, so it
// survives restarts. Without it the state lives in memory only.
func WithDataFile(path string) Option {
	return func(c *config) error {
		if path == "" {
			return optionError("WithDataFile: empty path")
		}
		c.dataFile = path
		return nil
	}
}

// rateRuleOf checks a limit and window: limit <= 0 disables the limit,
// otherwise the window must be positive.
func rateRuleOf(limit int, window time.Duration) (rateRule, error) {
	if limit > 0 && window <= 0 {
		return rateRule{}, optionError("rate limit %d per %v: the window must be positive", limit, window)
	}
	return rateRule{limit, window}, nil
}

// WithRateLimit sets the per-user, per-operation limit: limit requests per
// window (which must then be positive). limit <= 0 disables rate limiting.
func WithRateLimit(limit int, window time.Duration) Option {
	return func(c *config) error {
		r, err := rateRuleOf(limit, window)
		c.defaultRate = r
		return err
	}
}

// WithOperationRateLimit overrides the limit of one operation, named by its
// operationId in the specification (e.g. "sendChatMessage"). New fails
// (see Server.Err) when the server has no such operation.
func WithOperationRateLimit(operationID string, limit int, window time.Duration) Option {
	return func(c *config) error {
		r, err := rateRuleOf(limit, window)
		c.opRates[operationID] = r
		return err
	}
}

// WithAccessTokenTTL sets the lifetime of OAuth access tokens (default 2h);
// d must be positive. Provisioned tokens never expire.
func WithAccessTokenTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return optionError("WithAccessTokenTTL: %v is not positive", d)
		}
		c.accessTTL = d
		return nil
	}
}

// WithOAuthClient registers an OAuth 2.0 client. Once any client is
// registered, only registered clients may use the OAuth endpoints and their
// redirect URIs must match exactly; secret may be empty for a public
// client. Without registered clients any client_id is accepted with any
// loopback (127.0.0.1, [::1], localhost) redirect URI. The client id must
// not be empty and every redirect URI must be an absolute URL.
func WithOAuthClient(clientID, secret string, redirectURIs ...string) Option {
	return func(c *config) error {
		if clientID == "" {
			return optionError("WithOAuthClient: empty client id")
		}
		for _, u := range redirectURIs {
			if p, err := url.Parse(u); err != nil || !p.IsAbs() || p.Host == "" {
				return optionError("WithOAuthClient: redirect URI %q is not an absolute URL", u)
			}
		}
		if c.oauthClients == nil {
			c.oauthClients = map[string]oauthClient{}
		}
		c.oauthClients[clientID] = oauthClient{clientID, secret, append([]string(nil), redirectURIs...)}
		return nil
	}
}

// WithOAuthAutoApprove makes GET /i/oauth2/authorize approve every request
// for the given user id (a canonical decimal) without a consent page. A
// request can also name its user with the query parameter
// emulator_user=<id>.
func WithOAuthAutoApprove(userID string) Option {
	return func(c *config) error {
		if !isID(userID) {
			return optionError("WithOAuthAutoApprove: %q is not a user id", userID)
		}
		c.oauthAutoUser = userID
		return nil
	}
}

// WithProvisionScopes sets the scopes of tokens minted by
// POST /emulator/v1/users (default: every scope the API uses). At least one
// scope must be given, each one of api.AllScopes.
func WithProvisionScopes(scopes ...string) Option {
	return func(c *config) error {
		if len(scopes) == 0 {
			return optionError("WithProvisionScopes: no scope")
		}
		for _, sc := range scopes {
			if !slices.Contains(api.AllScopes, sc) {
				return optionError("WithProvisionScopes: unknown scope %q", sc)
			}
		}
		c.provisionScopes = append([]string(nil), scopes...)
		return nil
	}
}

// WithoutMessageIDDedup makes sendChatMessage store every request as a new
// event, even one repeating a message_id the sender already used. The
// specification does not promise that the server de-duplicates a repeated
// message_id (the default emulator answers the original event); tests use
// this option to prove that clients never rely on it.
func WithoutMessageIDDedup() Option {
	return func(c *config) error { c.noMessageDedup = true; return nil }
}

// WithRecorder records every exchange the server answers (for the contract
// test). Without it, the server records to the directory named by the
// environment variable XCHAT_CONTRACT_RECORD when that is set.
func WithRecorder(r *exchange.Recorder) Option {
	return func(c *config) error {
		if r == nil {
			return optionError("WithRecorder: nil recorder")
		}
		c.recorder = r
		return nil
	}
}

// WithDMDailyCap sets the per-user 24-hour cap shared by the three legacy
// DM POST operations (default DefaultDMDailyCap; 0 disables it, a negative
// cap is refused).
func WithDMDailyCap(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return optionError("WithDMDailyCap: %d is negative", n)
		}
		c.dmDailyCap = n
		return nil
	}
}

// WithFailureEvents makes a rejected sendChatMessage carry, beside its
// problem document, data.encoded_message_event: a MessageEvent whose detail
// is a MessageFailureEvent with the Thrift failure type (as the backend
// delivers failures to the sender's devices). The specification's Problem
// has no such member, so it is off by default (spec-strict).
func WithFailureEvents(on bool) Option {
	return func(c *config) error { c.failureEvents = on; return nil }
}

// WithPublicKeyUserIDs adds user_id to every PublicKey the key lookups
// answer. The specification's PublicKey has no user_id (clients must not
// rely on it), so it is off by default (spec-strict).
func WithPublicKeyUserIDs(on bool) Option {
	return func(c *config) error { c.keyUserIDs = on; return nil }
}

// beyondSpec reports whether an option makes answers the specification does
// not describe.
func (c *config) beyondSpec() bool { return c.failureEvents || c.keyUserIDs }
