package emulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator/realm"
)

// Juicebox (PIN-protected key backup): the emulator runs three realms like
// X's (package realm) under /juicebox/{realm-b,realm-east,realm-west}/req and
// returns the account's juicebox_config (SDK configuration, per-realm HS256
// tokens for the user, max_guess_count) on the public-key operations, to
// the account itself only: the tokens let their holder use up the user's
// guesses or delete the backup. Realm state is kept in memory.
//
// Emulator-only endpoints (no authentication, like provisioning):
//
//	GET  /emulator/v1/juicebox/users/{id}            every realm's record of the user
//	POST /emulator/v1/juicebox/realms/{name}/faults  set a realm's fault switches

// WithJuicebox serves set instead of a fresh realm set; nil is refused.
func WithJuicebox(set *realm.Set) Option {
	return func(c *config) error {
		if set == nil {
			return optionError("WithJuicebox: nil realm set")
		}
		c.juicebox = set
		return nil
	}
}

// WithJuiceboxOptions configures the realm set the emulator creates (for
// example realm.WithPinHashingMode(juicebox.FastInsecure) in tests).
func WithJuiceboxOptions(opts ...realm.Option) Option {
	return func(c *config) error { c.juiceboxOpts = append(c.juiceboxOpts, opts...); return nil }
}

// Juicebox returns the emulator's realms.
func (s *Server) Juicebox() *realm.Set { return s.cfg.juicebox }

// initJuicebox creates the realm set unless one was given. The realms
// follow the emulator's clock; their randomness is crypto/rand unless
// WithJuiceboxOptions says otherwise (the emulator's WithRand is not
// drained by them).
func (s *Server) initJuicebox() error {
	if s.cfg.juicebox != nil {
		return nil
	}
	opts := append([]realm.Option{realm.WithClock(s.cfg.clock)}, s.cfg.juiceboxOpts...)
	set, err := realm.NewSet(opts...)
	if err != nil {
		return err
	}
	s.cfg.juicebox = set
	return nil
}

func (s *Server) routesJuicebox() {
	if s.cfg.juicebox == nil {
		return
	}
	s.mux.Handle(realm.PathPrefix, s.cfg.juicebox.Handler())
	s.mux.HandleFunc("GET /emulator/v1/juicebox/users/{id}", s.handleJuiceboxUser)
	s.mux.HandleFunc("POST /emulator/v1/juicebox/realms/{name}/faults", s.handleJuiceboxFaults)
}

// baseURL is the scheme and host the request reached the emulator at,
// where the realms are served too.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// juiceboxConfig renders the caller's juicebox_config, or nil when keys
// of another user are listed or the field was not asked for.
func (s *Server) juiceboxConfig(c *call, owner string, fields []string) json.RawMessage {
	if s.cfg.juicebox == nil || owner != c.user.ID || (fields != nil && !slices.Contains(fields, "juicebox_config")) {
		return nil
	}
	raw, err := s.cfg.juicebox.XConfig(baseURL(c.r), owner)
	if err != nil {
		s.cfg.logger.Error("emulator: juicebox_config", "error", err)
		return nil
	}
	return raw
}

// attachJuiceboxConfig sets juicebox_config on keys, all of them owner's,
// when owner is the caller.
func (s *Server) attachJuiceboxConfig(c *call, keys []api.PublicKey, owner string, fields []string) {
	raw := s.juiceboxConfig(c, owner, fields)
	if raw == nil {
		return
	}
	for i := range keys {
		keys[i].JuiceboxConfig = raw
	}
}

// JuiceboxRealmRecord is one realm's record of a user, as the inspection
// endpoint reports it.
type JuiceboxRealmRecord struct {
	Name       string `json:"name"`
	ID         string `json:"id"`
	Hardware   bool   `json:"hardware"`
	State      string `json:"state"`
	GuessCount uint16 `json:"guess_count"`
	NumGuesses uint16 `json:"num_guesses"`
}

func (s *Server) handleJuiceboxUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !isID(id) {
		writeProblem(w, errInvalid("id", "The user id must be a decimal id."))
		return
	}
	set := s.cfg.juicebox
	out := []JuiceboxRealmRecord{}
	for _, rl := range set.Realms() {
		rec := rl.Record(set.Tenant(), id)
		out = append(out, JuiceboxRealmRecord{Name: rl.Name(), ID: rl.ID().String(), Hardware: rl.PublicKey() != nil,
			State: rec.State.String(), GuessCount: rec.GuessCount, NumGuesses: rec.NumGuesses})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

// JuiceboxFaults is the body of the faults endpoint.
type JuiceboxFaults struct {
	Down            bool  `json:"down"`
	DelayMS         int64 `json:"delay_ms"`
	StaleVersion    bool  `json:"stale_version"`
	UpgradeRequired bool  `json:"upgrade_required"`
	RateLimited     bool  `json:"rate_limited"`
}

func (s *Server) handleJuiceboxFaults(w http.ResponseWriter, r *http.Request) {
	rl := s.cfg.juicebox.Realm(r.PathValue("name"))
	if rl == nil {
		writeProblem(w, errNotFound("realm", r.PathValue("name")))
		return
	}
	body, perr := readBody(w, r, s.cfg.maxBody)
	if perr != nil {
		writeProblem(w, perr)
		return
	}
	var f JuiceboxFaults
	if perr := decodeJSON(body, &f, true); perr != nil {
		writeProblem(w, perr)
		return
	}
	if f.DelayMS < 0 || f.DelayMS > int64(time.Hour/time.Millisecond) {
		writeProblem(w, errInvalid("delay_ms", "delay_ms must be between 0 and 3600000."))
		return
	}
	rl.SetFaults(realm.Faults{Down: f.Down, Delay: time.Duration(f.DelayMS) * time.Millisecond,
		StaleVersion: f.StaleVersion, UpgradeRequired: f.UpgradeRequired, RateLimited: f.RateLimited})
	w.WriteHeader(http.StatusNoContent)
}
