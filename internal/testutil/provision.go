package testutil

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/xchat-go/xchat/internal/decimal"
)

// Provision creates the user name on an emulator (emulator.Server or
// xchatd) at baseURL through its provisioning endpoint, POST
// /emulator/v1/users, and returns the user id and bearer token. It fails
// the test unless the answer is 201 (or 200 for a name already taken) with
// a canonical decimal id and a token. client may be nil
// (http.DefaultClient).
func Provision(t testing.TB, client *http.Client, baseURL, name string) (id, token string) {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	body, err := json.Marshal(map[string]string{"username": name})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Post(baseURL+"/emulator/v1/users", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("provision %s: %v", name, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("provision %s: %v", name, err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("provision %s: HTTP %d: %.200s", name, resp.StatusCode, raw)
	}
	var pr struct {
		ID          string `json:"id"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(raw, &pr); err != nil {
		t.Fatalf("provision %s: %v", name, err)
	}
	if !decimal.ValidID(pr.ID) || pr.AccessToken == "" {
		t.Fatalf("provision %s: answer %.200s has no canonical id or no token", name, raw)
	}
	return pr.ID, pr.AccessToken
}
