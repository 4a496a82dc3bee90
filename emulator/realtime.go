package emulator

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/xchat-go/xchat/api"
)

// The Activity API side of the emulator: one developer app (the one every
// provisioned account has authorised), its subscriptions, the open
// streams, the webhooks and a retained window of delivered events for
// backfill and replay. Everything here lives in memory only.
//
// Locking: realtime.mu guards the state below. publish is called with
// Server.mu held and takes realtime.mu; nothing takes Server.mu while
// holding realtime.mu. No lock is held across network I/O (stream writes,
// CRC checks, webhook POSTs).

// Defaults of the real-time emulation.
const (
	// DefaultStreamHeartbeat is the interval of keep-alive newlines on an
	// open stream. X documents "a 20-second keep-alive heartbeat" and tells
	// clients to treat 20 s of silence as a stall; the emulator beats more
	// often so that a client's 20 s watchdog never fires on a healthy
	// stream.
	DefaultStreamHeartbeat = 10 * time.Second
	// DefaultRetainedEvents bounds the retained window (X keeps 24 hours
	// for webhook replay; backfill reaches 5 minutes back).
	DefaultRetainedEvents = 100_000
	retention             = 24 * time.Hour
	// maxSubscriptions is the self-serve tier's limit.
	maxSubscriptions = 1500
	// maxWebhooks bounds the webhooks of the app.
	maxWebhooks = 16
	// streamConnBuffer bounds the events queued for one stream
	// connection; a connection that falls further behind is closed (X:
	// "client too slow").
	streamConnBuffer = 4096
	// reorderHold is how long the reorder fault holds an event back when
	// no other event overtakes it (StreamFaults.ReorderHold).
	reorderHold = 100 * time.Millisecond
)

// StreamFaults are fault switches for tests, applied to every delivered
// activity event before it reaches the streams, the retained window and
// the webhooks. Counting starts at 1 with the first event published after
// SetStreamFaults.
type StreamFaults struct {
	// DropEvery drops every Nth event: it is never streamed, retained (so
	// backfill cannot bring it back) or posted.
	DropEvery int
	// DuplicateEvery delivers every Nth event twice.
	DuplicateEvery int
	// ReorderEvery holds every Nth event back and delivers it after the
	// next one, or after ReorderHold (default 100 ms) when none follows.
	ReorderEvery int
	ReorderHold  time.Duration
}

// RealtimeStats counts the emulator's activity deliveries.
type RealtimeStats struct {
	// Published counts events handed to the fan-out (after faults).
	Published int
	// Dropped, Duplicated and Reordered count the faults applied.
	Dropped, Duplicated, Reordered int
	// Disconnects counts stream connections ended by DisconnectStreams or
	// for falling behind.
	Disconnects int
	// OpenStreams is the number of stream connections open now.
	OpenStreams int
	// WebhookPosts counts delivery POSTs answered 2xx.
	WebhookPosts int
}

// WithApp sets the developer app's credentials: the consumer secret (which
// signs webhook deliveries and CRCs), the OAuth 2.0 client secret (which
// signs the -OAuth2 signature header) and the app-only bearer token (the
// stream and webhook endpoints). Empty values are minted at random.
func WithApp(consumerSecret, clientSecret, bearerToken string) Option {
	return func(c *config) error {
		c.appConsumerSecret, c.appClientSecret, c.appBearer = consumerSecret, clientSecret, bearerToken
		return nil
	}
}

// WithStreamHeartbeat sets the keep-alive interval of activity streams
// (default DefaultStreamHeartbeat); d must be positive.
func WithStreamHeartbeat(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return optionError("WithStreamHeartbeat: %v is not positive", d)
		}
		c.heartbeat = d
		return nil
	}
}

// WithWebhookClient sets the HTTP client used for CRC checks and webhook
// deliveries (default: 10 s timeout); nil is refused.
func WithWebhookClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return optionError("WithWebhookClient: nil client")
		}
		c.webhookClient = hc
		return nil
	}
}

// appCreds are the developer app's secrets.
type appCreds struct {
	consumerSecret string
	clientSecret   string
	bearer         string
	bearerHash     [32]byte
}

// subscriptionRec is one activity subscription of the app.
type subscriptionRec struct {
	api.ActivitySubscription
	created time.Time
}

// webhookRec is one registered webhook of the app.
type webhookRec struct {
	ID      string
	URL     string
	Valid   bool
	Created time.Time
	out     *webhookWorker
}

// retainedRec is one delivered event kept for backfill and replay.
type retainedRec struct {
	at        time.Time
	webhookID string
	line      []byte // the JSON envelope, without newline
}

// streamConn is one open stream connection.
type streamConn struct {
	ch   chan []byte
	kill chan struct{}
	once sync.Once
}

func (c *streamConn) close() { c.once.Do(func() { close(c.kill) }) }

// realtime is the emulator's Activity API state.
type realtime struct {
	cfg  *config
	app  appCreds
	hc   *http.Client
	beat time.Duration

	mu       sync.Mutex
	subs     map[string]*subscriptionRec
	webhooks map[string]*webhookRec
	conns    map[*streamConn]bool
	retained []retainedRec
	kcByVer  map[string]*eventRec // conv|key version -> key change event
	faults   StreamFaults
	faultN   int
	held     []heldEvent
	heldTmr  *time.Timer
	stalled  bool
	stallCh  chan struct{} // closed when a stall ends
	stats    RealtimeStats
	lastID   uint64
	closing  chan struct{}
	closed   bool
}

