package hostile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Fault is one kind of network failure Faults injects.
type Fault int

// Faults injected by Faults. "Delivered" faults let the request reach the
// server and lose its answer: the client cannot tell whether it took
// effect, the case retries with the same message id exist for.
const (
	FaultNone         Fault = iota
	FaultResetBefore        // connection reset before the request is sent
	FaultResetAfter         // delivered, then the connection resets
	FaultTimeout            // delivered, then the client times out
	FaultServerError        // a 5xx answer (delivered or not, at random)
	FaultRateLimit          // 429 with x-rate-limit-* and Retry-After headers
	FaultKill               // delivered, then the client process "dies"
	FaultUnauthorized       // 401: the token is refused (not delivered)
)

var faultNames = [...]string{"none", "reset_before", "reset_after", "timeout", "server_error", "rate_limit", "kill", "unauthorized"}

// String returns the fault's snake_case name.
func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// ErrKilled is returned for every request after a FaultKill, until Revive.
var ErrKilled = errors.New("hostile: client process killed")

// FaultConfig sets the probability that a request starts a burst of each
// fault. A burst lasts 1 to MaxBurst consecutive eligible requests.
type FaultConfig struct {
	Seed                                                                   uint64
	ResetBefore, ResetAfter, Timeout, ServerError, RateLimit, Unauthorized float64
	MaxBurst                                                               int
	// Eligible selects the requests that may fail (nil: every request).
	Eligible func(*http.Request) bool
	// Now is the clock used for x-rate-limit-reset (default time.Now);
	// share it with the client's clock when the client's sleep is virtual.
	Now func() time.Time
}

// FaultStats counts what a Faults transport did.
type FaultStats struct {
	Requests  int // requests seen
	Delivered int // requests that reached the server
	Injected  map[Fault]int
}

// Faults is an http.RoundTripper that injects network faults in front of
// Base, deterministically for a given seed and request sequence.
type Faults struct {
	Base http.RoundTripper

	mu          sync.Mutex
	cfg         FaultConfig
	rng         *rand.Rand
	burst       Fault
	burstLeft   int
	killed      bool
	killNext    func(*http.Request) bool
	killDeliver bool
	onKill      func()
	stats       FaultStats
}

// NewFaults returns a Faults transport in front of base
// (http.DefaultTransport when nil).
func NewFaults(base http.RoundTripper, cfg FaultConfig) *Faults {
	if base == nil {
		base = http.DefaultTransport
	}
	if cfg.MaxBurst < 1 {
		cfg.MaxBurst = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Faults{
		Base: base, cfg: cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		stats: FaultStats{Injected: map[Fault]int{}},
	}
}

// KillOn arms a kill: for the next request for which match returns true,
// the request is delivered to the server when deliver is set (the process
// dies waiting for the answer) or not at all (it dies just before sending),
// then onKill runs (while the request is still "in flight" from the client's
// point of view) and the request fails with ErrKilled, as does every later
// request until Revive.
func (f *Faults) KillOn(match func(*http.Request) bool, deliver bool, onKill func()) {
	f.mu.Lock()
	f.killNext, f.killDeliver, f.onKill = match, deliver, onKill
	f.mu.Unlock()
}

// Disarm cancels a kill armed by KillOn that has not happened.
func (f *Faults) Disarm() {
	f.mu.Lock()
	f.killNext, f.onKill = nil, nil
	f.mu.Unlock()
}

// Revive ends the killed state (a new process starts).
func (f *Faults) Revive() {
	f.mu.Lock()
	f.killed = false
	f.mu.Unlock()
}

// SetEnabled turns random fault injection on or off (kills still apply).
func (f *Faults) SetEnabled(on bool) {
	f.mu.Lock()
	if on {
		f.cfg.Eligible = nil
	} else {
		f.cfg.Eligible = func(*http.Request) bool { return false }
	}
	f.burstLeft = 0
	f.mu.Unlock()
}

// Stats returns a copy of the counters.
func (f *Faults) Stats() FaultStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stats
	s.Injected = map[Fault]int{}
	for k, v := range f.stats.Injected {
		s.Injected[k] = v
	}
	return s
}

