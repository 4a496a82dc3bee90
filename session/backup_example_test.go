package session_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/xchat-go/xchat/api"
	"github.com/xchat-go/xchat/keystore"
	"github.com/xchat-go/xchat/session"
)

// login provisions (or logs in) a user on the demo emulator and returns its
// id and an API client, as an app has after the user signs in.
func (d *demo) login(name string) (string, *api.Client) {
	u, err := d.local.AddUser(context.Background(), name)
	if err != nil {
		log.Fatal(err)
	}
	c, err := api.New(api.WithBaseURL(d.local.URL), api.WithBearerToken(u.Token))
	if err != nil {
		log.Fatal(err)
	}
	return u.ID, c
}

// Back the account's keys up under a PIN (PIN-protected key backup with
// Juicebox, as X's apps do), then restore them on a new device: a wrong PIN
// costs one of the account's guesses, the right one brings back the same
// keys, checked against the account's registered keys before they are
// stored.
func Example_backup() {
	ctx := context.Background()
	d := newDemo()
	defer d.Close()

	// The first device: an account with registered keys sets up a backup.
	id, client := d.login("alice")
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
	if err := e.SetupBackup(ctx, []byte("1234")); errors.Is(err, session.ErrWeakPIN) {
		fmt.Println("1234 refused:", err)
	}
	if err := e.SetupBackup(ctx, []byte("2580")); err != nil {
		log.Fatal(err)
	}

	// A new device: the user signs in again and enters the PIN.
	_, client2 := d.login("alice")
	newStore := keystore.NewMemory()
	_, err = session.RestoreAccount(ctx, newStore, session.NewAPIServer(client2), id, []byte("0000"))
	var wrong *session.InvalidPINError
	if errors.As(err, &wrong) {
		fmt.Println("wrong PIN, guesses remaining:", wrong.GuessesRemaining)
	}
	restored, err := session.RestoreAccount(ctx, newStore, session.NewAPIServer(client2), id, []byte("2580"))
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

// Check a PIN the user chose before backing up: X's rules refuse short
// PINs, a repeated character and runs of consecutive digits.
func ExampleCheckNewPIN() {
	for _, pin := range []string{"123", "0000", "4321", "2580", "correct horse"} {
		fmt.Printf("%q: %v\n", pin, session.CheckNewPIN([]byte(pin)))
	}
	// Output:
	// "123": juicebox: PIN too weak: it must be at least 4 characters
	// "0000": juicebox: PIN too weak: it must not be a single repeated character
	// "4321": juicebox: PIN too weak: it must not be a sequential run of digits
	// "2580": <nil>
	// "correct horse": <nil>
}