// heldEvent is an event the reorder fault holds back.
type heldEvent struct {
	line      []byte
	webhookID string
}

func newRealtime(cfg *config) *realtime {
	rt := &realtime{
		cfg:      cfg,
		beat:     cfg.heartbeat,
		hc:       cfg.webhookClient,
		subs:     map[string]*subscriptionRec{},
		webhooks: map[string]*webhookRec{},
		conns:    map[*streamConn]bool{},
		kcByVer:  map[string]*eventRec{},
		closing:  make(chan struct{}),
	}
	if rt.beat <= 0 {
		rt.beat = DefaultStreamHeartbeat
	}
	if rt.hc == nil {
		rt.hc = &http.Client{Timeout: 10 * time.Second}
	}
	// The app's secrets come from crypto/rand even when WithRand makes the
	// rest deterministic: they protect the emulator's webhooks.
	rt.app = appCreds{
		consumerSecret: orRandom(cfg.appConsumerSecret),
		clientSecret:   orRandom(cfg.appClientSecret),
		bearer:         orRandom(cfg.appBearer),
	}
	rt.app.bearerHash = sha256.Sum256([]byte(rt.app.bearer))
	return rt
}

// orRandom returns v, or 32 random bytes in base64url when v is empty.
func orRandom(v string) string {
	if v != "" {
		return v
	}
	var b [32]byte
	_, _ = io.ReadFull(rand.Reader, b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// isAppToken reports whether tok is the app's bearer token.
func (rt *realtime) isAppToken(tok string) bool {
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], rt.app.bearerHash[:]) == 1
}

// newEventUUID mints a delivery id: a 19-digit decimal like X's.
func (rt *realtime) newEventUUID(now time.Time) string {
	id := uint64(max(now.UnixMilli()-twitterEpochMsec, 0)) << 22
	if id <= rt.lastID {
		id = rt.lastID + 1
	}
	rt.lastID = id
	return strconv.FormatUint(id, 10)
}

func (rt *realtime) close() {
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return
	}
	rt.closed = true
	close(rt.closing)
	var workers []*webhookWorker
	for _, w := range rt.webhooks {
		if w.out != nil {
			workers = append(workers, w.out)
		}
	}
	if rt.heldTmr != nil {
		rt.heldTmr.Stop()
	}
	rt.mu.Unlock()
	for _, w := range workers {
		w.stop()
	}
}

// AppCredentials returns the developer app's consumer secret, OAuth 2.0
// client secret and app-only bearer token (also answered by provisioning).
func (s *Server) AppCredentials() (consumerSecret, clientSecret, bearerToken string) {
	return s.rt.app.consumerSecret, s.rt.app.clientSecret, s.rt.app.bearer
}

// SetStreamFaults installs fault switches (the zero value turns them off)
// and restarts their counting.
func (s *Server) SetStreamFaults(f StreamFaults) {
	rt := s.rt
	rt.mu.Lock()
	rt.faults, rt.faultN = f, 0
	rt.mu.Unlock()
}

// DisconnectStreams closes every open stream connection at once (as a
// server restart does) and returns how many it closed.
func (s *Server) DisconnectStreams() int {
	rt := s.rt
	rt.mu.Lock()
	defer rt.mu.Unlock()
	n := 0
	for c := range rt.conns {
		c.close()
		delete(rt.conns, c)
		n++
	}
	rt.stats.Disconnects += n
	return n
}

// StallStreams stops (on) or resumes (off) every write to open streams,
// heartbeats included: a stalled stream stays open but silent, which a
// client's idle watchdog must notice. Events published meanwhile queue up
// and flow when the stall ends.
func (s *Server) StallStreams(on bool) {
	rt := s.rt
	rt.mu.Lock()
	defer rt.mu.Unlock()
	switch {
	case on && !rt.stalled:
		rt.stalled = true
		rt.stallCh = make(chan struct{})
	case !on && rt.stalled:
		rt.stalled = false
		close(rt.stallCh)
	}
}

// EndStreams closes every open stream connection and refuses new ones; call
// it before shutting the HTTP server down (streams never end by
// themselves). Close calls it too.
func (s *Server) EndStreams() { s.rt.close() }

// RealtimeStats returns the activity delivery counters.
func (s *Server) RealtimeStats() RealtimeStats {
	rt := s.rt
	rt.mu.Lock()
	defer rt.mu.Unlock()
	st := rt.stats
	st.OpenStreams = len(rt.conns)
	return st
}

// retain appends a delivered event and prunes the window. Callers hold
// rt.mu.
func (rt *realtime) retain(at time.Time, line []byte, webhookID string) {
	rt.retained = append(rt.retained, retainedRec{at: at, webhookID: webhookID, line: line})
	cut := 0
	for cut < len(rt.retained) && (at.Sub(rt.retained[cut].at) > retention || len(rt.retained)-cut > DefaultRetainedEvents) {
		cut++
	}
	if cut > 0 {
		rt.retained = slices.Delete(rt.retained, 0, cut)
	}
}

// since returns the retained events at or after from and at or before to
// (zero: no bound), optionally only those posted to webhookID. Callers
// hold rt.mu.
func (rt *realtime) since(from, to time.Time, webhookID string) [][]byte {
	var out [][]byte
	for _, r := range rt.retained {
		if r.at.Before(from) || (!to.IsZero() && r.at.After(to)) {
			continue
		}
		if webhookID != "" && r.webhookID != webhookID {
			continue
		}
		out = append(out, r.line)
	}
	return out
}
