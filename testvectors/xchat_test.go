package testvectors_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/internal/vectorgen"
	"github.com/xchat-go/xchat/testvectors"
)

const vectorFile = "xchat.json"

func loadVectors(t *testing.T) (*testvectors.File, []byte) {
	t.Helper()
	raw, err := os.ReadFile(vectorFile)
	if err != nil {
		t.Fatalf("%v (run `make vectors`)", err)
	}
	f, err := testvectors.Unmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	return f, raw
}

// canon renders a value as JSON so that []string and []any compare equal.
func canon(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

// TestVectors checks every case of xchat.json against the implementation.
func TestVectors(t *testing.T) {
	f, _ := loadVectors(t)
	if f.Seed != testvectors.Seed {
		t.Errorf("file seed %q, package seed %q", f.Seed, testvectors.Seed)
	}
	type tally struct{ success, failure, mismatch int }
	perKind := map[string]*tally{}
	var total tally
	crossed, perLib := 0, map[string]int{}
	for _, c := range f.Cases {
		if perKind[c.Kind] == nil {
			perKind[c.Kind] = &tally{}
		}
		tk := perKind[c.Kind]
		if c.Expect == testvectors.ExpectSuccess {
			tk.success++
			total.success++
		} else {
			tk.failure++
			total.failure++
		}
		ok := t.Run(c.Name, func(t *testing.T) {
			k := &checker{c: c, fail: func(format string, args ...any) {
				t.Helper()
				t.Errorf(format, args...)
			}}
			defer func() {
				if len(k.crossed) > 0 {
					crossed++
				}
				for lib := range k.crossed {
					perLib[lib]++
				}
			}()
			got, err := k.run()
			if class := classOf(err); class != c.Expect {
				t.Fatalf("outcome %q, want %q (error: %v)", class, c.Expect, err)
			}
			if c.Expect != testvectors.ExpectSuccess {
				if len(c.Outputs) != 0 {
					t.Error("a failure case lists outputs")
				}
				return
			}
			if len(got) != len(c.Outputs) {
				t.Errorf("implementation produced %d outputs, the case lists %d", len(got), len(c.Outputs))
			}
			for name, want := range c.Outputs {
				g, present := got[name]
				if !present {
					t.Errorf("output %s not produced", name)
					continue
				}
				if canon(g) != canon(want) {
					t.Errorf("output %s\n got %s\nwant %s", name, trim(canon(g)), trim(canon(want)))
				}
			}
		})
		if !ok {
			tk.mismatch++
			total.mismatch++
		}
	}
	kinds := make([]string, 0, len(perKind))
	for k := range perKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		c := perKind[k]
		t.Logf("  %-13s %3d cases (%d success, %d failure), %d mismatches", k, c.success+c.failure, c.success, c.failure, c.mismatch)
	}
	t.Logf("%s: %d cases (%d success, %d failure), %d mismatches",
		vectorFile, total.success+total.failure, total.success, total.failure, total.mismatch)
	libs := slices.Sorted(maps.Keys(perLib))
	for i, lib := range libs {
		libs[i] = fmt.Sprintf("%s %d", lib, perLib[lib])
	}
	t.Logf("%s: %d cases also checked by the standard library (%s); secretbox and secretstream by libsodium (TestVectorsLibsodium)",
		vectorFile, crossed, strings.Join(libs, ", "))
}

func trim(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// TestVectorsUpToDate regenerates the file in memory: it must equal the
// committed xchat.json byte for byte, so drift of either the generator or
// the implementation is caught (fix with `make vectors` once understood).
func TestVectorsUpToDate(t *testing.T) {
	_, raw := loadVectors(t)
	f, err := vectorgen.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := testvectors.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(b, raw) {
		return
	}
	old, err := testvectors.Unmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	regen, err := testvectors.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; i < max(len(old.Cases), len(regen.Cases)) && n < 10; i++ {
		var a, b string
		if i < len(old.Cases) {
			a = canon(old.Cases[i])
		}
		if i < len(regen.Cases) {
			b = canon(regen.Cases[i])
		}
		if a != b {
			n++
			t.Errorf("case %d differs:\ncommitted   %s\nregenerated %s", i, trim(a), trim(b))
		}
	}
	t.Errorf("%s is stale: regenerate with `make vectors` (%d vs %d bytes)", vectorFile, len(raw), len(b))
}

// TestVectorNames checks the file's conventions: unique names prefixed by
// their kind, known kinds and expectation classes, and notes on every case
// that is stricter than or shares a weakness with the official SDK.
func TestVectorNames(t *testing.T) {
	f, _ := loadVectors(t)
	kinds := map[string]bool{testvectors.KindKeys: true, testvectors.KindECIES: true, testvectors.KindSecretbox: true, testvectors.KindSecretstream: true,
		testvectors.KindSignature: true, testvectors.KindPayload: true, testvectors.KindRegistration: true, testvectors.KindHKDF: true, testvectors.KindEvent: true}
	expects := map[string]bool{testvectors.ExpectSuccess: true, testvectors.ExpectInvalidPrivateKey: true, testvectors.ExpectInvalidPublicKey: true,
		testvectors.ExpectInvalidBackup: true, testvectors.ExpectDecryptionFailed: true, testvectors.ExpectInvalidConversationKey: true,
		testvectors.ExpectInvalidSignature: true, testvectors.ExpectUnsupportedVersion: true, testvectors.ExpectInvalidPayload: true,
		testvectors.ExpectInvalidLength: true, testvectors.ExpectInvalidKey: true, testvectors.ExpectTruncatedStream: true, testvectors.ExpectDataAfterFinal: true,
		testvectors.ExpectMalformedEvent: true, testvectors.ExpectUnknownSigningKey: true, testvectors.ExpectMissingSignature: true}
	seen := map[string]bool{}
	for _, c := range f.Cases {
		if !kinds[c.Kind] || !expects[c.Expect] || c.Op == "" {
			t.Errorf("%s: kind %q op %q expect %q", c.Name, c.Kind, c.Op, c.Expect)
		}
		if !strings.HasPrefix(c.Name, c.Kind+"/") {
			t.Errorf("%s: name does not start with its kind", c.Name)
		}
		seen[c.Kind+"/"+c.Expect] = true
	}
	// Every primitive has both accepted and rejected inputs.
	for k := range kinds {
		if !seen[k+"/"+testvectors.ExpectSuccess] {
			t.Errorf("kind %s has no success case", k)
		}
		failures := 0
		for e := range expects {
			if e != testvectors.ExpectSuccess && seen[k+"/"+e] {
				failures++
			}
		}
		if failures == 0 {
			t.Errorf("kind %s has no failure case", k)
		}
	}
	if _, err := os.Stat(filepath.Join("cmd", "genvectors", "main.go")); err != nil {
		t.Errorf("generator missing: %v", err)
	}
}
