package juicebox_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log"

	"github.com/xchat-go/xchat/juicebox"
)

// Check a PIN the user chose before backing up: X's rules refuse short
// PINs, a repeated character and runs of consecutive digits.
func ExampleCheckNewPIN() {
	for _, pin := range []string{"123", "0000", "4321", "2580", "correct horse"} {
		fmt.Printf("%q: %v\n", pin, juicebox.CheckNewPIN([]byte(pin)))
	}
	// Output:
	// "123": juicebox: PIN too weak: it must be at least 4 characters
	// "0000": juicebox: PIN too weak: it must not be a single repeated character
	// "4321": juicebox: PIN too weak: it must not be a sequential run of digits
	// "2580": <nil>
	// "correct horse": <nil>
}

// Pin the realms the app trusts (ids and hardware realms' Noise keys, as
// published by the service), so that a configuration the server hands out
// without a hardware realm's key is refused before any realm is contacted.
func ExampleWithRealmPins() {
	const (
		software = "00000000000000000000000000000001"
		hardware = "00000000000000000000000000000002"
		another  = "00000000000000000000000000000003"
		noiseKey = "1111111111111111111111111111111111111111111111111111111111111111"
	)
	pins := make([]juicebox.RealmPin, 0, 3)
	for _, p := range [][2]string{{software, ""}, {hardware, noiseKey}, {another, noiseKey}} {
		id, err := juicebox.ParseRealmID(p[0])
		if err != nil {
			log.Fatal(err)
		}
		key, err := hex.DecodeString(p[1])
		if err != nil {
			log.Fatal(err)
		}
		pin := juicebox.RealmPin{ID: id}
		if len(key) > 0 {
			pin.PublicKey = key
		}
		pins = append(pins, pin)
	}
	// The server's configuration dropped the second realm's Noise key.
	served := `{"realms":[
	  {"id":"` + software + `","address":"https://sw.example/"},
	  {"id":"` + hardware + `","address":"https://relay.example/"},
	  {"id":"` + another + `","address":"https://hw.example/","public_key":"` + noiseKey + `"}],
	 "register_threshold":3,"recover_threshold":2,"pin_hashing_mode":"Standard2019"}`
	cfg, err := juicebox.ParseConfiguration([]byte(served))
	if err != nil {
		log.Fatal(err)
	}
	tokens := juicebox.StaticTokens{}
	_, err = juicebox.NewClient(cfg, tokens, juicebox.WithRealmPins(pins...))
	fmt.Println(errors.Is(err, juicebox.ErrRealmNotPinned))
	fmt.Println(err)
	// Output:
	// true
	// juicebox: invalid configuration: juicebox: configuration does not match the pinned realms: realm 00000000000000000000000000000002 is pinned as a hardware realm but comes without its Noise key
}
