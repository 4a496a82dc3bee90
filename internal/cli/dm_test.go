package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDMSendNeutralisesServerID: the dm_event_id 'dm send' prints is the
// server's to choose; escape sequences in it reach no terminal.
func TestDMSendNeutralisesServerID(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"data":{"dm_conversation_id":"1-2","dm_event_id":"\u001b]0;owned\u0007\u001b[2J123"}}`))
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	vars := map[string]string{EnvAPI: srv.URL, EnvToken: "t"}
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return vars[k] }}
	if st := Run(context.Background(), []string{"dm", "send", "--to", "2", "hi"}, env); st != 0 {
		t.Fatalf("exit %d: %s", st, errb.String())
	}
	if got := out.String(); strings.ContainsAny(got, "\x1b\x07") || !strings.Contains(got, "123") {
		t.Errorf("dm send printed %q", got)
	}
}
