package backup_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/emulator"
	"github.com/xchat-go/xchat/juicebox"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
	"github.com/xchat-go/xchat/session/backup"
)

// login provisions (or logs in) a user on the local emulator and returns
// its id and an API client, as an app has after the user signs in.
func login(local *emulator.Local, name string) (string, *api.Client) {
	u, err := local.AddUser(context.Background(), name)
	if err != nil {
		log.Fatal(err)
	}
	c, err := api.New(api.WithBaseURL(local.URL), api.WithBearerToken(u.Token))
	if err != nil {
		log.Fatal(err)
	}
	return u.ID, c
}

// Back the account's keys up under a PIN, then restore them on a new
// device: a wrong PIN costs one of the account's guesses, the right one
// brings back the same keys, checked against the account's registered keys
// before they are stored.
func Example() {
	ctx := context.Background()
	local, err := emulator.Start(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// The first device: an account with registered keys sets up a backup.
	id, client := login(local, "alice")
	store := keystore.NewMemory()
	if err := session.CreateAccount(ctx, store, id, nil); err != nil {
		log.Fatal(err)
	}
	e, err := session.Open(ctx, store, session.NewAPIServer(client))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Register(ctx); err != nil {
		log.Fatal(err)
	}
	if err := backup.Setup(ctx, e, client, []byte("1234")); errors.Is(err, juicebox.ErrWeakPIN) {
		fmt.Println("1234 refused:", err)
	}
	if err := backup.Setup(ctx, e, client, []byte("2580")); err != nil {
		log.Fatal(err)
	}

	// A new device: the user signs in again and enters the PIN.
	_, client2 := login(local, "alice")
	newStore := keystore.NewMemory()
	_, err = backup.Restore(ctx, newStore, client2, id, []byte("0000"))
	var wrong *juicebox.InvalidPinError
	if errors.As(err, &wrong) {
		fmt.Println("wrong PIN, guesses remaining:", wrong.GuessesRemaining)
	}
	restored, err := backup.Restore(ctx, newStore, client2, id, []byte("2580"))
	if err != nil {
		log.Fatal(err)
	}
	fp, err := e.Fingerprint()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same keys:", restored.Fingerprint == fp, restored.PublicKeyVersion == e.PublicKeyVersion())
	// Output:
	// 1234 refused: juicebox: PIN too weak: it must not be a sequential run of digits
	// wrong PIN, guesses remaining: 19
	// same keys: true true
}