// next picks the fault for one request.
func (f *Faults) next(req *http.Request) (Fault, func(), bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.Requests++
	if f.killed {
		return FaultKill, nil, false
	}
	if f.killNext != nil && f.killNext(req) {
		onKill := f.onKill
		f.killNext, f.onKill, f.killed = nil, nil, true
		f.stats.Injected[FaultKill]++
		return FaultKill, onKill, f.killDeliver
	}
	if f.cfg.Eligible != nil && !f.cfg.Eligible(req) {
		return FaultNone, nil, false
	}
	if f.burstLeft > 0 {
		f.burstLeft--
		f.stats.Injected[f.burst]++
		return f.burst, nil, false
	}
	x := f.rng.Float64()
	for _, c := range []struct {
		p float64
		k Fault
	}{
		{f.cfg.ResetBefore, FaultResetBefore}, {f.cfg.ResetAfter, FaultResetAfter},
		{f.cfg.Timeout, FaultTimeout}, {f.cfg.ServerError, FaultServerError},
		{f.cfg.RateLimit, FaultRateLimit}, {f.cfg.Unauthorized, FaultUnauthorized},
	} {
		if x < c.p {
			f.burst, f.burstLeft = c.k, f.rng.IntN(f.cfg.MaxBurst)
			f.stats.Injected[c.k]++
			return c.k, nil, false
		}
		x -= c.p
	}
	return FaultNone, nil, false
}

// timeoutError is a net.Error reporting a timeout.
type timeoutError struct{}

func (timeoutError) Error() string   { return "hostile: i/o timeout (injected)" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func resetError(req *http.Request) error {
	return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET),
		Addr: fakeAddr(req.URL.Host)}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

func (f *Faults) deliver(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.stats.Delivered++
	f.mu.Unlock()
	return f.Base.RoundTrip(req)
}

// deliverAndDrop sends req and throws the answer away.
func (f *Faults) deliverAndDrop(req *http.Request) {
	resp, err := f.deliver(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}

// RoundTrip implements http.RoundTripper.
func (f *Faults) RoundTrip(req *http.Request) (*http.Response, error) {
	fault, onKill, deliverKill := f.next(req)
	switch fault {
	case FaultNone:
		return f.deliver(req)
	case FaultResetBefore:
		closeBody(req)
		return nil, resetError(req)
	case FaultResetAfter:
		f.deliverAndDrop(req)
		return nil, resetError(req)
	case FaultTimeout:
		f.deliverAndDrop(req)
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: timeoutError{}, Addr: fakeAddr(req.URL.Host)}
	case FaultServerError:
		f.mu.Lock()
		delivered := f.rng.IntN(2) == 0
		f.mu.Unlock()
		if delivered {
			f.deliverAndDrop(req)
		} else {
			closeBody(req)
		}
		return synthetic(req, http.StatusServiceUnavailable, nil,
			`{"title":"Service Unavailable","detail":"injected","type":"about:blank","status":503}`), nil
	case FaultRateLimit:
		closeBody(req)
		f.mu.Lock()
		now := f.cfg.Now()
		f.mu.Unlock()
		reset := now.Add(2 * time.Second).Unix()
		h := http.Header{}
		h.Set("x-rate-limit-limit", "100")
		h.Set("x-rate-limit-remaining", "0")
		h.Set("x-rate-limit-reset", strconv.FormatInt(reset, 10))
		h.Set("Retry-After", "2")
		return synthetic(req, http.StatusTooManyRequests, h,
			`{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}`), nil
	case FaultUnauthorized:
		closeBody(req)
		return synthetic(req, http.StatusUnauthorized, nil,
			`{"title":"Unauthorized","detail":"Unauthorized","type":"about:blank","status":401}`), nil
	case FaultKill:
		if onKill == nil { // already dead
			closeBody(req)
			return nil, ErrKilled
		}
		if deliverKill {
			f.deliverAndDrop(req)
		} else {
			closeBody(req)
		}
		onKill()
		return nil, fmt.Errorf("%w (during %s %s, delivered: %v)", ErrKilled, req.Method, req.URL.Path, deliverKill)
	}
	return nil, fmt.Errorf("hostile: unknown fault %v", fault)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

func synthetic(req *http.Request, status int, h http.Header, body string) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/problem+json")
	return &http.Response{
		Status: strconv.Itoa(status) + " " + http.StatusText(status), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader([]byte(body))), ContentLength: int64(len(body)),
		Request: req,
	}
}
