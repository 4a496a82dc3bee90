package contract

import (
	"fmt"
	"os"
	"testing"

	"github.com/xchat-go/xchat/internal/exchange"
)

// EnvReplayDir names the directory of recorded exchanges TestContractRecorded
// validates (scripts/test.sh sets it after the suites ran with
// exchange.EnvRecordDir). Unset, the test records a flow of its own.
const EnvReplayDir = "XCHAT_CONTRACT_REPLAY"

// TestContractRecorded validates every recorded exchange against the
// OpenAPI documents and prints the contract line. Every chat operation must
// have been accepted at least once, and no violation may remain outside the
// documented deviations.
func TestContractRecorded(t *testing.T) {
	v, err := NewValidator(ChatSpec, ActivitySpec)
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv(EnvReplayDir)
	if dir == "" {
		dir = t.TempDir()
		file, err := exchange.OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		// Under scripts/test.sh the flow is also recorded for the replay,
		// so the operations only it reaches are covered there too.
		env := exchange.FromEnv()
		runFlow(t, exchange.NewMemory(func(x exchange.Exchange) {
			file.Record(x)
			if env != nil {
				env.Record(x)
			}
		}))
	}
	xs, err := exchange.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReport()
	for _, x := range xs {
		op, ok, vs := v.Check(x)
		if ok {
			r.Add(op, x.Status, vs)
		}
	}
	fmt.Println(r.Line())
	for d, n := range r.Deviations {
		t.Logf("documented deviation (%d×) %s %s %s: %s", n, d.Operation, d.Side, d.Detail, d.Reason)
	}
	if len(r.Violations) > 0 {
		t.Errorf("%d violations:\n%s", len(r.Violations), r.Summary(60))
	}
	if missing := r.Uncovered(v.Operations(ChatSpec)); len(missing) > 0 {
		t.Errorf("chat operations never accepted: %v", missing)
	}
}
