package session

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xchat-go/xchat"
	"github.com/xchat-go/xchat/keystore"
)

// TestOptionsFailClosed checks that every option refuses a value it cannot
// use, so Open fails instead of running with a silently substituted
// default. An empty store makes a valid configuration fail later, with
// xchat.ErrNoAccount.
func TestOptionsFailClosed(t *testing.T) {
	ctx := context.Background()
	for name, opt := range map[string]Option{
		"unknown trust policy": WithTrustPolicy(TrustPolicy("paranoid")),
		"empty policy":         WithTrustPolicy(""),
		"policy in capitals":   WithTrustPolicy("STRICT"),
		"nil rand":             WithRand(nil),
		"nil clock":            WithClock(nil),
		"nil key handler":      WithKeyChangeHandler(nil),
		"page size 0":          WithPageSize(0),
		"page size 101":        WithPageSize(101),
		"no workers":           WithWorkers(0),
		"negative workers":     WithWorkers(-1),
		"empty spill dir":      WithSpillDir(""),
		"no sync bytes":        WithMaxSyncBytes(0),
		"no failed events":     WithMaxFailedEvents(0, 1),
		"no failed bytes":      WithMaxFailedEvents(1, 0),
		"nil option":           nil,
	} {
		_, err := Open(ctx, keystore.NewMemory(), nil, opt)
		if !errors.Is(err, xchat.ErrInvalidArgument) {
			t.Errorf("%s: Open err = %v, want xchat.ErrInvalidArgument", name, err)
		}
	}
	for name, opt := range map[string]Option{
		"tofu":          WithTrustPolicy(TrustOnFirstUse),
		"strict":        WithTrustPolicy(TrustStrict),
		"clock":         WithClock(time.Now),
		"page size 1":   WithPageSize(1),
		"page size 100": WithPageSize(100),
		"one worker":    WithWorkers(1),
		"key handler":   WithKeyChangeHandler(func(KeyChanged) {}),
		"spill dir":     WithSpillDir(t.TempDir()),
		"sync bytes":    WithMaxSyncBytes(1),
	} {
		if _, err := Open(ctx, keystore.NewMemory(), nil, opt); !errors.Is(err, xchat.ErrNoAccount) {
			t.Errorf("%s: Open err = %v, want xchat.ErrNoAccount (the option is valid)", name, err)
		}
	}
}

// TestTrustPolicyFailsClosed checks that a policy value Open would refuse
// (the zero value among them) still counts as strict inside the engine,
// that each policy's value is its name, and that an engine opened without
// the option trusts on first use.
func TestTrustPolicyFailsClosed(t *testing.T) {
	if TrustOnFirstUse.strict() || !TrustStrict.strict() || !TrustPolicy("paranoid").strict() || !TrustPolicy("").strict() {
		t.Fatal("only TrustOnFirstUse may be lenient")
	}
	if TrustOnFirstUse != "tofu" || TrustStrict != "strict" {
		t.Errorf("policies %q and %q, want tofu and strict", TrustOnFirstUse, TrustStrict)
	}
	n := newNet(t)
	if u := n.user("alice"); u.e.cfg.policy != TrustOnFirstUse {
		t.Errorf("default policy %q, want %q", u.e.cfg.policy, TrustOnFirstUse)
	}
}
