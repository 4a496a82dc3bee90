package backup_test

import (
	"context"
	"testing"

	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/emulator/realm"
	"github.com/xchat-go/xchat/internal/sessiontest"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session/backup"
	"github.com/xchat-go/xchat/session/event"
)

// newNet is an emulator whose realms advertise the fast (test-only) PIN
// stretch, with maxGuesses guesses.
func newNet(t testing.TB, maxGuesses uint16) *sessiontest.Net {
	t.Helper()
	return sessiontest.NewNet(t, emulator.WithJuiceboxOptions(
		realm.WithPinHashingMode(juicebox.FastInsecure), realm.WithMaxGuesses(maxGuesses)))
}

// testBackup lets the Juicebox client accept the emulator's test settings.
var testBackup = backup.WithJuiceboxOptions(juicebox.WithInsecureTestSettings())

// restore recovers u's account into a fresh store (a new device).
func restore(ctx context.Context, n *sessiontest.Net, u *sessiontest.User, pin string) (keystore.Store, *backup.Restored, error) {
	store := keystore.NewMemory()
	r, err := backup.Restore(ctx, store, n.Client(u.Token), u.ID, []byte(pin), testBackup)
	return store, r, err
}

// texts returns the verified message texts of entries, in order.
func texts(entries []event.Entry) []string {
	var out []string
	for _, e := range entries {
		if e.Type == event.TypeMessage && e.Verified {
			out = append(out, e.Text)
		}
	}
	return out
}
