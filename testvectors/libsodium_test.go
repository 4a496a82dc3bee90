package testvectors_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/xchat-go/xchat/interop/peer"
	"github.com/xchat-go/xchat/testvectors"
)

// libsodiumResult is one case as interop/libsodium-check.mjs saw it.
type libsodiumResult struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	Outcome      string `json:"outcome"`
	PlaintextHex string `json:"plaintext_hex"`
}

// TestVectorsLibsodium checks every secretbox and secretstream case of
// xchat.json with libsodium itself (npm libsodium-wrappers, installed with
// the interop suite's packages by `make interop-deps`), an implementation
// independent of this module's crypto and of golang.org/x/crypto: the
// outcome class and the plaintext must both agree.
func TestVectorsLibsodium(t *testing.T) {
	f, _ := loadVectors(t)
	dir, err := peer.Dir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "libsodium-wrappers", "package.json")); err != nil {
		t.Fatalf("libsodium-wrappers is not installed in %s (run `make interop-deps`): %v", dir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the libsodium cross-check (apt-get install nodejs npm): %v", err)
	}
	abs, err := filepath.Abs(vectorFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "libsodium-check.mjs"), abs)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("libsodium-check.mjs: %v\n%s", err, stderr.String())
	}
	var res struct {
		Libsodium string            `json:"libsodium"`
		Results   []libsodiumResult `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("libsodium-check.mjs output: %v", err)
	}
	seen := map[string]libsodiumResult{}
	for _, r := range res.Results {
		seen[r.Name] = r
	}
	counts := map[string]int{}
	for _, c := range f.Cases {
		if c.Kind != testvectors.KindSecretbox && c.Kind != testvectors.KindSecretstream {
			continue
		}
		r, ok := seen[c.Name]
		if !ok {
			t.Errorf("%s: not checked by libsodium", c.Name)
			continue
		}
		want, _ := c.Outputs["plaintext_hex"].(string)
		if r.Outcome != c.Expect || r.PlaintextHex != want {
			t.Errorf("%s: libsodium says %q (plaintext %.40s), the case expects %q (%.40s)", c.Name, r.Outcome, r.PlaintextHex, c.Expect, want)
			continue
		}
		counts[c.Kind]++
	}
	if counts[testvectors.KindSecretbox] == 0 || counts[testvectors.KindSecretstream] == 0 {
		t.Fatalf("no case agreed: %v", counts)
	}
	if t.Failed() {
		return
	}
	t.Logf("xchat.json: libsodium %s (npm libsodium-wrappers) agrees on all %d secretbox and %d secretstream cases",
		res.Libsodium, counts[testvectors.KindSecretbox], counts[testvectors.KindSecretstream])
}
