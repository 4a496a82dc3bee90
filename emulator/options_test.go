package emulator_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xchat-go/xchat/emulator"
)

// TestOptionsFailClosed checks that an option given a value it cannot use
// stops the server instead of being dropped: Open returns the error, and a
// server from New reports it and answers 503.
func TestOptionsFailClosed(t *testing.T) {
	for name, opt := range map[string]emulator.Option{
		"nil option":              nil,
		"nil clock":               emulator.WithClock(nil),
		"nil id source":           emulator.WithIDSource(nil),
		"nil logger":              emulator.WithLogger(nil),
		"empty data file":         emulator.WithDataFile(""),
		"rate limit, no window":   emulator.WithRateLimit(5, 0),
		"op limit, no window":     emulator.WithOperationRateLimit("getChatConversations", 5, -time.Second),
		"unknown operation":       emulator.WithOperationRateLimit("sendChatMesage", 5, time.Minute),
		"zero token lifetime":     emulator.WithAccessTokenTTL(0),
		"empty client id":         emulator.WithOAuthClient("", "s", "http://127.0.0.1:9/cb"),
		"relative redirect":       emulator.WithOAuthClient("app", "s", "/cb"),
		"auto-approve non-id":     emulator.WithOAuthAutoApprove("alice"),
		"auto-approve leading 0":  emulator.WithOAuthAutoApprove("012"),
		"no provision scope":      emulator.WithProvisionScopes(),
		"unknown provision scope": emulator.WithProvisionScopes("dm.read", "dm.admin"),
		"nil recorder":            emulator.WithRecorder(nil),
		"negative DM cap":         emulator.WithDMDailyCap(-1),
	} {
		if _, err := emulator.Open(opt); err == nil || !strings.Contains(err.Error(), "invalid option") {
			t.Errorf("%s: Open err = %v, want an invalid option error", name, err)
		}
		s := emulator.New(opt)
		if s.Err() == nil {
			t.Errorf("%s: New(...).Err() = nil", name)
			continue
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/emulator/v1/users", strings.NewReader(`{"username":"alice"}`)))
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s: a server with a bad option answered %d, want 503", name, w.Code)
		}
	}
	for name, opt := range map[string]emulator.Option{
		"rate limit off":   emulator.WithRateLimit(0, 0),
		"known operation":  emulator.WithOperationRateLimit("getChatConversations", 2, time.Minute),
		"DM cap off":       emulator.WithDMDailyCap(0),
		"auto-approve id":  emulator.WithOAuthAutoApprove("12"),
		"provision scopes": emulator.WithProvisionScopes("dm.read"),
	} {
		if _, err := emulator.Open(opt); err != nil {
			t.Errorf("%s: Open err = %v, want a working server", name, err)
		}
	}
}
