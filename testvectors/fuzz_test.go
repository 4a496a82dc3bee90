package testvectors_test

import (
	"os"
	"strings"
	"testing"

	"github.com/xchat-go/xchat/crypto"
	"github.com/xchat-go/xchat/testvectors"
	"github.com/xchat-go/xchat/wire"
)

// FuzzOpenEvent feeds arbitrary envelopes to the crypto+wire receiver used
// by the vector checks, seeded with every event of xchat.json. Whatever the
// input, opening must not panic and must fail with a classified error (one
// of the vector file's failure classes), never an unexpected one.
func FuzzOpenEvent(f *testing.F) {
	raw, err := os.ReadFile(vectorFile)
	if err != nil {
		f.Fatal(err)
	}
	file, err := testvectors.Unmarshal(raw)
	if err != nil {
		f.Fatal(err)
	}
	var r *receiver
	for _, c := range file.Cases {
		if c.Kind != testvectors.KindEvent {
			continue
		}
		if r == nil {
			// All event cases share the recipient's key material; build it
			// once through the checker.
			k := &checker{c: c, fail: func(format string, args ...any) { f.Fatalf(format, args...) }}
			r = k.receiver()
		}
		k := &checker{c: c, fail: func(format string, args ...any) { f.Fatalf(format, args...) }}
		if b, err := wire.DecodeB64(k.in("envelope_b64")); err == nil {
			f.Add(b)
		}
	}
	if r == nil {
		f.Fatal("no event cases")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := r.open(b)
		class := classOf(err)
		if strings.HasPrefix(class, "unclassified") || strings.HasPrefix(class, "bad input") {
			t.Fatalf("unexpected error class: %v", err)
		}
		if err == nil && o.kind != "failure" && o.sigVersion < crypto.MinSignatureVersion {
			t.Fatalf("accepted signature version %d", o.sigVersion)
		}
	})
}
