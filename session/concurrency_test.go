package session

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/xchat-go/xchat/internal/testutil"
)

func TestConcurrentUse(t *testing.T) {
	ctx := ctxT(t)
	n := newNet(t)
	alice, bob, carol := n.user("alice"), n.user("bob"), n.user("carol")
	gid, err := alice.e.CreateGroup(ctx, GroupOptions{Members: []string{bob.id, carol.id}})
	if err != nil {
		t.Fatal(err)
	}
	const each = 8
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range each {
		wg.Add(3)
		go func() {
			defer wg.Done()
			if _, err := alice.e.SendText(ctx, bob.id, fmt.Sprintf("dm %d", i)); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := alice.e.SendText(ctx, gid, fmt.Sprintf("group %d", i)); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := bob.e.Sync(ctx, gid, nil); err != nil {
				errs <- err
			}
			if i%4 == 0 {
				if _, err := carol.e.Rotate(ctx, gid); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, u := range []*testUser{bob, carol} {
		if _, err := u.e.Sync(ctx, gid, nil); err != nil {
			t.Fatal(err)
		}
		h := testutil.Must(u.e.History(ctx, gid, "", 0))(t)
		got := texts(h)
		for i := range each {
			if !slices.Contains(got, fmt.Sprintf("group %d", i)) {
				t.Fatalf("%s missing group %d: %q", u.name, i, got)
			}
		}
		if len(got) != each {
			t.Fatalf("%s has %d messages: %q", u.name, len(got), got)
		}
	}
	if _, err := bob.e.Sync(ctx, alice.id, nil); err != nil {
		t.Fatal(err)
	}
	h := testutil.Must(bob.e.History(ctx, alice.id, "", 0))(t)
	if got := texts(h); len(got) != each {
		t.Fatalf("bob dm history %q", got)
	}
}
