package emulator_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/emulator"
)

// TestXDKInterop drives the emulator with X's official Chat XDK (the npm
// WASM build installed under ../interop): registration payloads, key
// changes, group create and member add signatures and messages produced by
// the XDK are accepted, and the XDK decrypts and verifies every event the
// emulator builds, including its MessageFailureEvent.
func TestXDKInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	sdk, err := filepath.Abs(filepath.Join("..", "interop", "sdk.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(sdk), "node_modules", "@xdevplatform", "chat-xdk", "package.json")); err != nil {
		t.Skip("official XDK not installed (run npm ci in ../interop)")
	}
	// Failure events are an opt-in convenience (not in the spec's Problem).
	e := newEnv(t, emulator.WithFailureEvents(true))
	out, err := exec.Command(node, filepath.Join("testdata", "xdk_flow.mjs"), sdk, e.ts.URL).CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Fatalf("xdk_flow.mjs: %v\n%s", err, out)
	}
}
