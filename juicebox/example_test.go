package juicebox_test

import (
	"fmt"

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
